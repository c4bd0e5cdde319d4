"""One cluster's pool: ``ensure_pool`` reads, plans (``_pool_plan.plan_pool``, pure) and applies (``apply_pool``).
Reconcile-safe: a failed create is never blindly retried.

Request budget. By cluster uuid a converged run is **one** request: the cluster's pool list (a pool that already
matches needs no budget decision and no write, so the cluster itself is not read). By name (or the account's only
cluster) the cluster list comes first: 2. A create or an update reads the cluster's pools and the cluster (for the
budget, its status, databases and users) and writes once: 3. With ``fresh_connection`` (a secret is to be written)
the pool is read once more after any write, because its connection carries the credentials of the pool's user as
DigitalOcean serves them *after* the write (a PUT that changes the user answers 204 with no body).

After any failed or ambiguous create, the pools are read again: DigitalOcean sometimes applies a create and still
answers 5xx, and a retried POST would then fail with ``422 pool name is not available``
(terraform-provider-digitalocean #925). If the pool then exists with other settings (another run created it
meanwhile, e.g. two deploys asking for different sizes at once), the plan is made again against it and applied
once as an update in place (two more requests: the re-read and the PUT).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from dataclasses import replace as replace_fields
from typing import Any

from .._budget import Budget
from .._changes import Action, Change, Result
from .._exceptions import ConfigError, ConflictError, DoPgpoolError, Param, Part, ServerError, TransportError
from .._jsonable import jsonable
from .._models import Cluster, Pool, PoolSpec, looks_like_uuid
from ..api._gateway import DigitalOcean
from ._pool_plan import PoolPlan, PoolRequest, check_cluster_ready, plan_pool

__all__ = ["CLUSTER_FIELDS", "EnsureResult", "apply_pool", "ensure_pool", "prepare_pool"]

#: the cluster as a pool result shows it in JSON
CLUSTER_FIELDS = ("id", "name", "size")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnsureResult(Result):
    """What ``ensure_pool`` did (or, with ``dry_run``, would do) and the state it left."""

    action: Action
    #: None when it was not read: a pool found converged by the cluster's uuid needs only the pool list
    cluster: Cluster | None
    pool: PoolSpec
    #: None when the cluster was not read (see ``cluster``)
    budget: Budget | None
    changes: tuple[Change[PoolSpec], ...]
    warnings: tuple[str, ...]
    #: the pool as DigitalOcean serves it (with its connection); None on a dry run that would create it. After
    #: a write without ``fresh_connection`` its connection is None when the write changed the pool's user (the
    #: old connection carried the old user's credentials).
    current: Pool | None
    requests: int
    #: how a failed create was resolved, if one happened
    note: str | None = None
    cluster_id: str = ""
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready. The connection string is masked; nothing here carries a password."""
        conn = self.current.connection if self.current else None
        c = self.cluster
        return {
            "action": self.outcome,
            "cluster": jsonable(c, only=CLUSTER_FIELDS) if c else {"id": self.cluster_id},
            "pool": self.pool.as_dict(),
            "budget": self.budget.as_dict() if self.budget else None,
            "changes": [c.describe() for c in self.changes],
            "warnings": list(self.warnings),
            "connection": conn.masked_uri if conn else None,
            "requests": self.requests,
            "note": self.note,
        }


def ensure_pool(
    gateway: DigitalOcean,
    request: PoolRequest,
    *,
    cluster: Cluster | str | None = None,
    dry_run: bool = False,
    replace: bool = False,
    fresh_connection: bool = False,
) -> EnsureResult:
    """Make the pool exist as requested on ``cluster``: ``prepare_pool`` then ``apply_pool``.

    ``cluster`` is a name or uuid, None for the account's only PostgreSQL cluster, or a ``Cluster`` already
    read (fleet mode lists them all at once), which saves its read. ``fresh_connection``: the caller will use
    the pool's connection (to write a secret, to connect); after a write the pool is read again (one request).
    """
    start = gateway.request_count
    plan = prepare_pool(gateway, request, cluster=cluster, replace=replace)
    result = apply_pool(gateway, plan, dry_run=dry_run, fresh_connection=fresh_connection)
    return replace_fields(result, requests=gateway.request_count - start)


