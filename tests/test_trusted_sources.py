"""Trusted sources: the fake's /firewall, the local verdict, and temporary access that always cleans up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from do_pgpool._exceptions import ConfigError, Param, PlanError
from do_pgpool._trusted_sources import check_address, judge_access
from do_pgpool.api._gateway import DigitalOcean
from do_pgpool.api._poll import Backoff, WaitOptions
from do_pgpool.ops._access import AccessLeftError, plan_access, temporary_access
from do_pgpool.testing import FakeDigitalOcean

ME = "203.0.113.7"
OTHERS = [
    {"type": "droplet", "value": "163973392"},
    {"type": "ip_addr", "value": "192.0.2.10", "description": "office"},
    {"type": "tag", "value": "backend"},
]


def _setup(fake: FakeDigitalOcean, rules: list[dict[str, Any]]) -> tuple[DigitalOcean, str]:
    cluster = fake.add_cluster("app-db")
    fake.databases.update_firewall_rules(cluster.id, {"rules": rules})
    return DigitalOcean("fake-token", http=fake.http_client()), cluster.id


def _waiting(fake: FakeDigitalOcean) -> WaitOptions:
    return WaitOptions(timeout=60, clock=fake.clock, sleep=fake.clock.sleep, backoff=Backoff(initial=1))


def test_fake_put_replaces_the_list_and_keeps_rules_sent_back_by_uuid(fake_do: FakeDigitalOcean) -> None:
    gw, cid = _setup(fake_do, OTHERS)
    listed = gw.list_firewall_rules(cid)
    assert [(r["type"], r["value"]) for r in listed] == [(r["type"], r["value"]) for r in OTHERS]
    assert all(r["cluster_uuid"] == cid and r["uuid"] and r["created_at"] for r in listed)
    gw.update_firewall_rules(cid, [{k: v for k, v in listed[1].items() if k != "cluster_uuid"}])
    assert gw.list_firewall_rules(cid) == [listed[1]]  # the others are gone: PUT replaces all


@pytest.mark.parametrize("rules", [[{"type": "ip", "value": "1.2.3.4"}], [{"type": "ip_addr", "value": "::1"}],
                                   [{"type": "tag", "value": f"t{i}"} for i in range(101)]])
def test_fake_refuses_what_the_spec_refuses(fake_do: FakeDigitalOcean, rules: list[dict[str, Any]]) -> None:
    gw, cid = _setup(fake_do, [])
    with pytest.raises(Exception, match="422|400|invalid|limited|IPv6|type"):
        gw.update_firewall_rules(cid, rules)
    assert gw.list_firewall_rules(cid) == []


def test_verdicts() -> None:
    assert judge_access([], ME).allowed is True
    assert judge_access([{"type": "ip_addr", "value": "203.0.113.0/24"}], ME).allowed is True
    refused = judge_access([{"type": "ip_addr", "value": "192.0.2.10"}], ME)
    assert refused.allowed is False and f"type ip_addr, value {ME}" in refused.describe()
    maybe = judge_access(OTHERS, ME)
    assert maybe.allowed is None and "droplet, tag may or may not cover" in maybe.describe()
    unknown = judge_access(OTHERS, None)
    assert unknown.allowed is None and "cannot be checked" in unknown.describe()
    with pytest.raises(ConfigError, match="IPv6"):
        check_address("2001:db8::1")
    with pytest.raises(ConfigError, match="not an IP address"):
        check_address("my-laptop")


def test_plan_leaves_open_and_covered_clusters_alone() -> None:
    assert not plan_access("c", [], ME)
    assert not plan_access("c", [{"type": "ip_addr", "value": ME}], ME)
    assert plan_access("c", OTHERS, ME).changes[0].after == {"type": "ip_addr", "value": ME}
    with pytest.raises(PlanError, match="limit of 100"):
        plan_access("c", [{"type": "tag", "value": f"t{i}"} for i in range(100)], ME)


def test_open_cluster_is_not_touched(fake_do: FakeDigitalOcean) -> None:
    gw, cid = _setup(fake_do, [])
    with temporary_access(gw, cid, ME, waiting=_waiting(fake_do)) as grant:
        assert grant.rule is None
    assert fake_do.calls_to("PUT", f"/v2/databases/{cid}/firewall") == []  # reads only (seeding went direct)
    assert gw.list_firewall_rules(cid) == []


def test_rule_is_added_for_the_block_and_gone_after_success(fake_do: FakeDigitalOcean) -> None:
    gw, cid = _setup(fake_do, OTHERS)
    before = gw.list_firewall_rules(cid)
    with temporary_access(gw, cid, ME, waiting=_waiting(fake_do)) as grant:
        inside = gw.list_firewall_rules(cid)
        assert grant.rule is not None and grant.rule in inside and inside[:3] == before
        assert judge_access(inside, ME).allowed is True
    assert gw.list_firewall_rules(cid) == before  # every other rule identical: uuid, created_at, description


def test_rule_is_gone_after_a_failure_in_the_middle(fake_do: FakeDigitalOcean) -> None:
    gw, cid = _setup(fake_do, OTHERS)
    before = gw.list_firewall_rules(cid)
    with pytest.raises(RuntimeError, match="boom"), temporary_access(gw, cid, ME, waiting=_waiting(fake_do)):
        assert len(gw.list_firewall_rules(cid)) == 4
        raise RuntimeError("boom")
    assert gw.list_firewall_rules(cid) == before


class _Meddler:
    """The gateway, with someone else editing the firewall (through the fake) right after read number ``at``."""

    def __init__(self, gw: DigitalOcean, fake: FakeDigitalOcean, at: set[int], edit: Any) -> None:
        self.gw, self.fake, self.at, self.edit, self.reads = gw, fake, at, edit, 0

    @property
    def request_count(self) -> int:
        return self.gw.request_count

    def list_firewall_rules(self, cid: str) -> list[dict[str, Any]]:
        rules = self.gw.list_firewall_rules(cid)
        self.reads += 1
        if self.reads in self.at:
            self.edit(cid)
        return rules

    def update_firewall_rules(self, cid: str, rules: list[dict[str, Any]]) -> None:
        self.gw.update_firewall_rules(cid, rules)


def _someone_adds(fake: FakeDigitalOcean, value: str) -> Any:
    def edit(cid: str) -> None:
        current = fake.databases.list_firewall_rules(cid)
        fake.databases.update_firewall_rules(cid, {"rules": [*current, {"type": "k8s", "value": value}]})
    return edit


def test_a_concurrent_change_is_not_clobbered(fake_do: FakeDigitalOcean) -> None:
    gw, cid = _setup(fake_do, OTHERS)
    # read 2 = plan's read of the add, 4 = the removal's first read: someone adds a rule right after each
    meddler = _Meddler(gw, fake_do, {2, 5}, None)
    values = iter(["k8s-one", "k8s-two"])
    meddler.edit = lambda c: _someone_adds(fake_do, next(values))(c)
    with temporary_access(meddler, cid, ME, waiting=_waiting(fake_do)) as grant:  # type: ignore[arg-type]
        inside = gw.list_firewall_rules(cid)
        assert {"k8s-one", ME} <= {r["value"] for r in inside}
    after = gw.list_firewall_rules(cid)
    assert [r["value"] for r in after] == ["163973392", "192.0.2.10", "backend", "k8s-one", "k8s-two"]
    assert grant.rule is not None and grant.rule["uuid"] not in {r["uuid"] for r in after}


def test_a_list_that_never_settles_is_not_written(fake_do: FakeDigitalOcean) -> None:
    gw, cid = _setup(fake_do, OTHERS)
    counter = iter(range(100))
    meddler = _Meddler(gw, fake_do, set(range(1, 50)), lambda c: _someone_adds(fake_do, f"k{next(counter)}")(c))
    with pytest.raises(PlanError, match="changed 3 times"), temporary_access(meddler, cid, ME):  # type: ignore[arg-type]
        pass
    assert ME not in {r["value"] for r in gw.list_firewall_rules(cid)}


def test_a_failed_removal_names_the_rule_and_how_to_remove_it(fake_do: FakeDigitalOcean) -> None:
    gw, cid = _setup(fake_do, OTHERS)
    with pytest.raises(AccessLeftError) as caught, temporary_access(gw, cid, ME, waiting=_waiting(fake_do)) as grant:
        fake_do.require_token("another-token")  # every request from now on is refused (401)
    assert grant.rule is not None
    text = str(caught.value)
    assert f"doctl databases firewalls remove {cid} --uuid {grant.rule['uuid']}" in text and ME in text
    assert caught.value.rule["uuid"] == grant.rule["uuid"]


def test_never_emptier_than_found(fake_do: FakeDigitalOcean) -> None:
    gw, cid = _setup(fake_do, [{"type": "tag", "value": "backend"}])
    with pytest.raises(AccessLeftError, match="opens the cluster"), temporary_access(
            gw, cid, ME, waiting=_waiting(fake_do)):
        fake_do.databases.update_firewall_rules(  # someone removed the tag rule meanwhile
            cid, {"rules": [r for r in fake_do.databases.list_firewall_rules(cid) if r["type"] == "ip_addr"]})
    assert [r["value"] for r in gw.list_firewall_rules(cid)] == [ME]  # left, not opened to everyone


CHILD = textwrap.dedent("""
    import json, sys, threading
    from do_pgpool.api._gateway import DigitalOcean
    from do_pgpool.ops._access import temporary_access
    from do_pgpool.testing import FakeDigitalOcean

    fake = FakeDigitalOcean()
    cluster = fake.add_cluster("app-db")
    fake.databases.update_firewall_rules(cluster.id, {"rules": json.loads(sys.argv[1])})
    gw = DigitalOcean("fake-token", http=fake.http_client())
    before = gw.list_firewall_rules(cluster.id)
    try:
        with temporary_access(gw, cluster.id, "203.0.113.7"):
            print("inside", flush=True)
            threading.Event().wait(30)  # the parent's SIGINT ends this
    except KeyboardInterrupt:
        after = gw.list_firewall_rules(cluster.id)
        print(json.dumps({"interrupted": True, "same": after == before, "after": after}), flush=True)
        sys.exit(130)
""")


def test_rule_is_gone_after_sigint(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, str(script), json.dumps(OTHERS)], stdout=subprocess.PIPE, text=True,
                            env=env)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "inside"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    report = json.loads(out)
    assert proc.returncode == 130 and report["interrupted"] and report["same"]
    assert ME not in {r["value"] for r in report["after"]} and len(report["after"]) == 3


def test_the_verdict_names_parameters_and_the_cli_words_them_as_flags() -> None:
    from do_pgpool.cli._access import render

    unknown = judge_access([{"type": "tag", "value": "x"}], None)
    refused = judge_access([{"type": "ip_addr", "value": "192.0.2.10"}], ME)
    assert Param("my_ip", "ADDR") in unknown.parts() and Param("temporary_access") in refused.parts()
    for verdict in (unknown, refused):
        assert "--" not in verdict.describe()  # the library's words: parameter names, no flags
        assert "temporary_access" in verdict.describe()
        assert "--temporary-access" in render(verdict.parts()) and "temporary_access" not in render(verdict.parts())
    assert "--my-ip ADDR" in render(unknown.parts())
