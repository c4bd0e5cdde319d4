"""What a pool does to session features, as measured by the probe: the one vocabulary the probe writes and the
stack advice reads.

Pure data. The probe (``postgres/_probe.py``) fills a :class:`PoolBehaviour` by running each feature through the
pool's URL; the advice (``_advice.py``) decides per stack from it (for example Prisma's ``pgbouncer=true`` only
where protocol-level prepared statements break). ``None`` instead of a :class:`PoolBehaviour` means "not measured":
the advice then assumes the worst that a transaction pool can do.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

__all__ = ["Behaviour", "Feature", "Measurement", "PoolBehaviour"]


class Feature(str, enum.Enum):
    """A session feature that a transaction-mode pool may break (value = the name in ``-o json``)."""

    #: Parse once, Bind/Execute later in another transaction, from several clients (psycopg, asyncpg, pgx, JDBC).
    PROTOCOL_PREPARED = "protocol_prepared_statements"
    #: ``PREPARE name AS ...`` then ``EXECUTE name`` in a later transaction.
    SQL_PREPARE = "sql_prepare"
    #: ``SET name = value`` (and ``search_path``): visible in the next transaction, and not in another client's.
    SET = "set"
    #: ``pg_advisory_lock()`` held across transactions by one client only.
    ADVISORY_LOCK = "advisory_lock"
    #: ``LISTEN`` in one transaction, a ``NOTIFY`` from another client delivered afterwards.
    LISTEN = "listen_notify"
    #: ``CREATE TEMP TABLE`` then used in a later transaction, invisible to other clients.
    TEMP_TABLE = "temporary_table"
    #: ``DECLARE ... CURSOR WITH HOLD`` then ``FETCH`` in a later transaction.
    WITH_HOLD_CURSOR = "with_hold_cursor"


class Behaviour(str, enum.Enum):
    """What happened to a feature through the pool."""

    WORKS = "works"  # as on a direct connection
    BREAKS = "breaks"  # an error, or the state is gone in the next transaction
    LEAKS = "leaks"  # the state shows up in another client's session (wrong results, not only errors)
    UNKNOWN = "unknown"  # the measurement could not run (timeout, permission); the advice assumes the worst


@dataclass(frozen=True)
class Measurement:
    """One feature's outcome; ``detail`` is one sentence of evidence (an error's SQLSTATE and message, a value)."""

    feature: Feature
    behaviour: Behaviour
    detail: str


@dataclass(frozen=True)
class PoolBehaviour:
    """Every feature measured through one pool (``measurements`` in :class:`Feature` order)."""

    measurements: tuple[Measurement, ...]

    def behaviour(self, feature: Feature) -> Behaviour:
        """The measured behaviour, or ``UNKNOWN`` when the feature was not measured."""
        for m in self.measurements:
            if m.feature is feature:
                return m.behaviour
        return Behaviour.UNKNOWN

    def works(self, feature: Feature) -> bool:
        """True only when measured to work: unknown counts as broken (advice errs on the safe side)."""
        return self.behaviour(feature) is Behaviour.WORKS

    def as_dict(self) -> dict[str, Any]:
        """For ``-o json``; :meth:`from_dict` reads it back (a saved probe feeds ``advice`` later)."""
        return {m.feature.value: {"behaviour": m.behaviour.value, "detail": m.detail} for m in self.measurements}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PoolBehaviour:
        """The inverse of :meth:`as_dict`; unknown feature names are ignored (a newer probe's output)."""
        known = {f.value: f for f in Feature}
        return cls(tuple(
            Measurement(known[name], Behaviour(entry["behaviour"]), str(entry.get("detail", "")))
            for name, entry in data.items() if name in known
        ))

    @property
    def prepared_statements_work(self) -> bool:
        """Protocol-level prepared statements survive the pool (PgBouncer >= 1.21 with max_prepared_statements > 0)."""
        return self.works(Feature.PROTOCOL_PREPARED)
