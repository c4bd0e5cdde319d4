"""``do-pgpool resize`` and ``do-pgpool restart`` through click's runner: exit codes, messages, JSON, progress.

Waits run on a FakeClock handed to the command as ``CliRunner.invoke(obj=WaitClock(...))``: nothing sleeps.
"""

from __future__ import annotations

import io
import json

import httpx
import pytest
import respx
from click.testing import CliRunner, Result

from do_pgpool._duration import parse_duration
from do_pgpool._exceptions import ConfigError
from do_pgpool.api._poll import Progress
from do_pgpool.cli import _restart as restart_cli
from do_pgpool.cli import main
from do_pgpool.cli._progress import ProgressRenderer, WaitClock
from do_pgpool.testing import FakeClock
from tests.test_resize import OPTIONS, RESIZE_PATH
from tests.test_restart import APP_ID, DEPLOYMENT_ID, UPDATE_PATH, app_json, deployment
from tests.test_wait import CLUSTER_ID, CLUSTER_PATH, Script, api, cluster, error, events, ok

__all__ = ["api"]  # fixture re-used from test_wait

TOKEN = "dop_v1_" + "c" * 8 + "cli-resize-token"


def run(*args: str, clock: FakeClock | None = None) -> Result:
    fake = clock or FakeClock()
    return CliRunner().invoke(
        main, list(args), env={"DIGITALOCEAN_TOKEN": TOKEN}, obj=WaitClock(clock=fake, sleep=fake.sleep),
        catch_exceptions=False,
    )


def no_secrets(result: Result) -> None:
    text = result.stdout + result.stderr
    assert TOKEN not in text and ":scrubbed@" not in text


def serve(api: respx.MockRouter, *reads: object, put: object = None) -> tuple[Script, Script]:
    api.get("/v2/databases/options").mock(side_effect=Script(ok(OPTIONS)))
    gets = Script(*reads)
    api.get(CLUSTER_PATH).mock(side_effect=gets)
    puts = Script(put or ok(None, 202))
    api.put(RESIZE_PATH).mock(side_effect=puts)
    return gets, puts


# -- resize ----------------------------------------------------------------------------------------


def test_resize_shows_the_plan_then_one_progress_line_per_status_change(api: respx.MockRouter) -> None:
    _, puts = serve(
        api,
        cluster("online"),
        cluster("online"), cluster("online"), cluster("resizing"), cluster("resizing"), cluster("resizing"),
        cluster("online", "db-s-2vcpu-4gb"),
    )
    result = run("resize", "--cluster", CLUSTER_ID, "--size-slug", "db-s-2vcpu-4gb")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "current: db-s-1vcpu-1gb x1, 10240 MiB, budget 22 connections" in out
    assert "new:     db-s-2vcpu-4gb x1, 10240 MiB, budget 97 connections" in out
    assert "resized: cluster app-db is online with db-s-2vcpu-4gb x1, budget 97 connections" in out
    assert out.index("current:") < out.index("resized:")
    lines = result.stderr.strip().splitlines()
    # online (old size) -> resizing -> online (new size): three changes, not six polls
    assert len(lines) == 3, result.stderr
    assert lines[0].startswith("[00:00] cluster 'app-db': online (db-s-1vcpu-1gb x1; waiting for size")
    assert "resizing" in lines[1] and lines[2].endswith("online (db-s-2vcpu-4gb x1)")
    assert puts.count == 1
    no_secrets(result)


def test_dry_run_stops_after_the_plan(api: respx.MockRouter) -> None:
    _, puts = serve(api, cluster("online"))
    result = run("resize", "--cluster", CLUSTER_ID, "--connections", "150", "--dry-run")
    assert result.exit_code == 0
    assert "why:     smallest size for 1 node(s) with at least 150 connections: db-s-4vcpu-8gb (197)" in result.stdout
    assert "dry run: nothing was changed" in result.stdout
    assert puts.count == 0 and result.stderr == ""


