"""Target parsing, connection_string_for, and write_secrets across targets (independent failures, dry run)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from nacl.encoding import Base64Encoder
from nacl.public import PrivateKey, SealedBox

from do_pgpool._exceptions import (
    AuthenticationError,
    ConfigError,
    CredentialsMissingError,
    NotFoundError,
    PlanError,
)
from do_pgpool._models import Cluster, Pool
from do_pgpool.api._github import GitHub
from do_pgpool.api._retry import RetryConfig
from do_pgpool.targets._app import AppTarget
from do_pgpool.targets._base import TargetOutcome, summarize_value, validate_secret_name
from do_pgpool.targets._parse import format_target, parse_target
from do_pgpool.targets._simple import DotenvTarget, GitHubTarget, Redeploy, StdoutTarget
from do_pgpool.targets._write import connection_string_for, write_secrets

PASSWORD = "AVNS_s3cr3tPassw0rd-xyz"
HOST = "db-pg-fra1-1234.b.db.ondigitalocean.com"
URL = f"postgresql://doadmin:{PASSWORD}@{HOST}:25061/app-pool?sslmode=require"
DIRECT = f"postgresql://doadmin:{PASSWORD}@{HOST}:25060/defaultdb?sslmode=require"
API = "https://api.github.com"


# -- parsing ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("github:acme/web", GitHubTarget("acme", "web")),
        ("github:acme/web.site@production", GitHubTarget("acme", "web.site", "production")),
        ("app:web-shop", AppTarget("web-shop")),
        ("app:web-shop/api", AppTarget("web-shop", "api")),
        ("app:c2a93513-8d9b-4223-9d61-5e7272c81cf5", AppTarget("c2a93513-8d9b-4223-9d61-5e7272c81cf5")),
        ("dotenv:/srv/app/.env", DotenvTarget("/srv/app/.env")),
        ("dotenv:relative/.env", DotenvTarget("relative/.env")),
        ("stdout", StdoutTarget()),
    ],
)
def test_parse_target(text: str, expected: object) -> None:
    assert parse_target(text) == expected


def test_labels_are_canonical() -> None:
    assert parse_target("github:acme/web@prod").label == "github:acme/web@prod"
    assert parse_target("app:shop/api").label == "app:shop/api"
    assert parse_target("dotenv:/x/.env").label == "dotenv:/x/.env"


def test_dotenv_path_expands_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/deploy")
    assert parse_target("dotenv:~/app/.env") == DotenvTarget("/home/deploy/app/.env")


@pytest.mark.parametrize(
    ("text", "example"),
    [
        ("github:acme", "github:octo-org/web-app"),
        ("github:acme/web@", "github:octo-org/web-app@production"),
        ("github:acme/web/extra", "github:OWNER/REPO"),
        ("app:", "app:web-shop"),
        ("app:shop/api/extra", "app:APP/COMPONENT"),
        ("dotenv:", "dotenv:/srv/app/.env"),
        ("dotenv:/srv/app/", "dotenv:PATH"),
        ("vault:secret/db", "github:OWNER/REPO"),
        ("github", "dotenv:PATH"),
        ("", "stdout"),
        ("dotenv:/srv/{pool}/.env", "{cluster}"),
    ],
)
def test_malformed_targets_are_config_errors_with_an_example(text: str, example: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_target(text)
    assert example in str(info.value)


def test_cluster_placeholder_is_formatted_later() -> None:
    t = parse_target("github:acme/{cluster}-web@{cluster}")
    assert t.label == "github:acme/{cluster}-web@{cluster}"
    assert format_target(t, cluster="prod") == GitHubTarget("acme", "prod-web", "prod")
    d = format_target(parse_target("dotenv:/srv/{cluster}/.env"), cluster="db1")
    assert d == DotenvTarget("/srv/db1/.env")
    assert format_target(parse_target("app:{cluster}-app/web"), cluster="db1") == AppTarget("db1-app", "web")
    plain = parse_target("stdout")
    assert format_target(plain, cluster="x") is plain


def test_formatting_keeps_the_bound_client() -> None:
    gh = GitHub("t")
    t = parse_target("github:acme/{cluster}").bind(github=gh)  # type: ignore[union-attr]
    formatted = format_target(t, cluster="db1")
    assert isinstance(formatted, GitHubTarget) and formatted.client is gh


def test_placeholder_must_format_into_a_valid_target() -> None:
    t = parse_target("github:acme/{cluster}")
    with pytest.raises(ConfigError):
        format_target(t, cluster="bad/name")


@pytest.mark.parametrize("name", ["", "1URL", "DATABASE-URL", "github_token", "A B"])
def test_invalid_secret_names(name: str) -> None:
    with pytest.raises(ConfigError):
        validate_secret_name(name)


def test_summary_masks_the_password_or_hides_non_urls() -> None:
    assert summarize_value(URL) == f"postgresql://doadmin:***@{HOST}:25061/app-pool?sslmode=require"
    assert summarize_value("hunter2") == "<7 characters>"


# -- connection_string_for -------------------------------------------------------------------------------


def pool(password: str = PASSWORD, private: bool = True) -> Pool:
    def conn(host: str) -> dict[str, Any]:
        uri = f"postgresql://doadmin:{password}@{host}:25061/app-pool?sslmode=require"
        if not password:
            uri = f"postgresql://doadmin:@{host}:25061/app-pool?sslmode=require"
        return {"uri": uri, "host": host, "port": 25061, "database": "app-pool", "user": "doadmin",
                "password": password, "ssl": True}

    data: dict[str, Any] = {"name": "app-pool", "mode": "transaction", "size": 20, "db": "defaultdb",
                            "user": "doadmin", "connection": conn(HOST)}
    if private:
        data["private_connection"] = conn("private-" + HOST)
    return Pool.from_api(data)


def test_connection_string_is_the_uri_exactly_as_given() -> None:
    assert connection_string_for(pool()) == URL
    assert connection_string_for(pool(), private=True) == URL.replace(HOST, "private-" + HOST)


def test_direct_string_from_the_cluster() -> None:
    cluster = Cluster.from_api({
        "id": "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30", "name": "db", "engine": "pg", "status": "online",
        "size": "db-s-1vcpu-1gb", "num_nodes": 1,
        "connection": {"uri": DIRECT, "host": HOST, "port": 25060, "database": "defaultdb", "user": "doadmin",
                       "password": PASSWORD, "ssl": True},
    })
    assert connection_string_for(cluster) == DIRECT


def test_missing_password_is_refused_and_says_which_scope() -> None:
    with pytest.raises(CredentialsMissingError) as info:
        connection_string_for(pool(password=""))
    assert "database:view_credentials" in str(info.value)
    assert "Create a token" in str(info.value)


def test_missing_private_connection_is_a_plan_error() -> None:
    with pytest.raises(PlanError, match="without private=True"):
        connection_string_for(pool(private=False), private=True)


def test_write_secrets_refuses_a_password_less_url_before_touching_any_target(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    with pytest.raises(CredentialsMissingError):
        write_secrets([DotenvTarget(str(env))], {"DATABASE_URL": f"postgresql://doadmin@{HOST}:25061/app-pool"})
    assert not env.exists()


def test_write_secrets_refuses_invalid_names(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        write_secrets([DotenvTarget(str(tmp_path / ".env"))], {"DATABASE-URL": URL})


# -- write_secrets across targets ------------------------------------------------------------------------


class GitHubFake:
    def __init__(self, router: respx.MockRouter) -> None:
        self.key = PrivateKey.generate()
        self.stored: dict[str, bytes] = {}
        self.dispatches: list[dict[str, Any]] = []
        pub = self.key.public_key.encode(Base64Encoder).decode()
        router.get("/repos/acme/web/actions/secrets/public-key").mock(
            return_value=httpx.Response(200, json={"key_id": "k1", "key": pub})
        )
        router.put(path__regex=r"^/repos/acme/web/actions/secrets/(?P<name>\w+)$").mock(side_effect=self.put)
        router.post("/repos/acme/web/actions/workflows/deploy.yml/dispatches").mock(side_effect=self.dispatch)
        router.get("/repos/acme/private/actions/secrets/public-key").mock(
            return_value=httpx.Response(403, json={"message": "Resource not accessible by integration"})
        )

    def put(self, request: httpx.Request, name: str) -> httpx.Response:
        existed = name in self.stored
        self.stored[name] = base64.b64decode(json.loads(request.content)["encrypted_value"])
        return httpx.Response(204 if existed else 201)

    def dispatch(self, request: httpx.Request) -> httpx.Response:
        self.dispatches.append(json.loads(request.content))
        return httpx.Response(204)

    def value(self, name: str) -> str:
        return SealedBox(self.key).decrypt(self.stored[name]).decode()


@pytest.fixture
def github() -> Iterator[tuple[GitHub, GitHubFake]]:
    with respx.mock(base_url=API, assert_all_called=False) as router:
        fake = GitHubFake(router)
        yield GitHub("ghp_x", http=httpx.Client(), retry=RetryConfig(sleep=lambda s: None)), fake


def _all_text(outcomes: list[TargetOutcome]) -> list[str]:
    texts: list[str] = []
    for o in outcomes:
        texts += [o.describe(), repr(o), json.dumps(o.as_dict()), str(o.error or "")]
        texts += [c.describe() for c in o.changes]
    return texts


def test_one_failing_target_does_not_stop_the_others(tmp_path: Path, github: tuple[GitHub, GitHubFake]) -> None:
    gh, fake = github
    env = tmp_path / ".env"
    targets = [parse_target(t) for t in ("github:acme/private", "github:acme/web", f"dotenv:{env}", "stdout")]
    values = {"DATABASE_URL": URL, "DIRECT_DATABASE_URL": DIRECT}
    outcomes = write_secrets(targets, values, github=gh)
    assert [o.action for o in outcomes] == ["failed", "created", "created", "printed"]
    assert isinstance(outcomes[0].error, AuthenticationError)
    assert "built-in GITHUB_TOKEN" in str(outcomes[0].error)
    assert fake.value("DATABASE_URL") == URL and fake.value("DIRECT_DATABASE_URL") == DIRECT
    assert env.read_text() == f"DATABASE_URL={URL}\nDIRECT_DATABASE_URL={DIRECT}\n"
    assert outcomes[3].output == values  # the CLI prints these
    assert not [t for t in _all_text(outcomes) if PASSWORD in t]


def test_rerun_finishes_the_job_and_reports_unchanged(tmp_path: Path, github: tuple[GitHub, GitHubFake]) -> None:
    gh, _ = github
    env = tmp_path / ".env"
    targets = [parse_target("github:acme/web"), parse_target(f"dotenv:{env}")]
    write_secrets(targets, {"DATABASE_URL": URL}, github=gh)
    again = write_secrets(targets, {"DATABASE_URL": URL}, github=gh)
    assert [o.action for o in again] == ["updated", "unchanged"]  # GitHub: 204, cannot tell more


def test_dry_run_writes_nothing_and_shows_no_value(tmp_path: Path, github: tuple[GitHub, GitHubFake]) -> None:
    gh, fake = github
    env = tmp_path / ".env"
    targets = [parse_target(t) for t in ("github:acme/web", "github:acme/private", f"dotenv:{env}", "stdout")]
    outcomes = write_secrets(targets, {"DATABASE_URL": URL}, github=gh, dry_run=True,
                             redeploy=Redeploy("deploy.yml", "main"))
    assert [o.action for o in outcomes] == ["unknown", "failed", "create", "unknown"]
    assert all(o.dry_run for o in outcomes)
    assert "GitHub cannot tell whether it changed" in outcomes[0].changes[0].detail
    assert "would dispatch workflow deploy.yml on main" in outcomes[0].detail
    assert fake.stored == {} and fake.dispatches == [] and not env.exists()
    assert outcomes[3].output == {}
    assert not [t for t in _all_text(outcomes) if PASSWORD in t]


def test_redeploy_dispatches_after_the_secret_is_written(github: tuple[GitHub, GitHubFake]) -> None:
    gh, fake = github
    (outcome,) = write_secrets([parse_target("github:acme/web")], {"DATABASE_URL": URL}, github=gh,
                               redeploy=Redeploy("deploy.yml", "main", {"why": "pool"}))
    assert outcome.ok and "workflow deploy.yml dispatched on main" in outcome.detail
    assert fake.dispatches == [{"ref": "main", "inputs": {"why": "pool"}}]


def test_github_target_without_a_client_fails_with_token_hint() -> None:
    (outcome,) = write_secrets([parse_target("github:acme/web")], {"DATABASE_URL": URL})
    assert isinstance(outcome.error, ConfigError) and "GITHUB_TOKEN" in str(outcome.error)


def test_errors_echoing_the_value_are_scrubbed() -> None:
    class Echoing:
        def list_apps(self) -> list[dict[str, Any]]:
            raise NotFoundError(f"invalid env value {URL}", status=422, api_message=f"bad {PASSWORD}")

        def get_app(self, app_id: str) -> dict[str, Any]:
            raise AssertionError("not called")

        def update_app(self, app_id: str, spec: dict[str, Any]) -> dict[str, Any]:
            raise AssertionError("not called")

        def get_deployment(self, app_id: str, deployment_id: str) -> dict[str, Any]:
            raise AssertionError("not called")

    (outcome,) = write_secrets([parse_target("app:shop")], {"DATABASE_URL": URL}, apps=Echoing())
    assert outcome.error is not None
    assert PASSWORD not in str(outcome.error) and PASSWORD not in (outcome.error.api_message or "")  # type: ignore[attr-defined]
    assert "***" in str(outcome.error)


def test_stdout_output_is_not_in_repr_or_json() -> None:
    (outcome,) = write_secrets([StdoutTarget()], {"DATABASE_URL": URL})
    assert outcome.output == {"DATABASE_URL": URL}
    assert PASSWORD not in repr(outcome) and PASSWORD not in json.dumps(outcome.as_dict())
