"""``do-pgpool restart``: start a cluster's pending maintenance, or restart an App Platform app."""

from __future__ import annotations

import sys
from collections.abc import Callable
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
)
from ._progress import ProgressRenderer, progress_and_waiting, wait_options

if TYPE_CHECKING:
    from ..ops._restart import RestartResult


def _interactive() -> bool:
    """Can we ask? Only when stdin is a terminal (tests replace this)."""
    return sys.stdin.isatty()


@click.command("restart", epilog=EXIT_CODES_HELP)
@api_options
@cluster_option
@click.option("--app", metavar="NAME_OR_ID", help="Restart this App Platform app instead of the cluster.")
@click.option(
    "--component", "components", multiple=True, metavar="NAME",
    help="With --app: restart only this component (repeatable).  [default: all]",
)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation (required when not on a terminal).")
@wait_options
@dry_run_option
@output_option
def restart_command(
    token: str | None,
    api_url: str,
    cluster: str | None,
    app: str | None,
    components: tuple[str, ...],
    yes: bool,
    wait: bool,
    timeout: float,
    dry_run: bool,
    output: str,
) -> None:
    """Restart what can be restarted: the cluster's pending maintenance, or an App Platform app.

    \b
    --cluster: DigitalOcean's API has NO database restart. The closest thing is to start the cluster's
    pending maintenance now (PUT .../install_update): DigitalOcean builds new nodes with the updates
    applied, replicates the data and switches DNS over to them. It is documented as no downtime, with brief
    latency; the nodes' IP addresses change and connections open at the switch-over drop, so clients must
    connect by hostname. When no update is pending there is nothing to start, and this says so and exits 0.
    The wait ends when the cluster is online with no update pending and the update was seen running or
    done since the request: its status left online (the switch-over), or its events log gained a
    cluster_maintenance_perform event (the log is read once before the request and, while the cluster
    stays online, when the pending flag has cleared).

    \b
    --app: a rolling restart of an App Platform app (POST /v2/apps/{id}/restart). It closes every database
    connection the app holds - often the fastest way to free slots when the app leaks connections. Waits
    until the restart's deployment is ACTIVE; ERROR, CANCELED or SUPERSEDED fail.

    \b
    Asks for confirmation unless --yes; without a terminal, --yes is required.

    \b
    Examples:
      do-pgpool restart --cluster app-db --dry-run
      do-pgpool restart --app web --component api --yes
    """
    from ..ops._restart import apply_app_restart, apply_cluster_restart, prepare_app_restart, prepare_cluster_restart

    ctx = click.get_current_context()
    cluster_from_flag = ctx.get_parameter_source("cluster") == click.core.ParameterSource.COMMANDLINE
    if app is not None and cluster_from_flag:
        raise click.UsageError("give --cluster or --app, not both")
    if components and app is None:
        raise click.UsageError("--component applies to --app only")
    if app is None and cluster is None:
        raise click.UsageError("say what to restart: --cluster NAME_OR_UUID or --app NAME_OR_ID")
    progress, waiting = progress_and_waiting(output, timeout)

    with open_gateway(token, api_url) as gateway:
        result: RestartResult
        if app is not None:
            app_plan = prepare_app_restart(gateway, app, components=components)
            _show(app_plan.describe(), output)
            if dry_run:
                result = _dry(app_plan.app_name, app_plan.app_id, "app", app_plan.describe(), gateway.request_count)
            else:
                result = _confirm_and_apply(
                    yes, f"Restart app {app_plan.app_name!r} now?", progress,
                    lambda: apply_app_restart(gateway, app_plan, wait=wait, waiting=waiting),
                )
        else:
            plan = prepare_cluster_restart(gateway, cluster=cluster)
            c = plan.cluster
            if plan.pending:
                _show(plan.describe(), output)
            if not plan.pending or dry_run:
                action = "would restart" if plan.pending else "nothing pending"
                result = _dry(c.name, c.id, "cluster", plan.describe(), gateway.request_count, action)
            else:
                result = _confirm_and_apply(
                    yes, f"Start the pending maintenance on cluster {c.name!r} now?", progress,
                    lambda: apply_cluster_restart(gateway, plan, wait=wait, waiting=waiting),
                )
        requests = gateway.request_count
    from dataclasses import replace

    render_restart(replace(result, requests=requests), output)


def _dry(
    name: str, ident: str, target: str, description: str, requests: int, action: str = "would restart"
) -> RestartResult:
    from ..ops._restart import RestartResult

    return RestartResult(action, target, name, ident, description, 0.0, requests)


def _show(text: str, output: str) -> None:
    if output != "json":
        click.echo(text)


def _confirm_and_apply(
    yes: bool, question: str, progress: ProgressRenderer, apply: Callable[[], RestartResult]
) -> RestartResult:
    """Ask (unless ``yes``), then apply; the live progress line is ended however the wait ends."""
    _confirm(yes, question)
    try:
        return apply()
    finally:
        progress.finish()


def _confirm(yes: bool, question: str) -> None:
    if yes:
        return
    if not _interactive():
        raise click.UsageError("not on a terminal, so nobody can confirm: pass --yes to restart")
    if not click.confirm(question, default=False, err=True):
        raise click.Abort()


def render_restart(result: RestartResult, output: str) -> None:
    if output == "json":
        emit_json(result.as_dict())
        return
    if result.action == "nothing pending":
        click.echo(f"cluster {result.name}: no maintenance is pending, so there is nothing to start; nothing changed")
    elif result.action == "would restart":
        click.echo("dry run: nothing was changed")
    elif result.action == "requested":
        what = f"deployment {result.deployment_id}" if result.target == "app" else "maintenance"
        click.echo(f"{result.target} {result.name}: {what} started; not waiting (--no-wait)")
    elif result.target == "app":
        click.echo(
            f"restarted app {result.name}: deployment {result.deployment_id} is {result.phase} "
            f"(took {_took(result.elapsed)})"
        )
    else:
        state = result.cluster
        status = state.status if state else "online"
        click.echo(f"cluster {result.name} is {status} again after the maintenance (took {_took(result.elapsed)})")


def _took(seconds: float) -> str:
    from ..api._poll import format_duration

    return format_duration(seconds)
