"""Freeing connection slots: find client sessions idle for long enough, and terminate them safely."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from ..api._retry import wait_until
from ._connect import PgConnection, database_error, mapped, scrub, server_url
from ._usage import IDLE_IN_TRANSACTION_STATES, IDLE_STATES, SESSION_COLUMNS, Session, Usage, session_from_row, snapshot
from ._watchdog import bounded

__all__ = ["TerminateResult", "find_application", "find_idle", "terminate"]

logger = logging.getLogger(__name__)

_FIND_IDLE_SQL = f"""
SELECT {SESSION_COLUMNS}
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
    conn: PgConnection,
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
    with mapped(conn, "listing idle sessions on"), conn.cursor(row_factory=dict_row) as cur:
        return [session_from_row(r) for r in cur.execute(_FIND_IDLE_SQL, params).fetchall()]


_FIND_APPLICATION_SQL = f"""
SELECT {SESSION_COLUMNS}
FROM pg_stat_activity
WHERE backend_type = 'client backend'
  AND pid <> pg_backend_pid()
  AND application_name = %(application)s::text
ORDER BY backend_start, pid
"""


def find_application(conn: PgConnection, application: str) -> list[Session]:
    """Every client session whose ``application_name`` is exactly ``application``, in any state (idle, idle in
    transaction, active); never the tool's own session. Changes nothing."""
    if not application:
        raise ValueError("application must be a non-empty application_name")
    with mapped(conn, "listing sessions on"), conn.cursor(row_factory=dict_row) as cur:
        return [session_from_row(r) for r in cur.execute(_FIND_APPLICATION_SQL, {"application": application})]


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
# ``any_state``: a session left behind by a command that has exited is terminated whatever it is doing; the pid
# must still carry the application_name it was listed with (a reused pid is someone else's session).
_TERMINATE_ANY_STATE_SQL = """
SELECT pg_terminate_backend(pid) AS done
FROM pg_stat_activity
WHERE pid = %(pid)s
  AND backend_type = 'client backend'
  AND pid <> pg_backend_pid()
  AND application_name = %(application)s::text
"""
_STILL_THERE_SQL = "SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)"
TERMINATE_WAIT = 5.0
POLL_INTERVAL = 0.02


def terminate(
    conn: PgConnection,
    sessions: Iterable[Session],
    *,
    wait: float = TERMINATE_WAIT,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    any_state: bool = False,
) -> TerminateResult:
    """``pg_terminate_backend`` each session still idle as listed; never the tool's own, never non-clients.

    A session that may not be signalled (e.g. a superuser's, when the tool is not one) is skipped with the
    server's reason, as are sessions that left or became busy since they were listed. ``any_state``: terminate
    each listed session whatever its state now, as long as its pid still carries the listed ``application_name``
    (sessions a finished command left behind, ``find_application``).
    """
    url = server_url(conn)
    own_pid = conn.info.backend_pid
    terminated: list[Session] = []
    skipped: list[tuple[Session, str]] = []
    for session in sessions:
        if session.pid == own_pid or session.is_self:
            skipped.append((session, "this is do-pgpool's own session"))
            continue
        params = {"pid": session.pid, "state": session.state, "state_change": session.state_change,
                  "application": session.application}  # fmt: skip
        try:
            with bounded(conn, f"terminating pid {session.pid} on"):
                row = conn.execute(_TERMINATE_ANY_STATE_SQL if any_state else _TERMINATE_SQL, params).fetchone()
        except psycopg.errors.InsufficientPrivilege as exc:
            reason = scrub(str(exc).strip(), url).splitlines()[0]
            logger.info("not terminating pid %s: %s", session.pid, reason)
            skipped.append((session, f"permission denied: {reason}"))
            continue
        except psycopg.Error as exc:
            raise database_error(exc, url, f"terminating pid {session.pid} on") from exc
        if row is None and any_state:
            skipped.append((session, "already gone (or its pid now belongs to another application)"))
        elif row is None:
            skipped.append((session, "no longer an idle client session (it left or ran a query since listed)"))
        elif not row[0]:
            skipped.append((session, "pg_terminate_backend returned false (already gone or did not exit in time)"))
        else:
            terminated.append(session)
    _wait_gone(conn, [s.pid for s in terminated], wait=wait, sleep=sleep, clock=clock)
    return TerminateResult(tuple(terminated), tuple(skipped), snapshot(conn))


def _wait_gone(
    conn: PgConnection, pids: list[int], *, wait: float, sleep: Callable[[float], None], clock: Callable[[], float]
) -> None:
    """Signalled backends exit asynchronously: wait (bounded) until they left, so the usage after is exact.

    One poll for all of them (``pg_terminate_backend(pid, timeout)`` would wait 100 ms per session).
    """
    left = pids

    def gone() -> bool:
        nonlocal left
        with mapped(conn, "waiting for terminated sessions on"):
            left = [int(r[0]) for r in conn.execute(_STILL_THERE_SQL, (left,)).fetchall()]
        return not left

    if pids and not wait_until(gone, every=POLL_INTERVAL, within=wait, clock=clock, sleep=sleep):
        logger.warning("%d terminated session(s) still exiting after %.0f s", len(left), wait)
