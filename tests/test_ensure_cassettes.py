"""ensure_pool against recorded DigitalOcean interactions: the request budget, the bodies, the failure paths."""

from __future__ import annotations

import json

import pytest

from do_pgpool import _exceptions as errors
from do_pgpool.api._gateway import DigitalOcean
from do_pgpool.api._retry import RetryConfig
from do_pgpool.ops._pool import ensure_pool
from do_pgpool.ops._pool_plan import PoolRequest
from tests.cassette import replay

CLUSTER_ID = "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30"
NOW = 1764442000.0


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def gateway(sleeps: list[float]) -> DigitalOcean:
    return DigitalOcean("test-token", retry=RetryConfig(sleep=sleeps.append, clock=lambda: NOW))


def test_create_makes_three_requests_and_returns_the_pool_connection(gateway: DigitalOcean) -> None:
    with replay("create") as cassette:
        result = ensure_pool(gateway, PoolRequest(size=20))
    assert result.outcome == "created"
    assert result.requests == 3 == len(cassette.played)
    post = cassette.requests("POST")[0]
    assert json.loads(post.content) == {
        "name": "defaultdb-pool", "mode": "transaction", "size": 20, "db": "defaultdb", "user": "doadmin",
    }
    assert result.current is not None and result.current.connection is not None
    assert result.current.connection.port == 25061
    assert result.current.connection.database == "defaultdb-pool"


def test_update_sends_the_full_body_keeping_user_and_mode(gateway: DigitalOcean) -> None:
    with replay("update_size") as cassette:
        result = ensure_pool(gateway, PoolRequest(size=20), cluster=CLUSTER_ID)
    assert result.outcome == "updated"
    assert result.requests == 3
    put = cassette.requests("PUT")[0]
    assert json.loads(put.content) == {"mode": "transaction", "size": 20, "db": "defaultdb", "user": "doadmin"}
    assert [c.describe() for c in result.changes] == ["~ update pool 'defaultdb-pool': size 10 -> 20"]


def test_converged_run_makes_exactly_two_reads_and_no_write(gateway: DigitalOcean) -> None:
    with replay("converged") as cassette:
        result = ensure_pool(gateway, PoolRequest(size=20), cluster="backend")
    assert result.outcome == "unchanged"
    assert [r.method for r in cassette.played] == ["GET", "GET"]
    assert gateway.request_count == 2


def test_dry_run_plans_a_create_without_writing(gateway: DigitalOcean) -> None:
    # the "create" cassette holds a POST; a dry run must stop before it
    with pytest.raises(AssertionError, match="never requested"), replay("create") as cassette:
        result = ensure_pool(gateway, PoolRequest(size=20), dry_run=True)
    assert result.outcome == "would create"
    assert cassette.requests("POST") == []


def test_over_budget_is_refused_with_the_numbers_and_no_write(gateway: DigitalOcean) -> None:
    with replay("over_budget") as cassette, pytest.raises(errors.BudgetError) as info:
        ensure_pool(gateway, PoolRequest(size=20))
    assert cassette.requests("POST") == [] and cassette.requests("PUT") == []
    err = info.value
    assert (err.limit, err.used_by_others, err.available, err.requested) == (22, 10, 12, 20)
    assert "limit is 22" in str(err) and "other pools use 10" in str(err) and "12 are available" in str(err)


@pytest.mark.parametrize("name", ["create_500_applied", "create_422_name_taken"])
def test_a_failed_create_that_landed_is_reconciled_not_retried(gateway: DigitalOcean, name: str) -> None:
    with replay(name) as cassette:
        result = ensure_pool(gateway, PoolRequest(size=20))
    assert result.outcome == "created"
    assert len(cassette.requests("POST")) == 1, "a POST must never be retried blindly"
    assert result.note is not None and "exists as requested" in result.note


def test_a_failed_create_that_did_not_land_says_what_state_it_left(gateway: DigitalOcean) -> None:
    with replay("create_500_not_applied") as cassette, pytest.raises(errors.ServerError) as info:
        ensure_pool(gateway, PoolRequest(size=20))
    assert len(cassette.requests("POST")) == 1
    assert "the pool does not exist; nothing was changed" in str(info.value)
    (post,) = [i for i in cassette.interactions if i["request"]["method"] == "POST"]
    answer = post["response"]
    assert info.value.request_id == answer["body"]["request_id"] == answer["headers"]["x-request-id"]


def test_429_waits_for_retry_after(gateway: DigitalOcean, sleeps: list[float]) -> None:
    with replay("rate_limited_retry_after"):
        result = ensure_pool(gateway, PoolRequest(size=20))
    assert result.outcome == "unchanged"
    assert sleeps == [3.0]


def test_429_without_retry_after_waits_until_ratelimit_reset(gateway: DigitalOcean, sleeps: list[float]) -> None:
    with replay("rate_limited_reset"):
        ensure_pool(gateway, PoolRequest(size=20))
    assert sleeps == [1764442010 - NOW + 1]


def test_401_names_the_token_problem(gateway: DigitalOcean) -> None:
    with replay("unauthorized"), pytest.raises(errors.AuthenticationError) as info:
        ensure_pool(gateway, PoolRequest(size=20))
    assert info.value.status == 401 and "DIGITALOCEAN_TOKEN" in str(info.value)


def test_403_names_the_missing_scope(gateway: DigitalOcean) -> None:
    with replay("forbidden"), pytest.raises(errors.AuthenticationError) as info:
        ensure_pool(gateway, PoolRequest(size=20))
    assert info.value.status == 403 and "database:create" in str(info.value)


def test_unknown_cluster_404_body_returned_by_pydo_becomes_not_found(gateway: DigitalOcean) -> None:
    with replay("unknown_cluster"), pytest.raises(errors.NotFoundError) as info:
        ensure_pool(gateway, PoolRequest(size=20), cluster="00000000-0000-4000-8000-000000000000")
    assert info.value.error_id == "not_found" and info.value.status == 404


def test_non_postgres_cluster_is_refused(gateway: DigitalOcean) -> None:
    with replay("not_postgres"), pytest.raises(errors.PlanError, match="mysql, not PostgreSQL"):
        ensure_pool(gateway, PoolRequest(size=20), cluster="backend")


def test_busy_cluster_is_refused_with_its_status(gateway: DigitalOcean) -> None:
    with replay("cluster_resizing"), pytest.raises(errors.PlanError, match="'resizing', not online"):
        ensure_pool(gateway, PoolRequest(size=20))


def test_malformed_json_is_a_transport_error_not_a_traceback(gateway: DigitalOcean) -> None:
    with replay("malformed_json"), pytest.raises(errors.TransportError, match="not valid JSON"):
        ensure_pool(gateway, PoolRequest(size=20))


def test_transport_timeouts_are_retried_with_backoff_then_reported(
    gateway: DigitalOcean, sleeps: list[float]
) -> None:
    with replay("transport_timeout") as cassette, pytest.raises(errors.TransportError, match="ReadTimeout"):
        ensure_pool(gateway, PoolRequest(size=20))
    assert len(cassette.played) == 5
    assert len(sleeps) == 4 and all(0 < s <= 20.5 for s in sleeps)
    assert sleeps[-1] > sleeps[0], "backoff grows"
