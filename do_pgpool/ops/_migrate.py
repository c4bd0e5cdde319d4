"""``migrate``: run a command (a migration) on the direct connection, then end the sessions it left behind.

The command gets the cluster's **direct** connection string in its environment (``env_var``, DATABASE_URL by
default) carrying a unique ``application_name`` (``do-pgpool-migrate-<8 hex>``), both as the URL's query parameter
and as ``PGAPPNAME``: libpq-based drivers (psycopg, Django, Rails' pg, lib/pq) read either, node-postgres, pgx,
asyncpg and Prisma read the URL's. Before it starts, the server must have ``headroom`` free non-superuser slots
(waited for up to ``waiting.timeout``); after it exits (any status, or stopped by a signal: ``ops._child``), every
session still carrying that ``application_name`` is terminated, and only those. A failed cleanup never hides the
command's status: it is in the result (``cleanup_error``).

do-pgpool keeps its own session open while the command runs, so that it can still clean up after a command that
filled the server. The URL (with its password) goes into the command's environment only, never into the plan's
text, the result or an error.

With temporary trusted-source access: ``migrate`` takes a ``Cluster`` already read and needs the API no more once
the command has started (the CA is read before), so a caller wraps the whole call in
``ops._access.temporary_access`` with a ``remover`` whose time limit starts when the removal does (the CLI's
``--temporary-access``): the command may outlast the run's ``--timeout``. The cleanup has its own limit for the
same reason (``CLEANUP_TIMEOUT``).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .._deadline import Deadline
from .._exceptions import (
    CommandError,
    ConfigError,
    CredentialsMissingError,
    DatabaseError,
    DeadlineExceededError,
    DoPgpoolError,
    HeadroomError,
    Param,
    Part,
    WaitTimeoutError,
)
from .._models import Cluster
from .._tls import TLS
from ..api._poll import Backoff, Observation, WaitOptions, format_duration, poll_until
from ..api._ports import DatabasesAPI
from ..postgres._connect import PgConnection, connect
from ..postgres._terminate import find_application, terminate
from ..postgres._usage import Session, Usage, snapshot
from ._child import ChildExit, resolve_command, signal_span
from ._status import NO_PASSWORD
from ._tls import tls_connect

__all__ = [
    "APPLICATION_PREFIX",
    "MigrationPlan",
    "MigrationResult",
    "migrate",
    "migration_env",
    "migration_url",
    "new_application_name",
]

APPLICATION_PREFIX = "do-pgpool-migrate-"
DEFAULT_ENV_VAR = "DATABASE_URL"
#: free non-superuser slots wanted before the command starts (besides do-pgpool's own session): the migration's
#: connection. Not more by default: ``fix --size 20`` on a 1 GiB cluster leaves 2 slots outside the pool, one of
#: them do-pgpool's own; a tool that opens several (Django: one per database alias) asks with headroom=N.
DEFAULT_HEADROOM = 1
DEFAULT_GRACE = 10.0
#: how often a full server is read again while waiting for headroom: 2 s, x1.5, at most 15 s
HEADROOM_BACKOFF = Backoff(initial=2.0, factor=1.5, maximum=15.0)
#: how long a session closed by the command may take to leave pg_stat_activity (its backend exits after it noticed)
SETTLE = 0.1
#: the cleanup's own time limit (seconds): reconnecting, listing and terminating, whatever was left of --timeout;
#: a server that stopped answering during a long command cannot hold do-pgpool (nor a Ctrl-C, which waits for the
#: cleanup) longer than this
CLEANUP_TIMEOUT = 60.0
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def new_application_name() -> str:
    """``do-pgpool-migrate-`` and 8 random hex digits: unique to one run, well under PostgreSQL's 63 bytes."""
    return APPLICATION_PREFIX + secrets.token_hex(4)


def migration_url(uri: str, application_name: str) -> str:
    """``uri`` with ``application_name=<name>`` in its query (an ``application_name`` already there is replaced);
    every other part kept as given."""
    parts = urlsplit(uri)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "application_name"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("application_name", application_name)], safe="/")))


#: DigitalOcean API tokens (ours, doctl's): a migration needs the database, not the account; a tool that logs its
#: environment on a failure (error trackers do) would otherwise carry the token away
TOKEN_VARIABLES = ("DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN")


