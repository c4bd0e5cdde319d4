"""``do-pgpool status`` and ``terminate-idle`` end to end: the fake DigitalOcean API hands out connection
details that point at the real local PostgreSQL and PgBouncer."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import psycopg
import pytest
from click.testing import Result

from do_pgpool.testing import FakeClock, FakeDigitalOcean
from do_pgpool.testing._servers import RealServers, psycopg_connect
from tests.cli_runner import assert_none_shown, invoke
from tests.conftest_servers import POOL_NAME, local_cluster

TOKEN = "dop_v1_" + "d" * 8 + "diagnose-cli-token"

pytestmark = pytest.mark.postgres


@pytest.fixture
def api(pgbouncer_server: RealServers, empty_pg: RealServers) -> Iterator[str]:
    """A fake API whose cluster ``app-db`` (1 GiB) is the local PostgreSQL, with the local pool of 20."""
    fake = FakeDigitalOcean()
    cluster = local_cluster(fake, pgbouncer_server)
    fake.add_pool(cluster, POOL_NAME, 20)
    with fake.serve() as url:
        yield url


run = functools.partial(invoke, token=TOKEN)


def assert_no_secrets(result: Result, servers: RealServers) -> None:
    assert_none_shown(result, TOKEN, servers.password)


def _leak(stack: ExitStack, servers: RealServers, n: int, app: str = "leaky-web") -> list[psycopg.Connection[Any]]:
    return [stack.enter_context(psycopg_connect(servers.direct_url(), application_name=app)) for _ in range(n)]


def test_status_shows_budget_pools_live_usage_verdict_and_advice(api: str, pgbouncer_server: RealServers) -> None:
    with ExitStack() as stack:
        _leak(stack, pgbouncer_server, 5)
        result = run(api, "status", "--cluster", "app-db")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "connection budget: 22 (25 per GiB - 3); pools hold 20 (91 %), 2 left for direct connections" in out
    assert f"  pool {POOL_NAME}: transaction, size 20, db defaultdb, user doadmin" in out
    assert "live: 6 client backends; max_connections 25, 3 reserved for superusers, 22 for everyone else" in out
    assert "  by application: leaky-web 5, do-pgpool 1" in out
    assert "verdict: ok: 6 of 22 non-superuser connection slots in use, 16 free" in out
    assert "do-pgpool advice" in out and "pg_advisory_xact_lock()" in out  # the pointer to the advice
    assert_no_secrets(result, pgbouncer_server)


def test_status_json_for_monitoring(api: str, pgbouncer_server: RealServers) -> None:
    with ExitStack() as stack:
        _leak(stack, pgbouncer_server, 18)
        result = run(api, "status", "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["verdict"]["level"] == "near"
    assert data["verdict"]["used"] == 19 and data["verdict"]["limit"] == 22
    assert data["usage"]["by_application"] == {"leaky-web": 18, "do-pgpool": 1}
    assert data["budget"] == {"limit": 22, "pooled": 20, "direct": 2}
    assert data["pools"][0]["name"] == POOL_NAME
    assert_no_secrets(result, pgbouncer_server)


def test_status_of_a_full_server_says_it_is_full_and_what_can_still_be_done(
    api: str, pgbouncer_server: RealServers
) -> None:
    with ExitStack() as stack:
        _leak(stack, pgbouncer_server, 22)
        result = run(api, "status")
    assert result.exit_code == 1
    assert "verdict: saturated: 22 of 22" in result.stdout
    assert "live: unavailable: PostgreSQL refused the connection because it is full" in result.stdout
    assert "(server said: FATAL: remaining connection slots are reserved for " in result.stderr
    assert "refused the connection because it is full" in result.stderr
    assert "do-pgpool restart --app" in result.stderr and "do-pgpool resize" in result.stderr
    assert_no_secrets(result, pgbouncer_server)


def test_terminate_idle_dry_run_lists_and_keeps_then_the_real_run_frees_the_slots(
    api: str, pgbouncer_server: RealServers
) -> None:
    with ExitStack() as stack:
        leaked = _leak(stack, pgbouncer_server, 21)
        dry = run(api, "terminate-idle", "--idle-for", "0", "--application", "leaky-web", "--dry-run")
        assert dry.exit_code == 0, dry.output
        assert dry.stdout.count("would terminate pid") == 21
        assert "dry run: would terminate 21 session(s); nothing was changed" in dry.stdout
        assert all(c.execute("SELECT 1").fetchone() == (1,) for c in leaked)

        real = run(api, "terminate-idle", "--idle-for", "0", "--application", "leaky-web", "-o", "json")
        assert real.exit_code == 0, real.output
        data = json.loads(real.stdout)
        assert data["terminated_count"] == 21
        assert data["free_after"] == 21  # 22 - the tool's own session
        with pytest.raises(psycopg.OperationalError):
            leaked[0].execute("SELECT 1")
        assert_no_secrets(real, pgbouncer_server)

        again = run(api, "terminate-idle", "--idle-for", "0", "--application", "leaky-web")
        assert again.exit_code == 0
        assert "terminated 0 idle sessions" in again.stdout  # idempotent


def test_terminate_idle_default_threshold_spares_fresh_sessions(api: str, pgbouncer_server: RealServers) -> None:
    with ExitStack() as stack:
        _leak(stack, pgbouncer_server, 3)
        result = run(api, "terminate-idle")
    assert result.exit_code == 0, result.output
    assert "terminated 0 idle sessions" in result.stdout


def test_status_config_shows_the_settings_that_matter(api: str, pgbouncer_server: RealServers) -> None:
    result = run(api, "status", "--config", "--no-advice")
    assert result.exit_code == 0, result.output
    assert "settings: all at DigitalOcean's defaults" in result.stdout
    assert "settings:" not in run(api, "status", "--no-advice").stdout


# -- the headroom gate (--fail-at) and monitoring numbers (-o prometheus) -------------------------------------


@pytest.mark.parametrize(("leaked", "fail_at", "code"), [
    (5, "near", 0), (18, "near", 4), (18, "saturated", 0), (22, "near", 4), (22, "saturated", 4),
])  # fmt: skip
def test_fail_at_gates_on_the_verdict_with_its_own_exit_code(
    api: str, pgbouncer_server: RealServers, leaked: int, fail_at: str, code: int
) -> None:
    """ok (6 of 22), near (19 of 22), saturated (refused: the server is full) against each level."""
    with ExitStack() as stack:
        _leak(stack, pgbouncer_server, leaked)
        result = run(api, "status", "--no-advice", "--fail-at", fail_at)
    assert result.exit_code == code, result.output
    if code == 4:
        assert f"Headroom gate (--fail-at {fail_at}): " in result.stderr
        assert "non-superuser connection slots in use" in result.stderr
        assert ("do-pgpool restart --app" in result.stderr) == (leaked == 22)  # a full server: what can be done
        assert ("terminate-idle (--dry-run first)" in result.stderr) == (leaked != 22)  # else: how to make room
    else:
        assert "Headroom gate" not in result.stderr
    assert_no_secrets(result, pgbouncer_server)


def test_without_fail_at_a_near_server_exits_0(api: str, pgbouncer_server: RealServers) -> None:
    with ExitStack() as stack:
        _leak(stack, pgbouncer_server, 18)
        result = run(api, "status", "--no-advice")
    assert result.exit_code == 0, result.output
    assert "verdict: near the limit: 19 of 22" in result.stdout


def _families(text: str) -> dict[str, Any]:
    from prometheus_client.parser import text_string_to_metric_families

    return {f.name: f for f in text_string_to_metric_families(text)}


def _values(family: Any, label: str) -> dict[str, float]:
    return {s.labels[label]: s.value for s in family.samples}


def test_prometheus_output_is_read_by_a_real_parser_and_matches_the_json(
    api: str, pgbouncer_server: RealServers
) -> None:
    with ExitStack() as stack:
        _leak(stack, pgbouncer_server, 7, app='web "blue"\\1')  # a label value that needs escaping
        _leak(stack, pgbouncer_server, 3, app="worker")
        prom = run(api, "status", "-o", "prometheus")
        data = json.loads(run(api, "status", "-o", "json").stdout)
    assert prom.exit_code == 0, prom.output
    families = _families(prom.stdout)
    assert all(f.type == "gauge" and f.documentation for f in families.values())
    for family in families.values():
        assert {s.labels["cluster"] for s in family.samples} == {"app-db"}

    def one(name: str) -> float:
        (sample,) = families[name].samples
        return float(sample.value)

    usage, verdict = data["usage"], data["verdict"]
    assert one("do_pgpool_live_usage_read") == 1
    assert one("do_pgpool_budget_connections") == data["budget"]["limit"] == 22
    assert one("do_pgpool_pooled_connections") == data["budget"]["pooled"] == 20
    assert one("do_pgpool_max_connections") == usage["max_connections"]
    assert one("do_pgpool_superuser_reserved_connections") == usage["superuser_reserved_connections"]
    assert one("do_pgpool_connection_limit") == usage["limit"]
    assert one("do_pgpool_connections_used") == verdict["used"] == 11
    assert one("do_pgpool_connections_free") == verdict["free"]
    by_state = _values(families["do_pgpool_connections"], "state")
    assert {k: v for k, v in by_state.items() if v} == usage["by_state"]
    assert by_state["idle in transaction"] == 0 and "idle in transaction" not in usage["by_state"]  # a true 0
    assert _values(families["do_pgpool_connections_by_user"], "user") == usage["by_user"]
    assert _values(families["do_pgpool_connections_by_application"], "application") == usage["by_application"]
    assert usage["by_application"]['web "blue"\\1'] == 7
    assert _values(families["do_pgpool_pool_size"], "pool") == {p["name"]: p["size"] for p in data["pools"]}
    (level,) = families["do_pgpool_verdict_level"].samples
    assert (level.labels, level.value, verdict["level"]) == ({"cluster": "app-db"}, 0, "ok")
    # the exposition format: each family's HELP and TYPE once, right before its samples
    comments = [line.split()[1:3] for line in prom.stdout.splitlines() if line.startswith("#")]
    assert len(comments) == len({tuple(c) for c in comments}) == 2 * len(families)
    assert_no_secrets(prom, pgbouncer_server)


def test_prometheus_labels_escape_what_an_application_name_can_hold() -> None:
    """Quotes, backslashes and a newline (PostgreSQL shows only printable ASCII, but a parser must never see a
    line break or an early quote): a real parser reads the value back whole."""
    from do_pgpool.cli._prometheus import _labels

    name = 'a "quoted"\\path\nand\na line\nbreak'
    text = f"# TYPE x gauge\nx{{{_labels({'application': name, 'cluster': 'c'})}}} 1\n"
    (sample,) = _families(text)["x"].samples
    assert sample.labels == {"application": name, "cluster": "c"}


def test_prometheus_output_of_a_full_server_says_so_and_exits_1(api: str, pgbouncer_server: RealServers) -> None:
    with ExitStack() as stack:
        _leak(stack, pgbouncer_server, 22)
        result = run(api, "status", "-o", "prometheus")
    assert result.exit_code == 1
    families = _families(result.stdout)
    assert families["do_pgpool_live_usage_read"].samples[0].value == 0
    assert "do_pgpool_connections" not in families  # nothing was read: no made-up counts
    (level,) = families["do_pgpool_verdict_level"].samples
    assert level.value == 2 and "level" not in level.labels  # saturated: one series, its value changes
    assert "refused the connection because it is full" in result.stderr


# -- status --watch: on the wait clock, nothing sleeps ----------------------------------------------------------


def test_watch_redraws_live_usage_until_the_timeout_without_sleeping(api: str, pgbouncer_server: RealServers) -> None:
    from click.testing import CliRunner

    from do_pgpool.cli import main
    from do_pgpool.cli._progress import WaitClock
    from do_pgpool.testing import FakeClock

    fake = FakeClock()
    with ExitStack() as stack:
        def sleep(seconds: float) -> None:  # between two frames, 3 more sessions appear
            fake.sleep(seconds)
            _leak(stack, pgbouncer_server, 3)

        result = CliRunner().invoke(
            main, ["status", "--api-url", api, "--no-advice", "--watch", "10", "--timeout", "35"],
            env={"DIGITALOCEAN_TOKEN": TOKEN}, obj=WaitClock(clock=fake, sleep=sleep), catch_exceptions=False,
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert fake.sleeps == [10, 10, 10]  # frames at 0, 10, 20, 30 s; 5 s left is less than one more interval
    lives = [line for line in result.stdout.splitlines() if line.startswith("live: ")]
    assert [line.split(" client")[0] for line in lives] == ["live: 1", "live: 4", "live: 7", "live: 10"]
    assert result.stdout.count("every 10 s, ") == 4 and "every 10 s, 35 s left" in result.stdout
    assert "The watch stopped: 5 s of --timeout left, less than one more interval; pass --timeout 1h" in result.stderr
    assert_no_secrets(result, pgbouncer_server)


@pytest.mark.parametrize("extra", [["-o", "json"], ["-o", "prometheus"]])
def test_watch_is_a_terminal_view_only(api: str, extra: list[str]) -> None:
    result = run(api, "status", "--watch", *extra)
    assert result.exit_code == 2
    assert "--watch is a view for a terminal" in result.stderr


@pytest.fixture
def served(pgbouncer_server: RealServers, empty_pg: RealServers) -> Iterator[tuple[FakeDigitalOcean, str]]:
    """``api``'s cluster, with the fake itself in hand (pools added, faults injected while a watch runs)."""
    fake = FakeDigitalOcean()
    fake.add_pool(local_cluster(fake, pgbouncer_server), POOL_NAME, 20)
    with fake.serve() as url:
        yield fake, url


