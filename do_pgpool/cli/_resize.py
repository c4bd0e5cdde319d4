"""``do-pgpool resize``: a bigger plan, checked before sending, and a wait that cannot return early."""

from __future__ import annotations

import click

from ._common import (
    ClusterCommand,
    api_options,
    cluster_option,
    dry_run_option,
    open_gateway,
    output_option,
)
from ._progress import progress_and_waiting, wait_options
from ._render import render_resize, render_resize_plan


@click.command("resize", cls=ClusterCommand)
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
    from dataclasses import replace

    from ..ops._resize import apply_resize, prepare_resize
    from ..ops._resize_plan import ResizeRequest

    if (size_slug is None) == (connections is None):
        raise click.UsageError("give exactly one of --size-slug SLUG or --connections N")
    request = ResizeRequest(size=size_slug, connections=connections, num_nodes=nodes, storage_size_mib=storage_mib)
    progress, waiting = progress_and_waiting(output, timeout)

    with open_gateway(token, api_url) as gateway:
        plan = prepare_resize(gateway, request, cluster=cluster)
        render_resize_plan(plan, output)
        try:
            result = apply_resize(gateway, plan, dry_run=dry_run, wait=wait, waiting=waiting)
        finally:
            progress.finish()
        result = replace(result, requests=gateway.request_count)
    render_resize(result, output)
