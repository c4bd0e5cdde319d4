"""Where did the connections go: live usage from ``pg_stat_activity``, idle-session termination, pool check.

Synchronous psycopg 3. Every psycopg error is mapped to :class:`DatabaseError` here, with the password
masked; a connection refused because the server is full becomes ``DatabaseError(saturated=True)`` with
what can still be done. psycopg reports ``sqlstate=None`` for that connect-time failure, so it is
recognised by the server's message text (the one place this project classifies by text).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg.rows import dict_row

from .._dburl import mask_secrets_in, mask_url
from .._exceptions import DatabaseError

__all__ = [
    "Session",
    "TerminateResult",
    "Usage",
    "Verdict",
    "connect",
    "database_error",
    "find_idle",
    "is_saturation_message",
    "snapshot",
    "terminate",
    "unreachable_reason",
    "verdict",
]

logger = logging.getLogger(__name__)

APPLICATION_NAME = "do-pgpool"
CONNECT_TIMEOUT = 10
NEAR_FRACTION = 0.8
IDLE_STATES = ("idle",)
IDLE_IN_TRANSACTION_STATES = ("idle in transaction", "idle in transaction (aborted)")

# PostgreSQL <= 15: "... reserved for non-replication superuser connections";
# 16+: "... reserved for roles with the SUPERUSER attribute" (or "... of the pg_use_reserved_connections role");
# after the reserved slots too: "sorry, too many clients already".
SATURATION_MARKERS = ("remaining connection slots are reserved for", "sorry, too many clients already")

SATURATED_ADVICE = (
    "do-pgpool cannot connect either, so it cannot terminate idle sessions. What can still be done:\n"
    "  - restart the application that holds the connections: do-pgpool restart --app APP\n"
    "  - restart the cluster through maintenance: do-pgpool restart --cluster CLUSTER\n"
    "  - resize the cluster for more connections: do-pgpool resize --cluster CLUSTER --connections N\n"
    "On DigitalOcean doadmin is not a superuser, so the reserved slots cannot be used. Once a slot is free, "
    "put a pool in front: do-pgpool fix --cluster CLUSTER --size N"
)

Level = Literal["ok", "near", "saturated"]
Connection = psycopg.Connection[Any]


# --- connecting ------------------------------------------------------------------------------------------


def is_saturation_message(text: str) -> bool:
    """True for the server's "no connection slot left" refusals (any PostgreSQL version)."""
    lowered = text.lower()
    return any(marker in lowered for marker in SATURATION_MARKERS)


def _scrub(text: str, url: str) -> str:
    """Mask credentialed URLs and the literal password of ``url`` in a driver message."""
    text = mask_secrets_in(text)
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    for secret in {password, unquote(password)} if password else ():
        if secret:
            text = text.replace(secret, "***")
    return text


