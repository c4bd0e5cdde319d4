"""``do-pgpool migrate -- CMD``: run a migration on the direct connection, then end the sessions it left behind."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from ._access import access_options
from ._common import (
    ClusterCommand,
    Duration,
    api_options,
    cluster_option,
    dry_run_option,
    open_gateway,
    run_deadline,
    timeout_option,
)
from ._tls_options import TLSOptions, tls_options

if TYPE_CHECKING:
    from ..api._gateway import DigitalOcean
    from ..api._poll import WaitOptions
    from ..ops._migrate import MigrationPlan, MigrationResult
    from ._progress import ProgressRenderer

MIGRATE_EXIT_CODES = """\b
Exit codes:
    0  the command exited 0, or --dry-run
    N  the command's own exit status (128+N when signal N ended it)
    1  do-pgpool failed before the command ran: not enough headroom, API error, server unreachable, timeout;
       or the command exited 0 and a --temporary-access rule could not be removed (said, with how)
    2  usage: bad options or no command, found before any request
  126  the command was found but cannot be executed
  127  the command was not found
  130  interrupted (Ctrl-C): the command was stopped and its sessions cleaned up (SIGTERM: 143,
       SIGHUP: 129); a --temporary-access rule is removed, as after any exit
"""


@click.command("migrate", cls=ClusterCommand, epilog=MIGRATE_EXIT_CODES,
               context_settings={"allow_interspersed_args": False})  # fmt: skip
@api_options
@cluster_option
@timeout_option("5m", help="Give up on do-pgpool's own work before the command starts (reading the cluster, "
                "waiting for headroom) after this long; the command itself runs as long as it runs.")  # fmt: skip
@click.option("--env-var", default="DATABASE_URL", show_default=True, metavar="NAME",
              help="The environment variable that carries the direct connection string to the command.")  # fmt: skip
@click.option("--headroom", type=click.IntRange(min=0), default=1, show_default=True, metavar="N",
              help="Free non-superuser connection slots needed before the command starts (besides do-pgpool's "
                   "own session); more if the command opens several connections.")  # fmt: skip
@click.option("--wait", type=Duration(min=0), default="2m", show_default=True, metavar="DURATION",
              help="Wait up to this long for the headroom (0: look once), then refuse with the numbers.")  # fmt: skip
@click.option("--grace", type=Duration(min=0), default="10s", show_default=True, metavar="DURATION",
              help="After Ctrl-C or SIGTERM, how long the command has to exit before it is killed.")  # fmt: skip
@click.option("--keep-token", is_flag=True,
              help="Pass DIGITALOCEAN_TOKEN / DIGITALOCEAN_ACCESS_TOKEN on to the command (by default it gets the "
                   "database's URL, not the account's token).")  # fmt: skip
@tls_options()
@access_options
@dry_run_option
@click.argument("cmd", nargs=-1, type=click.UNPROCESSED, metavar="-- CMD [ARG]...")
def migrate_command(
    token: str | None, api_url: str, cluster: str | None, env_var: str, headroom: int, wait: float, grace: float,
    keep_token: bool, tls: TLSOptions, my_ip: str | None, temporary_access: bool, dry_run: bool,
    cmd: tuple[str, ...],
) -> None:
    """Run a migration (any command) on the direct connection, then end the sessions it left behind.

    \b
    CMD gets the cluster's direct connection string (not a pool's: migrations need session features)
    in --env-var, with a unique application_name (do-pgpool-migrate-<8 hex>) in the URL and in
    PGAPPNAME. First, --headroom slots must be free (waited for up to --wait, shown live on a
    terminal). After CMD exits, with any status, or is stopped by Ctrl-C or SIGTERM (passed on to it
    unless the terminal already did; killed after --grace), every session with that application_name
    is terminated, and only those; how many is reported. do-pgpool exits with CMD's status. Its own
    lines go to stderr: stdout is CMD's. do-pgpool keeps one session open meanwhile, to clean up even
    if CMD filled the server. With --my-ip ADDR --temporary-access, a cluster that does not trust
    this machine gets an ip_addr rule for ADDR before CMD and loses it after, whatever happened
    (its removal has a time limit of its own: CMD may outlast --timeout).

    \b
    Examples:
      do-pgpool migrate --cluster app-db -- alembic upgrade head
      do-pgpool migrate --env-var DIRECT_URL -- npx prisma migrate deploy
      do-pgpool migrate --headroom 5 --wait 10m -- python manage.py migrate
      do-pgpool migrate --dry-run -- rails db:migrate
      do-pgpool migrate --my-ip 203.0.113.7 --temporary-access -- alembic upgrade head
      do-pgpool migrate -- sh -c 'psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f schema.sql'
    """
    import os

    from .._exceptions import AccessLeftError, CommandError
    from ..ops._child import resolve_command
    from ..ops._migrate import check_env_var, migrate
    from ._access import reachable
    from ._common import EXIT_FAILURE, EXIT_INTERRUPTED, error_text

    if not cmd:
        raise click.UsageError("no command to run: give it after --, e.g. do-pgpool migrate -- alembic upgrade head")
    result: MigrationResult | None = None
    progress, waiting = _waiting(wait)
    try:
        check_env_var(env_var)  # before any request: a typo must not cost a trusted-source write
        resolve_command(cmd, os.environ)
        with _stops_raise(), open_gateway(token, api_url) as gateway, \
                reachable(gateway, cluster, my_ip, temporary_access, dry_run=dry_run,
                          remover=lambda: _remover(token, api_url)) as found, \
                _ended(progress), tls.policy(gateway, store=not dry_run) as policy:  # fmt: skip

            def started(plan: MigrationPlan, pid: int) -> None:
                progress.finish()  # end the live line of the wait, if one was drawn
                _started(plan, pid)

            result = migrate(gateway, found or cluster, cmd, env_var=env_var, headroom=headroom, waiting=waiting,
                             grace=grace, dry_run=dry_run, tls=policy, on_started=started,
                             keep_token=keep_token)  # fmt: skip
            _report(result)  # before a temporary rule is removed: that says its own lines
    except CommandError as exc:  # 127 / 126, as shells, env and timeout say it
        click.echo(f"Error: {error_text(exc)}", err=True)
        raise click.exceptions.Exit(exc.exit_status) from exc
    except AccessLeftError as exc:
        if result is None or result.exit is None:
            raise  # before the command ran: an error like any other (exit 1)
        progress.finish()
        click.echo(f"Error: {error_text(exc)}", err=True)
        code = result.exit_code or EXIT_FAILURE
        click.echo(f"do-pgpool migrate: exiting with {code}: " + ("the command's status" if result.exit_code else
                   "the command succeeded but the trusted source it was let in by is still there"), err=True)
        raise click.exceptions.Exit(code) from None
    except KeyboardInterrupt as exc:  # while reading the cluster or waiting for headroom (Ctrl-C, SIGTERM, SIGHUP)
        progress.finish()
        signum = getattr(exc, "signum", None)
        if result is not None and result.exit is not None:  # after the report: while a temporary rule was removed
            click.echo("do-pgpool migrate: interrupted after the command" + (
                ", while the temporary trusted source was being removed (it was waited for)" if temporary_access
                else ""), err=True)  # fmt: skip
        else:
            click.echo("Interrupted before the command started: nothing was run"
                       + (" and nothing was changed." if not temporary_access else "."), err=True)  # fmt: skip
        raise click.exceptions.Exit(EXIT_INTERRUPTED if signum is None else 128 + signum) from None
    finally:
        progress.finish()  # a refusal's message starts on a line of its own
    assert result is not None  # the block above ran to its end
    if result.exit_code:
        raise click.exceptions.Exit(result.exit_code)


#: how long removing a temporary trusted source may take, counted from when it starts: its own limit, since the
#: command may have outlasted --timeout
REMOVE_TIMEOUT = 60.0


def _remover(token: str | None, api_url: str) -> DigitalOcean:
    """A client for removing the temporary rule, bound by ``REMOVE_TIMEOUT`` from now (not the run's --timeout)."""
    from .._deadline import Deadline
    from ..api._gateway import DigitalOcean

    return DigitalOcean(token or "", api_url=api_url, deadline=Deadline(REMOVE_TIMEOUT))


@contextmanager
def _ended(progress: ProgressRenderer) -> Iterator[None]:
    """The live line of the wait ends before what comes after the block (a temporary rule's removal) is said."""
    try:
        yield
    finally:
        progress.finish()


class _Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP outside the command (a CI runner cancelling the job): unwinds like a Ctrl-C, so that a
    temporary trusted source is removed, and do-pgpool exits 128 + the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def _stops_raise() -> Iterator[None]:
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise _Stopped(signum)

    signals = [s for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    previous = {sig: signal.signal(sig, stop) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _waiting(wait: float) -> tuple[ProgressRenderer, WaitOptions]:
    """The headroom wait: at most --wait and what is left of --timeout, on the wait clock. A live line on a terminal
    once it really waits (not for a first reading that found enough); nothing otherwise."""
    from ..api._poll import Progress, WaitOptions
    from ._progress import ProgressRenderer, wait_clock

    clock = wait_clock()
    live = sys.stderr.isatty()
    progress = ProgressRenderer(stream=sys.stderr, enabled=live, live=live, clock=clock.clock,
                                real_sleep=clock.sleep)  # fmt: skip

    def report(seen: Progress) -> None:
        if not (seen.done and seen.polls == 1):
            progress(seen)

    return progress, WaitOptions(timeout=min(wait, run_deadline().remaining()), clock=clock.clock, sleep=clock.sleep,
                                 on_progress=report)  # fmt: skip


def _started(plan: MigrationPlan, pid: int) -> None:
    click.echo(f"do-pgpool migrate: running {plan.command_text} (pid {pid}) with {plan.env_var} = the direct "
               f"connection to {plan.target}, application_name {plan.application_name}; headroom: "
               f"{plan.headroom_text()}", err=True)  # fmt: skip


def _report(result: MigrationResult) -> None:
    import signal

    from ._common import error_text

    if result.exit is None:
        for line in result.plan.lines():
            click.echo(line)
        click.echo("dry run: nothing was run")
        return

    if result.waited >= 1:
        click.echo(f"do-pgpool migrate: waited {result.waited:.0f} s for headroom", err=True)
    if result.interrupted is not None:
        name = signal.Signals(result.interrupted).name
        ended = result.exit
        how = ("the command was killed (after --grace, or on a second signal)" if ended and ended.killed
               else "passed on to it" if ended and ended.forwarded
               else "not passed on: the command got it from the terminal, or had already exited")  # fmt: skip
        click.echo(f"do-pgpool migrate: interrupted ({name}, {how})", err=True)
    for session in result.cleaned:
        click.echo(f"  terminated {session.describe()}", err=True)
    for session, reason in result.kept:
        click.echo(f"  kept {session.describe()}: {reason}", err=True)
    click.echo(f"do-pgpool migrate: {result.describe(error_text)}", err=True)
    if result.cleanup_error is not None:
        click.echo(f"do-pgpool migrate: exiting with the command's status {result.exit_code}; to end what it left, "
                   f"run: do-pgpool terminate-idle --application {result.plan.application_name} --idle-for 0 "
                   "--include-idle-in-transaction", err=True)  # fmt: skip
