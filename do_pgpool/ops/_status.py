"""A cluster's connection picture: size and budget and pools from the API, live usage from the server.

The gateway is any object with ``find_cluster`` and ``list_connection_pools`` (``_gateway.DigitalOcean``
in production, the fake in tests); this module imports neither pydo nor the gateway.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .._budget import connection_limit
from .._exceptions import DatabaseError, DeadlineExceededError, DoPgpoolError
from .._models import Cluster, Pool
from .._tls import TLS
from ..api._ports import DatabasesAPI
from ..postgres._connect import PgConnection, connect
from ..postgres._usage import Usage, Verdict, snapshot, verdict
from ._config import config_values
from ._tls import tls_connect

__all__ = ["NO_PASSWORD", "ClusterStatus", "cluster_status", "live_status"]

NO_PASSWORD = "the API returned no password for the cluster (the token lacks database:view_credentials)"


@dataclass(frozen=True)
class ClusterStatus:
    """``usage`` is None when the server could not be read; ``error`` says why (``saturated`` if it was full,
    ``unreachable`` if no server answered)."""

    cluster: Cluster
    pools: tuple[Pool, ...]
    usage: Usage | None
    error: str | None = None
    saturated: bool = False
    unreachable: bool = False
    #: the settings that matter (``ops._config.config_values``: dotted keys), when asked for; None: not read
    config: dict[str, Any] | None = None
    #: the connection failure behind ``error``, kept whole so that a front end can word its parameters
    failure: DoPgpoolError | None = field(default=None, compare=False, repr=False)

    @property
    def budget_limit(self) -> int | None:
        return connection_limit(self.cluster.size)

    @property
    def pooled(self) -> int:
        return sum(p.size for p in self.pools)

    @property
    def verdict(self) -> Verdict | None:
        if self.usage is not None:
            return self.usage.verdict
        if self.saturated:
            limit = self.budget_limit or 0
            return verdict(limit, limit)
        return None

    def lines(self) -> list[str]:
        """The text report, one line per fact."""
        c = self.cluster
        out = [f"cluster {c.name} ({c.id}): {c.engine} {c.version}, {c.size} x {c.num_nodes}, {c.status}"]
        limit = self.budget_limit
        if limit is None:
            out.append(f"connection budget: unknown for size {c.size}")
        else:
            share = f"{100 * self.pooled / limit:.0f} %" if limit else "-"
            out.append(
                f"connection budget: {limit} (25 per GiB - 3); pools hold {self.pooled} ({share}), "
                f"{limit - self.pooled} left for direct connections"
            )
        if not self.pools:
            out.append("pools: none")
        for p in self.pools:
            out.append(f"  pool {p.name}: {p.mode}, size {p.size}, db {p.db}, user {p.user or '(inbound user)'}")
        if self.usage is not None:
            u = self.usage
            out.append(
                f"live: {u.total} client backends; max_connections {u.max_connections}, "
                f"{u.superuser_reserved} reserved for superusers, {u.limit} for everyone else"
            )
            out.append("  by state: " + _pairs(u.by_state))
            out.append("  by user: " + _pairs(u.by_user))
            out.append("  by application: " + _pairs(u.by_application))
            if u.oldest_idle is not None:
                out.append(f"  oldest idle: {u.oldest_idle.describe()}")
            if u.oldest_idle_in_transaction is not None:
                out.append(f"  oldest idle in transaction: {u.oldest_idle_in_transaction.describe()}")
        elif self.saturated:
            out.append("live: unavailable: PostgreSQL refused the connection because it is full")
        elif self.error:
            out.append(f"live: unavailable: {self.error.splitlines()[0]}")
        if self.config is not None:
            out.append("settings: " + (_pairs(self.config) if self.config else "all at DigitalOcean's defaults"))
        v = self.verdict
        if v is not None:
            out.append(f"verdict: {v.describe()}")
        return out

    def as_dict(self) -> dict[str, Any]:
        c = self.cluster
        v = self.verdict
        return {
            "cluster": {"id": c.id, "name": c.name, "size": c.size, "num_nodes": c.num_nodes, "status": c.status,
                        "version": c.version},  # fmt: skip
            "budget": {"limit": self.budget_limit, "pooled": self.pooled,
                       "direct": None if self.budget_limit is None else self.budget_limit - self.pooled},  # fmt: skip
            "pools": [p.spec.as_dict() for p in self.pools],
            "usage": self.usage.as_dict() if self.usage else None,
            "verdict": v.as_dict() if v else None,
            "error": self.error,
            "saturated": self.saturated,
            "unreachable": self.unreachable,
            "config": self.config,
        }


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"


def cluster_status(
    gateway: DatabasesAPI,
    cluster: str | Cluster | None,
    *,
    connect_fn: Callable[[str], PgConnection] = connect,
    with_config: bool = False,
    tls: Callable[[Cluster], TLS] | None = None,
) -> ClusterStatus:
    """Read the cluster and its pools, then connect with the API's credentials and read live usage.

    ``with_config``: one more request, ``GET .../config``, for the settings ``ensure-config`` manages
    (``config``; ``max_connections`` too when DigitalOcean returns it).

    A refusal because the server is full is part of the answer (``saturated=True``, with what can still be
    done in ``error``), as is any other connection failure or a server that did not answer before the run's
    deadline (``failure``: a ``DeadlineExceededError``); API errors propagate. ``tls`` gives the cluster's
    sslmode and CA (``ops._tls.TLSPolicy``); None: the URI's own ``sslmode=require``. A ``Cluster`` already
    read is used as it is (one request fewer).
    """
    found = cluster if isinstance(cluster, Cluster) else gateway.find_cluster(cluster)
    pools: Sequence[Pool] = gateway.list_connection_pools(found.id) if found.is_postgres else ()
    config = config_values(gateway.get_config(found.id)) if with_config and found.is_postgres else None
    try:
        status, conn = live_status(found, tuple(pools), connect_fn, tls)
    except DeadlineExceededError as exc:  # the server stalled until --timeout: what the API said still stands
        status, conn = ClusterStatus(found, tuple(pools), None, error=str(exc), failure=exc), None
    if conn is not None:
        conn.close()
    return replace(status, config=config) if config is not None else status


def live_status(
    found: Cluster,
    pools: tuple[Pool, ...],
    connect_fn: Callable[[str], PgConnection] = connect,
    tls: Callable[[Cluster], TLS] | None = None,
) -> tuple[ClusterStatus, PgConnection | None]:
    """The status of a cluster already read, and the connection it was read on, left open (None if none).

    ``fix`` keeps the connection for its terminate step: a just-closed backend releases its slot
    asynchronously, so a second connection to a nearly full server could be refused.
    """
    info = found.connection
    if info is None or not info.has_password:
        return ClusterStatus(found, pools, None, error=NO_PASSWORD + "; live usage needs it"), None
    try:
        conn = tls_connect(connect_fn, tls, found)(info.uri)
    except DatabaseError as exc:
        return ClusterStatus(found, pools, None, error=str(exc), saturated=exc.saturated,
                             unreachable=exc.unreachable, failure=exc), None  # fmt: skip
    try:
        return ClusterStatus(found, pools, snapshot(conn)), conn
    except DatabaseError as exc:
        conn.close()
        return ClusterStatus(found, pools, None, error=str(exc), saturated=exc.saturated,
                             unreachable=exc.unreachable, failure=exc), None  # fmt: skip