def _where(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{parts.hostname}:{parts.port or 5432}{parts.path}" if parts.hostname else "the database"
    except ValueError:
        return "the database"


def _server_said(detail: str) -> str:
    """``connection failed: connection to server at ... failed: FATAL:  remaining ...`` -> ``FATAL: remaining ...``."""
    last = detail.strip().splitlines()[-1] if detail.strip() else detail
    _, sep, tail = last.rpartition("FATAL:")
    return f"FATAL: {tail.strip()}" if sep else last.strip()


def _host_port(url: str) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
        return parts.hostname or "the database host", parts.port or 5432
    except ValueError:
        return "the database host", 5432


def unreachable_reason(detail: str, host: str, port: int) -> str | None:
    """Why no server answered (from the driver's message), with what to check; None if a server answered."""
    lowered = detail.lower()
    if any(m in lowered for m in ("could not translate host name", "failed to resolve host", "name or service not")):
        return (f"the host name {host} does not resolve; check the cluster's host name, this machine's DNS, and "
                "that a private-network host (private-...) is used only from inside the cluster's VPC")  # fmt: skip
    if "connection refused" in lowered:
        return (f"nothing accepts connections at {host} port {port} (connection refused); check the port and that "
                "the cluster is online")  # fmt: skip
    if any(m in lowered for m in ("timeout expired", "timed out", "no route to host", "network is unreachable")):
        return (f"{host} port {port} did not answer; check that this machine's IP address is among the cluster's "
                "trusted sources and that no firewall blocks the port")  # fmt: skip
    return None


def database_error(exc: psycopg.Error, url: str, doing: str) -> DatabaseError:
    detail = _scrub(str(exc).strip(), url)
    if is_saturation_message(detail):
        return DatabaseError(
            f"PostgreSQL at {_where(url)} refused the connection because it is full: every connection slot "
            f"open to non-superusers is taken (server said: {_server_said(detail)}).\n{SATURATED_ADVICE}",
            saturated=True,
        )
    reason = unreachable_reason(detail, *_host_port(url))
    if reason is not None:
        return DatabaseError(f"cannot reach PostgreSQL: {reason}.\n{doing} {mask_url(url)} failed: {detail}",
                             unreachable=True)  # fmt: skip
    return DatabaseError(f"{doing} {mask_url(url)} failed: {detail}")


def connect(
    url: str,
    *,
    application_name: str = APPLICATION_NAME,
    connect_timeout: int = CONNECT_TIMEOUT,
    prepare_threshold: int | None = None,
) -> Connection:
    """Open an autocommit connection (``prepare_threshold=None``: safe through a transaction pool).

    Raises :class:`DatabaseError`; ``saturated=True`` when the server refused because it is full.
    """
    try:
        return psycopg.connect(
            url,
            autocommit=True,
            application_name=application_name,
            connect_timeout=connect_timeout,
            prepare_threshold=prepare_threshold,
        )
    except psycopg.Error as exc:
        raise database_error(exc, url, "connecting to") from exc


@contextmanager
def _mapped(url: str, doing: str) -> Iterator[None]:
    try:
        yield
    except psycopg.Error as exc:
        raise database_error(exc, url, doing) from exc


def _conn_url(conn: Connection) -> str:
    info = conn.info
    return f"postgresql://{info.user}@{info.host}:{info.port}/{info.dbname}"


# --- verdict ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """ok / near (>= 80 % of the non-reserved slots) / saturated (none left), with the numbers."""

    level: Level
    used: int
    limit: int

    @property
    def free(self) -> int:
        return max(self.limit - self.used, 0)

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.limit if self.limit > 0 else 100.0

    def describe(self) -> str:
        numbers = f"{self.used} of {self.limit} non-superuser connection slots in use, {self.free} free"
        if self.level == "saturated":
            return f"saturated: {numbers}; new connections are refused"
        if self.level == "near":
            return f"near the limit: {numbers} ({self.percent:.0f} %)"
        return f"ok: {numbers}"

    def as_dict(self) -> dict[str, Any]:
        return {"level": self.level, "used": self.used, "limit": self.limit, "free": self.free,
                "message": self.describe()}  # fmt: skip


def verdict(used: int, limit: int) -> Verdict:
    """Pure: ``saturated`` when no non-reserved slot is left, ``near`` from 80 %, else ``ok``."""
    if limit <= 0 or used >= limit:
        return Verdict("saturated", used, limit)
    if used >= NEAR_FRACTION * limit:
        return Verdict("near", used, limit)
    return Verdict("ok", used, limit)


# --- snapshot --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """One client backend from ``pg_stat_activity``. ``state`` is None when the role may not see it."""

    pid: int
    user: str | None
    application: str
    database: str | None
    state: str | None
    state_age_seconds: float | None
    client_addr: str | None
    state_change: datetime | None = field(default=None, repr=False, compare=False)
    is_self: bool = False

    def describe(self) -> str:
        age = f"{self.state_age_seconds:.0f} s" if self.state_age_seconds is not None else "? s"
        app = self.application or "-"
        own = " (this session)" if self.is_self else ""
        return f"pid {self.pid} user {self.user} app {app} {self.state or 'unknown'} for {age}{own}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "user": self.user,
            "application": self.application,
            "database": self.database,
            "state": self.state,
            "age_seconds": None if self.state_age_seconds is None else round(self.state_age_seconds, 1),
            "client_addr": self.client_addr,
            "self": self.is_self,
        }


_SESSION_COLUMNS = """
    pid, usename AS user, coalesce(application_name, '') AS application, datname AS database, state,
    EXTRACT(EPOCH FROM clock_timestamp() - state_change)::float8 AS state_age_seconds,
    host(client_addr) AS client_addr, state_change, pid = pg_backend_pid() AS is_self
"""

_SNAPSHOT_SQL = f"""
SELECT {_SESSION_COLUMNS}
FROM pg_stat_activity
WHERE backend_type = 'client backend'
ORDER BY state_change NULLS LAST, pid
"""


