from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from do_pgpool.testing import FakeCluster, FakeDigitalOcean


@pytest.fixture
def fake() -> FakeDigitalOcean:
    return FakeDigitalOcean()


@pytest.fixture
def http(fake: FakeDigitalOcean) -> Iterator[httpx.Client]:
    with fake.http_client() as client:
        yield client


@pytest.fixture
def cluster(fake: FakeDigitalOcean) -> FakeCluster:
    """A 1 GiB cluster: a pool budget of 22 backend connections."""
    return fake.add_cluster("app-db", size="db-s-1vcpu-1gb", tags=("production",))


def pool_body(name: str = "web", size: int = 10, **extra: object) -> dict[str, object]:
    return {"name": name, "mode": "transaction", "size": size, "db": "defaultdb", "user": "doadmin", **extra}