def watch(
    url: str, *args: str, between: Callable[[float], None] = lambda now: None, clock: FakeClock | None = None
) -> tuple[Result, FakeClock]:
    """``status --no-advice ARGS`` on a fake wait clock; ``between(now)`` runs in each sleep, after the clock
    moved (``now``: seconds since the start)."""
    from click.testing import CliRunner

    from do_pgpool.cli import main
    from do_pgpool.cli._progress import WaitClock

    clock = clock or FakeClock()
    start = clock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        between(clock() - start)

    result = CliRunner().invoke(main, ["status", "--api-url", url, "--no-advice", *args],
                                env={"DIGITALOCEAN_TOKEN": TOKEN}, obj=WaitClock(clock=clock, sleep=sleep),
                                catch_exceptions=False)  # fmt: skip
    return result, clock


def frames(result: Result) -> list[str]:
    """The text of each frame, header first."""
    out: list[str] = []
    for line in result.stdout.splitlines():
        if line.startswith("every "):
            out.append("")
        if out:
            out[-1] += line + "\n"
    return out


def test_watch_reads_the_api_again_every_30_s_and_shows_a_new_pool(served: tuple[FakeDigitalOcean, str]) -> None:
    fake, url = served
    cluster = next(iter(fake.databases.clusters.values()))

    def between(now: float) -> None:
        if now == 10:
            fake.add_pool(cluster, "late", 2)

    result, clock = watch(url, "--watch", "10", "--timeout", "75", between=between)
    assert result.exit_code == 0, result.output
    assert clock.sleeps == [10] * 7  # frames at 0, 10, ..., 70 s
    shown = frames(result)
    assert ["pool late:" in f for f in shown] == [False, False, False, True, True, True, True, True]
    ages = [f.split("API read ")[1].split(" s ago")[0] for f in shown]
    assert ages == ["0", "10", "20", "0", "10", "20", "0", "10"]
    assert "(every 30 s)" in shown[0]
    pool_reads = [c for c in fake.calls_to("GET", "/v2/databases/") if c.path.endswith("/pools")]
    assert len(pool_reads) == 3  # at 0, 30 and 60 s: not one per frame
    assert len(fake.calls_to("GET", f"/v2/databases/{cluster.id}")) - len(pool_reads) - 1 == 2  # the cluster
    # by uuid at 30 and 60 s (the first read was the list; the CA once)