def migration_env(
    environ: Mapping[str, str], *, env_var: str, url: str, application_name: str, keep_token: bool = False
) -> dict[str, str]:
    """The command's environment: ``environ`` plus ``env_var=url`` and ``PGAPPNAME=application_name``, without
    the API tokens of ``TOKEN_VARIABLES`` unless ``keep_token``."""
    kept = {k: v for k, v in environ.items() if keep_token or k not in TOKEN_VARIABLES}
    return {**kept, env_var: url, "PGAPPNAME": application_name}


#: variables the command cannot do without (or that do-pgpool sets itself): a URL put there breaks the command
_RESERVED_ENV = ("PATH", "HOME", "SHELL", "PGAPPNAME")


def check_env_var(env_var: str) -> str:
    if not isinstance(env_var, str) or not _ENV_NAME.fullmatch(env_var) or env_var.upper() in _RESERVED_ENV:
        raise ConfigError([Param("env_var", repr(env_var)), " must be an environment variable name (letters, digits, "
                           f"_; not starting with a digit; none of {', '.join(_RESERVED_ENV)}), e.g. ",
                           Param("env_var", "DATABASE_URL")])  # fmt: skip
    return env_var


@dataclass(frozen=True)
class MigrationPlan:
    """What ``migrate`` runs, where, and the headroom it found (``usage``: None when the server was full)."""

    cluster: Cluster
    command: tuple[str, ...]
    env_var: str
    application_name: str
    headroom: int
    usage: Usage | None
    url: str = field(repr=False, compare=False)  # with the password: only for the command's environment

    @property
    def command_text(self) -> str:
        """The command as a shell would take it back (quoted where needed)."""
        import shlex

        return shlex.join(self.command)

    @property
    def target(self) -> str:
        """``host:port/database`` of the URL, without credentials."""
        parts = urlsplit(self.url)
        return f"{parts.hostname}:{parts.port or 5432}{parts.path}"

    def headroom_text(self) -> str:
        if self.usage is None:
            return f"the server is full (it refuses new connections); {self.headroom} free slots needed"
        u = self.usage
        return (f"{u.free} of {u.limit} non-superuser slots free ({u.total} in use, {u.superuser_reserved} more "
                f"reserved for superusers), {self.headroom} needed")  # fmt: skip

    def lines(self) -> list[str]:
        return [
            f"cluster {self.cluster.name} ({self.cluster.id})",
            f"command: {self.command_text}",
            f"{self.env_var}: the direct connection to {self.target} (password not shown), "
            f"application_name={self.application_name} (also PGAPPNAME)",
            f"headroom now: {self.headroom_text()}",
            f"afterwards: terminate the sessions with application_name {self.application_name} (only those)",
        ]

    def as_dict(self) -> dict[str, Any]:
        return {"cluster": {"id": self.cluster.id, "name": self.cluster.name}, "command": list(self.command),
                "env_var": self.env_var, "target": self.target, "application_name": self.application_name,
                "headroom": self.headroom, "usage": self.usage.as_dict() if self.usage else None}  # fmt: skip


