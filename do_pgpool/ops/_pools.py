"""The pool lifecycle: ``list_pools`` (every pool and the budget line) and deleting a pool safely.

``plan_delete_pool`` is pure: from the cluster, its pools, what PostgreSQL says about the pool's server
connections (``postgres._pool_clients``) and what the secret targets hold (``targets._pool_refs``) it plans one
``Action.DELETE`` change, or none when the pool is absent (the state asked for). It refuses (PlanError) when the
pool has live clients, when a secret target still points at it, or when the clients could not be checked, unless
``force``; the refusal says what would break. ``prepare_delete_pool`` reads (cluster and pools: 2 requests, one
connection, verified with ``tls`` (``ops._tls``: the CA read is one more request); each ``app:`` target one
more), ``apply_delete_pool`` sends the one DELETE (a 404 is done).

Request budget of ``list_pools``: the cluster (by uuid one GET, by name the cluster list) and its pools: 2.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from dataclasses import replace as replace_fields
from typing import Any

from .._budget import connection_limit
from .._changes import Action, Change, Plan, Result
from .._exceptions import ConfigError, DatabaseError, Param, PlanError
from .._jsonable import jsonable
from .._models import Cluster, Pool, PoolSpec
from .._tls import TLS
from ..api._ports import AppsAPI, DatabasesAPI
from ..postgres._connect import PgConnection, connect
from ..postgres._pool_clients import PoolActivity, pool_activity
from ..targets._parse import Target
from ..targets._pool_refs import PoolReference, references_to_pool
from ._pool import CLUSTER_FIELDS
from ._tls import tls_connect

__all__ = [
    "DeletePlan",
    "DeleteResult",
    "PoolList",
    "apply_delete_pool",
    "delete_pool",
    "list_pools",
    "plan_delete_pool",
    "prepare_delete_pool",
]


# --- list ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolList:
    """A cluster's pools and its connection budget: ``limit`` (None when the size slug has no RAM), ``used`` by
    the pools, ``available`` for more pools and direct connections."""

    cluster: Cluster
    pools: tuple[Pool, ...]
    requests: int = 0

    @property
    def limit(self) -> int | None:
        return connection_limit(self.cluster.size)

    @property
    def used(self) -> int:
        return sum(p.size for p in self.pools)

    @property
    def available(self) -> int | None:
        return None if self.limit is None else self.limit - self.used

    def lines(self) -> list[str]:
        c = self.cluster
        out = [f"cluster {c.name} ({c.id}): {c.size}, {len(self.pools)} pool(s)"]
        for p in self.pools:
            out.append(f"  {p.name}: {p.mode}, size {p.size}, db {p.db}, user {p.user or '(inbound user)'}")
        if self.limit is None:
            out.append(f"budget: unknown for size {c.size}; pools use {self.used}")
        else:
            out.append(f"budget: limit {self.limit}, used by pools {self.used}, available {self.available}")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "cluster": jsonable(self.cluster, only=CLUSTER_FIELDS),
            "pools": [p.spec.as_dict() for p in self.pools],
            "budget": {"limit": self.limit, "used": self.used, "available": self.available},
            "requests": self.requests,
        }


def list_pools(gateway: DatabasesAPI, cluster: str | None = None) -> PoolList:
    """Every pool of ``cluster`` (name or uuid; None: the account's only PostgreSQL cluster) and the budget line."""
    start = gateway.request_count
    found = gateway.find_cluster(cluster)
    pools = tuple(gateway.list_connection_pools(found.id)) if found.is_postgres else ()
    return PoolList(found, pools, gateway.request_count - start)


# --- delete ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeletePlan(Plan):
    """One ``Action.DELETE`` change, or none when the pool is absent. ``activity`` is None when the clients were
    not checked (``activity_error`` says why); ``references`` are the secret targets' verdicts; ``warnings`` are
    the blockers that ``force`` overrode."""

    cluster: Cluster
    name: str
    current: Pool | None
    changes: tuple[Change[PoolSpec], ...]
    warnings: tuple[str, ...]
    activity: PoolActivity | None = None
    activity_error: str | None = None
    references: tuple[PoolReference, ...] = ()


@dataclass(frozen=True)
class DeleteResult(Result):
    action: Action
    dry_run: bool
    plan: DeletePlan
    requests: int = 0
    waited: bool = True
    nothing = "absent"

    def describe(self) -> str:
        if self.action is Action.NONE:
            return f"pool {self.plan.name!r} does not exist on cluster {self.plan.cluster.name}: nothing to delete"
        return f"{self.outcome} pool {self.plan.name!r} on cluster {self.plan.cluster.name}"

    def as_dict(self) -> dict[str, Any]:
        p = self.plan
        return {
            "action": self.outcome,
            "dry_run": self.dry_run,
            "cluster": jsonable(p.cluster, only=CLUSTER_FIELDS),
            "pool": p.current.spec.as_dict() if p.current else {"name": p.name},
            "changes": [c.describe() for c in p.changes],
            "warnings": list(p.warnings),
            "clients": p.activity.as_dict() if p.activity else None,
            "clients_error": p.activity_error,
            "references": [r.as_dict() for r in p.references],
            "requests": self.requests,
        }


def plan_delete_pool(
    cluster: Cluster,
    pools: Sequence[Pool],
    name: str,
    *,
    activity: PoolActivity | None = None,
    activity_error: str | None = None,
    references: Sequence[PoolReference] = (),
    force: bool = False,
) -> DeletePlan:
    """Plan deleting pool ``name``. Pure. Raises PlanError naming what would break unless ``force``."""
    current = next((p for p in pools if p.name == name), None)
    if current is None:
        return DeletePlan(cluster, name, None, (), (), activity, activity_error, tuple(references))
    blockers: list[str] = []
    if activity is not None and activity.busy:
        blockers.append(f"live clients: {activity.describe()}; deleting the pool cuts them off")
    if activity is None:
        why = activity_error or "the clients were not checked"
        blockers.append(f"live clients unknown: PostgreSQL could not be read ({why.splitlines()[0]})")
    for ref in references:
        if ref.verdict == "yes":
            blockers.append(f"secret {ref.name} at {ref.target} still points at the pool ({ref.reason}); "
                            "the app would fail to connect")  # fmt: skip
    if blockers and not force:
        raise PlanError([f"refusing to delete pool {name!r} on cluster {cluster.name}:\n  - ",
                         "\n  - ".join(blockers),
                         "\nPoint the secrets at another pool first (with do-pgpool rewrite-secret), stop "
                         "the clients, or pass ", Param("force"), " to delete anyway."],
                        state_left="the pool exists; nothing was changed")  # fmt: skip
    detail = f"{current.mode}, size {current.size}, db {current.db}; frees {current.size} connection slot(s)"
    change: Change[PoolSpec] = Change(Action.DELETE, f"pool {name!r}", current.spec, None, detail)
    return DeletePlan(cluster, name, current, (change,), tuple(blockers), activity, activity_error,
                      tuple(references))  # fmt: skip


def prepare_delete_pool(
    gateway: DatabasesAPI,
    name: str,
    *,
    cluster: str | None = None,
    targets: Iterable[Target] = (),
    secret_names: Iterable[str] = ("DATABASE_URL",),
    apps: AppsAPI | None = None,
    force: bool = False,
    connect_fn: Callable[..., PgConnection] = connect,
    tls: Callable[[Cluster], TLS] | None = None,
) -> DeletePlan:
    """Read the cluster, its pools, the pool's busy server connections and what ``targets`` hold; plan.

    ``tls`` gives the cluster's sslmode and CA for the client check (a :class:`TLSPolicy`; read only when the
    pool exists); None: the URI's own ``sslmode=require``.
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"the pool name must be a non-empty string, e.g. 'web-pool', not {name!r}")
    found = gateway.find_cluster(cluster)
    pools = gateway.list_connection_pools(found.id) if found.is_postgres else []
    current = next((p for p in pools if p.name == name), None)
    if current is None:
        return plan_delete_pool(found, pools, name, force=force)
    activity, error = _activity(found, current, connect_fn, tls)
    refs = references_to_pool(targets, current, secret_names, apps=apps)
    return plan_delete_pool(found, pools, name, activity=activity, activity_error=error, references=refs, force=force)


def _activity(
    cluster: Cluster, pool: Pool, connect_fn: Callable[..., PgConnection], tls: Callable[[Cluster], TLS] | None
) -> tuple[PoolActivity | None, str | None]:
    info = cluster.connection
    if info is None or not info.has_password:
        return None, "the API returned no password for the cluster (the token lacks database:view_credentials)"
    bound = tls_connect(connect_fn, tls, cluster)  # the CA is read only when there is something to connect to
    try:
        with bound(info.uri) as conn:
            return pool_activity(conn, pool.db, pool.user), None
    except DatabaseError as exc:
        return None, str(exc)


def apply_delete_pool(gateway: DatabasesAPI, plan: DeletePlan, *, dry_run: bool = False) -> DeleteResult:
    """Send the plan's DELETE (none when the pool is absent or with ``dry_run``). A 404 answer means done."""
    start = gateway.request_count
    if plan and not dry_run:
        gateway.delete_connection_pool(plan.cluster.id, plan.name)
    return DeleteResult(plan.action, dry_run and bool(plan), plan, gateway.request_count - start)


def delete_pool(
    gateway: DatabasesAPI,
    name: str,
    *,
    cluster: str | None = None,
    targets: Iterable[Target] = (),
    secret_names: Iterable[str] = ("DATABASE_URL",),
    apps: AppsAPI | None = None,
    force: bool = False,
    dry_run: bool = False,
    connect_fn: Callable[..., PgConnection] = connect,
    tls: Callable[[Cluster], TLS] | None = None,
) -> DeleteResult:
    """Delete pool ``name`` (absent: success, nothing sent): ``prepare_delete_pool`` then ``apply_delete_pool``."""
    start = gateway.request_count
    plan = prepare_delete_pool(gateway, name, cluster=cluster, targets=targets, secret_names=secret_names,
                               apps=apps, force=force, connect_fn=connect_fn, tls=tls)  # fmt: skip
    result = apply_delete_pool(gateway, plan, dry_run=dry_run)
    return replace_fields(result, requests=gateway.request_count - start)
