"""``do-pgpool status`` and ``do-pgpool terminate-idle``: where the connections went, and freeing idle ones."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from ._access import access_options, reachable
from ._common import EXIT_HEADROOM, Duration, command, dry_run_option, emit_json, open_gateway, output_option
from ._sandbox import hint_sandbox_when_unreachable, sandbox_hint
from ._tls_options import TLSOptions, tls_options

if TYPE_CHECKING:
    from collections.abc import Callable

    from .._models import Cluster
    from .._tls import TLS
    from ..api._ports import DatabasesAPI
    from ..ops._status import ClusterStatus
    from ..ops._watch import Frame
    from ..postgres._usage import Verdict


#: after the gate's verdict (a server read live): where the slots went, and the two ways to free them
GATE_ADVICE = (
    "To make room before deploying: the report shows who holds the slots (by application, oldest idle); end idle "
    "sessions with do-pgpool terminate-idle (--dry-run first), or put a pool in front: do-pgpool fix --size N."
)


@command("status", read_only=True)
@click.option("--advice/--no-advice", default=True, show_default=True,
              help="After the text report: what breaks behind a transaction pool, and the command that prints your "
                   "stack's settings.")  # fmt: skip
@click.option("--config", "with_config", is_flag=True,
              help="Also show the settings ensure-config manages (one more request: GET .../config).")  # fmt: skip
@click.option("--fail-at", type=click.Choice(["near", "saturated"]), default=None,
              help=f"A deploy gate: exit {EXIT_HEADROOM} when the verdict is at or beyond this level.")  # fmt: skip
@click.option("--watch", type=Duration(positive=True), is_flag=False, flag_value=5.0, default=None,
              metavar="[SECONDS]",
              help="Redraw every SECONDS (default 5) until --timeout or Ctrl-C; the API every 30 s.")  # fmt: skip
@tls_options()
@access_options
@click.option("-o", "--output", type=click.Choice(["text", "json", "prometheus"]), default="text", show_default=True,
              help="text for people; json for scripts; prometheus: text exposition for monitoring.")  # fmt: skip
def status_command(
    token: str | None, api_url: str, cluster: str | None, advice: bool, with_config: bool, fail_at: str | None,
    watch: float | None, tls: TLSOptions, my_ip: str | None, temporary_access: bool, output: str,
) -> None:
    """Show the cluster's connection budget, its pools and live usage, with a verdict.

    \b
    Live usage comes from pg_stat_activity over the cluster's own connection (the API's credentials):
    client backends by state, user and application, and the oldest idle sessions. The verdict is
    ok, near (80 % of the non-superuser slots) or saturated. --config adds the server settings that
    matter (idle_in_transaction_session_timeout, pgbouncer server_idle_timeout / server_lifetime /
    min_pool_size, max_connections when returned): one more request. Exit 1 when the server could not be read
    (for example because it is full: the message says what can still be done). The connection uses
    sslmode=verify-full with the cluster's CA (see --sslmode, --ca-file).

    \b
    --fail-at near|saturated gates a deploy: exit 4 when the verdict is at or beyond that level (a server
    that refuses because it is full is saturated). -o prometheus prints gauges (do_pgpool_...) for a
    textfile collector: budget, limits, pools, connections by state, user and application, the verdict.
    --watch [SECONDS] redraws the report every SECONDS (5 by default) until --timeout (5m by default) or
    Ctrl-C: the server is read each time, the cluster and pools every 30 s (at most 4 API requests a minute; a
    failed read keeps the last answer, marked STALE). It exits as its last frame would (1 when that frame could
    not read the server or the API); with --fail-at it stops at the first frame at the level, exit 4.

    \b
    Examples:
      do-pgpool status --cluster app-db
      do-pgpool status -o json | jq .verdict.level
      do-pgpool status --fail-at near && ./deploy.sh
      do-pgpool status -o prometheus > /var/lib/node_exporter/do_pgpool.prom
    """
    from .._exceptions import DatabaseError
    from ..ops._status import cluster_status

    if watch is not None and output != "text":
        raise click.UsageError("--watch is a view for a terminal: it takes no -o json|prometheus (for monitoring, "
                               "run status -o prometheus at each scrape)")  # fmt: skip
    last = None
    with open_gateway(token, api_url) as gateway, reachable(gateway, cluster, my_ip, temporary_access) as found, \
            tls.policy(gateway) as policy:
        result = cluster_status(gateway, found or cluster, with_config=with_config, tls=policy)
        if watch is not None:
            last = _watch(gateway, result, watch, policy, fail_at=fail_at, with_config=with_config)
            result = last.status
    if last is None:
        _report(result, output, advice)
    gate(result.verdict, fail_at, detail=result.error)
    if result.usage is None:
        hint = sandbox_hint(api_url) if result.unreachable else None
        if result.failure is not None:  # kept whole: its parameters are worded as flags
            raise result.failure.extended(f"\n{hint}") if hint else result.failure
        message = (result.error or "live usage unavailable") + (f"\n{hint}" if hint else "")
        raise DatabaseError(message, saturated=result.saturated, unreachable=result.unreachable)
    if last is not None and last.api_failure is not None:  # the watch ended on cluster and pools it could not renew
        click.echo(f"The watch ended showing the cluster and pools as read {last.api_age:.0f} s before; the last "
                   "API read failed:", err=True)  # fmt: skip
        raise last.api_failure


def _worded(result: ClusterStatus) -> ClusterStatus:
    """The status with its ``error`` in the command line's words (``--timeout 3s``, not ``timeout=3s``)."""
    from dataclasses import replace

    from ._common import error_text

    return replace(result, error=error_text(result.failure)) if result.failure is not None else result


