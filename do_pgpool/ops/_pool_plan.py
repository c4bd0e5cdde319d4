"""What ``ensure-pool`` would change, computed from what was read. Pure: no I/O, no clock.

``PoolRequest`` is the pool asked for, the one form from the command line (or a library call) to the plan; its
size is a number of server connections or a share of the cluster's budget (``PoolSize``). ``plan_pool(cluster,
pools, request)`` resolves that size against the cluster's budget (the one place it is resolved), checks the
budget and diffs the current pool against the desired ``PoolSpec``: create, update in place (full body),
replace (mode change, only when asked), or nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from .._budget import MAX_POOLS, MIN_DIRECT_HEADROOM, Budget, connection_limit, share_of_budget
from .._changes import Action, Change, Plan
from .._exceptions import BudgetError, ConfigError, Param, PlanError, Step
from .._inputs import check_number, check_text
from .._models import DEFAULT_DB, DEFAULT_MODE, DEFAULT_USER, POOL_MODES, Cluster, Pool, PoolSpec

__all__ = [
    "PoolPlan",
    "PoolRequest",
    "PoolSize",
    "check_cluster_ready",
    "check_pool_name",
    "plan_pool",
]

#: ``--size 50%``: a share of the cluster's budget (ASCII digits: ``isascii()`` is checked first)
SHARE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)%$")

# DigitalOcean documents only the length (3-60). The name is also a URL path segment and the database name
# clients connect to, so we accept the conservative set; an assumption, not a documented rule.
_POOL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


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
        match = SHARE.match(raw)
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
class PoolRequest:
    """The pool asked for. ``None`` means "keep the current value" on update and "the default" on create.

    ``size``: server connections (``20``), or a share of the cluster's budget (``"50%"`` or a ``PoolSize``),
    resolved by ``plan_pool`` against the cluster it plans for.
    """

    size: int | PoolSize
    name: str | None = None
    mode: str | None = None
    db: str | None = None
    user: str | None = None
    #: no user on the pool: clients' own credentials pass through (DigitalOcean's "inbound user")
    inbound_user: bool = False

    def __post_init__(self) -> None:
        for label, value in (("name", self.name), ("mode", self.mode), ("db", self.db), ("user", self.user)):
            check_text(value, Param(label), optional=True)
        if self.inbound_user and self.user:
            raise ConfigError([Param("user"), " and ", Param("inbound_user"),
                               " exclude each other: a pool has one user or none"])
        if isinstance(self.size, str):
            object.__setattr__(self, "size", PoolSize.parse(self.size))
        if isinstance(self.size, PoolSize) and not self.size.percent:
            object.__setattr__(self, "size", int(self.size.value))
        if isinstance(self.size, bool) or not isinstance(self.size, int | PoolSize) or (
                isinstance(self.size, int) and self.size < 1):
            raise ConfigError(f"pool size must be a whole number of at least 1, not {self.size!r}")
        if self.mode is not None and self.mode not in POOL_MODES:
            raise ConfigError(f"pool mode {self.mode!r} is not one of {', '.join(POOL_MODES)}")
        for label, value in (("db", self.db), ("user", self.user)):
            if value is not None and not value.strip():
                raise ConfigError([Param(label), " must not be empty"])
        if self.name is not None:
            _check_name(self.name)
        else:  # the derived default must obey the same rules, or DigitalOcean refuses it after the reads
            try:
                _check_name(self.pool_name)
            except ConfigError as exc:
                raise ConfigError([
                    f"the default pool name (<db>-pool) does not work here: {exc}; choose one with ", Param("name"),
                ]) from None

    @property
    def pool_name(self) -> str:
        return self.name or f"{self.db or DEFAULT_DB}-pool"

    def size_for(self, cluster: Cluster) -> int:
        """The pool size on this cluster: a share is taken of its connection limit, rounded down."""
        return self.size if isinstance(self.size, int) else self.size.resolve(cluster)

    def resolve(self, current: Pool | None, size: int) -> PoolSpec:
        """The full desired spec: explicit values, else the current pool's, else the defaults."""
        if self.inbound_user:
            user: str | None = None
        elif self.user is not None:
            user = self.user
        else:
            user = current.user if current else DEFAULT_USER
        return PoolSpec(
            name=self.pool_name,
            size=size,
            mode=self.mode or (current.mode if current else DEFAULT_MODE),
            db=self.db or (current.db if current else DEFAULT_DB),
            user=user,
        )


def check_pool_name(name: object) -> str:
    """``name`` if DigitalOcean (and a URL path) accepts it as a pool name, else a ConfigError saying why."""
    _check_name(check_text(name, "pool name"))
    return str(name)


def _check_name(name: str) -> None:
    if not 3 <= len(name) <= 60:
        raise ConfigError(f"pool name {name!r} has {len(name)} characters; DigitalOcean requires 3 to 60")
    if not _POOL_NAME.match(name):
        raise ConfigError(f"pool name {name!r} may contain only letters, digits, '-' and '_', starting alphanumeric")


@dataclass(frozen=True)
class PoolPlan(Plan):
    """What ``plan_pool`` decided for one cluster's pool: the action, its changes and the state it starts from."""

    #: None only when ``prepare_pool`` found the pool converged by the cluster's uuid (the cluster was not read)
    cluster: Cluster | None
    current: Pool | None
    desired: PoolSpec
    #: None when the cluster was not read (see ``cluster``)
    budget: Budget | None
    changes: tuple[Change[PoolSpec], ...] = ()
    warnings: tuple[str, ...] = ()
    #: what was asked: a create that finds the pool made meanwhile plans again with it
    request: PoolRequest | None = field(default=None, compare=False)
    cluster_id: str = ""


