"""App Platform: SECRET values as EV[...] strings, whole-spec updates, deployments advancing over reads."""

from __future__ import annotations

import copy

import httpx

from do_pgpool.testing import FakeDigitalOcean

URL = "postgres://doadmin:pw@db:25060/defaultdb?sslmode=require"


def test_seeded_secrets_are_stored_encrypted(fake: FakeDigitalOcean, http: httpx.Client) -> None:
    app = fake.add_app("web-app", envs={"GLOBAL": "1"}, component_envs={"web": {"DATABASE_URL": URL}})

    spec = http.get(f"/v2/apps/{app.id}").json()["app"]["spec"]

    stored = spec["services"][0]["envs"][0]
    assert stored["type"] == "SECRET" and stored["value"].startswith("EV[1:") and URL not in str(spec)
    assert spec["envs"] == [{"key": "GLOBAL", "value": "1", "type": "GENERAL", "scope": "RUN_AND_BUILD_TIME"}]
    assert fake.apps.env_value(app, "DATABASE_URL", component="web") == URL
    assert fake.apps.env_value(app, "DATABASE_URL") is None  # not defined at app level


def test_update_encrypts_new_plain_secrets_and_keeps_ev_values(fake: FakeDigitalOcean, http: httpx.Client) -> None:
    app = fake.add_app(
        "web-app", component_envs={"web": {"DATABASE_URL": URL, "OTHER": "x"}}, secrets=("DATABASE_URL", "OTHER")
    )
    spec = http.get(f"/v2/apps/{app.id}").json()["app"]["spec"]
    other_ev = spec["services"][0]["envs"][1]["value"]
    new = copy.deepcopy(spec)
    new["services"][0]["envs"][0]["value"] = "postgres://new"

    response = http.put(f"/v2/apps/{app.id}", json={"spec": new, "update_all_source_versions": False})

    assert response.status_code == 200
    envs = response.json()["app"]["spec"]["services"][0]["envs"]
    assert envs[0]["value"].startswith("EV[") and envs[1]["value"] == other_ev
    assert fake.apps.env_value(app, "DATABASE_URL", "web") == "postgres://new"
    assert fake.apps.env_value(app, "OTHER", "web") == "x"


def test_an_ev_value_the_fake_never_issued_is_refused(fake: FakeDigitalOcean, http: httpx.Client) -> None:
    app = fake.add_app("web-app")
    spec = {"name": "web-app", "envs": [{"key": "K", "type": "SECRET", "value": "EV[1:forged:value]"}]}

    assert http.put(f"/v2/apps/{app.id}", json={"spec": spec}).status_code == 422


def test_update_requires_a_valid_spec(fake: FakeDigitalOcean, http: httpx.Client) -> None:
    app = fake.add_app("web-app")

    assert http.put(f"/v2/apps/{app.id}", json={"name": "web-app"}).status_code == 422
    assert http.put(f"/v2/apps/{app.id}", json={"spec": {"name": "Bad_Name"}}).status_code == 422
    assert http.put("/v2/apps/nope", json={"spec": {"name": "web-app"}}).status_code == 404


def test_update_starts_a_deployment_that_becomes_active_over_reads(fake: FakeDigitalOcean, http: httpx.Client) -> None:
    app = fake.add_app("web-app")
    first_active = app.active_deployment_id
    spec = http.get(f"/v2/apps/{app.id}").json()["app"]["spec"]

    updated = http.put(f"/v2/apps/{app.id}", json={"spec": spec}).json()["app"]
    pending = updated["pending_deployment"]
    phases = [
        http.get(f"/v2/apps/{app.id}/deployments/{pending['id']}").json()["deployment"]["phase"] for _ in range(3)
    ]

    assert pending["phase"] == "PENDING_DEPLOY"
    assert phases == ["PENDING_DEPLOY", "DEPLOYING", "ACTIVE"]
    after = http.get(f"/v2/apps/{app.id}").json()["app"]
    assert after["active_deployment"]["id"] == pending["id"] and "pending_deployment" not in after
    assert app.deployments[str(first_active)].phase == "SUPERSEDED"


def test_restart_returns_a_deployment_and_checks_components(fake: FakeDigitalOcean, http: httpx.Client) -> None:
    app = fake.add_app("web-app")

    everything = http.post(f"/v2/apps/{app.id}/restart")
    web = http.post(f"/v2/apps/{app.id}/restart", json={"components": ["web"]})
    unknown = http.post(f"/v2/apps/{app.id}/restart", json={"components": ["worker"]})

    assert everything.status_code == web.status_code == 200
    assert web.json()["deployment"]["phase"] == "PENDING_DEPLOY"
    assert unknown.status_code == 422
    fake.clock.advance(30)
    listed = http.get(f"/v2/apps/{app.id}/deployments").json()
    assert [d["phase"] for d in listed["deployments"]] == ["ACTIVE", "SUPERSEDED", "SUPERSEDED"]
    assert listed["meta"]["total"] == 3


def test_apps_list_is_paginated(fake: FakeDigitalOcean, http: httpx.Client) -> None:
    for i in range(3):
        fake.add_app(f"app-{i}")

    page = http.get("/v2/apps", params={"per_page": 2}).json()

    assert [a["spec"]["name"] for a in page["apps"]] == ["app-0", "app-1"]
    assert page["meta"]["total"] == 3 and "page=2" in page["links"]["pages"]["next"]