@dataclass(frozen=True)
class MigrationResult:
    """What happened. ``exit`` is None for a dry run. ``interrupted``: the first stop signal do-pgpool received
    (SIGINT, SIGTERM, SIGHUP) while the command ran or was cleaned up after. ``cleaned``: the sessions the command
    left behind, terminated; ``kept``: those left, with the reason; ``cleanup_error``: why the cleanup failed."""

    plan: MigrationPlan
    dry_run: bool
    waited: float = 0.0
    exit: ChildExit | None = None
    interrupted: int | None = None
    cleaned: tuple[Session, ...] = ()
    kept: tuple[tuple[Session, str], ...] = ()
    cleanup_error: str | None = None
    #: the error behind ``cleanup_error``, for a front end to word (the CLI names its flags)
    cleanup_failure: DoPgpoolError | None = field(default=None, repr=False, compare=False)

    @property
    def status(self) -> int | None:
        """The command's own exit status (shell style: 128 + N when signal N ended it); None for a dry run."""
        return None if self.exit is None else self.exit.status

    @property
    def left_behind(self) -> int:
        return len(self.cleaned) + len(self.kept)

    @property
    def exit_code(self) -> int:
        """What ``do-pgpool migrate`` exits with: 128 + the signal when interrupted (130 for Ctrl-C), else the
        command's status (0 for a dry run)."""
        if self.interrupted is not None:
            return 128 + self.interrupted
        return self.status or 0

    def describe(self, word: Callable[[DoPgpoolError], str] = str) -> str:
        """One line; ``word`` says a cleanup's error (the CLI's names its flags)."""
        if self.exit is None:
            return "dry run: nothing was run"
        ended = (f"was killed by signal {self.exit.signal} ({_signal_name(self.exit.signal)}, status "
                 f"{self.exit.status})" if self.exit.signal
                 else f"exited with status {self.exit.status}")  # fmt: skip
        name = self.plan.application_name
        if self.cleanup_error is not None:
            error = self.cleanup_error if self.cleanup_failure is None else word(self.cleanup_failure)
            return (f"the command {ended}; cleaning up after it failed: {error.rstrip('.')}. Sessions with "
                    f"application_name {name} may be left")  # fmt: skip
        if self.left_behind == 0:
            return f"the command {ended}; it left no session behind (application_name {name})"
        text = f"the command {ended}; {self.left_behind} session(s) left behind (application_name {name})"
        text += f", {len(self.cleaned)} terminated" if self.cleaned else ""
        return text + (f", {len(self.kept)} not terminated" if self.kept else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan.as_dict(), "dry_run": self.dry_run, "waited_seconds": round(self.waited, 1),
            "status": self.status, "signal": self.exit.signal if self.exit else None,
            "killed": self.exit.killed if self.exit else False, "interrupted": self.interrupted,
            "left_behind": self.left_behind, "terminated": [s.as_dict() for s in self.cleaned],
            "kept": [{**s.as_dict(), "reason": reason} for s, reason in self.kept],
            "cleanup_error": self.cleanup_error, "exit_code": self.exit_code,
        }  # fmt: skip


def _signal_name(signum: int) -> str:
    import signal

    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def migrate(
    gateway: DatabasesAPI,
    cluster: str | Cluster | None,
    command: Sequence[str],
    *,
    env_var: str = DEFAULT_ENV_VAR,
    headroom: int = DEFAULT_HEADROOM,
    waiting: WaitOptions | None = None,
    grace: float = DEFAULT_GRACE,
    dry_run: bool = False,
    application_name: str | None = None,
    environ: Mapping[str, str] | None = None,
    connect_fn: Callable[[str], PgConnection] = connect,
    tls: Callable[[Cluster], TLS] | None = None,
    forward_sigint: bool | None = None,
    on_started: Callable[[MigrationPlan, int], None] | None = None,
    cleanup_timeout: float = CLEANUP_TIMEOUT,
    keep_token: bool = False,
) -> MigrationResult:
    """Run ``command`` with the direct connection string of ``cluster`` (name, uuid, a ``Cluster`` already read,
    or None: the only one) in ``env_var``, once ``headroom`` slots are free; then terminate the sessions it left.

    ``waiting``: how long to wait for headroom (``timeout``, 0: look once) and on which clock; ``grace``: seconds a
    command has to exit after a stop signal before it is killed (``ops._child``). ``environ``: the command's base
    environment (default ``os.environ``), less the DigitalOcean API tokens unless ``keep_token``.
    ``on_started(plan, pid)`` is called once the command runs.
    ``cleanup_timeout``: the cleanup's own time limit (seconds), not the run's: the command may outlast that one.

    Raises ``CommandError`` (not found: 127, not executable: 126) and ``ConfigError`` before any request,
    ``CredentialsMissingError``, ``HeadroomError`` (too few free slots after the wait; the command did not
    run), ``DatabaseError`` (unreachable, TLS). Once the command has started, nothing is raised: the result
    carries its status and the cleanup's outcome.
    """
    from .._duration import check_seconds

    check_env_var(env_var)
    if isinstance(headroom, bool) or not isinstance(headroom, int) or headroom < 0:
        raise ConfigError([Param("headroom", repr(headroom)), " must be a whole number of free slots, 0 or more"])
    grace = check_seconds(grace, what="grace")
    base_env = dict(os.environ if environ is None else environ)
    argv = resolve_command(command, base_env)
    found = cluster if isinstance(cluster, Cluster) else gateway.find_cluster(cluster)
    if found.connection is None or not found.connection.has_password:
        raise CredentialsMissingError(f"{NO_PASSWORD} (cluster {found.name})")
    name = application_name or new_application_name()
    uri = found.connection.uri
    open_conn = tls_connect(connect_fn, tls, found)

    def plan(usage: Usage | None) -> MigrationPlan:
        return MigrationPlan(found, tuple(command), env_var, name, headroom, usage, migration_url(uri, name))

    if dry_run:
        conn, usage = _look(lambda: open_conn(uri))
        if conn is not None:
            conn.close()
        return MigrationResult(plan(usage), dry_run=True)
    opts = waiting or WaitOptions(timeout=0.0)
    start = opts.clock()
    conn, usage = _wait_for_headroom(lambda: open_conn(uri), headroom, opts, found.name)
    waited = opts.clock() - start
    the_plan = plan(usage)
    env = migration_env(base_env, env_var=env_var, url=the_plan.url, application_name=name, keep_token=keep_token)
    with signal_span(grace, forward_sigint=forward_sigint) as span:
        try:
            ended = span.run(argv, env=env,
                             on_started=None if on_started is None else lambda pid: on_started(the_plan, pid))
        except OSError as exc:  # found and executable, and still refused (a bad interpreter line, say)
            conn.close()
            raise CommandError(f"cannot run {command[0]}: {exc.strerror or exc}", exit_status=126) from exc
        # CMD may have outlasted --timeout: the cleanup has its own bound (``_clean_up``)
        cleaned, kept, error = _clean_up(conn, lambda: open_conn(uri), name, opts.sleep, cleanup_timeout)
    return MigrationResult(the_plan, False, waited, ended, span.interrupted, cleaned, kept,
                           None if error is None else str(error), error)  # fmt: skip


