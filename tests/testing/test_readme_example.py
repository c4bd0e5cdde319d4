"""The README's "Testing your provisioning code" example, verbatim: if it breaks, the docs are wrong."""

from __future__ import annotations

import httpx
import pytest

from do_pgpool import BudgetError, DigitalOcean, PoolRequest, RetryConfig, ensure_pool
from do_pgpool.testing import FakeDigitalOcean


@pytest.fixture
def do(fake_do: FakeDigitalOcean):  # type: ignore[no-untyped-def]
    """Our gateway, talking to the fake through an httpx transport (no network, no token)."""
    http = httpx.Client(transport=fake_do.http_transport())
    retry = RetryConfig(sleep=fake_do.clock.sleep, clock=fake_do.clock.now)  # retries wait in virtual time
    with DigitalOcean("test-token", http=http, retry=retry) as gateway:
        yield gateway
    http.close()


def test_creates_the_pool_once(fake_do: FakeDigitalOcean, do: DigitalOcean) -> None:
    cluster = fake_do.add_cluster("app-db", size="db-s-1vcpu-1gb")  # 22 connections for pools

    first = ensure_pool(do, PoolRequest(size=20, name="web"), cluster="app-db")
    second = ensure_pool(do, PoolRequest(size=20, name="web"), cluster="app-db")

    assert (first.outcome, second.outcome) == ("created", "unchanged")
    assert cluster.pools["web"].size == 20
    assert [c for c in fake_do.calls if c.method != "GET"] == [("POST", f"/v2/databases/{cluster.id}/pools", 201)]


def test_refuses_a_pool_over_the_budget(fake_do: FakeDigitalOcean, do: DigitalOcean) -> None:
    fake_do.add_cluster("app-db", size="db-s-1vcpu-1gb")

    with pytest.raises(BudgetError):
        ensure_pool(do, PoolRequest(size=30, name="web"), cluster="app-db")


def test_survives_a_500_after_the_create_was_applied(fake_do: FakeDigitalOcean, do: DigitalOcean) -> None:
    cluster = fake_do.add_cluster("app-db")
    fake_do.faults.fail_after_apply("add_connection_pool", status=500)

    result = ensure_pool(do, PoolRequest(size=10, name="web"), cluster="app-db")

    assert result.outcome == "created"
    assert list(cluster.pools) == ["web"]


def test_retries_a_burst_limit_in_virtual_time(fake_do: FakeDigitalOcean, do: DigitalOcean) -> None:
    fake_do.add_cluster("app-db")
    fake_do.faults.rate_limit_burst(2, retry_after=5)

    assert [c.name for c in do.list_clusters()] == ["app-db"]
    assert fake_do.clock.sleeps[:2] == [5.0, 5.0]  # honoured retry-after, and nothing really slept
