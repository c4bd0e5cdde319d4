"""The gateway: pydo's quirks absorbed, every failure typed, the token never shown."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from do_pgpool import _exceptions as errors
from do_pgpool._models import PoolSpec
from do_pgpool.api._gateway import DigitalOcean, _map_errors
from do_pgpool.api._retry import RetryConfig

API = "https://api.digitalocean.com"
TOKEN = "dop_v1_" + "0" * 8 + "not-a-real-token"
CID = "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30"


def cluster_json(name: str = "app-db", engine: str = "pg", **kw: Any) -> dict[str, Any]:
    base = {"id": CID if name == "app-db" else f"id-{name}", "name": name, "engine": engine, "status": "online",
            "size": "db-s-1vcpu-1gb", "num_nodes": 1, "region": "nyc3", "version": "16"}
    return {**base, **kw}


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def do(sleeps: list[float]) -> DigitalOcean:
    return DigitalOcean(TOKEN, retry=RetryConfig(sleep=sleeps.append, clock=lambda: 0.0))


def test_token_is_sent_as_bearer_but_never_shown(do: DigitalOcean) -> None:
    with respx.mock:
        route = respx.get(f"{API}/v2/databases").respond(401, json={"id": "unauthorized", "message": "Unable"})
        with pytest.raises(errors.AuthenticationError) as info:
            do.list_clusters()
    assert route.calls.last.request.headers["authorization"] == f"Bearer {TOKEN}"
    assert route.calls.last.request.headers["user-agent"].startswith("do-pgpool/")
    assert TOKEN not in repr(do) and TOKEN not in str(info.value) and TOKEN not in repr(info.value)


@pytest.mark.parametrize("url", ["http://api.example.com", "ftp://127.0.0.1", "not a url"])
def test_unsafe_or_malformed_api_urls_are_refused(url: str) -> None:
    with pytest.raises(errors.ConfigError):
        DigitalOcean(TOKEN, api_url=url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9"])
def test_plain_http_to_loopback_is_allowed_for_a_local_fake(url: str) -> None:
    DigitalOcean(TOKEN, api_url=url)


def test_missing_token_is_a_config_error() -> None:
    with pytest.raises(errors.ConfigError, match="DIGITALOCEAN_TOKEN"):
        DigitalOcean("")


def test_404_body_returned_by_pydo_becomes_not_found(do: DigitalOcean) -> None:
    with respx.mock:
        respx.get(f"{API}/v2/databases/{CID}/pools/nope").respond(
            404, json={"id": "not_found", "message": "pool not found", "request_id": "r-1"}
        )
        with pytest.raises(errors.NotFoundError) as info:
            do.get_connection_pool(CID, "nope")
    assert (info.value.status, info.value.error_id, info.value.request_id) == (404, "not_found", "r-1")


def test_events_log_is_typed_and_every_page_is_read(do: DigitalOcean) -> None:
    def entry(ident: str, kind: str) -> dict[str, str]:
        return {"id": ident, "cluster_name": "app-db", "event_type": kind, "create_time": "2026-01-01T00:00:00Z"}

    first = {"events": [entry("pe1", "cluster_create")], "links": {"pages": {"next": f"{API}/v2/x?page=2"}}}
    second = {"events": [entry("pe2", "cluster_maintenance_perform"), {"event_type": "cluster_update"}]}
    with respx.mock:
        route = respx.get(f"{API}/v2/databases/{CID}/events").mock(
            side_effect=[httpx.Response(200, json=first), httpx.Response(200, json=second)]
        )
        events = do.list_events(CID)
    assert [(e.key, e.event_type) for e in events] == [
        ("pe1", "cluster_create"), ("pe2", "cluster_maintenance_perform"), ("cluster_update@", "cluster_update"),
    ]
    assert [dict(c.request.url.params) for c in route.calls] == [
        {"page": "1", "per_page": "200"}, {"page": "2", "per_page": "200"},
    ]


@pytest.mark.parametrize(("status", "kind"), [(404, errors.NotFoundError), (403, errors.AuthenticationError)])
def test_events_log_errors_are_typed(do: DigitalOcean, status: int, kind: type[Exception]) -> None:
    with respx.mock:
        respx.get(f"{API}/v2/databases/{CID}/events").respond(status, json={"id": "x", "message": "no"})
        with pytest.raises(kind) as info:
            do.list_events(CID)
    assert f"GET /v2/databases/{CID}/events: {status}" in str(info.value)
    if status == 403:
        assert "database:read scope" in str(info.value)


def test_delete_of_a_missing_pool_is_already_done(do: DigitalOcean) -> None:
    with respx.mock:
        respx.delete(f"{API}/v2/databases/{CID}/pools/gone").respond(404, json={"id": "not_found", "message": "x"})
        do.delete_connection_pool(CID, "gone")


def test_a_read_that_failed_with_5xx_does_not_say_it_may_have_been_applied(do: DigitalOcean) -> None:
    with respx.mock:
        respx.get(f"{API}/v2/databases/{CID}/pools").respond(500, json={"id": "server_error", "message": "x"})
        with pytest.raises(errors.ServerError) as raised:
            do.list_connection_pools(CID)
    assert "DigitalOcean failed." in str(raised.value) and "applied" not in str(raised.value)


def test_put_is_retried_on_5xx_but_post_never_is(do: DigitalOcean, sleeps: list[float]) -> None:
    spec = PoolSpec(name="p-pool", size=5)
    with respx.mock:
        put = respx.put(f"{API}/v2/databases/{CID}/pools/p-pool").mock(
            side_effect=[httpx.Response(503, json={"id": "server_error", "message": "x"}), httpx.Response(204)]
        )
        post = respx.post(f"{API}/v2/databases/{CID}/pools").respond(500, json={"id": "server_error", "message": "x"})
        do.update_connection_pool(CID, spec)
        with pytest.raises(errors.ServerError, match="may or may not have been applied"):
            do.add_connection_pool(CID, spec)
    assert put.call_count == 2 and len(sleeps) == 1
    assert post.call_count == 1
    assert json.loads(put.calls.last.request.content) == {"mode": "transaction", "size": 5, "db": "defaultdb",
                                                          "user": "doadmin"}


def test_hourly_quota_longer_than_the_wait_budget_fails_at_once(sleeps: list[float]) -> None:
    do = DigitalOcean(TOKEN, retry=RetryConfig(sleep=sleeps.append, clock=lambda: 1000.0, max_wait=60))
    with respx.mock:
        route = respx.get(f"{API}/v2/databases").respond(
            429, json={"id": "too_many_requests", "message": "API rate limit exceeded."},
            headers={"ratelimit-reset": "4600", "ratelimit-remaining": "0"},
        )
        with pytest.raises(errors.RateLimitedError, match="hourly quota") as info:
            do.list_clusters()
    assert route.call_count == 1 and sleeps == []
    assert info.value.reset_at == 4600


def test_request_count_includes_retries(do: DigitalOcean) -> None:
    with respx.mock:
        respx.get(f"{API}/v2/databases").mock(
            side_effect=[httpx.Response(502, text="bad gateway"), httpx.Response(200, json={"databases": []})]
        )
        assert do.list_clusters() == []
    assert do.request_count == 2


def test_find_cluster_picks_the_only_postgres_cluster(do: DigitalOcean) -> None:
    with respx.mock:
        respx.get(f"{API}/v2/databases").respond(
            200, json={"databases": [cluster_json(), cluster_json("cache", engine="valkey")]}
        )
        assert do.find_cluster(None).name == "app-db"


def test_find_cluster_lists_candidates_when_ambiguous_or_missing(do: DigitalOcean) -> None:
    two = {"databases": [cluster_json(), cluster_json("reports")]}
    with respx.mock:
        respx.get(f"{API}/v2/databases").respond(200, json=two)
        with pytest.raises(errors.ConfigError, match=r"2 PostgreSQL clusters.*app-db.*reports"):
            do.find_cluster(None)
        with pytest.raises(errors.NotFoundError, match="clusters: app-db, reports"):
            do.find_cluster("nope")


def test_find_cluster_by_uuid_is_one_get(do: DigitalOcean) -> None:
    with respx.mock:
        route = respx.get(f"{API}/v2/databases/{CID}").respond(200, json={"database": cluster_json()})
        assert do.find_cluster(CID).id == CID
    assert route.call_count == 1 and do.request_count == 1


def test_every_azure_exception_pydo_can_raise_is_mapped() -> None:
    from azure.core import exceptions as az

    request = httpx.Request("GET", API)
    raised: list[type[BaseException]] = []
    candidates: list[BaseException] = [
        az.ServiceRequestError("connect failed", error=httpx.ConnectError("refused", request=request)),
        az.ServiceResponseError("read timeout", error=httpx.ReadTimeout("slow", request=request)),
        az.DecodeError("bad json"),
        az.ClientAuthenticationError("401"),
        az.ResourceNotFoundError("404"),
        az.ResourceExistsError("409"),
        az.ResourceNotModifiedError("304"),
        az.HttpResponseError("500"),
        az.AzureError("anything else"),
        ValueError("Expecting value"),
    ]
    for exc in candidates:
        with pytest.raises(errors.DoPgpoolError) as info, _map_errors("GET", "/v2/x"):
            raise exc
        raised.append(type(info.value))
    assert errors.TransportError in raised and errors.InvalidResponseError in raised


def test_post_is_sent_again_only_after_a_429_which_is_refused_before_anything_is_applied(
    do: DigitalOcean, sleeps: list[float]
) -> None:
    limited = httpx.Response(429, json={"id": "too_many_requests", "message": "API rate limit exceeded."},
                             headers={"retry-after": "2"})
    created = httpx.Response(201, json={"pool": {"name": "p-pool", "mode": "transaction", "size": 5,
                                                 "db": "defaultdb", "user": "doadmin"}})
    with respx.mock:
        post = respx.post(f"{API}/v2/databases/{CID}/pools").mock(side_effect=[limited, created])
        assert do.add_connection_pool(CID, PoolSpec(name="p-pool", size=5)).name == "p-pool"
    assert post.call_count == 2 and sleeps == [2.0]