def test_a_failed_api_read_keeps_the_last_answer_marked_stale_with_its_age(
    served: tuple[FakeDigitalOcean, str],
) -> None:
    fake, url = served

    def between(now: float) -> None:
        if now == 30:
            fake.faults.fail_next("GET", r"/pools$", status=403)

    result, _ = watch(url, "--watch", "10", "--timeout", "75", between=between)
    assert result.exit_code == 0, result.output  # the read at 60 s succeeded: the last frame is whole
    shown = frames(result)
    stale = ["API: STALE, as read 30 s ago; Ctrl-C stops\n  the last API read failed: GET /v2/databases/",
             "API: STALE, as read 40 s ago;", "API: STALE, as read 50 s ago;"]  # fmt: skip
    assert all(s in f for s, f in zip(stale, shown[3:6], strict=True)), shown[3:6]
    assert "/pools: 403" in shown[3]
    assert all(f"pool {POOL_NAME}:" in f and "live: " in f for f in shown)  # the last answer, still shown
    assert "API read 0 s ago" in shown[6] and "STALE" not in shown[6] + shown[7]
    assert_none_shown(result, TOKEN)


def test_a_watch_that_ends_on_a_stale_api_answer_exits_1_saying_so(served: tuple[FakeDigitalOcean, str]) -> None:
    fake, url = served

    def between(now: float) -> None:
        if now == 10:  # after the first read: the re-read at 30 s fails
            fake.faults.fail_next("GET", r"/pools$", status=403)

    result, _ = watch(url, "--watch", "10", "--timeout", "45", between=between)
    assert result.exit_code == 1
    assert "STALE, as read 40 s ago" in frames(result)[-1]
    assert "The watch ended showing the cluster and pools as read 40 s before; the last API read failed:" in (
        result.stderr)  # fmt: skip
    assert "403" in result.stderr


