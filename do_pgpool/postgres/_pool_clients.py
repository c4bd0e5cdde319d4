"""Does a pool have live clients? What PostgreSQL can tell: the pool's busy server connections.

Clients connect to PgBouncer, which DigitalOcean hosts and whose ``SHOW CLIENTS`` is not reachable; PostgreSQL's
``pg_stat_activity`` shows PgBouncer's *server* connections. A server backend of the pool's database (and, for a
pool with a user, that user) that is ``active`` or ``idle in transaction`` is serving a client right now, so the
pool has a live client. Measured: those backends, the tool's own session excluded.

Blind spots (said in docs/commands/delete-pool.md): a client connected to PgBouncer but between transactions
holds no server connection in transaction mode, so it is not seen; an idle server connection cannot be told
from one PgBouncer keeps for reuse (``server_idle_timeout``), so idle ones are not counted (in session mode a
connected, idle client is therefore missed); a direct (non-pooled) session of the same database and user that is
busy is counted too, because PostgreSQL cannot tell who opened a backend (this errs on the side of refusing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._connect import PgConnection, mapped

__all__ = ["BUSY_STATES", "PoolActivity", "pool_activity"]

#: states in which a backend serves a client right now
BUSY_STATES = ("active", "idle in transaction", "idle in transaction (aborted)")


@dataclass(frozen=True)
class PoolActivity:
    """Busy server backends of one pool's database (and user), by state."""

    db: str
    user: str | None
    by_state: dict[str, int]

    @property
    def busy(self) -> int:
        return sum(self.by_state.values())

    def describe(self) -> str:
        who = f"database {self.db!r}" + (f", user {self.user!r}" if self.user else " (any user: inbound-user pool)")
        if not self.busy:
            return f"no busy server connection of {who}"
        states = ", ".join(f"{n} {s}" for s, n in sorted(self.by_state.items()))
        return f"{self.busy} busy server connection(s) of {who} ({states}): a client is using the pool"

    def as_dict(self) -> dict[str, Any]:
        return {"db": self.db, "user": self.user, "busy": self.busy, "by_state": dict(self.by_state)}


def pool_activity(conn: PgConnection, db: str, user: str | None) -> PoolActivity:
    """Count the busy client backends of ``db`` (and ``user``, when the pool has one), except this session."""
    query = ("SELECT state, count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
             "AND pid <> pg_backend_pid() AND datname = %s AND state = ANY(%s) "
             "AND (%s::text IS NULL OR usename = %s) GROUP BY state")  # fmt: skip
    with mapped(conn, "reading pg_stat_activity on"):
        rows = conn.execute(query, (db, list(BUSY_STATES), user, user)).fetchall()
    return PoolActivity(db, user, {str(state): int(n) for state, n in rows})
