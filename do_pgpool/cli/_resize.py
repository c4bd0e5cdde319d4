"""``do-pgpool resize``: a bigger plan, checked before sending, and a wait that cannot return early."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ._common import (
    EXIT_CODES_HELP,
    api_options,
    cluster_option,
    dry_run_option,
    emit_json,
    open_gateway,
    output_option,
    warn,
)
from ._progress import progress_and_waiting, wait_options

if TYPE_CHECKING:
    from ..ops._resize import ResizeResult
    from ..ops._resize_plan import ResizePlan


@click.command("resize", epilog=EXIT_CODES_HELP)
@api_options
@cluster_option
@click.option("--size-slug", metavar="SLUG", help="Target size, e.g. db-s-2vcpu-4gb (see GET /v2/databases/options).")
@click.option(
    "--connections",
    type=click.IntRange(min=1),
    metavar="N",
    help="Pick the smallest size whose connection budget (25 per GiB of RAM - 3, at most 997) is at least N.",
)
@click.option(
    "--nodes", type=click.IntRange(1, 3), metavar="N", help="Node count, 1-3 (primary + standbys).  [default: current]"
)
@click.option("--storage-mib", type=click.IntRange(min=1), metavar="MIB", help="Storage in MiB.  [default: current]")
@wait_options
@dry_run_option
@output_option
def resize_command(
    token: str | None,
    api_url: str,
    cluster: str | None,
    size_slug: str | None,
    connections: int | None,
    nodes: int | None,
    storage_mib: int | None,
    wait: bool,
    timeout: float,
    dry_run: bool,
    output: str,
) -> None:
    """Resize the cluster to a bigger size (or more nodes) and wait until it is back online.

    \b
    Shows the current and the new size and connection budget first; --dry-run stops there. Refused before
    anything is sent: unknown size slugs, sizes not offered for the node count, smaller sizes (DigitalOcean
    cannot shrink a cluster), more than 3 nodes. Resizing to the current size does nothing.

    \b
    The wait ends only when the cluster is online AND has the requested size and node count: right after
    DigitalOcean accepts the resize, the cluster can still read "online" with the old size. It reads with a
    growing pause (5 s, x1.5, at most 30 s), treats every other status as busy, and backs off while the
    cluster is under maintenance (412), retrying the resize itself until --timeout. A resize usually takes
    minutes; connections may drop briefly when it switches over.

    \b
    Examples:
      do-pgpool resize --connections 90 --dry-run
      do-pgpool resize --cluster app-db --size-slug db-s-2vcpu-4gb --timeout 45m
      do-pgpool resize --size-slug db-s-4vcpu-8gb --nodes 2 --no-wait -o json
    """
    from ..ops._resize import resize
    from ..ops._resize_plan import ResizeRequest

    if (size_slug is None) == (connections is None):
        raise click.UsageError("give exactly one of --size-slug SLUG or --connections N")
    request = ResizeRequest(size=size_slug, connections=connections, num_nodes=nodes, storage_size_mib=storage_mib)
    progress, waiting = progress_and_waiting(output, timeout)

    def show(plan: ResizePlan) -> None:
        if output != "json":
            click.echo(_plan_text(plan))
        for message in plan.warnings:
            warn(message)

    with open_gateway(token, api_url) as gateway:
        try:
            result = resize(
                gateway, request, cluster=cluster, dry_run=dry_run, wait=wait, waiting=waiting, on_plan=show
            )
        finally:
            progress.finish()
    render_resize(result, output)


def _plan_text(plan: ResizePlan) -> str:
    c = plan.cluster
    storage_after = plan.storage_size_mib or c.storage_size_mib
    lines = [
        f"cluster {c.name} ({c.id}, {c.region or 'unknown region'}) is {c.status}",
        f"  current: {_shape(c.size, c.num_nodes, c.storage_size_mib)}, budget {_budget(plan.budget_before)}",
        f"  new:     {_shape(plan.size, plan.num_nodes, storage_after)}, budget {_budget(plan.budget_after)}",
    ]
    if plan.reason:
        lines.append(f"  why:     {plan.reason}")
    lines += [f"  {change.describe()}" for change in plan.changes]
    return "\n".join(lines)


def _shape(size: str, nodes: int, storage_mib: int | None) -> str:
    return f"{size} x{nodes}" + (f", {storage_mib} MiB" if storage_mib else "")


def _budget(limit: int | None) -> str:
    return "unknown (slug does not say the RAM)" if limit is None else f"{limit} connections"


def render_resize(result: ResizeResult, output: str) -> None:
    if output == "json":
        emit_json(result.as_dict())
        return
    c = result.cluster
    shape = f"{c.size} x{c.num_nodes}"
    if result.action == "would resize":
        click.echo("dry run: nothing was changed")
    elif result.action == "unchanged":
        click.echo(f"cluster {c.name} already is {shape}; nothing to do")
    elif result.action == "requested":
        click.echo(
            f"resize of {c.name} to {result.plan.size} x{result.plan.num_nodes} accepted; not waiting "
            f"(check with: do-pgpool resize --cluster {c.name} ... again, or the control panel)"
        )
    else:
        click.echo(
            f"resized: cluster {c.name} is {c.status} with {shape}, budget {_budget(result.plan.budget_after)} "
            f"(took {_took(result.elapsed)}, {result.requests} API requests)"
        )
    if result.note and result.action != "requested":
        click.echo(f"note: {result.note}")


def _took(seconds: float) -> str:
    from ..api._poll import format_duration

    return format_duration(seconds)
