"""Fleet mode: the same pool (and secrets) on every PostgreSQL cluster with a tag, within the API rate limit.

``ensure_fleet`` lists the clusters once (``GET /v2/databases?tag_name=TAG``), then runs ``ensure_pool_on`` for
each on a bounded thread pool. Every worker thread has its own gateway (exact per-cluster request counts), and
every gateway shares one ``RateLimiter`` (``_limiter.py``), so the whole run stays under DigitalOcean's
per-minute and per-hour limits instead of collecting 429s. One cluster's failure is recorded in its
``ClusterOutcome`` and never stops the others.

Request budget: the listing, then per cluster one read of its pools (the listing already carries each cluster's
status, size, users and connection) plus one write if it is not converged, and after a write, when secrets are
to be written, one read of the pool (its connection carries the pool user's credentials as DigitalOcean serves
them after the write). A converged re-run makes ``1 + clusters`` requests and writes nothing.

``--size`` may be a share of each cluster's connection budget (``PoolSize.parse("50%")``): 50 % is 11 on a
1 GiB cluster (limit 22) and 48 on a 4 GiB one (limit 97), DigitalOcean's own advice for a first pool size.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from dataclasses import replace as replace_fields
from typing import TYPE_CHECKING, Any

from .._budget import connection_limit, share_of_budget
from .._exceptions import ConfigError, DoPgpoolError, Param, PlanError
from .._inputs import check_number, check_text
from .._models import Cluster
from ..targets._secret_values import check_secret_user, inbound_needs_secret_user, secret_values
from ._ensure import EnsureResult, ensure_pool
from ._plan import PoolRequest, check_cluster_ready

if TYPE_CHECKING:
    from concurrent.futures import Future

    from ..api._gateway import DigitalOcean
    from ..api._github import GitHub
    from ..targets._base import TargetOutcome
    from ..targets._parse import Target
    from ..targets._simple import Redeploy

__all__ = [
    "DEFAULT_CONCURRENCY",
    "ClusterOutcome",
    "FleetResult",
    "PoolSize",
    "PoolTemplate",
    "SecretsSpec",
    "check_fleet_targets",
    "check_inbound_secrets",
    "cluster_secrets",
    "ensure_fleet",
    "ensure_pool_on",
]

logger = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 32
_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%$")


@dataclass(frozen=True)
class PoolSize:
    """``--size``: a number of server connections, or (``percent``) a share of each cluster's budget."""

    value: float
    percent: bool = False

    def __post_init__(self) -> None:
        check_number(self.value, "pool size", minimum=-math.inf, unit="connections")
        if self.percent:
            if not 0 < self.value <= 100:
                raise ConfigError([Param("size", f"{self.value:g}%"), " is not a share of the budget; use 1% to 100%, "
                                   "e.g. ", Param("size", "50%")])
        elif self.value != int(self.value) or self.value < 1:
            raise ConfigError(f"pool size must be a whole number of at least 1, not {self.value:g}")

    @classmethod
    def parse(cls, text: str | int) -> PoolSize:
        """``"20"`` or ``"50%"``."""
        if isinstance(text, int) and not isinstance(text, bool):
            return cls(text)
        raw = check_text(text, Param("size")).strip()
        if not raw.isascii():
            raise ConfigError([
                Param("size", repr(raw)), " has characters other than the digits 0-9 (a superscript or full-width "
                "digit?); type it as e.g. ", Param("size", 20), " or ", Param("size", "50%"),
            ])
        match = _PERCENT.match(raw)
        if match:
            return cls(float(match.group(1)), percent=True)
        if raw.isdigit():
            return cls(int(raw))
        raise ConfigError([Param("size", repr(text)), " is neither a whole number nor a percentage; e.g. ",
                           Param("size", 20), " or ", Param("size", "50%")])

    def resolve(self, cluster: Cluster) -> int:
        """The pool size for this cluster (a percentage is taken of its connection limit, rounded down)."""
        if not self.percent:
            return int(self.value)
        limit = connection_limit(cluster.size)
        if limit is None:
            raise PlanError([
                Param("size", self), f" needs cluster {cluster.name!r}'s connection budget, but its size slug "
                f"{cluster.size!r} does not say the node's RAM; give an absolute ", Param("size"), " for it",
            ])
        return share_of_budget(limit, self.value)

    def __str__(self) -> str:
        return f"{self.value:g}%" if self.percent else str(int(self.value))


@dataclass(frozen=True)
class PoolTemplate:
    """The pool asked for on every cluster; only the size may depend on the cluster."""

    size: PoolSize
    name: str | None = None
    mode: str | None = None
    db: str | None = None
    user: str | None = None
    inbound_user: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.size, PoolSize):
            raise ConfigError(f"PoolTemplate needs a PoolSize, e.g. PoolSize.parse('50%'), not {self.size!r}")
        self.request(1)  # validates name, mode, db and user before any request

    def request(self, size: int) -> PoolRequest:
        return PoolRequest(
            size=size, name=self.name, mode=self.mode, db=self.db, user=self.user, inbound_user=self.inbound_user
        )

    def for_cluster(self, cluster: Cluster) -> PoolRequest:
        return self.request(self.size.resolve(cluster))


@dataclass(frozen=True)
class SecretsSpec:
    """Where each cluster's connection strings go. Targets may hold ``{cluster}`` (the cluster's name)."""

    targets: tuple[Target, ...]
    name: str = "DATABASE_URL"
    #: also write the cluster's direct (port 25060) string under this name
    direct_name: str | None = None
    private: bool = False
    redeploy: Redeploy | None = None
    github: GitHub | None = field(default=None, repr=False, compare=False)
    #: the database user whose credentials go into an inbound-user pool's string (see ``_secret_values``)
    secret_user: str | None = None

    def __post_init__(self) -> None:
        check_secret_user(self.secret_user)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, self.direct_name) if self.direct_name else (self.name,)


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


