"""DigitalOcean's PgBouncer connection budget. Pure.

DigitalOcean allows 25 backend connections per GiB of the primary node's RAM, 3 of them reserved for
maintenance, capped at 997 and shared by every pool of the cluster; at most 21 pools per cluster.
No API returns the RAM, so it is read from the size slug ("db-s-1vcpu-1gb": node, CPUs, RAM).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "MAX_CONNECTIONS",
    "MAX_POOLS",
    "RESERVED_CONNECTIONS",
    "Budget",
    "connection_limit",
    "ram_gib_from_slug",
    "share_of_budget",
]

CONNECTIONS_PER_GIB = 25
RESERVED_CONNECTIONS = 3
MAX_CONNECTIONS = 997
MAX_POOLS = 21
#: Pools keep their server connections while idle; leave at least this many for psql, migrations, cron.
MIN_DIRECT_HEADROOM = 3

_RAM = re.compile(r"-(\d+)gb(?:-|$)")


def ram_gib_from_slug(slug: str) -> int | None:
    """RAM in GiB from a size slug, or None when the slug does not say (e.g. ``c-96-intel``)."""
    match = _RAM.search(slug.lower())
    return int(match.group(1)) if match else None


def connection_limit(slug: str) -> int | None:
    """Backend connections available to pools for this size, or None when the slug has no RAM."""
    ram = ram_gib_from_slug(slug)
    if ram is None:
        return None
    return min(CONNECTIONS_PER_GIB * ram - RESERVED_CONNECTIONS, MAX_CONNECTIONS)


def share_of_budget(limit: int, percent: float) -> int:
    """``--size 50%``: the share of a cluster's budget, rounded down, at least 1."""
    return max(1, math.floor(limit * percent / 100))


@dataclass(frozen=True)
class Budget:
    """The connection budget as seen by one pool: ``available`` leaves out the pool being changed."""

    limit: int | None
    other_pools: int
    pool_count: int = 0

    @classmethod
    def for_pool(cls, slug: str, pool_sizes: Iterable[tuple[str, int]], pool_name: str) -> Budget:
        sizes = list(pool_sizes)
        other = sum(size for name, size in sizes if name != pool_name)
        return cls(limit=connection_limit(slug), other_pools=other, pool_count=len(sizes))

    @property
    def available(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.other_pools, 0)

    def direct_headroom(self, size: int) -> int | None:
        """Connections left for direct (non-pooled) use once every pool, including this one, holds its slots."""
        return None if self.limit is None else self.limit - self.other_pools - size

    def as_dict(self) -> dict[str, int | None]:
        return {"limit": self.limit, "other_pools": self.other_pools, "available": self.available}