def plan_pool(cluster: Cluster, pools: Sequence[Pool], request: PoolRequest, *, replace: bool = False) -> PoolPlan:
    """Decide what to do. Raises ConfigError / PlanError / BudgetError before anything is written."""
    check_cluster_ready(cluster)
    current = next((p for p in pools if p.name == request.pool_name), None)
    desired = request.resolve(current, request.size_for(cluster))
    _check_db_and_user(cluster, desired)
    budget = Budget.for_pool(cluster.size, [(p.name, p.size) for p in pools], desired.name)
    warnings = list(_check_budget(cluster, budget, desired))
    if current is None and len(pools) >= MAX_POOLS:
        raise PlanError([
            f"cluster {cluster.name!r} already has {len(pools)} pools; DigitalOcean allows {MAX_POOLS}. "
            "Delete one or reuse an existing pool with ", Param("name"), ".",
        ])

    subject = f"pool {desired.name!r}"
    changes: tuple[Change[PoolSpec], ...]
    if current is None:
        d = desired
        detail = f"{d.mode}, size {d.size}, db {d.db}, user {_user(d.user)}"
        changes = (Change(Action.CREATE, subject, None, desired, detail),)
    elif current.spec == desired:
        changes = ()
    elif current.mode != desired.mode:
        if not replace:
            raise PlanError([
                f"pool {desired.name!r} is in {current.mode} mode; DigitalOcean cannot change a pool's mode in "
                "place. Pass ", Param("replace", True), f" to delete it and create it in {desired.mode} "
                "mode - this drops every live connection through the pool - or keep ", Param("mode", current.mode),
                ".",
            ])
        detail = f"{_diff(current.spec, desired)} (delete + create: its live connections drop)"
        changes = (Change(Action.REPLACE, subject, current.spec, desired, detail),)
    else:
        changes = (Change(Action.UPDATE, subject, current.spec, desired, _diff(current.spec, desired)),)
    return PoolPlan(cluster, current, desired, budget, changes, tuple(warnings), request, cluster.id)


def check_cluster_ready(cluster: Cluster) -> None:
    """A PostgreSQL cluster that is ``online``: anything else cannot take pool changes now."""
    if not cluster.is_postgres:
        raise PlanError(
            f"cluster {cluster.name!r} runs {cluster.engine or 'an unknown engine'}, not PostgreSQL (pg); "
            "PgBouncer pools exist only for PostgreSQL clusters"
        )
    if cluster.status != "online":
        raise PlanError(
            f"cluster {cluster.name!r} is {cluster.status!r}, not online: a resize, migration or maintenance is "
            "running. Wait until it is online (do-pgpool resize/restart wait for you), then re-run."
        )


def _check_db_and_user(cluster: Cluster, spec: PoolSpec) -> None:
    # The cluster object lists its databases and users, so this costs no request. Empty lists mean the API
    # did not say; then DigitalOcean's own answer decides.
    if cluster.db_names and spec.db not in cluster.db_names:
        raise ConfigError([
            f"database {spec.db!r} does not exist on cluster {cluster.name!r} "
            f"(databases: {', '.join(cluster.db_names)}); create it first or pass another ", Param("db"),
        ])
    if cluster.users and spec.user is not None and spec.user not in cluster.users:
        raise ConfigError([
            f"user {spec.user!r} does not exist on cluster {cluster.name!r} "
            f"(users: {', '.join(cluster.users)}); pass another ", Param("user"), " or ", Param("inbound_user", True),
        ])


def _check_budget(cluster: Cluster, budget: Budget, spec: PoolSpec) -> list[str]:
    if budget.limit is None or budget.available is None:
        return [
            f"size slug {cluster.size!r} does not say the node's RAM, so the connection budget "
            "(25 per GiB - 3) was not checked; DigitalOcean will refuse a pool that does not fit"
        ]
    if spec.size > budget.available:
        raise BudgetError(
            [
                f"pool {spec.name!r} of size {spec.size} does not fit cluster {cluster.name!r} ({cluster.size}): "
                f"its limit is {budget.limit} backend connections, other pools use {budget.other_pools}, "
                f"so {budget.available} are available. Use ", Param("size", budget.available),
                " or less, shrink another pool, or move to a bigger plan (",
                Step("resize", (Param("connections", "N"),)), ").",
            ],
            limit=budget.limit,
            used_by_others=budget.other_pools,
            requested=spec.size,
        )
    headroom = budget.direct_headroom(spec.size)
    if headroom is not None and headroom < MIN_DIRECT_HEADROOM:
        suggestion = budget.available - MIN_DIRECT_HEADROOM
        hint = f"A pool size of {suggestion} keeps {MIN_DIRECT_HEADROOM}" if suggestion >= 1 else "A bigger plan helps"
        return [
            f"pools could hold {budget.other_pools + spec.size} of {budget.limit} backend connections at a busy "
            f"moment (PgBouncer opens up to each pool's size and closes an idle server connection only after "
            f"pgbouncer.server_idle_timeout, 600 s by default), leaving {headroom} for direct connections: "
            f"migrations, psql, cron jobs. {hint}."
        ]
    return []


def _user(user: str | None) -> str:
    return user if user is not None else "(inbound user)"


def _diff(before: PoolSpec, after: PoolSpec) -> str:
    parts = []
    for key in ("mode", "size", "db"):
        old, new = getattr(before, key), getattr(after, key)
        if old != new:
            parts.append(f"{key} {old} -> {new}")
    if before.user != after.user:
        parts.append(f"user {_user(before.user)} -> {_user(after.user)}")
    return ", ".join(parts)