def _report(result: ClusterStatus, output: str, advice: bool) -> None:
    """One status, printed as ``-o`` asks (the advice after the text report when there is a pool)."""
    result = _worded(result)
    if output == "json":
        emit_json(result.as_dict())
    elif output == "prometheus":
        from ._prometheus import prometheus_text

        click.echo(prometheus_text(result), nl=False)
    else:
        from .._advice import render_pointer

        for line in result.lines():
            click.echo(line)
        if advice and result.usage is not None and result.pools:
            click.echo("")
            click.echo(render_pointer())


def _watch(
    gateway: DatabasesAPI, first: ClusterStatus, every: float, tls: Callable[[Cluster], TLS], *,
    fail_at: str | None, with_config: bool,
) -> Frame:
    """Redraw the report every ``every`` seconds until the run's --timeout, or until the verdict reaches
    ``fail_at``; returns the last frame (the caller picks the exit code from it). Live usage is read each frame,
    the cluster and pools every ``API_EVERY`` seconds. Sleeps and time come from the wait clock."""
    from .._exceptions import DeadlineExceededError
    from ..ops._watch import StatusWatch
    from ._common import error_text, run_deadline
    from ._progress import wait_clock

    deadline, clock = run_deadline(), wait_clock()
    watch = StatusWatch(gateway, first, clock=clock.clock, tls=tls, with_config=with_config)
    frame = watch.frame
    stops = f", until {fail_at} (--fail-at)" if fail_at else ""
    while True:
        if sys.stdout.isatty():
            click.clear()
        left = deadline.remaining()
        if frame.stale:
            api = f"API: STALE, as read {frame.api_age:.0f} s ago"
        else:
            api = f"API read {frame.api_age:.0f} s ago (every {watch.api_every:g} s)"
        click.echo(f"every {every:g} s, {left:.0f} s left (--timeout){stops}; {api}; Ctrl-C stops")
        if frame.api_failure is not None:  # in the command line's words (--timeout, not timeout=)
            click.echo(f"  the last API read failed: {error_text(frame.api_failure).splitlines()[0]}")
        for line in _worded(frame.status).lines():
            click.echo(line)
        if _gate_reached(frame.status.verdict, fail_at):
            return frame
        if left <= every:  # say why the view stopped, and how to watch longer
            click.echo(f"The watch stopped: {left:.0f} s of --timeout left, less than one more interval; pass "
                       "--timeout 1h to watch longer.", err=True)  # fmt: skip
            return frame
        clock.sleep(every)
        click.echo("")
        try:
            frame = watch.next()
        except DeadlineExceededError:  # the time ran out while reading: the last whole frame stands
            return frame