def _look(open_conn: Callable[[], PgConnection]) -> tuple[PgConnection | None, Usage | None]:
    """One reading of the server: (the connection, its usage), or (None, None) when it is full."""
    try:
        conn = open_conn()
    except DatabaseError as exc:
        if exc.saturated:
            return None, None
        raise
    try:
        return conn, snapshot(conn)
    except BaseException:
        conn.close()
        raise


def _wait_for_headroom(
    open_conn: Callable[[], PgConnection], needed: int, waiting: WaitOptions, cluster_name: str
) -> tuple[PgConnection, Usage]:
    """Read the server until ``needed`` slots are free besides do-pgpool's own session (kept open and returned),
    or raise ``HeadroomError`` with the last numbers when ``waiting.timeout`` runs out."""
    conn: PgConnection | None = None
    last: Usage | None = None

    def observe() -> Observation[Usage | None]:
        nonlocal conn, last
        if conn is None:
            conn, usage = _look(open_conn)
        else:
            usage = snapshot(conn)
        if usage is None:
            return Observation(None, "full", "the server refuses new connections")
        last = usage
        if needed > usage.limit - 1:  # never: do-pgpool's own session takes one of the slots
            raise _never_enough(usage, needed, cluster_name)
        return Observation(usage, f"{usage.free} free", f"{usage.total} of {usage.limit} in use, {needed} free needed",
                           done=usage.free >= needed)  # fmt: skip

    try:
        usage = poll_until(observe, what=f"headroom on {cluster_name}",
                           waiting=WaitOptions(timeout=waiting.timeout, clock=waiting.clock, sleep=waiting.sleep,
                                               backoff=HEADROOM_BACKOFF, on_progress=waiting.on_progress))  # fmt: skip
    except WaitTimeoutError as exc:
        if conn is not None:
            conn.close()
        raise _not_enough(last, needed, exc.elapsed, cluster_name) from None
    except BaseException:
        if conn is not None:
            conn.close()
        raise
    assert conn is not None and usage is not None  # done only on a reading with enough free slots
    return conn, usage


def _never_enough(usage: Usage, needed: int, cluster_name: str) -> HeadroomError:
    most = max(usage.limit - 1, 0)
    return HeadroomError(
        [f"{needed} free slots can never be had on {cluster_name}: its limit is {usage.limit} non-superuser slots "
         f"(max_connections {usage.max_connections}, {usage.superuser_reserved} reserved for superusers) and "
         f"do-pgpool's own session takes one, so at most {most} can be free; the command did not run (now "
         f"{usage.total} in use, {usage.free} free).\nWhat to do: ask for at most {most} with ",
         Param("headroom", str(most)), ", or resize the cluster for more connections: do-pgpool resize --cluster ",
         cluster_name, " --connections N."],
        used=usage.total, limit=usage.limit, reserved=usage.superuser_reserved, needed=needed, waited=0.0,
    )  # fmt: skip


