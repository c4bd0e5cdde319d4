"""``ensure_pool``: read, plan, apply. Reconcile-safe: a failed create is never blindly retried.

Request budget: a converged run reads the cluster and its pools (2 requests) and writes nothing; a create or an
update adds one write (3 requests). After any failed or ambiguous create, the pools are read again: DigitalOcean
sometimes applies a create and still answers 5xx, and a retried POST would then fail with
``422 pool name is not available`` (terraform-provider-digitalocean #925).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ._budget import Budget
from ._exceptions import ConfigError, ConflictError, DoPgpoolError, ServerError, TransportError
from ._gateway import DigitalOcean
from ._models import Cluster, Pool, PoolSpec
from ._plan import Change, CreatePool, PoolPlan, PoolRequest, ReplacePool, UpdatePool, check_cluster_ready, plan_pool

__all__ = ["EnsureResult", "apply_pool_plan", "ensure_pool"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnsureResult:
    """What ``ensure_pool`` did (or, with ``dry_run``, would do) and the state it left."""

    action: str  # created | updated | replaced | unchanged | would create | would update | would replace
    cluster: Cluster
    pool: PoolSpec
    budget: Budget
    changes: tuple[Change, ...]
    warnings: tuple[str, ...]
    #: the pool as DigitalOcean reports it (with its connection); None on a dry run that would create it
    current: Pool | None
    requests: int
    #: how a failed create was resolved, if one happened
    note: str | None = None

    @property
    def changed(self) -> bool:
        return self.action in ("created", "updated", "replaced")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready. The connection string is masked; nothing here carries a password."""
        conn = self.current.connection if self.current else None
        return {
            "action": self.action,
            "cluster": {"id": self.cluster.id, "name": self.cluster.name, "size": self.cluster.size},
            "pool": self.pool.as_dict(),
            "budget": self.budget.as_dict(),
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
) -> EnsureResult:
    """Make the pool exist as requested on ``cluster``.

    ``cluster`` is a name or uuid, None for the account's only PostgreSQL cluster, or a ``Cluster`` already
    read (fleet mode lists them all at once), which saves its read.
    """
    if not isinstance(request, PoolRequest):
        raise ConfigError(f"ensure_pool needs a PoolRequest, e.g. PoolRequest(size=20), not {type(request).__name__}")
    if cluster is not None and not isinstance(cluster, (Cluster, str)):
        raise ConfigError(f"cluster must be a name or uuid (str) or a Cluster, not {type(cluster).__name__}")
    start = gateway.request_count
    target = cluster if isinstance(cluster, Cluster) else gateway.find_cluster(cluster)
    check_cluster_ready(target)  # before reading its pools: a busy or non-PostgreSQL cluster costs one request
    pools = gateway.list_connection_pools(target.id)
    plan = plan_pool(target, pools, request, replace=replace)
    if dry_run or not plan:
        action = f"would {plan.action}" if plan else "unchanged"
        return _result(plan, action, plan.current, gateway.request_count - start)
    pool, note = apply_pool_plan(gateway, plan)
    done = {"create": "created", "update": "updated", "replace": "replaced"}[plan.action]
    return _result(plan, done, pool, gateway.request_count - start, note)


def apply_pool_plan(gateway: DigitalOcean, plan: PoolPlan) -> tuple[Pool, str | None]:
    """Execute the plan's one change. Returns the pool as it now is, and a note if a create was reconciled."""
    cluster_id = plan.cluster.id
    change = plan.changes[0]
    if isinstance(change, UpdatePool):
        gateway.update_connection_pool(cluster_id, change.after)
        # PUT answers 204 with no body; a size/user change keeps the pool's host, port and name, so the
        # listed connection stays valid and no extra read is needed.
        assert plan.current is not None
        return _with_spec(plan.current, change.after), None
    if isinstance(change, ReplacePool):
        gateway.delete_connection_pool(cluster_id, change.before.name)
        try:
            return _create(gateway, cluster_id, change.after)
        except DoPgpoolError as exc:
            exc.message = (
                f"{exc.message}\nState left: pool {change.before.name!r} was deleted and could not be created "
                "again; re-run the same command to finish."
            )
            raise
    assert isinstance(change, CreatePool)
    return _create(gateway, cluster_id, change.spec)


def _create(gateway: DigitalOcean, cluster_id: str, spec: PoolSpec) -> tuple[Pool, str | None]:
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
            exc.message = (
                f"{exc.message}\nA pool named {spec.name!r} exists with other settings "
                f"({existing.mode}, size {existing.size}, db {existing.db}); re-run to update it in place."
            )
        elif isinstance(exc, ConflictError):  # refused as asked: the same request would be refused again
            exc.message = (
                f"{exc.message}\nState left: the pool does not exist; nothing was changed. DigitalOcean refused "
                "this request as it stands: change what its message names (a re-run alone would fail the same way)."
            )
        else:
            exc.message = f"{exc.message}\nState left: the pool does not exist; nothing was changed. Re-run to retry."
        raise


def _short(exc: DoPgpoolError) -> str:
    status = getattr(exc, "status", None)
    return f"{status}" if status else type(exc).__name__


def _with_spec(pool: Pool, spec: PoolSpec) -> Pool:
    return Pool(
        name=spec.name,
        mode=spec.mode,
        size=spec.size,
        db=spec.db,
        user=spec.user,
        connection=pool.connection,
        private_connection=pool.private_connection,
    )


def _result(plan: PoolPlan, action: str, pool: Pool | None, requests: int, note: str | None = None) -> EnsureResult:
    return EnsureResult(
        action=action,
        cluster=plan.cluster,
        pool=plan.desired,
        budget=plan.budget,
        changes=plan.changes,
        warnings=plan.warnings,
        current=pool,
        requests=requests,
        note=note,
    )