def _gate_reached(verdict: Verdict | None, fail_at: str | None) -> bool:
    order = ("ok", "near", "saturated")
    return fail_at is not None and verdict is not None and order.index(verdict.level) >= order.index(fail_at)


def gate(verdict: Verdict | None, fail_at: str | None, detail: str | None = None) -> None:
    """``--fail-at``: stop with EXIT_HEADROOM when the verdict is at or beyond the level. No verdict (the server
    could not be read, and not because it is full) is an ordinary failure, left to the caller. ``detail``: why
    live usage is missing (a full server's message says what can still be done)."""
    if verdict is not None and _gate_reached(verdict, fail_at):
        click.echo(f"Headroom gate (--fail-at {fail_at}): {verdict.describe()}", err=True)
        if detail:  # a full server: what can still be done
            click.echo(detail, err=True)
        else:
            click.echo(GATE_ADVICE, err=True)
        raise click.exceptions.Exit(EXIT_HEADROOM)


@command("terminate-idle")
@click.option("--idle-for", type=Duration(min=0), default=300, show_default=True, metavar="SECONDS",
              help="Only sessions idle at least this long.")  # fmt: skip
@click.option("--user", metavar="USER", help="Only this database user's sessions.")
@click.option("--application", metavar="NAME", help="Only sessions with this application_name.")
@click.option("--include-idle-in-transaction", is_flag=True,
              help="Also sessions idle inside an open transaction (their transaction is rolled back).")  # fmt: skip
@tls_options()
@dry_run_option
@access_options
@output_option
def terminate_idle_command(
    token: str | None,
    api_url: str,
    cluster: str | None,
    idle_for: float,
    user: str | None,
    application: str | None,
    include_idle_in_transaction: bool,
    tls: TLSOptions,
    dry_run: bool,
    my_ip: str | None,
    temporary_access: bool,
    output: str,
) -> None:
    """Terminate idle client sessions (pg_terminate_backend) to free connection slots.

    \b
    Never this tool's own session, never non-client backends; a session that ran a query since it was
    listed is left alone. --dry-run lists who would be terminated. Needs one free slot to connect.
    The connection uses sslmode=verify-full with the cluster's CA (see --sslmode, --ca-file).

    \b
    Examples:
      do-pgpool terminate-idle --cluster app-db --dry-run
      do-pgpool terminate-idle --idle-for 600 --application web --include-idle-in-transaction
    """
    from ..ops._terminate_idle import terminate_idle

    with open_gateway(token, api_url) as gateway, reachable(gateway, cluster, my_ip, temporary_access,
                                                            dry_run=dry_run) as found, \
            tls.policy(gateway, store=not dry_run) as policy:
        with hint_sandbox_when_unreachable(api_url):
            result = terminate_idle(
                gateway, found or cluster, idle_for=idle_for, user=user, application=application,
                include_idle_in_transaction=include_idle_in_transaction, dry_run=dry_run, tls=policy,
            )  # fmt: skip
    if output == "json":
        emit_json(result.as_dict())
        return
    if result.terminated is None:
        for s in result.sessions:
            click.echo(f"  would terminate {s.describe()}")
    else:
        for s in result.terminated.terminated:
            click.echo(f"  terminated {s.describe()}")
        for s, reason in result.terminated.skipped:
            click.echo(f"  kept {s.describe()}: {reason}")
    click.echo(result.describe())
