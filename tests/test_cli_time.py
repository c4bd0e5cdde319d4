"""Time on the command line: one duration type for every option, --timeout on every API command, --max-wait."""

from __future__ import annotations

import io
import math
import re
import socket
import threading
import time
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from do_pgpool._duration import parse_duration
from do_pgpool._exceptions import ConfigError
from do_pgpool.api._limiter import DEFAULT_MAX_WAIT, NOTICE_AFTER
from do_pgpool.cli import main
from do_pgpool.cli._common import Duration
from do_pgpool.cli._ensure import FleetProgress, _wait_notice
from do_pgpool.testing import FakeDigitalOcean
from do_pgpool.testing._clock import SystemClock

TOKEN = "dop_v1_" + "t" * 16 + "time-cli-token"


def run(url: str, *args: str) -> Result:
    env = {"DIGITALOCEAN_TOKEN": TOKEN, "DIGITALOCEAN_API_URL": url}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def served() -> Iterator[tuple[FakeDigitalOcean, str]]:
    fake = FakeDigitalOcean(strict=False)
    fake.add_cluster("app-db")
    with fake.serve() as url:
        yield fake, url


DURATION_OPTIONS = [
    ("resize", "--size-slug", "db-s-2vcpu-4gb", "--timeout"),
    ("restart", "--app", "web", "--yes", "--timeout"),
    ("ensure-pool", "--size", "5", "--timeout"),
    ("ensure-pool", "--all", "--size", "5", "--max-wait"),
    ("rewrite-secret", "--secret", "stdout", "--timeout"),
    ("status", "--timeout"),
    ("terminate-idle", "--dry-run", "--idle-for"),
    ("fix", "--dry-run", "--size", "5", "--idle-for"),
    ("fix", "--dry-run", "--size", "5", "--verify-timeout"),
]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("args", DURATION_OPTIONS, ids=lambda a: f"{a[0]} {a[-1]}")
def test_every_duration_option_refuses_endless_values_the_same_way(
    served: tuple[FakeDigitalOcean, str], args: tuple[str, ...], value: str
) -> None:
    fake, url = served
    result = run(url, *args, value)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{args[-1]}': {value!r} is not a finite number of seconds" in result.stderr
    assert fake.calls == []


@pytest.mark.parametrize("args", DURATION_OPTIONS, ids=lambda a: f"{a[0]} {a[-1]}")
def test_every_duration_option_is_the_one_duration_type(args: tuple[str, ...]) -> None:
    command = main.get_command(click.Context(main), args[0])
    assert command is not None
    option = next(p for p in command.params if args[-1] in p.opts)
    assert isinstance(option.type, Duration)
    for text, seconds in [("90", 90.0), ("2.5", 2.5), ("90s", 90.0), ("1m30s", 90.0), ("1h", 3600.0)]:
        assert option.type.convert(text, option, None) == seconds
    for bad in ("soon", "5d", "２０", "1e999"):
        with pytest.raises(click.BadParameter):
            option.type.convert(bad, option, None)


def test_api_commands_document_their_timeout() -> None:
    for command, default in [("ensure-pool", "5m"), ("status", "5m"), ("rewrite-secret", "5m"), ("fix", "5m"),
                             ("terminate-idle", "5m"), ("resize", "30m"), ("restart", "30m")]:  # fmt: skip
        text = " ".join(CliRunner().invoke(main, [command, "--help"]).output.split())
        assert "--timeout DURATION" in text and f"[default: {default}]" in text, command
        assert "Each request also gives up after 30s" in text, command
    text = " ".join(CliRunner().invoke(main, ["ensure-pool", "--help"]).output.split())
    assert "--max-wait DURATION" in text and "[default: 60s]" in text and "saying when the limit resets" in text
    assert (DEFAULT_MAX_WAIT, NOTICE_AFTER) == (60.0, 5.0)  # the numbers --help states (it imports no library)
    assert "waits of 5s or more are announced on stderr" in text


@pytest.fixture
def silent_url() -> Iterator[str]:
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    held: list[socket.socket] = []

    def loop() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])  # accept, never answer
            except (TimeoutError, OSError):
                continue

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    listener.close()


def test_timeout_bounds_the_whole_run_against_a_server_that_never_answers(silent_url: str) -> None:
    started = time.monotonic()
    result = run(silent_url, "ensure-pool", "--size", "5", "--timeout", "1")
    elapsed = time.monotonic() - started
    assert result.exit_code == 1
    assert "Error: gave up after the run's time limit (--timeout 1s)" in result.stderr
    assert elapsed < 2.0


@pytest.mark.parametrize(("args", "reads_only"), [
    (("status",), True),
    (("list-pools",), True),
    (("ensure-pool", "--size", "5", "--dry-run"), True),
    (("ensure-pool", "--size", "5"), False),
])
def test_running_out_of_time_says_whether_the_run_could_have_changed_anything(
    silent_url: str, args: tuple[str, ...], reads_only: bool
) -> None:
    result = run(silent_url, *args, "--timeout", "1")
    assert result.exit_code == 1
    err = " ".join(result.stderr.split())
    assert "Error: gave up after the run's time limit (--timeout 1s)" in err
    assert ("This run only reads: nothing was changed" in err) is reads_only, err
    assert ("Anything already sent may have been applied" in err) is not reads_only, err


def test_a_refused_connection_fails_fast_naming_the_url() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    started = time.monotonic()
    result = run(url, "status")
    assert result.exit_code == 1
    assert f"Error: cannot connect to {url} (GET /v2/databases): connection refused" in result.stderr
    assert time.monotonic() - started < 2.0


def test_a_rate_limit_wait_is_announced_on_stderr_above_the_live_line() -> None:
    stream = io.StringIO()
    progress = FleetProgress(stream)
    progress.live = True
    progress._shown = True  # a live "clusters done" line is on screen
    notice = _wait_notice(progress)
    with CliRunner().isolation() as (_, _, err):
        notice(29.0, "DigitalOcean answered 429 with retry-after 29s")
        said = err.getvalue().decode()
    assert stream.getvalue() == "\r\x1b[K"  # the live line is cleared first
    assert said == "waiting 29s for DigitalOcean's rate limit: DigitalOcean answered 429 with retry-after 29s\n"


def test_a_fleet_whose_hourly_quota_is_spent_fails_at_once_saying_when_it_resets() -> None:
    fake = FakeDigitalOcean(clock=SystemClock(), rate_limit_per_hour=1)  # the listing spends it, for an hour
    for i in range(3):
        fake.add_cluster(f"shop-{i}", tags=["customers"])
    started = time.monotonic()
    with fake.serve() as url:
        result = run(url, "ensure-pool", "--tag", "customers", "--size", "5")
    assert time.monotonic() - started < 3.0
    assert result.exit_code == 1
    assert "3 of 3 clusters failed" in result.stderr
    # the listing's answer said remaining 0: no cluster sends a request into an hour-long wait
    assert re.search(r"the API rate limit \(DigitalOcean's ratelimit-remaining is 0\) needs a (1h|59m)\w* wait, "
                     r"until 20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in (1h|59m)\w*\): more than --max-wait 1m "
                     r"and the (5m|4m)\w* left of --timeout allow\. Run the same command again then", result.stdout)
    assert "Retry after" not in result.stdout  # said once
    assert len(fake.calls) == 1


@given(st.text(max_size=12))
@settings(max_examples=300, deadline=None)
def test_any_text_is_a_finite_duration_or_one_config_error(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except ConfigError:
        return
    assert math.isfinite(seconds) and seconds >= 0
