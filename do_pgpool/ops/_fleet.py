"""Fleet mode: the same pool (and secrets) on every PostgreSQL cluster with a tag, within the API rate limit.

``ensure_fleet`` lists the clusters once (``GET /v2/databases?tag_name=TAG``), then runs ``ensure_pool`` (``_pool.py``)
for each on a bounded thread pool. Every worker thread has its own gateway (exact per-cluster request counts), and
every gateway shares one ``RateLimiter`` (``_limiter.py``), so the whole run stays under DigitalOcean's
per-minute and per-hour limits instead of collecting 429s. One cluster's failure is recorded in its
``ClusterOutcome`` and never stops the others.

Request budget: the listing, then per cluster one read of its pools (the listing already carries each cluster's
status, size, users and connection) plus one write if it is not converged, and after a write, when secrets are
to be written, one read of the pool (its connection carries the pool user's credentials as DigitalOcean serves
them after the write). A converged re-run makes ``1 + clusters`` requests and writes nothing.

``--size`` may be a share of each cluster's connection budget (``PoolRequest(size="50%")``): 50 % is 11 on a
1 GiB cluster (limit 22) and 48 on a 4 GiB one (limit 97), DigitalOcean's own advice for a first pool size.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._changes import Action
from .._exceptions import ConfigError, DoPgpoolError, Param, PlanError
from .._jsonable import jsonable
from .._models import Cluster
from ..targets._spec import SecretsSpec
from ._pool import CLUSTER_FIELDS, EnsureResult, ensure_pool
from ._pool_plan import PoolRequest

if TYPE_CHECKING:
    from concurrent.futures import Future

    from ..api._gateway import DigitalOcean
    from ..targets._base import TargetOutcome
    from ..targets._parse import Target

__all__ = [
    "DEFAULT_CONCURRENCY",
    "ClusterOutcome",
    "FleetResult",
    "check_fleet_targets",
    "ensure_fleet",
]

logger = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 32


def check_fleet_targets(targets: Sequence[Target]) -> None:
    """In fleet mode every target but stdout must name the cluster, or every cluster overwrites the same secret."""
    from ..targets._parse import has_placeholder
    from ..targets._simple import StdoutTarget

    for target in targets:
        if not isinstance(target, StdoutTarget) and not has_placeholder(target.text):
            raise ConfigError(
                f"secret target {target.text!r} has no {{cluster}} placeholder: every cluster of the fleet would "
                f"overwrite the same secret. Put the cluster's name in it, e.g. {_example(target.text)}"
            )


def _example(text: str) -> str:
    kind, _, rest = text.partition(":")
    if kind == "dotenv":
        return "dotenv:/srv/{cluster}/.env"
    if kind == "github":
        return f"github:{rest.partition('/')[0] or 'acme'}/{{cluster}}"
    return "app:{cluster}"


@dataclass(frozen=True)
class ClusterOutcome:
    """One cluster's row in the fleet report."""

    cluster: Cluster
    pool_size: int | None = None
    result: EnsureResult | None = None
    secrets: tuple[TargetOutcome, ...] = ()
    #: why the pool could not be ensured (secret failures are in ``secrets``)
    error: DoPgpoolError | None = None
    requests: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None and all(o.ok for o in self.secrets)

    @property
    def action(self) -> Action | None:
        """What was done (or, on a dry run, would be done) to the pool; None when it failed."""
        return self.result.action if self.result is not None and self.error is None else None

    @property
    def outcome(self) -> str:
        """The pool's outcome (``created``, ``would create``, ``unchanged``...), or ``failed``."""
        return self.result.outcome if self.result is not None and self.error is None else "failed"

    @property
    def pending(self) -> bool:
        """A dry run found something to change (the pool, or a secret that would change)."""
        pool = self.result is not None and self.result.dry_run
        return pool or any(o.dry_run and o.action != "unchanged" for o in self.secrets)

    @property
    def first_error(self) -> DoPgpoolError | None:
        if self.error is not None:
            return self.error
        return next((o.error for o in self.secrets if o.error is not None), None)

    def secrets_summary(self) -> str:
        """``-`` without targets, else counts such as ``2 changed`` or ``1 unchanged, 1 failed``."""
        if not self.secrets:
            return "-"
        counts: dict[str, int] = {}
        for o in self.secrets:
            if not o.ok:
                word = "failed"
            elif o.action in ("unchanged", "printed"):
                word = o.action
            elif o.dry_run:
                word = "would change"
            else:
                word = "changed"
            counts[word] = counts.get(word, 0) + 1
        return ", ".join(f"{n} {word}" for word, n in counts.items())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (one JSON Lines record). No value or password: connection strings are masked."""
        err = self.first_error
        base = self.result.as_dict() if self.result is not None else {}
        return {
            "cluster": jsonable(self.cluster, only=CLUSTER_FIELDS),
            "action": self.outcome,
            "ok": self.ok,
            "pool_size": self.pool_size,
            "pool": base.get("pool"),
            "budget": base.get("budget"),
            "changes": base.get("changes", []),
            "warnings": base.get("warnings", []),
            "connection": base.get("connection"),
            "secrets": [o.as_dict() for o in self.secrets],
            "error": str(err) if err is not None else None,
            "error_type": type(err).__name__ if err is not None else None,
            "requests": self.requests,
        }


@dataclass(frozen=True)
class FleetResult:
    """Every cluster's outcome, sorted by cluster name."""

    outcomes: tuple[ClusterOutcome, ...]
    #: clusters that matched but do not run PostgreSQL (no PgBouncer there)
    skipped: tuple[Cluster, ...]
    requests: int
    dry_run: bool

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    @property
    def failed(self) -> tuple[ClusterOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.ok)


