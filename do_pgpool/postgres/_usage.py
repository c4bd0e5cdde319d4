"""Where the connections went: the ``pg_stat_activity`` snapshot (:class:`Usage`) and its :class:`Verdict`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

from ._connect import PgConnection, mapped

__all__ = ["Session", "Usage", "Verdict", "session_from_row", "snapshot", "verdict"]

NEAR_FRACTION = 0.8
IDLE_STATES = ("idle",)
IDLE_IN_TRANSACTION_STATES = ("idle in transaction", "idle in transaction (aborted)")

Level = Literal["ok", "near", "saturated"]


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


SESSION_COLUMNS = """
    pid, usename AS user, coalesce(application_name, '') AS application, datname AS database, state,
    EXTRACT(EPOCH FROM clock_timestamp() - state_change)::float8 AS state_age_seconds,
    host(client_addr) AS client_addr, state_change, pid = pg_backend_pid() AS is_self
"""

_SNAPSHOT_SQL = f"""
SELECT {SESSION_COLUMNS}
FROM pg_stat_activity
WHERE backend_type = 'client backend'
ORDER BY state_change NULLS LAST, pid
"""


def session_from_row(row: dict[str, Any]) -> Session:
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


def snapshot(conn: PgConnection) -> Usage:
    """Read the client backends and the server's connection settings (the tool's own session included)."""
    with mapped(conn, "reading pg_stat_activity on"), conn.cursor(row_factory=dict_row) as cur:
        max_connections = int(_show(cur, "max_connections"))
        reserved = int(_show(cur, "superuser_reserved_connections"))
        rows = cur.execute(_SNAPSHOT_SQL).fetchall()
        self_pid = int(conn.info.backend_pid)
    return Usage(max_connections, reserved, tuple(session_from_row(r) for r in rows), self_pid)


def _show(cur: psycopg.Cursor[dict[str, Any]], setting: str) -> str:
    row = cur.execute("SELECT current_setting(%s) AS value", (setting,)).fetchone()
    assert row is not None
    return str(row["value"])


# --- idle sessions ---------------------------------------------------------------------------------------
