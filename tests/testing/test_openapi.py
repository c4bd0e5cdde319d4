"""Every answer the fake gives (success and error, every DigitalOcean route) agrees with DigitalOcean's
OpenAPI description, and so does every request body the fake accepts."""

from __future__ import annotations

import copy

import httpx
import pytest

from do_pgpool.testing import FakeDigitalOcean
from do_pgpool.testing._routes import ROUTES, match
from tests.openapi_check import validate_request, validate_response
from tests.testing.conftest import pool_body

Exchange = tuple[httpx.Request, httpx.Response]


def tour(fake: FakeDigitalOcean) -> list[Exchange]:
    """Drive every DigitalOcean route the fake implements, with successes and errors."""
    exchanges: list[Exchange] = []

    def recording(request: httpx.Request) -> httpx.Response:
        response = fake.handle(request)
        response.read()
        exchanges.append((request, response))
        return response

    cluster = fake.add_cluster("app-db", tags=("production",), maintenance_pending=True, num_nodes=1)
    multi = fake.add_cluster("ha-db", size="db-s-2vcpu-4gb", num_nodes=2)
    app = fake.add_app("web-app", envs={"GLOBAL": "1"}, component_envs={"web": {"DATABASE_URL": "postgres://x"}})
    fake.add_token("ro", view_credentials=False, write=False)
    db = f"/v2/databases/{cluster.id}"
    with httpx.Client(
        transport=httpx.MockTransport(recording),
        base_url="https://api.digitalocean.com",
        headers={"authorization": "Bearer t"},
    ) as http:
        http.get("/v2/databases")
        http.get("/v2/databases", params={"tag_name": "production"})
        http.get("/v2/databases/options")
        http.get(db)
        http.get(f"/v2/databases/{multi.id}")
        http.post(f"/v2/databases/{multi.id}/pools", json=pool_body("ha-pool", 10))
        http.get(f"/v2/databases/{multi.id}/pools/ha-pool")
        http.get("/v2/databases/00000000-0000-0000-0000-000000000000")
        http.get(f"{db}/config")
        http.patch(f"{db}/config", json={"config": {"jit": False}})
        http.get(f"{db}/users")
        http.post(f"{db}/users", json={"name": "app"})
        http.post(f"{db}/users", json={"name": "app"})
        http.get(f"{db}/users/app")
        http.get(f"{db}/users/ghost")
        http.get(f"{db}/dbs")
        http.post(f"{db}/dbs", json={"name": "appdb"})
        http.post(f"{db}/pools", json=pool_body("web", 10))
        http.post(f"{db}/pools", json={"name": "shared", "mode": "session", "size": 2, "db": "appdb"})
        http.post(f"{db}/pools", json=pool_body("web", 10))
        http.post(f"{db}/pools", json=pool_body("big", 50))
        http.post(f"{db}/pools", content=b"{", headers={"content-type": "application/json"})
        http.get(f"{db}/pools")
        http.get(f"{db}/pools/web")
        http.get(f"{db}/pools/nope")
        http.put(f"{db}/pools/web", json={"mode": "transaction", "size": 12, "db": "defaultdb", "user": "doadmin"})
        http.delete(f"{db}/pools/shared")
        http.delete(f"{db}/pools/shared")
        http.put(f"{db}/maintenance", json={"day": "monday", "hour": "03:00"})
        http.put(f"{db}/install_update")
        http.get(f"{db}/events")
        http.get("/v2/databases/00000000-0000-0000-0000-000000000000/events")
        http.get(f"{db}/ca")
        http.get("/v2/databases/00000000-0000-0000-0000-000000000000/ca")
        http.get(f"{db}/autoscale")
        http.put(f"{db}/autoscale", json={"storage": {"enabled": True, "threshold_percent": 80, "increment_gib": 10}})
        http.put(f"{db}/autoscale", json={"storage": {"enabled": True, "threshold_percent": 99}})
        http.get(f"{db}/autoscale")
        http.get(f"{db}/no-such-route")
        for _ in range(3):
            http.get(db)
        http.get(f"{db}/events")  # cluster_create and, the update done, cluster_maintenance_perform
        http.put(f"{db}/resize", json={"size": "db-s-2vcpu-4gb", "num_nodes": 1})
        http.put(f"{db}/resize", json={"size": "db-s-4vcpu-8gb", "num_nodes": 1})
        fake.faults.maintenance(multi)
        http.put(f"/v2/databases/{multi.id}/resize", json={"size": "db-s-4vcpu-8gb", "num_nodes": 2})
        fake.faults.fail_next("GET", "/pools$", status=500)
        http.get(f"{db}/pools")
        fake.faults.rate_limit_burst(1)
        http.get(db)
        http.get(db, headers={"authorization": ""})
        http.get(db, headers={"authorization": "Bearer ro"})
        http.delete(f"{db}/pools/web", headers={"authorization": "Bearer ro"})
        # App Platform
        http.get("/v2/apps")
        http.get("/v2/apps", params={"per_page": 1, "page": 1})
        current = http.get(f"/v2/apps/{app.id}").json()["app"]
        spec = copy.deepcopy(current["spec"])
        spec["services"][0]["envs"][0]["value"] = "postgres://pool"
        http.put(f"/v2/apps/{app.id}", json={"spec": spec, "update_all_source_versions": False})
        http.put(f"/v2/apps/{app.id}", json={"spec": {"name": "NOT VALID"}})
        deployment = http.post(f"/v2/apps/{app.id}/restart", json={"components": ["web"]}).json()["deployment"]
        http.post(f"/v2/apps/{app.id}/restart")
        http.get(f"/v2/apps/{app.id}/deployments")
        http.get(f"/v2/apps/{app.id}/deployments/{deployment['id']}")
        http.get(f"/v2/apps/{app.id}/deployments/nope")
        http.get("/v2/apps/nope")
    return exchanges