def test_json_prints_only_the_result_and_no_progress(api: respx.MockRouter) -> None:
    serve(api, cluster("online"), cluster("resizing"), cluster("online", "db-s-2vcpu-4gb"))
    result = run("resize", "--cluster", CLUSTER_ID, "--connections", "90", "-o", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["action"] == "resized"
    assert data["current"] == {"size": "db-s-1vcpu-1gb", "num_nodes": 1, "storage_size_mib": 10240, "budget": 22}
    assert data["target"]["size"] == "db-s-2vcpu-4gb" and data["target"]["budget"] == 97
    assert data["state"]["status"] == "online" and data["requests"] == 5
    assert result.stderr == ""
    no_secrets(result)


def test_already_at_size_is_a_no_op(api: respx.MockRouter) -> None:
    _, puts = serve(api, cluster("online", "db-s-2vcpu-4gb"))
    result = run("resize", "--cluster", CLUSTER_ID, "--size-slug", "db-s-2vcpu-4gb")
    assert result.exit_code == 0 and puts.count == 0
    assert "already is db-s-2vcpu-4gb x1; nothing to do" in result.stdout


def test_unknown_slug_exits_2_with_the_choices_and_no_write(api: respx.MockRouter) -> None:
    _, puts = serve(api, cluster("online"))
    result = run("resize", "--cluster", CLUSTER_ID, "--size-slug", "db-s-huge")
    assert result.exit_code == 2 and puts.count == 0
    assert "unknown size slug 'db-s-huge'" in result.stderr and "db-s-2vcpu-4gb" in result.stderr


def test_timeout_exits_1_with_the_last_status(api: respx.MockRouter) -> None:
    serve(api, cluster("online"), cluster("resizing"))
    result = run("resize", "--cluster", CLUSTER_ID, "--size-slug", "db-s-2vcpu-4gb", "--timeout", "2m")
    assert result.exit_code == 1
    assert "was not ready after 2m0s" in result.stderr and "last seen resizing" in result.stderr
    no_secrets(result)


def test_412_without_wait_exits_1_saying_nothing_changed(api: respx.MockRouter) -> None:
    serve(api, cluster("online"), put=error(412, "precondition_failed", "cluster is undergoing maintenance"))
    result = run("resize", "--cluster", CLUSTER_ID, "--size-slug", "db-s-2vcpu-4gb", "--no-wait")
    assert result.exit_code == 1
    assert "412 cluster is undergoing maintenance" in result.stderr and "Nothing was changed" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--size-slug", "db-s-2vcpu-4gb", "--connections", "90"],
        [],
        ["--size-slug", "db-s-2vcpu-4gb", "--nodes", "4"],
        ["--size-slug", "db-s-2vcpu-4gb", "--timeout", "soon"],
        ["--connections", "0"],
    ],
)
def test_usage_errors_exit_2_before_any_request(api: respx.MockRouter, args: list[str]) -> None:
    result = run("resize", "--cluster", CLUSTER_ID, *args)
    assert result.exit_code == 2, result.output
    assert not api.calls


