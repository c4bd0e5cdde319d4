"""Secrets carry the credentials DigitalOcean serves for the pool *after* the write, and inbound-user pools
get theirs from ``secret_user``; plus the gateway's answers to plain-text 404s and its 403 scope hints."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from do_pgpool import _exceptions as errors
from do_pgpool.api._gateway import DigitalOcean
from do_pgpool.ops._fleet import ensure_fleet
from do_pgpool.ops._pool import ensure_pool
from do_pgpool.ops._pool_plan import PoolRequest, PoolSize
from do_pgpool.targets._parse import parse_target
from do_pgpool.targets._secret_values import secret_values
from do_pgpool.targets._spec import SecretsSpec
from do_pgpool.testing import FakeDigitalOcean
from tests.cli_runner import assert_none_shown, invoke

TOKEN = "dop_v1_" + "c" * 8 + "credentials-token"
APP_PASSWORD = "app-password-0123456789"
run = functools.partial(invoke, token=TOKEN)


@pytest.fixture
def fake() -> FakeDigitalOcean:
    fake = FakeDigitalOcean()
    cluster = fake.add_cluster("app-db", size="db-s-1vcpu-1gb")
    fake.add_user(cluster, "app", password=APP_PASSWORD)
    fake.add_pool(cluster, "defaultdb-pool", 10, user="doadmin")
    return fake


@pytest.fixture
def gateway(fake: FakeDigitalOcean) -> Iterator[DigitalOcean]:
    with DigitalOcean(TOKEN, http=fake.http_client(TOKEN)) as gw:
        yield gw


@pytest.fixture
def api(fake: FakeDigitalOcean) -> Iterator[str]:
    with fake.serve() as url:
        yield url


def dotenv_url(path: Path) -> str:
    line = next(line for line in path.read_text().splitlines() if line.startswith("DATABASE_URL="))
    return line.partition("=")[2].strip().strip("'\"")


def password(fake: FakeDigitalOcean, user: str) -> str:
    return fake.cluster("app-db").users[user].password


# --- the fake serves the pool user's credentials -----------------------------------------------------------


def test_fake_serves_the_pool_users_credentials_and_none_for_an_inbound_pool(fake: FakeDigitalOcean) -> None:
    cluster = fake.cluster("app-db")
    fake.add_pool(cluster, "app-pool", 3, user="app")
    fake.add_pool(cluster, "inbound-pool", 3, user=None)
    app = cluster.pools["app-pool"].to_api()["connection"]
    assert (app["user"], app["password"]) == ("app", APP_PASSWORD)
    assert urlsplit(app["uri"]).username == "app" and urlsplit(app["uri"]).password == APP_PASSWORD
    inbound = cluster.pools["inbound-pool"].to_api()["connection"]
    assert (inbound["user"], inbound["password"]) == ("", "")
    assert inbound["host"] and inbound["port"] and inbound["uri"]


# --- after a write, the pool is read again -----------------------------------------------------------------


def test_user_change_returns_the_new_users_credentials_with_one_more_read(
    fake: FakeDigitalOcean, gateway: DigitalOcean
) -> None:
    cluster_id = fake.cluster("app-db").id
    result = ensure_pool(gateway, PoolRequest(size=10, user="app"), cluster=cluster_id, fresh_connection=True)
    assert result.outcome == "updated"
    assert result.current is not None and result.current.connection is not None
    assert result.current.connection.user == "app"
    assert result.current.connection.password == APP_PASSWORD
    assert [c.method for c in fake.calls] == ["GET", "GET", "PUT", "GET"]
    assert fake.calls[-1].path.endswith("/pools/defaultdb-pool")


def test_user_change_without_fresh_connection_returns_no_stale_connection(
    fake: FakeDigitalOcean, gateway: DigitalOcean
) -> None:
    cluster_id = fake.cluster("app-db").id
    result = ensure_pool(gateway, PoolRequest(size=10, user="app"), cluster=cluster_id)
    assert result.outcome == "updated" and result.requests == 3
    assert result.current is not None and result.current.user == "app"
    assert result.current.connection is None  # doadmin's old connection would be a wrong secret


def test_cli_secret_after_user_change_has_the_pool_users_password(
    fake: FakeDigitalOcean, api: str, tmp_path: Path
) -> None:
    env = tmp_path / ".env"
    result = run(api, "ensure-pool", "--cluster", "app-db", "--size", "10", "--user", "app",
                 "--secret", f"dotenv:{env}")  # fmt: skip
    assert result.exit_code == 0, result.output
    url = urlsplit(dotenv_url(env))
    assert (url.username, url.password) == ("app", APP_PASSWORD)
    assert url.path == "/defaultdb-pool"
    assert_none_shown(result, TOKEN, APP_PASSWORD, password(fake, "doadmin"))


def test_fleet_secret_after_user_change_has_the_pool_users_password(
    fake: FakeDigitalOcean, tmp_path: Path
) -> None:
    template = PoolRequest(PoolSize(10), user="app")
    spec = SecretsSpec((parse_target(f"dotenv:{tmp_path}/{{cluster}}.env"),))
    result = ensure_fleet(lambda: DigitalOcean(TOKEN, http=fake.http_client(TOKEN)), template, tag=None, secrets=spec)
    assert result.ok and result.outcomes[0].outcome == "updated"
    url = urlsplit(dotenv_url(tmp_path / "app-db.env"))
    assert (url.username, url.password) == ("app", APP_PASSWORD)


# --- inbound-user pools -------------------------------------------------------------------------------------


def test_inbound_pool_with_a_secret_and_no_secret_user_is_refused_before_any_request(
    fake: FakeDigitalOcean, api: str, tmp_path: Path
) -> None:
    result = run(api, "ensure-pool", "--size", "5", "--name", "in-pool", "--inbound-user",
                 "--secret", f"dotenv:{tmp_path / '.env'}")  # fmt: skip
    assert result.exit_code == 2
    assert "--secret-user NAME" in result.stderr and "view_credentials" not in result.stderr
    assert fake.calls == []


def test_inbound_pool_secret_gets_the_pool_address_and_the_secret_users_credentials(
    fake: FakeDigitalOcean, api: str, tmp_path: Path
) -> None:
    env = tmp_path / ".env"
    result = run(api, "ensure-pool", "--cluster", "app-db", "--size", "5", "--name", "in-pool", "--inbound-user",
                 "--secret", f"dotenv:{env}", "--secret-user", "app")  # fmt: skip
    assert result.exit_code == 0, result.output
    served = fake.cluster("app-db").pools["in-pool"].to_api()["connection"]
    url = urlsplit(dotenv_url(env))
    assert (url.username, url.password) == ("app", APP_PASSWORD)
    assert (url.hostname, url.port, url.path) == (served["host"], served["port"], "/in-pool")
    assert url.query == urlsplit(served["uri"]).query
    assert fake.calls_to("GET", f"/v2/databases/{fake.cluster('app-db').id}/users/app")
    assert_none_shown(result, TOKEN, APP_PASSWORD)


def test_rewrite_secret_of_an_existing_inbound_pool_says_to_name_a_user(
    fake: FakeDigitalOcean, api: str, tmp_path: Path
) -> None:
    fake.add_pool("app-db", "in-pool", 3, user=None)
    env = tmp_path / ".env"
    result = run(api, "rewrite-secret", "--pool", "in-pool", "--secret", f"dotenv:{env}")
    assert result.exit_code == 1
    assert "no user of its own (inbound user)" in result.stderr and "--secret-user NAME" in result.stderr
    assert "create a token" not in result.stderr.lower()
    assert not env.exists()
    fixed = run(api, "rewrite-secret", "--pool", "in-pool", "--secret", f"dotenv:{env}", "--secret-user", "app")
    assert fixed.exit_code == 0, fixed.output
    assert urlsplit(dotenv_url(env)).password == APP_PASSWORD


def test_secret_user_for_a_pool_with_another_user_is_refused(fake: FakeDigitalOcean, gateway: DigitalOcean) -> None:
    cluster_id = fake.cluster("app-db").id
    pool = gateway.get_connection_pool(cluster_id, "defaultdb-pool")
    with pytest.raises(errors.PlanError, match="logs in to PostgreSQL as 'doadmin'"):
        secret_values(gateway, cluster_id, pool, name="DATABASE_URL", secret_user="app")


def test_secret_user_without_view_credentials_names_the_scope(fake: FakeDigitalOcean) -> None:
    fake.add_token("read-only-creds-token", view_credentials=False)
    fake.add_pool("app-db", "in-pool", 3, user=None)
    cluster_id = fake.cluster("app-db").id
    with DigitalOcean("read-only-creds-token", http=fake.http_client("read-only-creds-token")) as gw:
        pool = gw.get_connection_pool(cluster_id, "in-pool")
        with pytest.raises(errors.CredentialsMissingError, match="database:view_credentials"):
            secret_values(gw, cluster_id, pool, name="DATABASE_URL", secret_user="app")


# --- plain-text 404 and 403 scopes ----------------------------------------------------------------------


def _gateway_with(fake: FakeDigitalOcean, override: dict[tuple[str, str], httpx.Response]) -> DigitalOcean:
    def handle(request: httpx.Request) -> httpx.Response:
        for (method, suffix), response in override.items():
            if request.method == method and request.url.path.endswith(suffix):
                return response
        return fake.handle(request)

    return DigitalOcean(TOKEN, api_url="https://api.digitalocean.com",
                        http=httpx.Client(transport=httpx.MockTransport(handle)))  # fmt: skip


def test_plain_text_404_on_delete_means_already_gone(fake: FakeDigitalOcean) -> None:
    plain = httpx.Response(404, text="404 page not found", headers={"content-type": "text/plain; charset=utf-8"})
    with _gateway_with(fake, {("DELETE", "/pools/gone-pool"): plain}) as gw:
        gw.delete_connection_pool(fake.cluster("app-db").id, "gone-pool")  # no error: absent is done
        with pytest.raises(errors.NotFoundError):
            _gateway_with(fake, {("GET", "/pools/gone-pool"): plain}).get_connection_pool(
                fake.cluster("app-db").id, "gone-pool"
            )


def test_plain_text_200_is_still_invalid_json(fake: FakeDigitalOcean) -> None:
    plain = httpx.Response(200, text="hello", headers={"content-type": "text/plain"})
    with _gateway_with(fake, {("GET", "/pools"): plain}) as gw, pytest.raises(errors.InvalidResponseError):
        gw.list_connection_pools(fake.cluster("app-db").id)


FORBIDDEN = httpx.Response(403, json={"id": "forbidden", "message": "You do not have permission."})


@pytest.mark.parametrize(
    ("call", "method", "suffix", "scope"),
    [
        (lambda gw: gw.restart_app("8d5fb1a0-0000-4000-8000-000000000001"), "POST", "/restart", "app:update scope"),
        (lambda gw: gw.update_app("8d5fb1a0-0000-4000-8000-000000000001", {}), "PUT", "000001", "app:update scope"),
        (lambda gw: gw.list_clusters(tag_name="prod"), "GET", "/v2/databases", "database:read and tag:read scopes"),
        (lambda gw: gw.list_clusters(), "GET", "/v2/databases", "database:read scope"),
    ],
)
def test_403_names_the_scope_the_call_needs(
    fake: FakeDigitalOcean, call: object, method: str, suffix: str, scope: str
) -> None:
    with _gateway_with(fake, {(method, suffix): FORBIDDEN}) as gw, pytest.raises(errors.AuthenticationError) as info:
        call(gw)  # type: ignore[operator]
    assert f"lacks the {scope} for this call" in str(info.value)


# --- fix: the same secret path --------------------------------------------------------------------------


def _no_database(url: str) -> object:
    raise errors.DatabaseError("connection refused (test: no database here)")


def test_fix_writes_the_new_pool_users_credentials(
    fake: FakeDigitalOcean, gateway: DigitalOcean, tmp_path: Path
) -> None:
    from do_pgpool.ops._fix import fix

    env = tmp_path / ".env"
    result = fix(gateway, PoolRequest(size=10, user="app"), cluster="app-db", targets=[parse_target(f"dotenv:{env}")],
                 connect_fn=_no_database, verify_timeout=2)  # type: ignore[arg-type]  # fmt: skip
    assert result.step("ensure-pool").changed and result.step("secrets").outcome == "done"
    url = urlsplit(dotenv_url(env))
    assert (url.username, url.password) == ("app", APP_PASSWORD)


def test_fix_refuses_an_inbound_pool_with_targets_and_no_secret_user_before_any_request(
    fake: FakeDigitalOcean, gateway: DigitalOcean, tmp_path: Path
) -> None:
    from do_pgpool.ops._fix import fix

    with pytest.raises(errors.ConfigError, match="secret_user=NAME"):
        fix(gateway, PoolRequest(size=5, inbound_user=True), targets=[parse_target(f"dotenv:{tmp_path}/.env")])
    assert fake.calls == []


def test_secret_user_that_does_not_exist_says_so(fake: FakeDigitalOcean, gateway: DigitalOcean) -> None:
    fake.add_pool("app-db", "in-pool", 3, user=None)
    cluster_id = fake.cluster("app-db").id
    pool = gateway.get_connection_pool(cluster_id, "in-pool")
    with pytest.raises(errors.PlanError, match="database user 'nobody' does not exist"):
        secret_values(gateway, cluster_id, pool, name="DATABASE_URL", secret_user="nobody")


# --- an unknown --secret-user is refused before any write ------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["ensure-pool", "--cluster", "app-db", "--size", "5", "--name", "in-pool", "--inbound-user"],
        ["ensure-pool", "--size", "5", "--name", "in-pool", "--inbound-user"],
        ["fix", "--size", "5", "--name", "in-pool", "--inbound-user"],
        ["rewrite-secret", "--pool", "defaultdb-pool"],
    ],
    ids=["ensure-pool", "ensure-pool-no-cluster", "fix", "rewrite-secret"],
)
def test_an_unknown_secret_user_is_refused_like_an_unknown_user_before_any_write(
    fake: FakeDigitalOcean, api: str, tmp_path: Path, command: list[str]
) -> None:
    fake.add_pool("app-db", "old-pool", 2, user=None)  # rewrite-secret --pool: a pool without a user
    if command[0] == "rewrite-secret":
        command = ["rewrite-secret", "--pool", "old-pool"]
    env = tmp_path / ".env"
    result = run(api, *command, "--secret", f"dotenv:{env}", "--secret-user", "nobody")
    assert result.exit_code == 2, result.output  # as for an unknown --user: the cluster's users say so
    assert "database user 'nobody' does not exist on cluster 'app-db' (users: doadmin, app)" in result.stderr
    assert "--secret-user" in result.stderr
    assert [c for c in fake.calls if c.method != "GET"] == []
    assert "in-pool" not in fake.cluster("app-db").pools and not env.exists()
    assert not fake.calls_to("GET", f"/v2/databases/{fake.cluster('app-db').id}/users/")  # the list sufficed


def test_an_unknown_secret_user_is_asked_for_when_the_cluster_does_not_list_users(
    fake: FakeDigitalOcean, gateway: DigitalOcean
) -> None:
    from dataclasses import replace

    cluster = replace(gateway.find_cluster("app-db"), users=())
    spec = SecretsSpec(targets=(parse_target("stdout"),), secret_user="nobody")
    with pytest.raises(errors.ConfigError, match="database user 'nobody' does not exist on cluster 'app-db',"):
        spec.check_user(gateway, cluster)
    assert len(fake.calls_to("GET", f"/v2/databases/{cluster.id}/users/nobody")) == 1
    replace(spec, secret_user="app").check_user(gateway, cluster)  # a user that exists: no error
    SecretsSpec(secret_user="nobody").check_user(gateway, cluster)  # no targets: nothing to check


def test_fleet_mode_refuses_an_unknown_secret_user_per_cluster_before_its_pool(
    fake: FakeDigitalOcean, api: str, tmp_path: Path
) -> None:
    result = run(api, "ensure-pool", "--all", "--size", "5", "--name", "in-pool", "--inbound-user",
                 "--secret", f"dotenv:{tmp_path}/{{cluster}}.env", "--secret-user", "nobody")  # fmt: skip
    assert result.exit_code == 1, result.output  # fleet mode: a failed cluster
    assert "database user 'nobody' does not exist on cluster 'app-db'" in result.output + result.stderr
    assert [c for c in fake.calls if c.method != "GET"] == []
    assert "in-pool" not in fake.cluster("app-db").pools and not list(tmp_path.iterdir())