@pytest.fixture(scope="module")
def exchanges() -> list[Exchange]:
    return tour(FakeDigitalOcean())


def test_the_tour_covers_every_digitalocean_route_with_a_success_and_an_error(exchanges: list[Exchange]) -> None:
    outcomes: dict[str, set[bool]] = {}
    for request, response in exchanges:
        found = match(request.method, request.url.path)
        if found is None:
            assert response.status_code == 404  # the tour's one unknown route
            continue
        outcomes.setdefault(found[0].handler, set()).add(response.status_code < 400)
    do_routes = {r.handler for r in ROUTES if r.service == "digitalocean"}
    assert {h for h, seen in outcomes.items() if True in seen} == do_routes
    assert sum(1 for seen in outcomes.values() if False in seen) >= 10
    assert {r.status_code for _, r in exchanges} >= {200, 201, 202, 204, 400, 401, 403, 404, 412, 422, 429, 500}


def test_every_response_matches_the_openapi_description(exchanges: list[Exchange]) -> None:
    failures = []
    for request, response in exchanges:
        if match(request.method, request.url.path) is None:
            continue  # a route not in the description; its 404 body is checked with the other errors below
        try:
            validate_response(request, response)
        except Exception as exc:  # collect them all: one report names every mismatch
            failures.append(f"{request.method} {request.url.path} -> {response.status_code}: {exc!r}")
    assert failures == []


def test_every_accepted_request_matches_the_openapi_description(exchanges: list[Exchange]) -> None:
    accepted = [(q, r) for q, r in exchanges if r.status_code < 300 and q.headers.get("authorization")]
    failures = []
    for request, _ in accepted:
        try:
            validate_request(request)
        except Exception as exc:
            failures.append(f"{request.method} {request.url.path}: {exc!r}")
    assert failures == [] and len(accepted) > 25


def test_error_bodies_are_digitalocean_errors_with_request_ids(exchanges: list[Exchange]) -> None:
    errors = [r for _, r in exchanges if r.status_code >= 400]
    for response in errors:
        body = response.json()
        assert set(body) == {"id", "message", "request_id"}
        assert body["request_id"] == response.headers["x-request-id"]
        assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= set(response.headers)