def check_inbound_secrets(inbound_user: bool, secrets: SecretsSpec | None) -> None:
    """An inbound-user pool's connection has no credentials: its secrets need ``secret_user``. Refused up front."""
    if inbound_user and secrets is not None and secrets.targets and secrets.secret_user is None:
        raise ConfigError(inbound_needs_secret_user("an inbound-user pool"))


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
    #: created | updated | replaced | unchanged | would create | would update | would replace | failed
    action: str
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
    def pending(self) -> bool:
        """A dry run found something to change (the pool, or a secret that would change)."""
        pool = self.action.startswith("would ")
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
            "cluster": {"id": self.cluster.id, "name": self.cluster.name, "size": self.cluster.size},
            "action": self.action,
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


def ensure_pool_on(
    gateway: DigitalOcean,
    cluster: Cluster | str | None,
    pool: PoolTemplate | PoolRequest,
    *,
    dry_run: bool = False,
    replace: bool = False,
    fresh_connection: bool = False,
) -> EnsureResult:
    """``ensure_pool`` for a cluster already read (no extra request) or named; the size may be a percentage.

    Only a percentage needs the cluster before the pools (its budget); an absolute size leaves the cluster read
    to ``ensure_pool``, which skips it when the pool is already converged. Raises the library's errors;
    ``ensure_fleet`` turns them into per-cluster outcomes.
    """
    start = gateway.request_count
    if isinstance(pool, PoolTemplate) and pool.size.percent:
        cluster = cluster if isinstance(cluster, Cluster) else gateway.find_cluster(cluster)
        check_cluster_ready(cluster)  # before resolving a percentage against its budget
        request = pool.for_cluster(cluster)
    else:
        request = pool.request(int(pool.size.value)) if isinstance(pool, PoolTemplate) else pool
    result = ensure_pool(gateway, request, cluster=cluster, dry_run=dry_run, replace=replace,
                         fresh_connection=fresh_connection)  # fmt: skip
    return replace_fields(result, requests=gateway.request_count - start)  # count the cluster read too


def cluster_secrets(
    gateway: DigitalOcean, result: EnsureResult, spec: SecretsSpec, *, dry_run: bool = False
) -> tuple[TargetOutcome, ...]:
    """Write (or plan) one cluster's secrets, only once its pool is confirmed. Never raises for a target."""
    from ..targets._base import TargetOutcome
    from ..targets._parse import format_target, has_placeholder
    from ..targets._write import write_secrets

    cluster = result.cluster
    if cluster is None and (spec.direct_name or any(has_placeholder(t.text) for t in spec.targets)):
        cluster = gateway.get_cluster(result.cluster_id)  # converged by uuid: read only when a value needs it
    targets = [format_target(t, cluster=cluster.name) for t in spec.targets] if cluster else list(spec.targets)
    if result.current is None:  # a dry run that would create the pool: no connection string exists yet
        names = tuple((name, "create") for name in spec.names)
        detail = "written once the pool is created (its connection string does not exist yet)"
        return tuple(TargetOutcome(t.label, "unknown", names, detail, dry_run=True) for t in targets)
    try:
        values = secret_values(gateway, result.cluster_id, result.current, name=spec.name, direct_name=spec.direct_name,
                               cluster=cluster, private=spec.private, secret_user=spec.secret_user)  # fmt: skip
        outcomes = write_secrets(
            targets, values, dry_run=dry_run, github=spec.github, apps=gateway, redeploy=spec.redeploy
        )
    except DoPgpoolError as exc:  # no password (token scope, inbound-user pool): nothing written
        return tuple(TargetOutcome(t.label, "failed", error=exc, dry_run=dry_run) for t in targets)
    return tuple(outcomes)


def ensure_fleet(
    connect: Callable[[], DigitalOcean],
    template: PoolTemplate,
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
        check_inbound_secrets(template.inbound_user, secrets)
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
        return _ensure_one(gateway(), cluster, template, secrets, dry_run=dry_run, replace=replace)

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
    template: PoolTemplate,
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
        result = ensure_pool_on(gateway, cluster, template, dry_run=dry_run, replace=replace,
                                fresh_connection=wants_secrets)  # fmt: skip
    except DoPgpoolError as exc:
        logger.info("cluster %s: %s", cluster.name, exc)
        return ClusterOutcome(cluster, "failed", _size_or_none(template, cluster), error=exc,
                              requests=gateway.request_count - start)
    written: tuple[TargetOutcome, ...] = ()
    if secrets is not None and secrets.targets:
        written = cluster_secrets(gateway, result, secrets, dry_run=dry_run)
    return ClusterOutcome(cluster, result.action, result.pool.size, result, written,
                          requests=gateway.request_count - start)


def _size_or_none(template: PoolTemplate, cluster: Cluster) -> int | None:
    try:
        return template.size.resolve(cluster)
    except DoPgpoolError:
        return None


def _outcome_of(future: Future[ClusterOutcome], cluster: Cluster) -> ClusterOutcome:
    try:
        return future.result()
    except Exception as exc:  # the thread boundary: a bug in one cluster's task must not hide the others
        logger.debug("cluster %s: unexpected error", cluster.name, exc_info=True)
        error = DoPgpoolError(f"unexpected {type(exc).__name__} (a do-pgpool bug; -vv shows the traceback)")
        return ClusterOutcome(cluster, "failed", error=error)
