"""GitHub Actions secrets over a respx fake that holds real Curve25519 key pairs: we decrypt what was PUT."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import respx
from nacl.encoding import Base64Encoder
from nacl.public import PrivateKey, SealedBox

from do_pgpool._exceptions import (
    AuthenticationError,
    ConfigError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from do_pgpool.api._github import GitHub, github_settings_from_env, open_github, seal
from do_pgpool.api._retry import RetryConfig

API = "https://api.github.com"
TOKEN = "ghp_testtoken0123456789"
PASSWORD = "AVNS_s3cr3tPassw0rd-xyz"
URL = f"postgresql://doadmin:{PASSWORD}@db-pg-fra1-1234.b.db.ondigitalocean.com:25061/app-pool?sslmode=require"


@dataclass
class FakeGitHub:
    """Repository and environment secrets, each scope with its own real key pair."""

    router: respx.MockRouter
    repo_key: PrivateKey = field(default_factory=PrivateKey.generate)
    env_keys: dict[str, PrivateKey] = field(default_factory=dict)
    secrets: dict[tuple[str, str | None], bytes] = field(default_factory=dict)  # (name, env) -> ciphertext
    key_ids_used: list[str] = field(default_factory=list)

    def key_for(self, env: str | None) -> PrivateKey:
        return self.repo_key if env is None else self.env_keys.setdefault(env, PrivateKey.generate())

    def key_id(self, env: str | None) -> str:
        return "repo-key-1" if env is None else f"env-{env}-key-1"

    def public_key(self, request: httpx.Request, env: str | None = None) -> httpx.Response:
        pub = self.key_for(env).public_key.encode(Base64Encoder).decode()
        return httpx.Response(200, json={"key_id": self.key_id(env), "key": pub})

    def put(self, request: httpx.Request, name: str, env: str | None = None) -> httpx.Response:
        body = json.loads(request.content)
        assert set(body) == {"encrypted_value", "key_id"}
        self.key_ids_used.append(body["key_id"])
        if body["key_id"] != self.key_id(env):
            return httpx.Response(422, json={"message": "Bad request - key_id mismatch"})
        existed = (name, env) in self.secrets
        self.secrets[(name, env)] = base64.b64decode(body["encrypted_value"])
        return httpx.Response(204 if existed else 201)

    def decrypt(self, name: str, env: str | None = None) -> str:
        return SealedBox(self.key_for(env)).decrypt(self.secrets[(name, env)]).decode()


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with respx.mock(base_url=API, assert_all_called=False) as router:
        gh = FakeGitHub(router)
        router.get("/repos/acme/web/actions/secrets/public-key").mock(side_effect=gh.public_key)
        router.get(path__regex=r"^/repos/acme/web/environments/(?P<env>[^/]+)/secrets/public-key$").mock(
            side_effect=gh.public_key
        )
        router.put(path__regex=r"^/repos/acme/web/actions/secrets/(?P<name>[A-Z_]+)$").mock(side_effect=gh.put)
        router.put(path__regex=r"^/repos/acme/web/environments/(?P<env>[^/]+)/secrets/(?P<name>[A-Z_]+)$").mock(
            side_effect=gh.put
        )
        yield gh


def client(sleeps: list[float] | None = None) -> GitHub:
    waits = sleeps if sleeps is not None else []
    return GitHub(TOKEN, http=httpx.Client(), retry=RetryConfig(sleep=waits.append, clock=lambda: 0.0))


def test_repository_secret_is_sealed_to_the_repository_key(fake: FakeGitHub) -> None:
    gh = client()
    assert gh.put_secret("acme/web", "DATABASE_URL", URL) == "created"
    assert fake.decrypt("DATABASE_URL") == URL
    assert gh.put_secret("acme/web", "DATABASE_URL", URL) == "updated"  # 204 on the second PUT
    assert fake.decrypt("DATABASE_URL") == URL


def test_environment_secret_uses_the_environment_key_not_the_repository_key(fake: FakeGitHub) -> None:
    gh = client()
    assert gh.put_secret("acme/web", "DATABASE_URL", URL, environment="production") == "created"
    assert fake.key_ids_used == ["env-production-key-1"]
    assert fake.decrypt("DATABASE_URL", "production") == URL
    with pytest.raises(Exception):  # noqa: B017 - the repository key cannot open it
        SealedBox(fake.repo_key).decrypt(fake.secrets[("DATABASE_URL", "production")])
    assert ("DATABASE_URL", None) not in fake.secrets


def test_requests_carry_the_documented_headers(fake: FakeGitHub) -> None:
    client().put_secret("acme/web", "DATABASE_URL", URL)
    for call in fake.router.calls:
        headers = call.request.headers
        assert headers["accept"] == "application/vnd.github+json"
        assert headers["x-github-api-version"] == "2022-11-28"
        assert headers["authorization"] == f"Bearer {TOKEN}"
        assert PASSWORD.encode() not in call.request.content  # only ciphertext travels


def test_seal_round_trips_with_the_private_key() -> None:
    key = PrivateKey.generate()
    sealed = seal(key.public_key.encode(Base64Encoder).decode(), URL)
    assert SealedBox(key).decrypt(base64.b64decode(sealed)).decode() == URL


def _error_router(status: int, headers: dict[str, str] | None = None) -> respx.MockRouter:
    router = respx.mock(base_url=API, assert_all_called=False)
    router.get(path__regex=r".*/public-key$").mock(
        return_value=httpx.Response(status, json={"message": "Bad credentials"}, headers=headers)
    )
    return router


def test_401_says_the_token_is_invalid_or_expired() -> None:
    with _error_router(401), pytest.raises(AuthenticationError) as info:
        client().put_secret("acme/web", "DATABASE_URL", URL)
    text = str(info.value)
    assert "invalid or expired" in text and info.value.status == 401
    assert TOKEN not in text and PASSWORD not in text


def test_403_names_the_missing_permissions_and_the_builtin_token() -> None:
    with _error_router(403), pytest.raises(AuthenticationError) as info:
        client().put_secret("acme/web", "DATABASE_URL", URL)
    text = str(info.value)
    assert "`repo` scope" in text
    assert "Secrets: read and write" in text
    assert "secrets: write" in text  # GitHub App
    assert "built-in GITHUB_TOKEN cannot write secrets" in text
    assert TOKEN not in text and PASSWORD not in text


def test_404_on_an_environment_mentions_the_environment_and_permissions() -> None:
    with _error_router(404), pytest.raises(NotFoundError) as info:
        client().put_secret("acme/web", "DATABASE_URL", URL, environment="staging")
    text = str(info.value)
    assert "environment 'staging'" in text
    assert "access to that environment" in text
    assert "GitHub answers 404 rather than 403" in text


def test_403_rate_limit_is_retried_not_reported_as_permission(fake: FakeGitHub) -> None:
    route = fake.router.get("/repos/acme/web/actions/secrets/public-key")
    pub = fake.repo_key.public_key.encode(Base64Encoder).decode()
    route.side_effect = [
        httpx.Response(403, json={"message": "secondary rate limit"}, headers={"retry-after": "7"}),
        httpx.Response(200, json={"key_id": "repo-key-1", "key": pub}),
    ]
    sleeps: list[float] = []
    assert client(sleeps).put_secret("acme/web", "DATABASE_URL", URL) == "created"
    assert sleeps == [7.0]


def test_5xx_and_transport_errors_are_retried_with_injected_sleep(fake: FakeGitHub) -> None:
    route = fake.router.put(path__regex=r"^/repos/acme/web/actions/secrets/(?P<name>[A-Z_]+)$")
    route.side_effect = [httpx.Response(502), httpx.ReadTimeout("slow"), fake.put]
    sleeps: list[float] = []
    assert client(sleeps).put_secret("acme/web", "DATABASE_URL", URL) == "created"
    assert len(sleeps) == 2
    assert fake.decrypt("DATABASE_URL") == URL


def test_persistent_5xx_surfaces_as_server_error_after_bounded_attempts() -> None:
    with _error_router(503) as router:
        with pytest.raises(ServerError):
            client().put_secret("acme/web", "DATABASE_URL", URL)
        assert router.calls.call_count == 5


def test_429_becomes_rate_limited_error_when_retries_run_out() -> None:
    with _error_router(429, {"retry-after": "1"}), pytest.raises(RateLimitedError) as info:
        client().put_secret("acme/web", "DATABASE_URL", URL)
    assert info.value.retry_after == 1.0


def test_dispatch_workflow_posts_ref_and_inputs() -> None:
    with respx.mock(base_url=API) as router:
        route = router.post("/repos/acme/web/actions/workflows/deploy.yml/dispatches").mock(
            return_value=httpx.Response(204)
        )
        client().dispatch_workflow("acme/web", "deploy.yml", "main", {"reason": "pool"})
    assert json.loads(route.calls.last.request.content) == {"ref": "main", "inputs": {"reason": "pool"}}


def test_dispatch_is_not_retried_after_a_5xx() -> None:
    with respx.mock(base_url=API) as router:
        route = router.post("/repos/acme/web/actions/workflows/deploy.yml/dispatches").mock(
            return_value=httpx.Response(500)
        )
        with pytest.raises(ServerError):
            client().dispatch_workflow("acme/web", "deploy.yml", "main")
    assert route.call_count == 1  # the run may have started: never dispatch twice


def test_dispatch_is_retried_when_the_connection_failed() -> None:
    with respx.mock(base_url=API) as router:
        route = router.post("/repos/acme/web/actions/workflows/deploy.yml/dispatches")
        route.side_effect = [httpx.ConnectError("refused"), httpx.Response(204)]
        sleeps: list[float] = []
        client(sleeps).dispatch_workflow("acme/web", "deploy.yml", "main")
    assert route.call_count == 2 and sleeps == [1.0]


def test_dispatch_422_explains_workflow_dispatch() -> None:
    with respx.mock(base_url=API) as router:
        router.post("/repos/acme/web/actions/workflows/deploy.yml/dispatches").mock(
            return_value=httpx.Response(422, json={"message": "Workflow does not have 'workflow_dispatch' trigger"})
        )
        with pytest.raises(ConflictError, match="on: workflow_dispatch"):
            client().dispatch_workflow("acme/web", "deploy.yml", "main")


def test_non_json_public_key_answer_is_a_transport_error() -> None:
    with respx.mock(base_url=API) as router:
        router.get("/repos/acme/web/actions/secrets/public-key").mock(return_value=httpx.Response(200, text="<html>"))
        with pytest.raises(TransportError):
            client().get_public_key("acme/web")


def test_settings_come_from_github_token_then_gh_token_and_api_url() -> None:
    assert github_settings_from_env({"GH_TOKEN": "b"}) == ("b", API)
    assert github_settings_from_env({"GITHUB_TOKEN": "a", "GH_TOKEN": "b"}) == ("a", API)
    ghes = "https://ghe.example.com/api/v3"
    assert github_settings_from_env({"GITHUB_TOKEN": "a", "GITHUB_API_URL": ghes}) == ("a", ghes)
    with pytest.raises(ConfigError, match="GITHUB_TOKEN"):
        github_settings_from_env({})


def test_api_url_base_is_used_for_github_enterprise() -> None:
    with respx.mock() as router:
        route = router.get("https://ghe.example.com/api/v3/repos/acme/web/actions/secrets/public-key").mock(
            return_value=httpx.Response(200, json={"key_id": "k", "key": "A" * 43 + "="})  # 32 bytes
        )
        env = {"GITHUB_TOKEN": "a", "GITHUB_API_URL": "https://ghe.example.com/api/v3/"}
        gh = open_github(env, http=httpx.Client())
        assert gh.get_public_key("acme/web").key_id == "k"
    assert route.called


def test_plain_http_only_to_loopback() -> None:
    with pytest.raises(ConfigError, match="plain http"):
        GitHub(TOKEN, api_url="http://github.example.com")
    assert GitHub(TOKEN, api_url="http://127.0.0.1:8080").api_url == "http://127.0.0.1:8080"


def test_repr_hides_the_token() -> None:
    assert TOKEN not in repr(GitHub(TOKEN))


@pytest.mark.parametrize("repo", ["acme", "acme/web/x", "-acme/web", "acme/"])
def test_malformed_repository_is_a_config_error(repo: str) -> None:
    with pytest.raises(ConfigError, match="OWNER/REPO"):
        client().get_public_key(repo)