def prepare_pool(
    gateway: DigitalOcean, request: PoolRequest, *, cluster: Cluster | str | None = None, replace: bool = False
) -> PoolPlan:
    """Read what the plan needs and ``plan_pool``. Nothing is written.

    A size that is a share of the budget needs the cluster before the pools; an absolute one lets a pool found
    converged by uuid skip the cluster read (the plan's ``cluster`` and ``budget`` are then None).
    """
    if not isinstance(request, PoolRequest):
        raise ConfigError(f"ensure_pool needs a PoolRequest, e.g. PoolRequest(size=20), not {type(request).__name__}")
    if cluster is not None and not isinstance(cluster, (Cluster, str)):
        raise ConfigError(f"cluster must be a name or uuid (str) or a Cluster, not {type(cluster).__name__}")
    by_uuid = isinstance(cluster, str) and looks_like_uuid(cluster) and isinstance(request.size, int)
    if not by_uuid:
        target = cluster if isinstance(cluster, Cluster) else gateway.find_cluster(cluster)
        check_cluster_ready(target)  # before reading its pools: a busy or non-PostgreSQL cluster costs one request
        pools = gateway.list_connection_pools(target.id)
    else:
        assert isinstance(cluster, str) and isinstance(request.size, int)
        pools = _pools_by_uuid(gateway, cluster)
        current = next((p for p in pools if p.name == request.pool_name), None)
        if current is not None and current.spec == request.resolve(current, request.size):
            # Converged: nothing to write, so nothing to decide about the budget; the cluster is not read.
            return PoolPlan(None, current, current.spec, None, request=request, cluster_id=cluster)
        target = gateway.get_cluster(cluster)
    return plan_pool(target, pools, request, replace=replace)


def apply_pool(
    gateway: DigitalOcean, plan: PoolPlan, *, dry_run: bool = False, fresh_connection: bool = False
) -> EnsureResult:
    """Carry out the plan's one change (with ``dry_run``: say what it would be) and return what was done.

    A create that fails or answers ambiguously is never sent again blindly: the pools are read again; if the pool
    was made meanwhile with other settings, the plan is made again against it and applied once as an update.
    After an update without ``fresh_connection`` the connection is the listed one when the user is unchanged (a
    size change keeps host, port, name and credentials), and None when the user changed: the pool's connection
    carries its user's credentials, so only a fresh read gives the right ones.
    """
    start = gateway.request_count
    if dry_run or not plan:
        return _result(plan, plan.current, gateway.request_count - start, dry_run=dry_run)
    try:
        pool, note = _apply(gateway, plan, replan=plan.request is not None)
    except _TakenMeanwhile as taken:
        # Another run created the pool between our read and our POST (concurrent runs asking for different sizes):
        # plan again against the pool that now exists and update it in place. Once: a second race fails normally.
        assert plan.cluster is not None and plan.request is not None
        plan = plan_pool(plan.cluster, taken.pools, plan.request)  # a budget or mode refusal speaks for itself
        if not plan:
            pool, note = taken.existing, "another run created the pool meanwhile, as requested"
        else:
            pool, _ = _apply(gateway, plan, replan=False)
            note = "another run created the pool meanwhile; it was updated in place"
    if fresh_connection:
        pool = gateway.get_connection_pool(plan.cluster_id, pool.name)
    return _result(plan, pool, gateway.request_count - start, note=note)


def _pools_by_uuid(gateway: DigitalOcean, cluster_id: str) -> list[Pool]:
    """The pool list, straight from the uuid. If that fails, the cluster says why (not PostgreSQL, busy, gone)."""
    try:
        return gateway.list_connection_pools(cluster_id)
    except DoPgpoolError as exc:
        try:
            target = gateway.get_cluster(cluster_id)
        except DoPgpoolError:
            raise exc from None
        check_cluster_ready(target)
        raise