def test_a_watch_whose_last_frame_could_not_read_the_server_exits_1(
    served: tuple[FakeDigitalOcean, str], pgbouncer_server: RealServers
) -> None:
    _, url = served
    with ExitStack() as stack:
        def between(now: float) -> None:
            if now == 20:
                _leak(stack, pgbouncer_server, 22)

        result, _ = watch(url, "--watch", "10", "--timeout", "25", between=between)
    assert result.exit_code == 1
    assert "live: unavailable: PostgreSQL refused the connection because it is full" in frames(result)[-1]
    assert "refused the connection because it is full" in result.stderr


def test_watch_with_fail_at_stops_at_the_first_frame_at_the_level_and_exits_4(
    served: tuple[FakeDigitalOcean, str], pgbouncer_server: RealServers
) -> None:
    _, url = served
    with ExitStack() as stack:
        def between(now: float) -> None:
            if now == 20:
                _leak(stack, pgbouncer_server, 18)  # 19 of 22: near

        result, clock = watch(url, "--watch", "10", "--timeout", "5m", "--fail-at", "near", between=between)
    assert result.exit_code == 4, result.output
    assert clock.sleeps == [10, 10]  # stopped at the frame at 20 s, not at the end of --timeout
    assert "until near (--fail-at)" in frames(result)[0]
    assert "verdict: near the limit: 19 of 22" in frames(result)[-1]
    assert "Headroom gate (--fail-at near): near the limit" in result.stderr


