"""``status -o prometheus``: the status as Prometheus text exposition (version 0.0.4), for a textfile
collector or a scrape wrapper: DigitalOcean publishes no connection metrics for managed PostgreSQL.

Every number is one the JSON output has too (a state no backend is in is 0, absent from the JSON's
``by_state``); all are gauges, labelled with the cluster's name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..ops._status import ClusterStatus

__all__ = ["LEVELS", "STATES", "prometheus_text"]

#: ``do_pgpool_verdict_level``: the verdict as a number, so that an alert can say ``>= 1``
LEVELS = {"ok": 0, "near": 1, "saturated": 2}

#: ``pg_stat_activity.state`` values always given, 0 when no backend is in them, so that an alert such as
#: ``do_pgpool_connections{state="idle in transaction"} > 5`` and a graph have a series from the first scrape
STATES = ("active", "idle", "idle in transaction", "idle in transaction (aborted)")

Sample = tuple[dict[str, str], float]


def prometheus_text(status: ClusterStatus) -> str:
    cluster = {"cluster": status.cluster.name}
    out: list[str] = []

    def family(name: str, help_text: str, samples: Iterable[Sample]) -> None:
        rows = list(samples)
        if not rows:
            return
        out.append(f"# HELP do_pgpool_{name} {help_text}")
        out.append(f"# TYPE do_pgpool_{name} gauge")
        for labels, value in rows:
            out.append(f"do_pgpool_{name}{{{_labels({**cluster, **labels})}}} {_number(value)}")

    u = status.usage
    family("live_usage_read", "1 when live usage was read from pg_stat_activity, 0 when the server could not be read",
           [({}, 1 if u is not None else 0)])  # fmt: skip
    limit = status.budget_limit
    family("budget_connections", "Connection budget of the cluster's size (25 per GiB - 3)",
           [({}, limit)] if limit is not None else [])  # fmt: skip
    family("pooled_connections", "Server connections the pools may hold (sum of pool sizes)", [({}, status.pooled)])
    pools = [({"pool": p.name, "mode": p.mode, "db": p.db, "user": p.user or ""}, p.size) for p in status.pools]
    family("pool_size", "Size of one PgBouncer pool", pools)
    if u is not None:
        family("max_connections", "PostgreSQL max_connections", [({}, u.max_connections)])
        family("superuser_reserved_connections", "PostgreSQL superuser_reserved_connections",
               [({}, u.superuser_reserved)])  # fmt: skip
        family("connection_limit", "Connection slots open to non-superusers (max_connections - reserved)",
               [({}, u.limit)])  # fmt: skip
        states = {**dict.fromkeys(STATES, 0), **u.by_state}  # a state nobody is in is a true 0 (graphs keep it)
        family("connections", "Client backends in use, by state (do-pgpool's own session included)",
               [({"state": k}, v) for k, v in states.items()])  # fmt: skip
        family("connections_by_user", "Client backends in use, by database user",
               [({"user": k}, v) for k, v in u.by_user.items()])  # fmt: skip
        family("connections_by_application", "Client backends in use, by application_name",
               [({"application": k}, v) for k, v in u.by_application.items()])  # fmt: skip
    v = status.verdict
    if v is not None:
        family("connections_used", "Non-superuser connection slots in use", [({}, v.used)])
        family("connections_free", "Non-superuser connection slots free", [({}, v.free)])
        family("verdict_level", "Headroom verdict: 0 ok, 1 near (80 % of the slots), 2 saturated",
               [({}, LEVELS[v.level])])  # no level label: one series whose value changes, not a new series
    return "\n".join(out) + "\n"


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