def _apply(gateway: DigitalOcean, plan: PoolPlan, *, replan: bool) -> tuple[Pool, str | None]:
    """The plan's one change; with ``replan``, a create that finds the pool made meanwhile with other settings
    raises ``_TakenMeanwhile`` for ``apply_pool`` to plan again."""
    assert plan.cluster is not None  # a plan with a change was made against the cluster
    cluster_id = plan.cluster.id
    change = plan.changes[0]
    after = change.after
    assert after is not None
    if change.action is Action.UPDATE:
        assert plan.current is not None and change.before is not None
        gateway.update_connection_pool(cluster_id, after)  # 204, no body
        keep = change.before.user == after.user
        return _with_spec(plan.current, after, keep_connection=keep), None
    if change.action is Action.REPLACE:
        assert change.before is not None
        gateway.delete_connection_pool(cluster_id, change.before.name)
        try:
            return _create(gateway, plan.cluster, after)
        except DoPgpoolError as exc:
            raise exc.with_state_left(f"pool {change.before.name!r} was deleted and could not be created again",
                                      "; re-run the same command to finish.") from exc  # fmt: skip
    return _create(gateway, plan.cluster, after, replan=replan)


def _create(
    gateway: DigitalOcean, cluster: Cluster, spec: PoolSpec, *, replan: bool = False
) -> tuple[Pool, str | None]:
    cluster_id = cluster.id
    try:
        return gateway.add_connection_pool(cluster_id, spec), None
    except (ServerError, TransportError, ConflictError) as exc:
        # The create may have been applied anyway: look before deciding (never POST again blindly).
        logger.warning("create of pool %s failed (%s); re-reading the pools", spec.name, exc)
        try:
            pools = gateway.list_connection_pools(cluster_id)
        except DoPgpoolError:
            raise exc from None
        existing = next((p for p in pools if p.name == spec.name), None)
        if existing is not None and existing.spec == spec:
            return existing, f"the create answered {_short(exc)}, but the pool exists as requested"
        if existing is not None:
            taken = exc.extended(
                f"\nA pool named {spec.name!r} exists with other settings "
                f"({existing.mode}, size {existing.size}, db {existing.db}); re-run to update it in place."
            )
            if replan:
                raise _TakenMeanwhile(taken, existing, pools) from exc
            raise taken from exc
        if isinstance(exc, ConflictError):
            # Refused, not failed: the same request would be refused again, so say what to change instead.
            clash: tuple[Part, ...] = ()
            if spec.name in cluster.db_names:  # ASSUMPTION (see testing.Assumptions): such a name is refused
                clash = (f" The pool name {spec.name!r} is also the name of a database on the cluster, which "
                         "DigitalOcean refuses as a pool name: choose another ", Param("name"),
                         f" (e.g. {spec.name}-pool).")
            raise exc.with_state_left(
                "the pool does not exist; nothing was changed", ". DigitalOcean refused the request as asked, so "
                "sending it again cannot help: change what its message names.", *clash,
            ) from exc
        raise exc.with_state_left("the pool does not exist; nothing was changed", ". Re-run to retry.") from exc


class _TakenMeanwhile(Exception):
    """A create found the pool existing with other settings (``ensure_pool`` re-plans; else ``error`` is raised)."""

    def __init__(self, error: DoPgpoolError, existing: Pool, pools: list[Pool]) -> None:
        super().__init__(str(error))
        self.error, self.existing, self.pools = error, existing, pools


def _short(exc: DoPgpoolError) -> str:
    status = getattr(exc, "status", None)
    return f"{status}" if status else type(exc).__name__


def _with_spec(pool: Pool, spec: PoolSpec, *, keep_connection: bool) -> Pool:
    kept = pool if keep_connection else replace_fields(pool, connection=None, private_connection=None)
    return replace_fields(kept, **{f.name: getattr(spec, f.name) for f in fields(spec)})


def _result(
    plan: PoolPlan, pool: Pool | None, requests: int, *, note: str | None = None, dry_run: bool = False
) -> EnsureResult:
    return EnsureResult(plan.action, plan.cluster, plan.desired, plan.budget, plan.changes, plan.warnings, pool,
                        requests, note, plan.cluster_id, dry_run=dry_run and bool(plan))  # fmt: skip
