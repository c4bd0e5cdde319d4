"""GitHub Actions secrets: real sealed boxes per repository and environment, decryptable by the test."""

from __future__ import annotations

import base64

import httpx
from nacl.public import PublicKey, SealedBox

from do_pgpool.testing import FakeDigitalOcean


def seal(public_key: dict[str, str], value: str) -> str:
    box = SealedBox(PublicKey(base64.b64decode(public_key["key"])))
    return base64.b64encode(box.encrypt(value.encode())).decode()


def github(fake: FakeDigitalOcean) -> httpx.Client:
    return fake.http_client(token="ghp_fake", base_url="https://api.github.com")


def test_repository_secret_round_trip(fake: FakeDigitalOcean) -> None:
    fake.github.add_repo("acme/web")
    with github(fake) as gh:
        key = gh.get("/repos/acme/web/actions/secrets/public-key").json()
        body = {"encrypted_value": seal(key, "postgres://pool"), "key_id": key["key_id"]}
        created = gh.put("/repos/acme/web/actions/secrets/DATABASE_URL", json=body)
        updated = gh.put("/repos/acme/web/actions/secrets/DATABASE_URL", json=body)
        listed = gh.get("/repos/acme/web/actions/secrets").json()

    assert (created.status_code, updated.status_code) == (201, 204)
    assert fake.github.secret_value("acme/web", "DATABASE_URL") == "postgres://pool"
    assert [s["name"] for s in listed["secrets"]] == ["DATABASE_URL"]


def test_environment_secrets_need_the_environment_key(fake: FakeDigitalOcean) -> None:
    fake.github.add_repo("acme/web", environments=("production",))
    with github(fake) as gh:
        repo_key = gh.get("/repos/acme/web/actions/secrets/public-key").json()
        env_key = gh.get("/repos/acme/web/environments/production/secrets/public-key").json()
        url = "/repos/acme/web/environments/production/secrets/DATABASE_URL"
        wrong = gh.put(url, json={"encrypted_value": seal(repo_key, "v"), "key_id": repo_key["key_id"]})
        right = gh.put(url, json={"encrypted_value": seal(env_key, "v"), "key_id": env_key["key_id"]})

    assert repo_key["key_id"] != env_key["key_id"]
    assert (wrong.status_code, right.status_code) == (422, 201)
    assert fake.github.secret_value("acme/web", "DATABASE_URL", environment="production") == "v"


def test_bad_names_unknown_repos_and_missing_auth(fake: FakeDigitalOcean) -> None:
    fake.github.add_repo("acme/web")
    with github(fake) as gh:
        key = gh.get("/repos/acme/web/actions/secrets/public-key").json()
        body = {"encrypted_value": seal(key, "v"), "key_id": key["key_id"]}
        assert gh.put("/repos/acme/web/actions/secrets/GITHUB_TOKEN", json=body).status_code == 422
        missing = gh.get("/repos/acme/api/actions/secrets/public-key")
    with fake.http_client(token=None, base_url="https://api.github.com") as anonymous:
        unauthenticated = anonymous.get("/repos/acme/web/actions/secrets/public-key")

    assert (missing.status_code, missing.json()["message"]) == (404, "Not Found")
    assert unauthenticated.status_code == 401
    assert "ratelimit-limit" not in missing.headers


def test_workflow_dispatch_is_recorded(fake: FakeDigitalOcean) -> None:
    repo = fake.github.add_repo("acme/web", workflows=("deploy.yml",))
    with github(fake) as gh:
        ok = gh.post("/repos/acme/web/actions/workflows/deploy.yml/dispatches", json={"ref": "main"})
        unknown = gh.post("/repos/acme/web/actions/workflows/other.yml/dispatches", json={"ref": "main"})
        no_ref = gh.post("/repos/acme/web/actions/workflows/deploy.yml/dispatches", json={})

    assert (ok.status_code, unknown.status_code, no_ref.status_code) == (204, 404, 422)
    assert repo.dispatches == [{"workflow_id": "deploy.yml", "ref": "main", "inputs": {}}]


def test_keys_are_real_and_deterministic() -> None:
    a, b = FakeDigitalOcean(), FakeDigitalOcean()
    ka = a.github.add_repo("acme/web").repo.public_key()

    assert ka == b.github.add_repo("acme/web").repo.public_key()
    assert len(base64.b64decode(ka["key"])) == 32
    assert a.github.decrypt(seal(ka, "hello"), "acme/web") == "hello"
