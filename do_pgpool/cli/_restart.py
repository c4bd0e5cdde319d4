"""``do-pgpool restart``: start a cluster's pending maintenance, or restart an App Platform app."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

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
from ._render import render_restart, render_restart_plan

if TYPE_CHECKING:
    from ..ops._restart import AppRestartPlan, ClusterRestartPlan, RestartResult


def _interactive() -> bool:
    """Can we ask? Only when stdin is a terminal (tests replace this)."""
    return sys.stdin.isatty()


@click.command("restart", cls=ClusterCommand)
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
        apply: Callable[[bool], RestartResult]
        if app is not None:
            app_plan = prepare_app_restart(gateway, app, components=components)
            plan: AppRestartPlan | ClusterRestartPlan = app_plan
            question = f"Restart app {app_plan.app_name!r} now?"

            def apply(dry: bool) -> RestartResult:
                return apply_app_restart(gateway, app_plan, dry_run=dry, wait=wait, waiting=waiting)
        else:
            cluster_plan = prepare_cluster_restart(gateway, cluster=cluster)
            plan = cluster_plan
            question = f"Start the pending maintenance on cluster {cluster_plan.cluster.name!r} now?"

            def apply(dry: bool) -> RestartResult:
                return apply_cluster_restart(gateway, cluster_plan, dry_run=dry, wait=wait, waiting=waiting)
        if plan:
            render_restart_plan(plan.describe(), output)
        if plan and not dry_run:
            _confirm(yes, question)
        try:
            result = apply(dry_run)
        finally:
            progress.finish()
        requests = gateway.request_count
    from dataclasses import replace

    render_restart(replace(result, requests=requests), output)


def _confirm(yes: bool, question: str) -> None:
    if yes:
        return
    if not _interactive():
        raise click.UsageError("not on a terminal, so nobody can confirm: pass --yes to restart")
    if not click.confirm(question, default=False, err=True):
        raise click.Abort()
