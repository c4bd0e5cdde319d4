"""``--my-ip`` / ``--temporary-access`` end to end: the fake API's cluster is the real local PostgreSQL, behind
trusted sources that do not include this machine."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

import pytest

from do_pgpool.testing import FakeDigitalOcean
from do_pgpool.testing._servers import RealServers
from tests.cli_runner import assert_none_shown, invoke
from tests.conftest_servers import POOL_NAME, local_cluster

TOKEN = "dop_v1_" + "f" * 8 + "firewall-cli-token"
ME = "203.0.113.7"
OTHERS = [{"type": "tag", "value": "backend"}, {"type": "ip_addr", "value": "192.0.2.10", "description": "office"}]

pytestmark = pytest.mark.postgres
run = functools.partial(invoke, token=TOKEN)


@pytest.fixture
def locked(pgbouncer_server: RealServers, empty_pg: RealServers) -> Iterator[tuple[FakeDigitalOcean, str, str]]:
    fake = FakeDigitalOcean()
    cluster = local_cluster(fake, pgbouncer_server)
    fake.add_pool(cluster, POOL_NAME, 20)
    fake.databases.update_firewall_rules(cluster.id, {"rules": OTHERS})
    with fake.serve() as url:
        yield fake, url, cluster.id


def _rules(fake: FakeDigitalOcean, cid: str) -> list[dict[str, Any]]:
    return fake.databases.list_firewall_rules(cid)


def test_an_untrusted_address_is_said_plainly_before_any_connection(locked: tuple[FakeDigitalOcean, str, str]) -> None:
    fake, url, cid = locked
    fake.databases.update_firewall_rules(cid, {"rules": [OTHERS[1]]})  # only ip_addr rules: decidable
    result = run(url, "status", "--cluster", "app-db", "--my-ip", ME)
    assert result.exit_code == 1
    assert f"{ME} is not among the cluster's trusted sources" in result.stderr
    assert f"type ip_addr, value {ME}" in result.stderr and "--temporary-access" in result.stderr
    assert "live:" not in result.stdout  # it did not connect and time out: it stopped first


def _calls(fake: FakeDigitalOcean, url: str, *args: str) -> tuple[Any, list[tuple[str, str]]]:
    before = len(fake.calls)
    result = run(url, *args)
    return result, [(c.method, c.path) for c in fake.calls[before:]]


@pytest.mark.parametrize("command", [["status", "--no-advice"], ["terminate-idle", "--dry-run"],
                                     ["fix", "--size", "20", "--dry-run"]])  # fmt: skip
def test_without_my_ip_the_firewall_is_not_read(locked: tuple[FakeDigitalOcean, str, str], command: list[str]) -> None:
    fake, url, cid = locked
    result, calls = _calls(fake, url, *command, "--cluster", "app-db")
    assert ("GET", f"/v2/databases/{cid}/firewall") not in calls, calls
    assert calls.count(("GET", "/v2/databases")) == 1, calls  # one cluster lookup: the command's own
    assert "trusted source" not in result.stderr and "cannot be checked" not in result.stderr, result.stderr


@pytest.mark.parametrize("command", [["status", "--no-advice"], ["terminate-idle", "--dry-run"],
                                     ["fix", "--size", "20", "--dry-run"]])  # fmt: skip
def test_my_ip_costs_one_request(locked: tuple[FakeDigitalOcean, str, str], command: list[str]) -> None:
    fake, url, cid = locked
    _, without = _calls(fake, url, *command, "--cluster", "app-db")
    result, with_ip = _calls(fake, url, *command, "--cluster", "app-db", "--my-ip", ME)
    assert "tag may or may not cover" in result.stderr  # the check ran (and its verdict was worded)
    assert len(with_ip) == len(without) + 1, (without, with_ip)
    assert sorted(with_ip) == sorted([*without, ("GET", f"/v2/databases/{cid}/firewall")])


def test_unknown_address_or_other_rule_types_are_warned_about(locked: tuple[FakeDigitalOcean, str, str]) -> None:
    _, url, _ = locked
    result = run(url, "status", "--cluster", "app-db", "--no-advice", "--my-ip", ME)
    assert "tag may or may not cover" in result.stderr
    assert "temporary_access" not in result.stderr and "--temporary-access" in result.stderr


def test_temporary_access_adds_then_removes_exactly_its_rule(
    locked: tuple[FakeDigitalOcean, str, str], pgbouncer_server: RealServers
) -> None:
    fake, url, cid = locked
    before = _rules(fake, cid)
    result = run(url, "status", "--cluster", "app-db", "--my-ip", ME, "--temporary-access", "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["usage"] is not None  # it connected, inside the access window
    assert f"added trusted source ip_addr {ME}" in result.stderr and f"removed trusted source ip_addr {ME}" in (
        result.stderr)
    puts = fake.calls_to("PUT", f"/v2/databases/{cid}/firewall")
    assert len(puts) == 2  # one to add, one to remove
    assert _rules(fake, cid) == before
    assert_none_shown(result, TOKEN, pgbouncer_server.password)


def test_temporary_access_after_a_failing_command(locked: tuple[FakeDigitalOcean, str, str]) -> None:
    fake, url, cid = locked
    before = _rules(fake, cid)
    fake.faults.fail_next("GET", "/pools", status=403, times=20)  # the run fails in the middle (after the add)
    result = run(url, "fix", "--cluster", "app-db", "--size", "20", "--my-ip", ME, "--temporary-access")
    assert result.exit_code == 1 and "403" in result.output, result.output
    assert len(fake.calls_to("PUT", f"/v2/databases/{cid}/firewall")) == 2
    assert _rules(fake, cid) == before, result.output


def test_temporary_access_needs_an_address(locked: tuple[FakeDigitalOcean, str, str]) -> None:
    fake, url, cid = locked
    result = run(url, "fix", "--cluster", "app-db", "--size", "20", "--temporary-access")
    assert result.exit_code == 2 and "--my-ip" in result.stderr
    assert fake.calls_to("PUT", f"/v2/databases/{cid}/firewall") == []


def test_dry_run_adds_nothing(locked: tuple[FakeDigitalOcean, str, str]) -> None:
    fake, url, cid = locked
    result = run(url, "terminate-idle", "--cluster", "app-db", "--my-ip", ME, "--temporary-access", "--dry-run")
    assert f"would add trusted source ip_addr {ME}" in result.stderr
    assert fake.calls_to("PUT", f"/v2/databases/{cid}/firewall") == []


def test_an_open_cluster_is_left_alone(locked: tuple[FakeDigitalOcean, str, str]) -> None:
    fake, url, cid = locked
    fake.databases.update_firewall_rules(cid, {"rules": []})
    result = run(url, "status", "--cluster", "app-db", "--my-ip", ME, "--temporary-access", "--no-advice")
    assert result.exit_code == 0, result.output
    assert fake.calls_to("PUT", f"/v2/databases/{cid}/firewall") == [] and _rules(fake, cid) == []
    assert "trusted source" not in result.stderr