def ensure_fleet(
    connect: Callable[[], DigitalOcean],
    request: PoolRequest,
    *,
    tag: str | None,
    secrets: SecretsSpec | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    dry_run: bool = False,
    replace: bool = False,
    progress: Callable[[int, int, ClusterOutcome], None] | None = None,
) -> FleetResult:
    """Ensure the pool (and secrets) on every PostgreSQL cluster tagged ``tag`` (None: every cluster).

    ``connect`` builds a gateway; it is called once for the listing and once per worker thread, and the
    gateways it returns should share one ``RateLimiter``. ``progress(done, total, outcome)`` is called from
    this thread as each cluster finishes. Raises only before any cluster is touched (bad input, the listing
    failed, nothing matched).
    """
    from concurrent.futures import ThreadPoolExecutor, as_completed  # here: one-cluster runs need no threads

    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ConfigError([Param("concurrency", concurrency), f" is out of range; use 1 to {MAX_CONCURRENCY}"])
    if secrets is not None:
        check_fleet_targets(secrets.targets)
        secrets.check_inbound(request.inbound_user)
    gateways: list[DigitalOcean] = []
    made = threading.Lock()
    local = threading.local()

    def gateway() -> DigitalOcean:
        gw: DigitalOcean | None = getattr(local, "gateway", None)
        if gw is None:
            gw = connect()
            local.gateway = gw
            with made:
                gateways.append(gw)
        return gw

    def work(cluster: Cluster) -> ClusterOutcome:
        return _ensure_one(gateway(), cluster, request, secrets, dry_run=dry_run, replace=replace)

    try:
        listed = gateway().list_clusters(tag_name=tag)
        clusters = sorted((c for c in listed if c.is_postgres), key=lambda c: (c.name, c.id))
        skipped = tuple(sorted((c for c in listed if not c.is_postgres), key=lambda c: c.name))
        if not clusters:
            where = f"with the tag {tag!r}" if tag else "for this token"
            others = f" ({len(skipped)} clusters of other engines)" if skipped else ""
            raise PlanError(f"no PostgreSQL cluster {where}{others}; check the tag (`doctl databases list`)")
        done: dict[str, ClusterOutcome] = {}
        executor = ThreadPoolExecutor(max_workers=min(concurrency, len(clusters)), thread_name_prefix="do-pgpool")
        try:
            futures: dict[Future[ClusterOutcome], Cluster] = {executor.submit(work, c): c for c in clusters}
            for future in as_completed(futures):
                outcome = _outcome_of(future, futures[future])
                done[outcome.cluster.id] = outcome
                if progress is not None:
                    progress(len(done), len(clusters), outcome)
        finally:
            executor.shutdown(wait=True, cancel_futures=True)  # Ctrl-C: start no further cluster
        with made:
            requests = sum(g.request_count for g in gateways)
        return FleetResult(tuple(done[c.id] for c in clusters), skipped, requests, dry_run)
    finally:
        with made:
            for gw in gateways:
                gw.close()


def _ensure_one(
    gateway: DigitalOcean,
    cluster: Cluster,
    request: PoolRequest,
    secrets: SecretsSpec | None,
    *,
    dry_run: bool,
    replace: bool,
) -> ClusterOutcome:
    start = gateway.request_count
    wants_secrets = secrets is not None and bool(secrets.targets)
    try:
        if secrets is not None:  # a dotenv:/srv/{cluster}/.env that cannot be written: refused before the pool
            from ..targets._parse import check_targets

            check_targets(secrets.targets, cluster=cluster.name)
            secrets.check_user(gateway, cluster)
        result = ensure_pool(gateway, request, cluster=cluster, dry_run=dry_run, replace=replace,
                             fresh_connection=wants_secrets)  # fmt: skip
    except DoPgpoolError as exc:
        logger.info("cluster %s: %s", cluster.name, exc)
        return ClusterOutcome(cluster, _size_or_none(request, cluster), error=exc,
                              requests=gateway.request_count - start)
    written: tuple[TargetOutcome, ...] = ()
    if secrets is not None and secrets.targets:
        from ..targets._write import write_pool_secrets

        written = write_pool_secrets(secrets, gateway, result.cluster_id, result.current, cluster=result.cluster,
                                     dry_run=dry_run)  # fmt: skip
    return ClusterOutcome(cluster, result.pool.size, result, written,
                          requests=gateway.request_count - start)


def _size_or_none(request: PoolRequest, cluster: Cluster) -> int | None:
    try:
        return request.size_for(cluster)
    except DoPgpoolError:
        return None


def _outcome_of(future: Future[ClusterOutcome], cluster: Cluster) -> ClusterOutcome:
    try:
        return future.result()
    except Exception as exc:  # the thread boundary: a bug in one cluster's task must not hide the others
        logger.debug("cluster %s: unexpected error", cluster.name, exc_info=True)
        error = DoPgpoolError(f"unexpected {type(exc).__name__} (a do-pgpool bug; -vv shows the traceback)")
        return ClusterOutcome(cluster, error=error)