def test_watch_with_fail_at_below_the_level_runs_to_the_timeout_and_exits_0(api: str) -> None:
    result, clock = watch(api, "--watch", "10", "--timeout", "25", "--fail-at", "near")
    assert result.exit_code == 0, result.output
    assert clock.sleeps == [10, 10]


def test_ctrl_c_during_a_watch_exits_130_saying_nothing_was_changed(api: str) -> None:
    def between(now: float) -> None:
        if now == 20:
            raise KeyboardInterrupt

    result, _ = watch(api, "--watch", "10", "--timeout", "5m", between=between)
    assert result.exit_code == 130
    assert result.stderr.strip() == "Interrupted: status only reads; nothing was changed."
    assert len(frames(result)) == 2



def test_a_watch_whose_time_runs_out_while_reading_ends_on_its_last_whole_frame(api: str) -> None:
    clock = FakeClock()

    def between(now: float) -> None:
        if now == 10:
            clock.advance(20)  # the sleep overslept: --timeout (25 s) passed before the next frame's read

    result, _ = watch(api, "--watch", "10", "--timeout", "25", between=between, clock=clock)
    assert result.exit_code == 0, result.output  # the frame at 0 s was whole
    assert len(frames(result)) == 1
    assert "gave up" not in result.stderr


def test_watch_with_config_reads_the_settings_again_with_the_cluster_and_pools(
    served: tuple[FakeDigitalOcean, str],
) -> None:
    fake, url = served
    result, _ = watch(url, "--config", "--watch", "10", "--timeout", "45")
    assert result.exit_code == 0, result.output
    config_reads = [c for c in fake.calls_to("GET", "/v2/databases/") if c.path.endswith("/config")]
    assert len(config_reads) == 2  # at 0 and 30 s, with the cluster and pools
    assert all("settings: " in f for f in frames(result))