def _session(row: dict[str, Any]) -> Session:
    return Session(
        pid=row["pid"],
        user=row["user"],
        application=row["application"],
        database=row["database"],
        state=row["state"],
        state_age_seconds=row["state_age_seconds"],
        client_addr=row["client_addr"],
        state_change=row["state_change"],
        is_self=bool(row["is_self"]),
    )


@dataclass(frozen=True)
class Usage:
    """Client backends against the server's limits. ``limit`` = max_connections - superuser_reserved."""

    max_connections: int
    superuser_reserved: int
    sessions: tuple[Session, ...]
    self_pid: int

    @property
    def limit(self) -> int:
        return self.max_connections - self.superuser_reserved

    @property
    def total(self) -> int:
        return len(self.sessions)

    @property
    def free(self) -> int:
        return max(self.limit - self.total, 0)

    @property
    def verdict(self) -> Verdict:
        return verdict(self.total, self.limit)

    @property
    def by_state(self) -> dict[str, int]:
        return _count(s.state or "unknown" for s in self.sessions)

    @property
    def by_user(self) -> dict[str, int]:
        return _count(s.user or "unknown" for s in self.sessions)

    @property
    def by_application(self) -> dict[str, int]:
        return _count(s.application or "(none)" for s in self.sessions)

    def _oldest(self, states: Sequence[str]) -> Session | None:
        found = [s for s in self.sessions if s.state in states and s.state_age_seconds is not None]
        return max(found, key=lambda s: s.state_age_seconds or 0.0, default=None)

    @property
    def oldest_idle(self) -> Session | None:
        return self._oldest(IDLE_STATES)

    @property
    def oldest_idle_in_transaction(self) -> Session | None:
        return self._oldest(IDLE_IN_TRANSACTION_STATES)

    def as_dict(self) -> dict[str, Any]:
        oldest = self.oldest_idle
        oldest_tx = self.oldest_idle_in_transaction
        return {
            "max_connections": self.max_connections,
            "superuser_reserved_connections": self.superuser_reserved,
            "limit": self.limit,
            "total": self.total,
            "free": self.free,
            "verdict": self.verdict.as_dict(),
            "by_state": self.by_state,
            "by_user": self.by_user,
            "by_application": self.by_application,
            "oldest_idle": oldest.as_dict() if oldest else None,
            "oldest_idle_in_transaction": oldest_tx.as_dict() if oldest_tx else None,
            "self_pid": self.self_pid,
        }


def _count(values: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0])))


def snapshot(conn: Connection) -> Usage:
    """Read the client backends and the server's connection settings (the tool's own session included)."""
    with _mapped(_conn_url(conn), "reading pg_stat_activity on"), conn.cursor(row_factory=dict_row) as cur:
        max_connections = int(_show(cur, "max_connections"))
        reserved = int(_show(cur, "superuser_reserved_connections"))
        rows = cur.execute(_SNAPSHOT_SQL).fetchall()
        self_pid = int(conn.info.backend_pid)
    return Usage(max_connections, reserved, tuple(_session(r) for r in rows), self_pid)


def _show(cur: psycopg.Cursor[dict[str, Any]], setting: str) -> str:
    row = cur.execute("SELECT current_setting(%s) AS value", (setting,)).fetchone()
    assert row is not None
    return str(row["value"])


# --- idle sessions ---------------------------------------------------------------------------------------

_FIND_IDLE_SQL = f"""
SELECT {_SESSION_COLUMNS}
FROM pg_stat_activity
WHERE backend_type = 'client backend'
  AND pid <> pg_backend_pid()
  AND state = ANY(%(states)s)
  AND clock_timestamp() - state_change >= make_interval(secs => %(idle_for)s)
  AND (%(user)s::text IS NULL OR usename = %(user)s::text)
  AND (%(application)s::text IS NULL OR application_name = %(application)s::text)
ORDER BY state_change, pid
"""


def find_idle(
    conn: Connection,
    *,
    idle_for: float = 300,
    user: str | None = None,
    application: str | None = None,
    include_idle_in_transaction: bool = False,
) -> list[Session]:
    """Client sessions idle for at least ``idle_for`` seconds, oldest first; never the tool's own session.

    Changes nothing: this is the dry run of :func:`terminate`.
    """
    from .._duration import check_seconds

    idle_for = check_seconds(idle_for, what="idle_for")  # nan, inf, negative: ConfigError
    states = list(IDLE_STATES + (IDLE_IN_TRANSACTION_STATES if include_idle_in_transaction else ()))
    params = {"states": states, "idle_for": float(idle_for), "user": user, "application": application}
    with _mapped(_conn_url(conn), "listing idle sessions on"), conn.cursor(row_factory=dict_row) as cur:
        return [_session(r) for r in cur.execute(_FIND_IDLE_SQL, params).fetchall()]