def test_resize_help_explains_the_wait() -> None:
    result = CliRunner().invoke(main, ["resize", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "online AND has the requested size and node count" in text
    assert "--timeout DURATION" in text and "[default: 30m]" in text


# -- restart ---------------------------------------------------------------------------------------


def serve_update(api: respx.MockRouter, *reads: object) -> Script:
    api.get(CLUSTER_PATH).mock(side_effect=Script(*reads))
    api.get(f"{CLUSTER_PATH}/events").mock(side_effect=Script(events(("cluster_create", "pe8u2huh"))))
    puts = Script(ok(None, 204))
    api.put(UPDATE_PATH).mock(side_effect=puts)
    return puts


def test_restart_without_yes_off_a_terminal_refuses_before_writing(api: respx.MockRouter) -> None:
    puts = serve_update(api, cluster("online", pending=True))
    result = run("restart", "--cluster", CLUSTER_ID)
    assert result.exit_code == 2 and puts.count == 0
    assert "pass --yes" in result.stderr


def test_restart_asks_on_a_terminal_and_no_means_no(api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(restart_cli, "_interactive", lambda: True)
    puts = serve_update(api, cluster("online", pending=True))
    result = CliRunner().invoke(main, ["restart", "--cluster", CLUSTER_ID], input="n\n",
                                env={"DIGITALOCEAN_TOKEN": TOKEN}, obj=WaitClock(FakeClock(), FakeClock().sleep))
    assert result.exit_code == 1 and puts.count == 0
    assert "Start the pending maintenance on cluster 'app-db' now? [y/N]" in result.stderr


def test_restart_with_yes_starts_the_update_and_waits(api: respx.MockRouter) -> None:
    puts = serve_update(
        api, cluster("online", pending=True), cluster("online", pending=True), cluster("migrating", pending=True),
        cluster("online", pending=False),
    )
    result = run("restart", "--cluster", CLUSTER_ID, "--yes")
    assert result.exit_code == 0, result.output
    assert puts.count == 1
    assert "start pending maintenance on cluster 'app-db'" in result.stdout
    assert "cluster app-db is online again after the maintenance" in result.stdout
    assert "migrating" in result.stderr
    no_secrets(result)


def test_restart_with_nothing_pending_says_so_and_exits_0(api: respx.MockRouter) -> None:
    puts = serve_update(api, cluster("online", pending=False))
    result = run("restart", "--cluster", CLUSTER_ID)
    assert result.exit_code == 0 and puts.count == 0
    assert "no maintenance is pending, so there is nothing to start" in result.stdout


def test_restart_app_json(api: respx.MockRouter) -> None:
    api.get("/v2/apps").mock(side_effect=Script(ok({"apps": [app_json()], "links": {}, "meta": {"total": 1}})))
    post = Script(deployment("PENDING_DEPLOY"))
    api.post(f"/v2/apps/{APP_ID}/restart").mock(side_effect=post)
    polls = Script(deployment("DEPLOYING"), deployment("ACTIVE"))
    api.get(f"/v2/apps/{APP_ID}/deployments/{DEPLOYMENT_ID}").mock(side_effect=polls)
    result = run("restart", "--app", "web", "--component", "api", "--yes", "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["action"] == "restarted" and data["app"] == {"id": APP_ID, "name": "web"}
    assert data["deployment"] == {"id": DEPLOYMENT_ID, "phase": "ACTIVE"} and data["components"] == ["api"]
    assert result.stderr == "" and post.count == 1


def test_restart_app_failed_deployment_exits_1(api: respx.MockRouter) -> None:
    api.get("/v2/apps").mock(side_effect=Script(ok({"apps": [app_json()], "links": {}, "meta": {"total": 1}})))
    api.post(f"/v2/apps/{APP_ID}/restart").mock(side_effect=Script(deployment("PENDING_DEPLOY")))
    api.get(f"/v2/apps/{APP_ID}/deployments/{DEPLOYMENT_ID}").mock(side_effect=Script(deployment("CANCELED")))
    result = run("restart", "--app", "web", "--yes")
    assert result.exit_code == 1 and "ended in CANCELED" in result.stderr


@pytest.mark.parametrize(
    "args",
    [["--app", "web", "--cluster", CLUSTER_ID], ["--component", "api", "--cluster", CLUSTER_ID], []],
)
def test_restart_usage_errors(api: respx.MockRouter, args: list[str]) -> None:
    result = run("restart", *args)
    assert result.exit_code == 2 and not api.calls


def test_restart_help_is_honest_about_what_it_does() -> None:
    result = CliRunner().invoke(main, ["restart", "--help"])
    text = " ".join(result.stdout.split())
    assert "DigitalOcean's API has NO database restart" in text
    assert "install_update" in text and "IP addresses change" in text and "--yes" in text


# -- rendering pieces ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("1h", 3600), ("1h30m", 5400), ("1.5h", 5400)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "0", "-5", "5d", "m", "nan", "inf"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_duration(text, positive=True)


def progress(status: str, detail: str = "", elapsed: float = 0.0) -> Progress:
    return Progress("cluster 'app-db'", status, detail, elapsed, 1)


def test_terminal_progress_is_one_line_rewritten_in_place_with_a_ticking_clock() -> None:
    stream, fake = io.StringIO(), FakeClock()
    renderer = ProgressRenderer(stream=stream, live=True, clock=fake, real_sleep=fake.sleep)
    renderer(progress("online", "db-s-1vcpu-1gb x1"))
    renderer.sleep(3)
    renderer(progress("resizing"))
    renderer.finish()
    text = stream.getvalue()
    assert "\n" not in text[:-1] and text.endswith("\n"), "one live line"
    frames = text.rstrip("\n").split("\r")[1:]
    assert [f.split("]")[0] for f in frames] == ["[00:00", "[00:01", "[00:02", "[00:03", "[00:03"]
    assert frames[-1].startswith("[00:03] cluster 'app-db': resizing")
    assert fake.sleeps == [1.0, 1.0, 1.0]


def test_non_terminal_progress_writes_only_changes() -> None:
    stream, fake = io.StringIO(), FakeClock()
    renderer = ProgressRenderer(stream=stream, live=False, clock=fake, real_sleep=fake.sleep)
    for status in ("online", "online", "resizing", "resizing", "online"):
        renderer(progress(status))
        renderer.sleep(10)
    assert stream.getvalue().splitlines() == [
        "[00:00] cluster 'app-db': online", "[00:20] cluster 'app-db': resizing", "[00:40] cluster 'app-db': online",
    ]
    assert fake.sleeps == [10] * 5, "one sleep per wait, not ticks"


def test_disabled_progress_writes_nothing_and_still_sleeps() -> None:
    stream, fake = io.StringIO(), FakeClock()
    renderer = ProgressRenderer(stream=stream, enabled=False, live=True, clock=fake, real_sleep=fake.sleep)
    renderer(progress("online"))
    renderer.sleep(5)
    renderer.finish()
    assert stream.getvalue() == "" and fake.sleeps == [5]


def test_no_request_is_sent_on_help(api: respx.MockRouter) -> None:
    CliRunner().invoke(main, ["restart", "--help"])
    CliRunner().invoke(main, ["resize", "--help"])
    assert not api.calls
    assert httpx  # the module is used by the fixtures' responses
