"""Planning a resize (pure): the target size, node count and storage, checked against DigitalOcean's options.

``plan_resize(cluster, options, request)`` validates the request against DigitalOcean's
``GET /v2/databases/options`` (valid ``(num_nodes, size)`` pairs come from ``layouts``), refuses what
DigitalOcean refuses (unknown slugs, a slug not offered for that node count, a smaller size, more than 3
nodes), picks the smallest size for ``--connections N``, and says the connection budget before and after.
It reads and writes nothing; ``_resize`` does the reading, the ``PUT /resize`` and the wait.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._budget import MAX_CONNECTIONS, connection_limit, ram_gib_from_slug
from .._changes import Action, Change, Plan
from .._exceptions import ConfigError, Param, PlanError, Step
from .._inputs import check_text
from .._jsonable import jsonable
from .._models import Cluster

__all__ = [
    "MAX_NODES",
    "ResizePlan",
    "ResizeRequest",
    "Shape",
    "plan_resize",
]

#: Primary plus up to two standbys ("Valid values are 1-3").
MAX_NODES = 3


@dataclass(frozen=True)
class ResizeRequest:
    """What to resize to: a ``size`` slug or the ``connections`` the budget must reach (exactly one).

    ``num_nodes`` and ``storage_size_mib`` default to the cluster's current values.
    """

    size: str | None = None
    connections: int | None = None
    num_nodes: int | None = None
    storage_size_mib: int | None = None

    def __post_init__(self) -> None:
        check_text(self.size, Param("size_slug"), optional=True)
        for label, count in (("connections", self.connections), ("num_nodes", self.num_nodes),
                             ("storage_size_mib", self.storage_size_mib)):  # fmt: skip
            if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
                raise ConfigError([Param(label), f" must be a whole number, not {count!r}"])
        if (self.size is None) == (self.connections is None):
            raise ConfigError(["give either a size slug (", Param("size_slug"), ") or a connection count (",
                               Param("connections"), "), not both"])
        if self.size is not None and not self.size.strip():
            raise ConfigError([Param("size_slug"), " must not be empty"])
        if self.connections is not None and (isinstance(self.connections, bool) or self.connections < 1):
            raise ConfigError([Param("connections"), f" must be at least 1, not {self.connections!r}"])
        if self.num_nodes is not None and not 1 <= self.num_nodes <= MAX_NODES:
            raise ConfigError([
                Param("num_nodes", self.num_nodes), f": a DigitalOcean database cluster has 1 to {MAX_NODES} nodes "
                "(a primary plus up to two standbys)",
            ])
        if self.storage_size_mib is not None and self.storage_size_mib < 1:
            raise ConfigError([Param("storage_size_mib"), f" must be positive, not {self.storage_size_mib!r}"])


@dataclass(frozen=True)
class Shape:
    """What a resize changes: size, node count and storage (``storage_size_mib`` None: not sent, stays)."""

    size: str
    num_nodes: int
    storage_size_mib: int | None = None

    def body(self) -> dict[str, Any]:
        """The full ``PUT /resize`` body."""
        out: dict[str, Any] = {"size": self.size, "num_nodes": self.num_nodes}
        if self.storage_size_mib is not None:
            out["storage_size_mib"] = self.storage_size_mib
        return out


def _difference(before: Shape, after: Shape) -> str:
    parts = []
    if before.size != after.size:
        limits = connection_limit(before.size), connection_limit(after.size)
        parts.append(f"size {before.size} -> {after.size} (budget {_limit(limits[0])} -> {_limit(limits[1])})")
    if before.num_nodes != after.num_nodes:
        parts.append(f"nodes {before.num_nodes} -> {after.num_nodes}")
    if after.storage_size_mib is not None and after.storage_size_mib != before.storage_size_mib:
        parts.append(f"storage {before.storage_size_mib} -> {after.storage_size_mib} MiB")
    return ", ".join(parts)


@dataclass(frozen=True)
class ResizePlan(Plan):
    cluster: Cluster
    request: ResizeRequest
    size: str
    num_nodes: int
    storage_size_mib: int | None
    budget_before: int | None
    budget_after: int | None
    #: at most one: ``PUT /resize`` with the full body
    changes: tuple[Change[Shape], ...] = ()
    warnings: tuple[str, ...] = ()
    #: why this size (``--connections``), for people
    reason: str | None = None
    #: the options body planned against (a plan made on a busy cluster is checked again with it)
    options: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        c = self.cluster
        return {
            "cluster": jsonable(c, only=("id", "name", "status", "region", "engine")),
            "current": {
                "size": c.size, "num_nodes": c.num_nodes, "storage_size_mib": c.storage_size_mib,
                "budget": self.budget_before,
            },
            "target": {
                "size": self.size, "num_nodes": self.num_nodes,
                "storage_size_mib": self.storage_size_mib if self.storage_size_mib is not None else c.storage_size_mib,
                "budget": self.budget_after,
            },
            "changes": [ch.describe() for ch in self.changes],
            "warnings": list(self.warnings),
            "reason": self.reason,
        }


# -- planning ------------------------------------------------------------------------------------


def plan_resize(cluster: Cluster, options: Mapping[str, Any], request: ResizeRequest) -> ResizePlan:
    """Decide the target size/nodes/storage from the options body. Raises ConfigError for what DO would refuse."""
    engine_options = _engine_options(cluster, options)
    layouts = _layouts(cluster, engine_options)
    nodes = request.num_nodes if request.num_nodes is not None else cluster.num_nodes
    if nodes not in layouts:
        offered = ", ".join(str(n) for n in sorted(layouts))
        raise ConfigError([
            f"DigitalOcean offers {cluster.engine} clusters with {offered} node(s), not {nodes}; pass ",
            Param("num_nodes", " or ".join(str(n) for n in sorted(layouts) if n <= MAX_NODES)),
        ])
    valid = layouts[nodes]
    warnings: list[str] = []
    reason: str | None = None

    if request.connections is not None:
        size, reason = _size_for_connections(cluster, valid, nodes, request.connections)
    else:
        assert request.size is not None
        size = request.size.strip()
        _check_slug(cluster, layouts, nodes, size)
    _check_not_smaller(cluster, valid, nodes, size)
    if ram_gib_from_slug(size) is None or ram_gib_from_slug(cluster.size) is None:
        warnings.append(
            f"could not read the RAM from {size!r} or {cluster.size!r}, so the connection budget and "
            "'not smaller' were not checked; DigitalOcean decides"
        )

    regions = engine_options.get("regions")
    if cluster.region and isinstance(regions, list) and regions and cluster.region not in regions:
        warnings.append(
            f"DigitalOcean's options do not list region {cluster.region!r} for {cluster.engine}; "
            "the resize may be refused"
        )
    if nodes < cluster.num_nodes:
        warnings.append(
            f"going from {cluster.num_nodes} to {nodes} node(s) removes standby node(s): less failover capacity"
        )

    storage = request.storage_size_mib
    if storage is not None and cluster.storage_size_mib is not None and storage < cluster.storage_size_mib:
        warnings.append(
            f"storage {cluster.storage_size_mib} -> {storage} MiB shrinks it; DigitalOcean only allows shrinking "
            "down to the data size plus a 25% buffer and may refuse"
        )
    if storage is not None and storage == cluster.storage_size_mib:
        storage = None  # unchanged: not sent

    changes: tuple[Change[Shape], ...] = ()
    if size != cluster.size or nodes != cluster.num_nodes or storage is not None:
        before, after = Shape(cluster.size, cluster.num_nodes, cluster.storage_size_mib), Shape(size, nodes, storage)
        changes = (Change(Action.UPDATE, f"cluster {cluster.name!r}", before, after, _difference(before, after),
                          verb="resize"),)  # fmt: skip
    return ResizePlan(
        cluster=cluster,
        request=request,
        size=size,
        num_nodes=nodes,
        storage_size_mib=storage,
        budget_before=connection_limit(cluster.size),
        budget_after=connection_limit(size),
        changes=changes,
        warnings=tuple(warnings),
        reason=reason,
        options=options,
    )


def _engine_options(cluster: Cluster, options: Mapping[str, Any]) -> Mapping[str, Any]:
    engines = options.get("options") if isinstance(options.get("options"), Mapping) else options
    found = engines.get(cluster.engine) if isinstance(engines, Mapping) else None
    if not isinstance(found, Mapping):
        listed = ", ".join(sorted(engines)) if isinstance(engines, Mapping) else "none"
        raise PlanError(
            f"GET /v2/databases/options lists no sizes for engine {cluster.engine!r} (engines: {listed}); "
            "cannot check the resize"
        )
    return found


def _layouts(cluster: Cluster, engine_options: Mapping[str, Any]) -> dict[int, list[str]]:
    layouts: dict[int, list[str]] = {}
    for layout in engine_options.get("layouts") or []:
        if isinstance(layout, Mapping) and isinstance(layout.get("num_nodes"), int):
            layouts[int(layout["num_nodes"])] = [str(s) for s in layout.get("sizes") or []]
    if not layouts:
        raise PlanError(f"GET /v2/databases/options has no layouts for engine {cluster.engine!r}")
    return layouts


def _check_slug(cluster: Cluster, layouts: Mapping[int, Sequence[str]], nodes: int, size: str) -> None:
    if size in layouts[nodes]:
        return
    with_size = sorted(n for n, sizes in layouts.items() if size in sizes)
    choices = _choices(cluster, layouts[nodes])
    if with_size:
        raise ConfigError(
            f"size {size!r} is not offered with {nodes} node(s) (it is with {', '.join(map(str, with_size))}). "
            f"Sizes for {nodes} node(s) at least as big as the current {cluster.size}: {choices}"
        )
    raise ConfigError(
        f"unknown size slug {size!r} for {cluster.engine} in DigitalOcean's options. "
        f"Sizes for {nodes} node(s) at least as big as the current {cluster.size}: {choices}"
    )


def _check_not_smaller(cluster: Cluster, valid: Sequence[str], nodes: int, size: str) -> None:
    ram_now, ram_new = ram_gib_from_slug(cluster.size), ram_gib_from_slug(size)
    if ram_now is not None and ram_new is not None and ram_new < ram_now:
        raise ConfigError(
            f"{size} ({ram_new} GiB) is smaller than the current {cluster.size} ({ram_now} GiB); DigitalOcean "
            f"cannot resize a database cluster to a smaller size. Sizes for {nodes} node(s) at least as big: "
            f"{_choices(cluster, valid)}"
        )


def _choices(cluster: Cluster, valid: Sequence[str]) -> str:
    ram_now = ram_gib_from_slug(cluster.size) or 0
    big_enough = [s for s in valid if (ram_gib_from_slug(s) or 0) >= ram_now]
    return ", ".join(_sorted_sizes(big_enough or list(valid), cluster.size)) or "none"


def _family(slug: str) -> str:
    """``db-s-2vcpu-4gb`` -> ``db-s``; ``gd-2vcpu-8gb`` -> ``gd``; ``so1_5-2vcpu-16gb`` -> ``so1_5``."""
    head, sep, _ = slug.partition("vcpu")
    return head.rsplit("-", 1)[0] if sep else slug


def _sorted_sizes(sizes: Sequence[str], current: str) -> list[str]:
    """Smallest RAM first; at equal RAM, the current slug's family, then DigitalOcean's order in the options."""
    family = _family(current)
    order = {s: i for i, s in enumerate(sizes)}
    return sorted(sizes, key=lambda s: (ram_gib_from_slug(s) or 1 << 30, _family(s) != family, order[s]))


def _size_for_connections(cluster: Cluster, valid: Sequence[str], nodes: int, wanted: int) -> tuple[str, str]:
    current = connection_limit(cluster.size)
    if current is not None and current >= wanted and cluster.size in valid:
        return cluster.size, f"the current size {cluster.size} already allows {current} connections (>= {wanted})"
    if wanted > MAX_CONNECTIONS:
        raise ConfigError([
            Param("connections", wanted), f": DigitalOcean caps a cluster at {MAX_CONNECTIONS} backend connections "
            "whatever its size. Put clients behind PgBouncer pools (", Step("ensure_pool"), "), which share "
            "fewer server connections among many clients",
        ])
    ram_now = ram_gib_from_slug(cluster.size) or 0
    fitting = [
        s for s in valid
        if (limit := connection_limit(s)) is not None and limit >= wanted and (ram_gib_from_slug(s) or 0) >= ram_now
    ]
    if not fitting:
        raise ConfigError(
            f"no {cluster.engine} size for {nodes} node(s) gives {wanted} connections "
            f"(sizes: {', '.join(_sorted_sizes(list(valid), cluster.size))})"
        )
    best = _sorted_sizes(fitting, cluster.size)[0]
    limit = connection_limit(best)
    return best, f"smallest size for {nodes} node(s) with at least {wanted} connections: {best} ({limit})"


def _limit(limit: int | None) -> str:
    return "unknown" if limit is None else str(limit)