@dataclass(frozen=True)
class TerminateResult:
    """What :func:`terminate` did, and the usage it left."""

    terminated: tuple[Session, ...]
    skipped: tuple[tuple[Session, str], ...]
    usage_after: Usage

    @property
    def free_after(self) -> int:
        return self.usage_after.free

    def describe(self) -> str:
        n = len(self.terminated)
        text = f"terminated {n} idle session{'s' if n != 1 else ''}; {self.free_after} of " \
               f"{self.usage_after.limit} non-superuser slots free"  # fmt: skip
        if self.skipped:
            text += f"; {len(self.skipped)} not terminated"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "terminated": [s.as_dict() for s in self.terminated],
            "skipped": [{**s.as_dict(), "reason": reason} for s, reason in self.skipped],
            "terminated_count": len(self.terminated),
            "free_after": self.free_after,
            "usage_after": self.usage_after.as_dict(),
        }


# Terminate only if the pid is still a client backend in the state we listed, unchanged since
# (a session that ran a query in between is not idle any more), and not this session.
_TERMINATE_SQL = """
SELECT pg_terminate_backend(pid) AS done
FROM pg_stat_activity
WHERE pid = %(pid)s
  AND backend_type = 'client backend'
  AND pid <> pg_backend_pid()
  AND state IS NOT DISTINCT FROM %(state)s::text
  AND state_change IS NOT DISTINCT FROM %(state_change)s
"""
_STILL_THERE_SQL = "SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)"
TERMINATE_WAIT = 5.0
POLL_INTERVAL = 0.02


def terminate(
    conn: Connection,
    sessions: Iterable[Session],
    *,
    wait: float = TERMINATE_WAIT,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> TerminateResult:
    """``pg_terminate_backend`` each session still idle as listed; never the tool's own, never non-clients.

    A session that may not be signalled (e.g. a superuser's, when the tool is not one) is skipped with the
    server's reason, as are sessions that left or became busy since they were listed.
    """
    url = _conn_url(conn)
    own_pid = conn.info.backend_pid
    terminated: list[Session] = []
    skipped: list[tuple[Session, str]] = []
    for session in sessions:
        if session.pid == own_pid or session.is_self:
            skipped.append((session, "this is do-pgpool's own session"))
            continue
        params = {"pid": session.pid, "state": session.state, "state_change": session.state_change}
        try:
            row = conn.execute(_TERMINATE_SQL, params).fetchone()
        except psycopg.errors.InsufficientPrivilege as exc:
            reason = _scrub(str(exc).strip(), url).splitlines()[0]
            logger.info("not terminating pid %s: %s", session.pid, reason)
            skipped.append((session, f"permission denied: {reason}"))
            continue
        except psycopg.Error as exc:
            raise database_error(exc, url, f"terminating pid {session.pid} on") from exc
        if row is None:
            skipped.append((session, "no longer an idle client session (it left or ran a query since listed)"))
        elif not row[0]:
            skipped.append((session, "pg_terminate_backend returned false (already gone or did not exit in time)"))
        else:
            terminated.append(session)
    _wait_gone(conn, [s.pid for s in terminated], wait=wait, sleep=sleep, clock=clock)
    return TerminateResult(tuple(terminated), tuple(skipped), snapshot(conn))


def _wait_gone(
    conn: Connection, pids: list[int], *, wait: float, sleep: Callable[[float], None], clock: Callable[[], float]
) -> None:
    """Signalled backends exit asynchronously: wait (bounded) until they left, so the usage after is exact.

    One poll for all of them (``pg_terminate_backend(pid, timeout)`` would wait 100 ms per session).
    """
    deadline = clock() + wait
    while pids:
        with _mapped(_conn_url(conn), "waiting for terminated sessions on"):
            pids = [int(r[0]) for r in conn.execute(_STILL_THERE_SQL, (pids,)).fetchall()]
        if not pids or clock() >= deadline:
            if pids:
                logger.warning("%d terminated session(s) still exiting after %.0f s", len(pids), wait)
            return
        sleep(POLL_INTERVAL)
