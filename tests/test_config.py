"""``ensure-config``: settings checked before any request, converged = reads only, a change = one PATCH with
only the changed keys; the fake's /config merges and validates like the spec says (or the Assumption does)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

import do_pgpool as lib
from do_pgpool._exceptions import ConfigError
from do_pgpool.ops._config import PROFILES, SETTINGS, ensure_config, parse_settings, plan_config
from do_pgpool.testing import Assumptions, FakeDigitalOcean
from do_pgpool.testing.openapi import load
from tests.cli_runner import invoke

TOKEN = "dop_v1_" + "e" * 8 + "config-token"
CONFIG = "/v2/databases/"


@pytest.fixture
def fake() -> FakeDigitalOcean:
    fake = FakeDigitalOcean()
    fake.add_cluster("app-db", size="db-s-1vcpu-1gb",
                     config={"max_connections": 25, "pgbouncer": {"server_idle_timeout": 600, "autodb_pool_size": 3}})
    return fake


@pytest.fixture
def gateway(fake: FakeDigitalOcean) -> Iterator[lib.DigitalOcean]:
    with lib.DigitalOcean(TOKEN, http=fake.http_client(TOKEN)) as gw:
        yield gw


def patches(fake: FakeDigitalOcean) -> list[object]:
    return [c for c in fake.calls if c.method == "PATCH"]


def stored(fake: FakeDigitalOcean) -> dict[str, object]:
    cluster = next(iter(fake.databases.clusters.values()))
    return dict(cluster.config)


def test_settings_table_matches_the_vendored_schema() -> None:
    schemas = load()["components"]["schemas"]
    for key, setting in SETTINGS.items():
        top, _, sub = key.partition(".")
        schema = schemas["pgbouncer_advanced_config"]["properties"][sub] if sub else \
            schemas["postgres_advanced_config"]["properties"][top]
        assert schema["type"] == ("boolean" if setting.kind is bool else "integer"), key
        assert schema.get("minimum") == setting.minimum and schema.get("maximum") == setting.maximum, key
    for value in PROFILES["web"].values():
        assert isinstance(value, int)
    assert parse_settings([], profile="web") == PROFILES["web"]


@pytest.mark.parametrize(("pair", "words"), [
    ("pgbouncer.server_lifetime=59", "out of range: DigitalOcean accepts 60..86400"),
    ("idle_in_transaction_session_timeout=604800001", "out of range"),
    ("pgbouncer.min_pool_size=-1", "out of range"),
    ("pgbouncer.server_idle_timeout=ten", "must be a whole number"),
    ("pgbouncer.server_reset_query_always=maybe", "true or false"),
    ("work_mem=4", "unknown setting 'work_mem'"),
    ("max_connections=100", "reported, not set"),
    ("pgbouncer.server_idle_timeout", "is not KEY=VALUE"),
])  # fmt: skip
def test_invalid_values_are_refused_before_any_request(fake: FakeDigitalOcean, pair: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(".", r"\.")):
        parse_settings([pair])
    with fake.serve() as url:
        result = invoke(url, "ensure-config", "--set", pair, token=TOKEN)
    assert result.exit_code == 2, result.output
    assert words in result.stderr
    assert fake.calls == []


def test_a_change_is_one_patch_with_only_the_changed_keys(fake: FakeDigitalOcean, gateway: lib.DigitalOcean) -> None:
    desired = parse_settings(["pgbouncer.server_idle_timeout=600", "pgbouncer.server_lifetime=7200",
                              "idle_in_transaction_session_timeout=60000"])  # fmt: skip
    result = ensure_config(gateway, desired)
    assert result.outcome == "updated"
    assert [c.subject for c in result.plan.changes] == ["pgbouncer.server_lifetime",
                                                        "idle_in_transaction_session_timeout"]  # fmt: skip
    assert result.plan.body() == {"pgbouncer": {"server_lifetime": 7200}, "idle_in_transaction_session_timeout": 60000}
    assert len(patches(fake)) == 1
    # the nested object was merged: the keys not sent kept their values
    assert stored(fake)["pgbouncer"] == {"server_idle_timeout": 600, "autodb_pool_size": 3, "server_lifetime": 7200}
    assert result.plan.max_connections == 25

    again = ensure_config(gateway, desired)
    assert again.outcome == "unchanged" and not again.plan
    assert len(patches(fake)) == 1  # converged: reads only
    assert again.requests == 2  # the cluster list (by name: only cluster) + GET .../config


def test_dry_run_sends_nothing(fake: FakeDigitalOcean, gateway: lib.DigitalOcean) -> None:
    result = ensure_config(gateway, PROFILES["web"], dry_run=True)
    assert result.outcome == "would update" and len(result.plan.changes) == 4
    assert patches(fake) == []


def test_plan_is_pure_and_treats_missing_keys_as_changes() -> None:
    cluster = lib.Cluster.from_api({"id": "u", "name": "c", "engine": "pg", "status": "online",
                                    "size": "db-s-1vcpu-1gb", "num_nodes": 1})  # fmt: skip
    plan = plan_config(cluster, {"pgbouncer": {"min_pool_size": 0}}, {"pgbouncer.min_pool_size": 0,
                                                                      "pgbouncer.server_idle_timeout": 300})
    assert [(c.subject, c.before, c.after) for c in plan.changes] == [("pgbouncer.server_idle_timeout", None, 300)]


def test_cli_check_then_apply_then_converged(fake: FakeDigitalOcean) -> None:
    with fake.serve() as url:
        check = invoke(url, "ensure-config", "--profile", "web", "--check", "-o", "json", token=TOKEN)
        assert check.exit_code == 3, check.output
        data = json.loads(check.stdout)
        assert data["action"] == "would update" and data["max_connections"] == 25
        assert patches(fake) == []
        done = invoke(url, "ensure-config", "--profile", "web", token=TOKEN)
        assert done.exit_code == 0, done.output
        assert "~ pgbouncer.server_idle_timeout: 600 -> 300" in done.stdout
        assert len(patches(fake)) == 1
        calls = len(fake.calls)
        again = invoke(url, "ensure-config", "--profile", "web", "--check", token=TOKEN)
        assert again.exit_code == 0, again.output
        assert "config unchanged (2 requests)" in again.stdout
        assert all(c.method == "GET" for c in fake.calls[calls:])
    assert stored(fake)["idle_in_transaction_session_timeout"] == 60000


def test_fake_validates_patch_against_the_schema(fake: FakeDigitalOcean, gateway: lib.DigitalOcean) -> None:
    cluster_id = next(iter(fake.databases.clusters))
    for bad in ({"pgbouncer": {"server_lifetime": 10}}, {"no_such_key": 1}, {"jit": "yes"}):
        with pytest.raises(lib.APIError):
            gateway.update_config(cluster_id, bad)
    assert "no_such_key" not in stored(fake)


def test_fake_replaces_nested_object_under_the_other_assumption() -> None:
    fake = FakeDigitalOcean(assumptions=Assumptions(config_merge_nested=False))
    cluster = fake.add_cluster("app-db", config={"pgbouncer": {"server_idle_timeout": 600, "min_pool_size": 2}})
    with lib.DigitalOcean(TOKEN, http=fake.http_client(TOKEN)) as gw:
        gw.update_config(cluster.id, {"pgbouncer": {"min_pool_size": 0}})
        assert gw.get_config(cluster.id)["pgbouncer"] == {"min_pool_size": 0}


def test_status_reads_the_config_only_when_asked(fake: FakeDigitalOcean, gateway: lib.DigitalOcean) -> None:
    from do_pgpool._exceptions import DatabaseError
    from do_pgpool.ops._status import cluster_status

    def unreachable(uri: str) -> Any:
        raise DatabaseError("no server here", unreachable=True)

    plain = cluster_status(gateway, None, connect_fn=unreachable)
    assert plain.config is None and gateway.request_count == 2  # the cluster list + its pools
    asked = cluster_status(gateway, None, connect_fn=unreachable, with_config=True)
    assert gateway.request_count == 5  # + GET .../config
    assert asked.config == {"pgbouncer.server_idle_timeout": 600, "max_connections": 25}
    assert "settings: pgbouncer.server_idle_timeout 600, max_connections 25" in asked.lines()
    assert asked.as_dict()["config"] == asked.config


def _unreachable(uri: str) -> Any:
    from do_pgpool._exceptions import DatabaseError

    raise DatabaseError("no server here", unreachable=True)


def test_fix_applies_the_settings_only_when_asked(fake: FakeDigitalOcean, gateway: lib.DigitalOcean) -> None:
    pool = lib.PoolRequest(size=10, name="web-pool")
    plain = lib.fix(gateway, lib.FixOptions(pool), connect_fn=_unreachable)
    assert "ensure-config" not in [s.name for s in plain.steps] and plain.config is None
    assert patches(fake) == []

    options = lib.FixOptions(pool, config=parse_settings([], profile="web"))
    dry = lib.fix(gateway, replace(options, dry_run=True), connect_fn=_unreachable)
    assert dry.step("ensure-config").outcome == "planned" and patches(fake) == []

    done = lib.fix(gateway, options, connect_fn=_unreachable)
    step = done.step("ensure-config")
    assert step.outcome == "done" and step.changed and step.summary == "set 4 settings (one PATCH)"
    assert len(patches(fake)) == 1
    assert done.as_dict()["config"]["action"] == "updated"

    again = lib.fix(gateway, options, connect_fn=_unreachable)
    assert again.step("ensure-config").summary == "4 settings already set" and not again.step("ensure-config").changed
    assert len(patches(fake)) == 1


def test_fix_refuses_an_invalid_setting_before_any_request(fake: FakeDigitalOcean) -> None:
    with fake.serve() as url:
        result = invoke(url, "fix", "--size", "10", "--config-set", "pgbouncer.server_lifetime=5", token=TOKEN)
    assert result.exit_code == 2 and "out of range" in result.stderr
    assert fake.calls == []
