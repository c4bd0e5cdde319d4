"""Fault injection, authentication, strictness, recording and the mock_digitalocean() faces."""

from __future__ import annotations

import httpx
import pytest

from do_pgpool.testing import Call, FakeCluster, FakeDigitalOcean, mock_digitalocean
from tests.testing.conftest import pool_body


def test_fail_next_answers_n_errors_then_the_real_answer(
    http: httpx.Client, fake: FakeDigitalOcean, cluster: FakeCluster
) -> None:
    fake.faults.fail_next("GET", r"/pools$", status=503, times=2)

    statuses = [http.get(f"/v2/databases/{cluster.id}/pools").status_code for _ in range(3)]

    assert statuses == [503, 503, 200]
    assert http.get(f"/v2/databases/{cluster.id}").status_code == 200  # other paths unaffected


def test_fail_after_apply_is_the_terraform_925_trap(
    http: httpx.Client, fake: FakeDigitalOcean, cluster: FakeCluster
) -> None:
    fake.faults.fail_after_apply("add_connection_pool", status=500)

    first = http.post(f"/v2/databases/{cluster.id}/pools", json=pool_body("web", 10))
    retry = http.post(f"/v2/databases/{cluster.id}/pools", json=pool_body("web", 10))
    reconcile = http.get(f"/v2/databases/{cluster.id}/pools/web")

    assert (first.status_code, first.json()["id"]) == (500, "server_error")
    assert (retry.status_code, retry.json()["message"]) == (422, "pool name is not available")
    assert reconcile.json()["pool"]["size"] == 10


def test_timeouts_before_and_after_apply(http: httpx.Client, fake: FakeDigitalOcean, cluster: FakeCluster) -> None:
    fake.faults.timeout_next("POST", r"/pools$")
    with pytest.raises(httpx.ReadTimeout):
        http.post(f"/v2/databases/{cluster.id}/pools", json=pool_body("web", 10))
    assert cluster.pools == {}

    fake.faults.timeout_next("POST", r"/pools$", after_apply=True)
    with pytest.raises(httpx.ReadTimeout):
        http.post(f"/v2/databases/{cluster.id}/pools", json=pool_body("web", 10))
    assert list(cluster.pools) == ["web"]
    assert fake.calls[-1] == ("POST", f"/v2/databases/{cluster.id}/pools", 0)


def test_malformed_json_truncates_one_answer(http: httpx.Client, fake: FakeDigitalOcean, cluster: FakeCluster) -> None:
    fake.faults.malformed_json("GET", r"^/v2/databases$")

    broken = http.get("/v2/databases")

    with pytest.raises(ValueError):
        broken.json()
    assert http.get("/v2/databases").json()["databases"][0]["id"] == cluster.id


def test_latency_advances_the_virtual_clock(http: httpx.Client, fake: FakeDigitalOcean) -> None:
    fake.faults.latency(2.5, "GET", r"^/v2/databases$", times=2)
    start = fake.clock.now()

    for _ in range(3):
        http.get("/v2/databases")

    assert fake.clock.now() - start == 5.0


def test_a_missing_authorization_header_is_401(fake: FakeDigitalOcean) -> None:
    with fake.http_client(token=None) as anonymous:
        response = anonymous.get("/v2/databases")

    assert (response.status_code, response.json()["id"]) == (401, "unauthorized")


def test_require_token_accepts_only_the_listed_and_added_tokens(fake: FakeDigitalOcean) -> None:
    fake.require_token("dop_v1_good")
    fake.add_token("ro", view_credentials=False)

    with fake.http_client("dop_v1_good") as good, fake.http_client("dop_v1_bad") as bad, fake.http_client("ro") as ro:
        assert [good.get("/v2/databases").status_code, ro.get("/v2/databases").status_code] == [200, 200]
        assert bad.get("/v2/databases").status_code == 401


def test_a_read_only_token_cannot_write(fake: FakeDigitalOcean, cluster: FakeCluster) -> None:
    fake.add_token("reader", write=False)

    with fake.http_client("reader") as reader:
        response = reader.post(f"/v2/databases/{cluster.id}/pools", json=pool_body())

    assert (response.status_code, response.json()["id"]) == (403, "forbidden")


def test_unknown_routes_are_digitaloceans_404_and_recorded(http: httpx.Client, fake: FakeDigitalOcean) -> None:
    response = http.get("/v2/droplets")

    assert response.status_code == 404
    assert response.json() == {"id": "not_found", "message": "The resource you requested could not be found.",
                               "request_id": response.headers["x-request-id"]}
    assert fake.unmatched == [("GET", "/v2/droplets", 404)]
    with pytest.raises(AssertionError, match="GET /v2/droplets"):
        fake.assert_no_unmatched()


def test_calls_are_recorded_in_order(http: httpx.Client, fake: FakeDigitalOcean, cluster: FakeCluster) -> None:
    http.get(f"/v2/databases/{cluster.id}")
    http.get(f"/v2/databases/{cluster.id}/pools/web")

    assert fake.calls == [
        Call("GET", f"/v2/databases/{cluster.id}", 200),
        ("GET", f"/v2/databases/{cluster.id}/pools/web", 404),
    ]
    assert fake.request_count == 2
    assert fake.calls_to("POST") == []


def test_mock_digitalocean_as_a_context_manager_fails_on_unmatched_routes() -> None:
    with pytest.raises(AssertionError, match="/v2/volumes"), mock_digitalocean() as fake:
        with fake.http_client() as http:
            http.get("/v2/volumes")


@mock_digitalocean(rate_limit_per_minute=1)
def test_mock_digitalocean_as_a_decorator_injects_the_fake(fake: FakeDigitalOcean) -> None:
    with fake.http_client() as http:
        assert [http.get("/v2/databases").status_code for _ in range(2)] == [200, 429]


def test_fakes_are_independent_and_reset_forgets_everything() -> None:
    one, two = FakeDigitalOcean(), FakeDigitalOcean()
    one.add_cluster("app-db")
    one.faults.fail_next("GET", ".*")

    assert two.databases.clusters == {}
    one.reset()
    assert (one.databases.clusters, one.faults.rules, one.calls) == ({}, [], [])


def test_fault_times_must_be_positive(fake: FakeDigitalOcean) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        fake.faults.fail_next("GET", ".*", times=0)