def _not_enough(usage: Usage | None, needed: int, waited: float, cluster_name: str) -> HeadroomError:
    after = f" after waiting {format_duration(waited)}" if waited >= 1 else ""
    todo: list[Part] = [
        "\nWhat to do: wait for the deploy or job holding them to finish and run again (or wait longer with ",
        Param("wait", "DURATION"), "); free idle sessions: ", "do-pgpool terminate-idle --cluster ", cluster_name,
        "; move the applications behind a pool so they hold fewer server connections: do-pgpool fix --cluster ",
        cluster_name, "; a pool's idle server connections count too (PgBouncer closes them after its "
        "server_idle_timeout), so a smaller pool leaves more room: do-pgpool ensure-pool --cluster ", cluster_name,
        " --size N; or ask for fewer free slots with ", Param("headroom", "N"), ".",
    ]
    if usage is None:  # nothing can connect: not terminate-idle either, and fewer slots asked for change nothing
        full_todo: list[Part] = [
            "\nWhat to do: wait for the deploy or job holding them to finish and run again (or wait longer with ",
            Param("wait", "DURATION"), "); restart the application holding them: do-pgpool restart --app APP; or "
            "resize the cluster for more connections: do-pgpool resize --cluster ", cluster_name, " --connections N.",
        ]  # fmt: skip
        return HeadroomError([f"not enough headroom on {cluster_name} to start the command{after}: the server is "
                              f"full (it refused do-pgpool's connection), {needed} free slots needed; the command "
                              "did not run.", *full_todo], used=0, limit=0, reserved=0, needed=needed,
                             waited=waited, saturated=True)  # fmt: skip
    holders = ", ".join(f"{app} {n}" for app, n in list(usage.by_application.items())[:6])
    users = ", ".join(f"{user} {n}" for user, n in list(usage.by_user.items())[:4])
    return HeadroomError(
        [f"not enough headroom on {cluster_name} to start the command{after}: {usage.total} of {usage.limit} "
         f"non-superuser slots in use ({usage.superuser_reserved} more reserved for superusers, max_connections "
         f"{usage.max_connections}), {usage.free} free besides do-pgpool's own session, {needed} needed; the command "
         f"did not run.\nHeld by application: {holders}; by user: {users}.", *todo],
        used=usage.total, limit=usage.limit, reserved=usage.superuser_reserved, needed=needed, waited=waited,
    )  # fmt: skip


def _clean_up(
    conn: PgConnection, reopen: Callable[[], PgConnection], application_name: str, sleep: Callable[[float], None],
    timeout: float = CLEANUP_TIMEOUT,
) -> tuple[tuple[Session, ...], tuple[tuple[Session, str], ...], DoPgpoolError | None]:
    """Terminate every session with ``application_name``, on the session kept open (or a new one if it was lost).
    Never raises a do-pgpool error: a failure is returned.

    Bounded by ``timeout`` of its own (the run's ``--timeout`` may have passed during the command): a new
    connection gets at most what is left of it, and so does each query (``postgres._watchdog``).

    A connection the command closed (or that closed when it exited) leaves ``pg_stat_activity`` a moment later,
    when its backend has noticed: only the sessions still there ``SETTLE`` seconds after the first listing count
    as left behind."""
    deadline = Deadline(timeout)
    try:
        with deadline.scope():  # bounds the reconnection and every query (``postgres._watchdog``)
            try:
                sessions = find_application(conn, application_name)
            except DatabaseError:  # our own session was ended meanwhile (a timeout, someone's terminate-idle)
                conn.close()
                conn = reopen()
                sessions = find_application(conn, application_name)
            if sessions:
                sleep(SETTLE)
                still = {s.pid for s in find_application(conn, application_name)}
                sessions = [s for s in sessions if s.pid in still]
            result = terminate(conn, sessions, any_state=True)
        return result.terminated, result.skipped, None
    except DeadlineExceededError:  # its words are --timeout's: say which limit it was
        return (), (), DatabaseError(f"the server did not answer within {format_duration(timeout)}, the cleanup's "
                                     "own time limit: it is overloaded, or the cleanup's queries wait on a lock")
    except DoPgpoolError as exc:
        return (), (), exc
    finally:
        conn.close()
