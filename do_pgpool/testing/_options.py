"""What ``GET /v2/databases/options`` answers: PostgreSQL only, copied from the OpenAPI example (7c1300c4)."""

from __future__ import annotations

from typing import Any

__all__ = ["PG_OPTIONS", "PG_VERSIONS", "layout_sizes"]

PG_REGIONS = "ams3 blr1 fra1 lon1 nyc1 nyc2 nyc3 sfo2 sfo3 sgp1 syd1 tor1 ric1 atl1".split()
PG_VERSIONS = ["13", "14", "15", "16", "17"]

# Size lists (data): one node may also be 1 GiB, more nodes may not; alike in shape only.
_MULTI_NODE = [
    "db-s-1vcpu-2gb", "db-s-2vcpu-4gb", "db-s-4vcpu-8gb", "db-s-6vcpu-16gb", "gd-2vcpu-8gb",
    "gd-4vcpu-16gb", "gd-8vcpu-32gb", "gd-16vcpu-64gb", "gd-32vcpu-128gb", "gd-40vcpu-160gb",
    "so1_5-2vcpu-16gb", "so1_5-4vcpu-32gb", "so1_5-8vcpu-64gb", "so1_5-16vcpu-128gb", "so1_5-24vcpu-192gb",
    "so1_5-32vcpu-256gb", "db-intel-1vcpu-2gb", "db-amd-1vcpu-2gb", "db-amd-2vcpu-4gb", "db-intel-2vcpu-4gb",
    "db-intel-2vcpu-8gb", "db-amd-2vcpu-8gb", "db-intel-4vcpu-8gb", "db-amd-4vcpu-8gb", "db-intel-4vcpu-16gb",
    "db-amd-4vcpu-16gb", "db-amd-8vcpu-32gb", "db-intel-8vcpu-32gb", "db-amd-16vcpu-64gb", "db-intel-16vcpu-64gb",
]

_LAYOUTS: dict[int, list[str]] = {
    1: [
        "db-s-1vcpu-1gb", "db-s-1vcpu-2gb", "db-s-2vcpu-4gb", "db-s-4vcpu-8gb", "db-s-6vcpu-16gb",
        "gd-2vcpu-8gb", "gd-4vcpu-16gb", "gd-8vcpu-32gb", "gd-16vcpu-64gb", "gd-32vcpu-128gb",
        "gd-40vcpu-160gb", "so1_5-2vcpu-16gb", "so1_5-4vcpu-32gb", "so1_5-8vcpu-64gb", "so1_5-16vcpu-128gb",
        "so1_5-24vcpu-192gb", "so1_5-32vcpu-256gb", "db-intel-1vcpu-1gb", "db-amd-1vcpu-1gb", "db-intel-1vcpu-2gb",
        "db-amd-1vcpu-2gb", "db-amd-2vcpu-4gb", "db-intel-2vcpu-4gb", "db-amd-2vcpu-8gb", "db-intel-2vcpu-8gb",
        "db-intel-4vcpu-8gb", "db-amd-4vcpu-8gb", "db-amd-4vcpu-16gb", "db-intel-4vcpu-16gb", "db-intel-8vcpu-32gb",
        "db-amd-8vcpu-32gb", "db-intel-16vcpu-64gb", "db-amd-16vcpu-64gb",
    ],
    2: _MULTI_NODE,
    3: _MULTI_NODE,  # DigitalOcean's example offers three nodes exactly the two-node sizes
}

PG_OPTIONS: dict[str, Any] = {
    "options": {
        "pg": {
            "regions": PG_REGIONS,
            "versions": PG_VERSIONS,
            "layouts": [{"num_nodes": n, "sizes": sizes} for n, sizes in _LAYOUTS.items()],
        }
    },
    "version_availability": {
        "pg": [
            {
                "end_of_life": f"{2012 + int(v)}-11-{day}T00:00:00Z",
                "end_of_availability": f"{2012 + int(v)}-05-{day}T00:00:00Z",
                "version": v,
                "default": v == PG_VERSIONS[-1],
            }
            for v, day in zip(PG_VERSIONS, ("13", "12", "11", "09", "08"), strict=True)
        ]
    },
}


def layout_sizes(num_nodes: int) -> list[str]:
    """Sizes DigitalOcean offers for a PostgreSQL cluster of ``num_nodes`` nodes (empty when none)."""
    return list(_LAYOUTS.get(num_nodes, []))
