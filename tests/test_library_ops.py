"""The commands' work from Python: ``rewrite_secret``, ``terminate_idle``, ``fix(gateway, FixOptions(...))`` and
the one ``SecretsSpec`` they share (no CLI involved)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
import pytest

import do_pgpool as lib
from do_pgpool.testing import FakeDigitalOcean
from do_pgpool.testing._servers import RealServers, psycopg_connect
from tests.conftest_servers import POOL_NAME, local_cluster

TOKEN = "dop_v1_" + "a" * 8 + "library-ops-token"


@pytest.fixture
def fake() -> FakeDigitalOcean:
    fake = FakeDigitalOcean()
    cluster = fake.add_cluster("app-db", size="db-s-1vcpu-1gb")
    fake.add_pool(cluster, "app-pool", 10)
    return fake


@pytest.fixture
def gateway(fake: FakeDigitalOcean) -> Iterator[lib.DigitalOcean]:
    with lib.DigitalOcean(TOKEN, http=fake.http_client(TOKEN)) as gw:
        yield gw


def _dotenv(path: Path) -> lib.SecretsSpec:
    return lib.SecretsSpec((lib.parse_target(f"dotenv:{path}"),))


def _writes(fake: FakeDigitalOcean) -> list[Any]:
    return [c for c in fake.calls if c.method != "GET"]


def test_rewrite_secret_writes_the_only_pool_then_changes_nothing(
    fake: FakeDigitalOcean, gateway: lib.DigitalOcean, tmp_path: Path
) -> None:
    env = tmp_path / ".env"
    first = lib.rewrite_secret(gateway, _dotenv(env), cluster="app-db")
    uri = str(fake.cluster("app-db").pools["app-pool"].to_api()["connection"]["uri"])
    assert first.ok and first.pool.name == "app-pool" and first.cluster.name == "app-db"
    assert [o.action for o in first.outcomes] == ["created"]
    assert f"DATABASE_URL={uri}" in env.read_text() or f"DATABASE_URL='{uri}'" in env.read_text()
    again = lib.rewrite_secret(gateway, _dotenv(env), cluster="app-db", pool="app-pool")
    assert [o.action for o in again.outcomes] == ["unchanged"]
    assert again.as_dict()["secrets"][0]["action"] == "unchanged" and uri not in str(again.as_dict())


def test_rewrite_secret_dry_run_writes_nothing(gateway: lib.DigitalOcean, tmp_path: Path) -> None:
    env = tmp_path / ".env"
    result = lib.rewrite_secret(gateway, _dotenv(env), dry_run=True)
    assert [(o.action, o.dry_run) for o in result.outcomes] == [("create", True)]
    assert not env.exists()


def test_rewrite_secret_refuses_no_target_and_an_ambiguous_pool_before_any_write(
    fake: FakeDigitalOcean, gateway: lib.DigitalOcean, tmp_path: Path
) -> None:
    with pytest.raises(lib.ConfigError, match="secret target"):
        lib.rewrite_secret(gateway, lib.SecretsSpec())
    assert fake.calls == []
    fake.add_pool(fake.cluster("app-db"), "other-pool", 2)
    with pytest.raises(lib.ConfigError, match="app-pool, other-pool"):
        lib.rewrite_secret(gateway, _dotenv(tmp_path / ".env"))
    assert _writes(fake) == [] and not (tmp_path / ".env").exists()


def test_secrets_spec_refuses_the_same_name_twice() -> None:
    with pytest.raises(lib.ConfigError, match="direct_secret_name must differ from secret_name"):
        lib.SecretsSpec((lib.StdoutTarget(),), direct_name="DATABASE_URL")


def _no_database(url: str) -> object:
    raise lib.DatabaseError("connection refused (test: no database here)", unreachable=True)


def test_fix_takes_one_options_object_and_the_older_keywords_mean_the_same(
    fake: FakeDigitalOcean, gateway: lib.DigitalOcean, tmp_path: Path
) -> None:
    env = tmp_path / ".env"
    options = lib.FixOptions(lib.PoolRequest(size=10, name="app-pool"), _dotenv(env), idle_for=0, dry_run=True)
    planned = lib.fix(gateway, options, cluster="app-db", connect_fn=_no_database)  # type: ignore[arg-type]
    older = lib.fix(gateway, lib.PoolRequest(size=10, name="app-pool"), cluster="app-db",
                    connect_fn=_no_database, targets=[lib.parse_target(f"dotenv:{env}")], idle_for=0,  # type: ignore[arg-type]
                    dry_run=True)  # fmt: skip
    steps = [(s.name, s.outcome) for s in planned.steps]
    assert steps == [(s.name, s.outcome) for s in older.steps]
    assert ("secrets", "planned") in steps and _writes(fake) == [] and not env.exists()
    with pytest.raises(TypeError, match="unexpected keyword arguments: size"):
        lib.fix(gateway, lib.PoolRequest(size=10), size=3)
    with pytest.raises(lib.ConfigError, match="idle_for"):
        lib.FixOptions(lib.PoolRequest(size=10), idle_for=float("nan"))


@pytest.mark.postgres
def test_terminate_idle_lists_on_a_dry_run_then_frees_the_slots(
    pgbouncer_server: RealServers, empty_pg: RealServers
) -> None:
    fake = FakeDigitalOcean()
    cluster = local_cluster(fake, pgbouncer_server)
    fake.add_pool(cluster, POOL_NAME, 20)
    with ExitStack() as stack, lib.DigitalOcean(TOKEN, http=fake.http_client(TOKEN)) as gateway:
        leaked: list[psycopg.Connection[Any]] = [
            stack.enter_context(psycopg_connect(pgbouncer_server.direct_url(), application_name="leaky"))
            for _ in range(3)
        ]
        dry = lib.terminate_idle(gateway, "app-db", idle_for=0, application="leaky", dry_run=True)
        assert dry.terminated is None and len(dry.sessions) == 3 and dry.usage.total == 4
        assert all(c.execute("SELECT 1").fetchone() == (1,) for c in leaked)
        done = lib.terminate_idle(gateway, "app-db", idle_for=0, application="leaky")
        assert done.terminated is not None and len(done.terminated.terminated) == 3
        assert done.usage.total == 1 and done.as_dict()["terminated_count"] == 3
        with pytest.raises(psycopg.OperationalError):
            leaked[0].execute("SELECT 1")


def test_fix_reads_the_state_a_failed_pool_step_left_from_the_error_not_its_text(
    fake: FakeDigitalOcean, gateway: lib.DigitalOcean, tmp_path: Path
) -> None:
    fake.faults.fail_next("POST", r"/pools$", status=422, message="refused (test)")
    options = lib.FixOptions(lib.PoolRequest(size=5, name="web-pool"), _dotenv(tmp_path / ".env"))
    result = lib.fix(gateway, options, cluster="app-db", connect_fn=_no_database)  # type: ignore[arg-type]
    failed = result.step("ensure-pool")
    assert failed.error is not None and failed.error.state_left == "the pool does not exist; nothing was changed"
    assert failed.state == "the pool does not exist; nothing was changed; secrets were not written"
    assert "State left: the pool does not exist" in str(failed.error)
    assert not (tmp_path / ".env").exists()


@pytest.mark.parametrize(
    ("said", "login_retry"),
    [("server login has been failing, try again later (server_login_retry)", True),
     ("connection failed: timeout expired", True),
     ("FATAL:  password authentication failed for user \"doadmin\"", False)],
)  # fmt: skip
def test_the_adapter_sets_the_login_retry_fact_once_where_it_reads_the_driver_message(
    said: str, login_retry: bool
) -> None:
    from do_pgpool.postgres._connect import database_error

    error = database_error(psycopg.OperationalError(said), "postgresql://u:pw-123456789@db:25061/p", "connecting to")
    assert error.login_retry is login_retry
    assert "pw-123456789" not in str(error)


def test_rewrite_secret_refuses_a_dotenv_path_that_is_a_folder_before_any_request(
    fake: FakeDigitalOcean, gateway: lib.DigitalOcean, tmp_path: Path
) -> None:
    with pytest.raises(lib.ConfigError, match="folder|directory"):
        lib.rewrite_secret(gateway, _dotenv(tmp_path))
    assert fake.calls == []
