"""``list-pools`` and ``delete-pool`` against the fake API, with the pool served by the real local PgBouncer."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from do_pgpool import TLS, ConfigError, TLSPolicy, delete_pool, list_pools, plan_delete_pool
from do_pgpool._exceptions import DatabaseError, PlanError
from do_pgpool.api._gateway import DigitalOcean
from do_pgpool.targets._app import fingerprint, fingerprint_key
from do_pgpool.targets._write import connection_string_for
from do_pgpool.testing import FakeDigitalOcean
from do_pgpool.testing._errors import FakeAPIError
from do_pgpool.testing._servers import PoolAlias, RealServers, psycopg_connect
from tests.cli_runner import assert_none_shown, invoke
from tests.conftest_servers import kick_client_backends, local_cluster

pytestmark = pytest.mark.postgres

TOKEN = "dop_v1_" + "e" * 8 + "pools-cli-token"
POOL = "old-pool"
run = functools.partial(invoke, token=TOKEN)


@pytest.fixture
def servers(pgbouncer_server: RealServers) -> RealServers:
    if POOL not in pgbouncer_server.pools:
        pgbouncer_server.add_pool(POOL, PoolAlias("defaultdb", 5))
    kick_client_backends(pgbouncer_server)
    return pgbouncer_server


@pytest.fixture
def fake(servers: RealServers) -> FakeDigitalOcean:
    fake = FakeDigitalOcean()
    local_cluster(fake, servers)
    fake.add_pool("app-db", POOL, 5)
    fake.add_pool("app-db", "web", 8, mode="session")
    return fake


@pytest.fixture
def api(fake: FakeDigitalOcean) -> Iterator[str]:
    with fake.serve() as url:
        yield url


def writes(fake: FakeDigitalOcean) -> list[Any]:
    return [c for c in fake.calls if c.method != "GET"]


def pool_uri(api: str) -> str:
    with DigitalOcean(TOKEN, api_url=api) as gateway:
        pool = next(p for p in list_pools(gateway, "app-db").pools if p.name == POOL)
    return connection_string_for(pool)


# --- list-pools --------------------------------------------------------------------------------------------


def test_list_pools_shows_every_pool_and_the_budget_line_in_two_requests(api: str, fake: FakeDigitalOcean) -> None:
    result = run(api, "list-pools", "--cluster", "app-db", "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {p["name"]: (p["mode"], p["size"], p["db"], p["user"]) for p in data["pools"]} == {
        POOL: ("transaction", 5, "defaultdb", "doadmin"), "web": ("session", 8, "defaultdb", "doadmin")}
    assert data["budget"] == {"limit": 22, "used": 13, "available": 9}
    assert data["requests"] == len(fake.calls) == 2
    text = run(api, "list-pools", "--cluster", "app-db")
    assert "budget: limit 22, used by pools 13, available 9" in text.stdout
    assert "web: session, size 8, db defaultdb, user doadmin" in text.stdout
    assert_none_shown(text, TOKEN)


# --- delete-pool: live clients ----------------------------------------------------------------------------


def test_delete_pool_refuses_while_a_client_holds_a_transaction_then_force_deletes(
    api: str, fake: FakeDigitalOcean, servers: RealServers
) -> None:
    with psycopg_connect(servers.pool_url(POOL)) as client:
        client.execute("BEGIN")
        client.execute("SELECT 1")  # the server connection is now "idle in transaction" for this client
        refused = run(api, "delete-pool", POOL, "--cluster", "app-db")
        assert refused.exit_code == 1, refused.output
        assert "refusing to delete pool 'old-pool'" in refused.stderr
        assert "live clients: 1 busy server connection(s) of database 'defaultdb', user 'doadmin'" in refused.stderr
        assert "--force" in refused.stderr
        assert writes(fake) == []
        assert POOL in fake.databases.cluster("app-db").pools
        forced = run(api, "delete-pool", POOL, "--cluster", "app-db", "--force")
        assert forced.exit_code == 0, forced.output
        assert "warning (--force): live clients" in forced.stderr
        assert "deleted pool 'old-pool' on cluster app-db" in forced.stdout
        client.rollback()
    assert POOL not in fake.databases.cluster("app-db").pools
    assert [(c.method, c.path.rsplit("/", 1)[-1]) for c in writes(fake)] == [("DELETE", POOL)]
    again = run(api, "delete-pool", POOL, "--cluster", "app-db")
    assert again.exit_code == 0, again.output
    assert "does not exist on cluster app-db: nothing to delete" in again.stdout
    assert len(writes(fake)) == 1
    assert_none_shown(again, TOKEN, servers.password)


def test_an_idle_client_between_transactions_does_not_block(api: str, fake: FakeDigitalOcean,
                                                            servers: RealServers) -> None:
    with psycopg_connect(servers.pool_url(POOL)) as client:
        client.execute("SELECT 1")  # autocommit: the transaction is over, the server connection is released
        result = run(api, "delete-pool", POOL, "--cluster", "app-db", "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["action"] == "deleted" and data["clients"]["busy"] == 0


def test_dry_run_writes_nothing(api: str, fake: FakeDigitalOcean) -> None:
    result = run(api, "delete-pool", POOL, "--cluster", "app-db", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "- delete pool 'old-pool'" in result.stdout
    assert "would delete" in result.stdout and "nothing was changed" in result.stdout
    assert writes(fake) == []
    assert POOL in fake.databases.cluster("app-db").pools
    calls = len(fake.calls)
    data = json.loads(run(api, "delete-pool", POOL, "--cluster", "app-db", "--dry-run", "-o", "json").stdout)
    assert data["action"] == "would delete" and data["dry_run"] is True
    assert data["requests"] == len(fake.calls) - calls == 3  # the cluster list, its pools and its CA


def test_a_plain_text_404_on_delete_is_done(api: str, fake: FakeDigitalOcean, servers: RealServers) -> None:
    with DigitalOcean(TOKEN, api_url=api) as gateway:
        plan = plan_delete_pool(gateway.find_cluster("app-db"), gateway.list_connection_pools(
            fake.databases.cluster("app-db").id), POOL, force=True)
        fake.databases.cluster("app-db").pools.pop(POOL)  # gone meanwhile: the DELETE answers 404
        from do_pgpool import apply_delete_pool

        result = apply_delete_pool(gateway, plan)
    assert result.outcome == "deleted"
    assert [c.status for c in writes(fake)] == [404]


# --- delete-pool: secret targets --------------------------------------------------------------------------


def test_a_dotenv_pointing_at_the_pool_blocks_and_is_named(api: str, fake: FakeDigitalOcean, tmp_path: Path,
                                                          servers: RealServers) -> None:
    env = tmp_path / ".env"
    env.write_text(f"OTHER=1\nDATABASE_URL='{pool_uri(api)}'\n")
    before = env.read_bytes()
    result = run(api, "delete-pool", POOL, "--cluster", "app-db", "--secret", f"dotenv:{env}")
    assert result.exit_code == 1, result.output
    assert f"secret DATABASE_URL at dotenv:{env} still points at the pool" in result.stderr
    assert writes(fake) == [] and env.read_bytes() == before
    assert_none_shown(result, TOKEN, servers.password)
    env.write_text("DATABASE_URL=postgresql://u:p@elsewhere:25061/other-pool\n")
    ok = run(api, "delete-pool", POOL, "--cluster", "app-db", "--secret", f"dotenv:{env}")
    assert ok.exit_code == 0, ok.output
    assert "does not point at the pool" in ok.stdout


def test_an_app_secret_with_the_pools_fingerprint_blocks(api: str, fake: FakeDigitalOcean) -> None:
    uri = pool_uri(api)
    app = fake.add_app("web-app", envs={"DATABASE_URL": uri})
    fp = fingerprint(app.id, "DATABASE_URL", uri)
    fake.apps.apps[app.id].spec["envs"].append(
        {"key": fingerprint_key("DATABASE_URL"), "value": fp, "scope": "RUN_TIME", "type": "GENERAL"})
    result = run(api, "delete-pool", POOL, "--cluster", "app-db", "--secret", "app:web-app")
    assert result.exit_code == 1, result.output
    assert "secret DATABASE_URL at app:web-app still points at the pool" in result.stderr
    assert "fingerprint" in result.stderr
    assert writes(fake) == []


def test_github_cannot_be_read_and_says_so(api: str, fake: FakeDigitalOcean) -> None:
    result = run(api, "delete-pool", POOL, "--cluster", "app-db", "--secret", "github:acme/web", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "github:acme/web: DATABASE_URL cannot be known (GitHub never returns a secret's value)" in result.stdout


# --- delete-pool: the database cannot be reached ----------------------------------------------------------


def test_unreachable_database_refuses_unless_force(api: str, fake: FakeDigitalOcean) -> None:
    def unreachable(url: str) -> Any:
        raise DatabaseError("cannot reach PostgreSQL: nothing answered", unreachable=True)

    with DigitalOcean(TOKEN, api_url=api) as gateway:
        with pytest.raises(PlanError, match="live clients unknown: PostgreSQL could not be read"):
            delete_pool(gateway, POOL, cluster="app-db", connect_fn=unreachable)
        assert writes(fake) == []
        result = delete_pool(gateway, POOL, cluster="app-db", connect_fn=unreachable, force=True)
    assert result.outcome == "deleted"
    assert result.plan.warnings and "could not be read" in result.plan.warnings[0]



def test_only_the_pools_own_user_counts_and_a_busy_direct_session_of_it_does(
    api: str, fake: FakeDigitalOcean, servers: RealServers
) -> None:
    """What is measured: busy backends of the pool's db and user; PostgreSQL cannot tell PgBouncer's from direct."""
    with psycopg_connect(servers.direct_url("app")) as other_user:
        other_user.execute("BEGIN")
        other_user.execute("SELECT 1")
        result = run(api, "delete-pool", POOL, "--cluster", "app-db", "--dry-run", "-o", "json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["clients"] == {"db": "defaultdb", "user": "doadmin", "busy": 0,
                                                        "by_state": {}}  # fmt: skip
        other_user.rollback()
    with psycopg_connect(servers.direct_url()) as direct:
        direct.execute("BEGIN")
        direct.execute("SELECT 1")
        refused = run(api, "delete-pool", POOL, "--cluster", "app-db", "--dry-run")
        direct.rollback()
    assert refused.exit_code == 1 and "1 idle in transaction" in refused.stderr


def test_an_inbound_user_pool_counts_every_users_busy_connections(
    api: str, fake: FakeDigitalOcean, servers: RealServers
) -> None:
    if "inbound" not in servers.pools:
        servers.add_pool("inbound", PoolAlias("defaultdb", 3))
    fake.add_pool("app-db", "inbound", 3, user=None)
    with psycopg_connect(servers.pool_url("inbound", user="app")) as client:
        client.execute("BEGIN")
        client.execute("SELECT 1")
        refused = run(api, "delete-pool", "inbound", "--cluster", "app-db")
        client.rollback()
    assert refused.exit_code == 1, refused.output
    assert "of database 'defaultdb' (any user: inbound-user pool)" in refused.stderr
    assert "inbound" in fake.databases.cluster("app-db").pools and writes(fake) == []


# --- delete-pool: TLS of the client check -----------------------------------------------------------------

WRONG_CA = "-----BEGIN CERTIFICATE-----\nTUlJQ0ZBS0U=\n-----END CERTIFICATE-----\n"  # decodes, verifies nothing


def ca_reads(fake: FakeDigitalOcean) -> int:
    return sum(1 for c in fake.calls if c.path.endswith("/ca"))


def test_the_client_check_verifies_with_the_clusters_ca_and_a_wrong_ca_refuses(
    api: str, fake: FakeDigitalOcean, servers: RealServers, tmp_path: Path
) -> None:
    ok = run(api, "delete-pool", POOL, "--cluster", "app-db", "--dry-run", "-o", "json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["clients"]["busy"] == 0 and "warning" not in ok.stderr
    assert ca_reads(fake) == 1
    fake.databases.cluster("app-db").ca_pem = WRONG_CA
    refused = run(api, "delete-pool", POOL, "--cluster", "app-db")
    assert refused.exit_code == 1, refused.output
    assert "live clients unknown" in refused.stderr and "TLS verification of PostgreSQL failed" in refused.stderr
    assert writes(fake) == []
    # an existing --ca-file is used as it is (no read of the wrong CA), and require skips the CA
    good = tmp_path / "good.crt"
    good.write_text(servers.ca_pem)
    reads = ca_reads(fake)
    assert run(api, "delete-pool", POOL, "--cluster", "app-db", "--ca-file", str(good), "--dry-run").exit_code == 0
    assert run(api, "delete-pool", POOL, "--cluster", "app-db", "--sslmode", "require", "--dry-run").exit_code == 0
    assert ca_reads(fake) == reads
    assert_none_shown(refused, TOKEN, servers.password)


def test_an_unreadable_ca_falls_back_with_a_warning_unless_verify_full_was_asked(
    api: str, fake: FakeDigitalOcean, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(database_cluster_uuid: str) -> object:
        raise FakeAPIError(403, "You are not authorized to perform this operation")

    monkeypatch.setattr(fake.databases, "get_ca", forbidden)
    result = run(api, "delete-pool", POOL, "--cluster", "app-db", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "cannot read the CA of cluster app-db" in result.stderr
    assert "Pass --ca-file PATH to verify, or --sslmode require" in result.stderr
    strict = run(api, "delete-pool", POOL, "--cluster", "app-db", "--sslmode", "verify-full")
    assert strict.exit_code == 2, strict.output
    assert "--sslmode verify-full needs it" in strict.output
    assert writes(fake) == []


def test_library_callers_pass_the_public_policy_and_its_warning_names_parameters(
    api: str, fake: FakeDigitalOcean, monkeypatch: pytest.MonkeyPatch
) -> None:
    warnings: list[str] = []
    with DigitalOcean(TOKEN, api_url=api) as gateway:
        with TLSPolicy(gateway) as policy:
            plan = delete_pool(gateway, POOL, cluster="app-db", dry_run=True, tls=policy).plan
            assert policy(plan.cluster).sslmode == "verify-full"
        assert plan.activity is not None and plan.activity_error is None

        def forbidden(database_cluster_uuid: str) -> object:
            raise FakeAPIError(403, "You are not authorized to perform this operation")

        monkeypatch.setattr(fake.databases, "get_ca", forbidden)
        with TLSPolicy(gateway, warn=warnings.append) as policy:
            delete_pool(gateway, POOL, cluster="app-db", dry_run=True, tls=policy)
            assert policy(plan.cluster) == TLS("require")
        with pytest.raises(ConfigError, match="sslmode=verify-full needs it"):
            delete_pool(gateway, POOL, cluster="app-db", tls=TLSPolicy(gateway, sslmode="verify-full"))
    assert len(warnings) == 1
    assert "Pass ca_file=PATH to verify, or sslmode=require to say this is intended" in warnings[0]
    assert "--" not in warnings[0]
