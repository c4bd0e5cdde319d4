"""Adversarial inputs, from a user's and an attacker's side: clear one-line errors instead of tracebacks, no
secret on any output, Ctrl-C handled like a CLI should."""

from __future__ import annotations

import http.server
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from do_pgpool import _exceptions as errors
from do_pgpool.api._gateway import DigitalOcean
from do_pgpool.api._github import GitHub
from do_pgpool.api._retry import RetryConfig
from do_pgpool.cli import main
from do_pgpool.cli._common import configure_logging
from do_pgpool.testing import FakeDigitalOcean
from tests.cli_runner import assert_none_shown

TOKEN = "dop_v1_" + "h" * 8 + "hardening-token"
GH_TOKEN = "ghp_hardeningtoken"
PASSWORD = "hardening-db-password"


@pytest.fixture
def served() -> Iterator[tuple[FakeDigitalOcean, str]]:
    fake = FakeDigitalOcean()
    cluster = fake.add_cluster("app-db", size="db-s-1vcpu-1gb", password=PASSWORD)
    fake.add_pool(cluster, "app-pool", 10)
    fake.github.add_repo("acme/web")
    with fake.serve() as url:
        yield fake, url


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    logger = logging.getLogger("do_pgpool")
    handlers, level = logger.handlers[:], logger.level
    yield
    logger.handlers[:], logger.level = handlers, level


def run(url: str, *args: str, token: str = TOKEN, env: dict[str, str] | None = None) -> Result:
    environ = {"DIGITALOCEAN_TOKEN": token, "DIGITALOCEAN_API_URL": url, "GITHUB_TOKEN": GH_TOKEN,
               "GITHUB_API_URL": url, **(env or {})}  # fmt: skip
    return CliRunner().invoke(main, list(args), env=environ, catch_exceptions=False)


def writes(fake: FakeDigitalOcean) -> list[Any]:
    return [c for c in fake.calls if c.method != "GET"]


# -- Ctrl-C ------------------------------------------------------------------------------------------------


def test_ctrl_c_exits_130_with_one_line_and_no_traceback(
    served: tuple[FakeDigitalOcean, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = served

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(DigitalOcean, "find_cluster", interrupted)
    result = run(url, "ensure-pool", "--size", "5")
    assert result.exit_code == 130
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Interrupted")
    assert "run the same command again" in lines[0]
    assert "Aborted" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["status"], "Interrupted: status only reads; nothing was changed."),
        (["status", "--watch", "10"], "Interrupted: status only reads; nothing was changed."),
        (["list-pools"], "Interrupted: list-pools only reads; nothing was changed."),
        (["ensure-pool", "--size", "5", "--dry-run"], "Interrupted: --dry-run only reads; nothing was changed."),
        (["ensure-pool", "--size", "5", "--check"], "Interrupted: --check only reads; nothing was changed."),
        (["delete-pool", "app-pool", "--dry-run"], "Interrupted: --dry-run only reads; nothing was changed."),
        # a run that writes, even a reading command's run that adds a trusted source, may have changed something
        (["status", "--my-ip", "203.0.113.7", "--temporary-access"], "Interrupted: anything already sent"),
        (["terminate-idle"], "Interrupted: anything already sent"),
    ],
)
def test_ctrl_c_says_nothing_was_changed_only_when_the_run_changes_nothing(
    served: tuple[FakeDigitalOcean, str], monkeypatch: pytest.MonkeyPatch, args: list[str], said: str
) -> None:
    fake, url = served

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(DigitalOcean, "find_cluster", interrupted)
    result = run(url, *args)
    assert result.exit_code == 130
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(said), result.stderr
    assert [c for c in fake.calls if c.method != "GET"] == []


def test_the_help_of_a_read_only_command_says_ctrl_c_changes_nothing() -> None:
    status = CliRunner().invoke(main, ["status", "--help"]).stdout
    assert "130  interrupted (Ctrl-C): nothing was changed (this command only reads; a --temporary-access rule" in (
        status)  # fmt: skip
    assert "130  interrupted (Ctrl-C): nothing was changed (this command only reads)" in CliRunner().invoke(
        main, ["list-pools", "--help"]).stdout  # fmt: skip
    ensure = CliRunner().invoke(main, ["ensure-pool", "--help"]).stdout
    assert "may have been applied; re-run to finish (nothing with --dry-run)" in " ".join(ensure.split())


# -- tokens that cannot travel in a header -----------------------------------------------------------------


@pytest.mark.parametrize("bad", [TOKEN + "\nsecond-line", TOKEN + "\u00e9", "dop_v1_" + "x" * 8 + " two words"])
def test_a_malformed_do_token_is_refused_before_any_request_and_never_shown(
    served: tuple[FakeDigitalOcean, str], bad: str
) -> None:
    fake, url = served
    result = run(url, "status", token=bad)
    assert result.exit_code == 2, result.output
    assert "DigitalOcean API token" in result.stderr
    assert "printable ASCII" in result.stderr
    assert fake.calls == []
    assert_none_shown(result, bad, bad.split()[0].split("\n")[0][:20], "hardening-token")


@pytest.mark.parametrize("bad", [GH_TOKEN + "\nx", GH_TOKEN + "\u00e9"])
def test_a_malformed_github_token_is_refused_before_any_request_and_never_shown(
    served: tuple[FakeDigitalOcean, str], bad: str
) -> None:
    fake, url = served
    result = run(url, "rewrite-secret", "--secret", "github:acme/web", env={"GITHUB_TOKEN": bad})
    assert result.exit_code == 2, result.output
    assert "GitHub token" in result.stderr and "printable ASCII" in result.stderr
    assert writes(fake) == []
    assert_none_shown(result, GH_TOKEN)


def test_the_library_refuses_malformed_tokens_too() -> None:
    with pytest.raises(errors.ConfigError, match="printable ASCII") as do_error:
        DigitalOcean("abc\r\ndef")
    with pytest.raises(errors.ConfigError, match="printable ASCII") as gh_error:
        GitHub("ghp_abc\u00e9")
    assert "abc" not in str(do_error.value) and "ghp_abc" not in str(gh_error.value)


# -- API URLs ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://[::1", "https://[not-an-ip]/", "https://api.digitalocean.com:99999"])
def test_a_malformed_api_url_is_a_usage_error(url: str) -> None:
    result = CliRunner().invoke(main, ["status", "--api-url", url], env={"DIGITALOCEAN_TOKEN": TOKEN},
                                catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "--api-url" in result.stderr and "is not an http(s) URL" in result.stderr


def test_a_malformed_github_api_url_is_a_usage_error(served: tuple[FakeDigitalOcean, str]) -> None:
    fake, url = served
    result = run(url, "rewrite-secret", "--secret", "github:acme/web", env={"GITHUB_API_URL": "https://[x"})
    assert result.exit_code == 2, result.output
    assert "GITHUB_API_URL" in result.stderr
    assert writes(fake) == []


# -- API answers of the wrong shape ------------------------------------------------------------------------


def gateway_answering(body: str) -> DigitalOcean:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=body, headers={"content-type": "application/json"})

    http = httpx.Client(transport=httpx.MockTransport(handler), base_url="https://api.digitalocean.com")
    return DigitalOcean(TOKEN, http=http, retry=RetryConfig(sleep=lambda s: None, clock=lambda: 0.0))


CLUSTER_ID = "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30"


@pytest.mark.parametrize(
    ("body", "call"),
    [
        ("{}", lambda do: do.get_cluster(CLUSTER_ID)),
        ('{"database": []}', lambda do: do.get_cluster(CLUSTER_ID)),
        ('{"databases": [1]}', lambda do: do.list_clusters()),
        ('{"databases": [{"name": "app-db", "engine": "pg"}]}', lambda do: do.list_clusters()),
        ('{"databases": [{"id": "x", "num_nodes": "many"}]}', lambda do: do.list_clusters()),
        ('{"databases": {"id": "x"}}', lambda do: do.list_clusters()),
        ('{"pools": [{"size": 5}]}', lambda do: do.list_connection_pools(CLUSTER_ID)),
        ("{}", lambda do: do.get_connection_pool(CLUSTER_ID, "app-pool")),
        ('{"users": [1, 2]}', lambda do: do.list_users(CLUSTER_ID)),
        ("{}", lambda do: do.get_app("app-id")),
        ("{}", lambda do: do.get_deployment("app-id", "dep-id")),
        ('{"apps": "none"}', lambda do: do.list_apps()),
    ],
)
def test_an_answer_of_the_wrong_shape_is_an_invalid_response_error(body: str, call: Any) -> None:
    with gateway_answering(body) as do, pytest.raises(errors.InvalidResponseError, match="DigitalOcean's answer"):
        call(do)


@pytest.fixture
def empty_object_api() -> Iterator[str]:
    """A loopback server answering ``{}`` to everything: valid JSON, wrong shape (a proxy, a mock gone stale)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_the_cli_reports_a_wrong_shape_in_one_line(empty_object_api: str) -> None:
    result = run(empty_object_api, "status", "--cluster", CLUSTER_ID)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: GET /v2/databases/{CLUSTER_ID}: DigitalOcean's answer has no 'database' object"
    ]


# -- numbers that are not numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("terminate-idle", "--dry-run", "--idle-for", "nan"),
        ("terminate-idle", "--dry-run", "--idle-for", "inf"),
        ("fix", "--dry-run", "--size", "5", "--idle-for", "nan"),
        ("fix", "--dry-run", "--size", "5", "--verify-timeout", "inf"),
        ("fix", "--dry-run", "--size", "5", "--verify-timeout", "nan"),
    ],
)
def test_nan_and_infinite_seconds_are_usage_errors_before_any_request(
    served: tuple[FakeDigitalOcean, str], args: tuple[str, ...]
) -> None:
    fake, url = served
    result = run(url, *args)
    assert result.exit_code == 2, result.output
    assert "is not a finite number of seconds" in result.stderr
    assert fake.calls == []


# -- a bug is one line, not a traceback (and never a secret) ---------------------------------------------------


def _break_find_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the first API call hit a bug whose message carries a password and the token."""

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"boom postgres://doadmin:{PASSWORD}@db.example:25060/defaultdb and {TOKEN}")

    monkeypatch.setattr(DigitalOcean, "find_cluster", broken)


def test_an_unexpected_error_is_one_line_without_secrets(
    served: tuple[FakeDigitalOcean, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = served
    _break_find_cluster(monkeypatch)
    result = run(url, "status")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: unexpected RuntimeError")
    assert "-vv" in lines[0]
    assert_none_shown(result, PASSWORD, TOKEN)


def test_with_vv_an_unexpected_error_shows_its_traceback_with_secrets_masked(
    served: tuple[FakeDigitalOcean, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = served
    _break_find_cluster(monkeypatch)
    result = run(url, "-vv", "status")
    assert result.exit_code == 1
    assert "Traceback" in result.stderr and "RuntimeError: boom postgres://doadmin:***@db.example" in result.stderr
    assert_none_shown(result, PASSWORD, TOKEN)


# -- log redaction (-v, -vv) ----------------------------------------------------------------------------------


def test_debug_logs_mask_passwords_in_urls_and_the_tokens_of_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGITALOCEAN_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_TOKEN", GH_TOKEN)
    configure_logging(2)
    log = logging.getLogger("do_pgpool.somewhere")
    log.debug("connecting to %s", f"postgres://doadmin:{PASSWORD}@db:25060/defaultdb")
    log.info("header was Bearer %s, github %s", TOKEN, GH_TOKEN)
    try:
        raise ValueError(f"postgresql://u:{PASSWORD}@h/db")
    except ValueError:
        log.debug("failed", exc_info=True)
    err = capsys.readouterr().err
    assert "postgres://doadmin:***@db:25060/defaultdb" in err
    assert "Bearer ***" in err
    assert "Traceback" in err
    for secret in (PASSWORD, TOKEN, GH_TOKEN):
        assert secret not in err


def test_vv_shows_no_http_library_debug_output_with_headers(
    served: tuple[FakeDigitalOcean, str], capfd: pytest.CaptureFixture[str]
) -> None:
    _, url = served
    result = run(url, "-vv", "rewrite-secret", "--pool", "app-pool", "--secret", "github:acme/web")
    assert result.exit_code == 0, result.output
    assert "Authorization" not in result.stderr
    assert_none_shown(result, TOKEN, GH_TOKEN, PASSWORD)


# -- fake-api ------------------------------------------------------------------------------------------------


def test_fake_api_with_a_state_file_it_cannot_write_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from do_pgpool.testing._server import FakeServer

    def stop_at_once(self: FakeServer, poll_interval: float = 0.5) -> None:
        raise KeyboardInterrupt  # bounded: the test must not serve forever if the check is missing

    monkeypatch.setattr(FakeServer, "serve_forever", stop_at_once)
    result = CliRunner().invoke(main, ["fake-api", "--state", str(tmp_path / "missing-dir" / "state.json")],
                                catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "--state" in result.stderr and "cannot write" in result.stderr


def test_fake_api_on_a_busy_port_is_a_usage_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["fake-api", "--port", str(port)], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert "--port" in result.stderr and str(port) in result.stderr



@pytest.fixture
def never_serve(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """fake-api returns at once if it gets as far as serving (bounded even when a check is missing)."""
    from do_pgpool.testing._server import FakeServer

    served: list[str] = []

    def stop_at_once(self: FakeServer, poll_interval: float = 0.5) -> None:
        served.append("served")
        raise KeyboardInterrupt

    monkeypatch.setattr(FakeServer, "serve_forever", stop_at_once)
    return served


@pytest.mark.parametrize("token", ["", "   ", "two words", "fake\u00e9"])
def test_fake_api_refuses_a_token_no_client_could_send(never_serve: list[str], token: str) -> None:
    result = CliRunner().invoke(main, ["fake-api", "--token", token], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert "--token" in result.stderr and never_serve == []


@pytest.mark.parametrize(("path", "kind"), [("/dev/full", "a character device"), ("/dev/null", "a character device")])
def test_fake_api_refuses_a_state_file_that_is_not_a_regular_file(
    never_serve: list[str], tmp_path: Path, path: str, kind: str
) -> None:
    link = tmp_path / "state.json"
    link.symlink_to(path)  # through a symlink too
    for given in (path, str(link)):
        result = CliRunner().invoke(main, ["fake-api", "--state", given], catch_exceptions=False)
        assert result.exit_code == 2, result.output
        assert f"is {kind}, not a regular file" in result.stderr and never_serve == []


def test_fake_api_refuses_a_fifo_as_state_file(never_serve: list[str], tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "state.fifo"
    os.mkfifo(fifo)
    result = CliRunner().invoke(main, ["fake-api", "--state", str(fifo)], catch_exceptions=False)
    assert result.exit_code == 2 and "is a FIFO" in result.stderr and never_serve == []


def test_fake_api_still_serves_with_a_good_token_and_a_new_state_file(never_serve: list[str], tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    result = CliRunner().invoke(main, ["fake-api", "--token", "fake", "--state", str(state)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert never_serve == ["served"] and state.is_file()


# -- advice ------------------------------------------------------------------------------------------------


def test_advice_is_a_command_that_needs_no_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from do_pgpool._advice import advice, render_text

    monkeypatch.chdir(tmp_path)  # an empty directory: no stack detected, so every stack's advice
    result = CliRunner().invoke(main, ["advice"], env={"DIGITALOCEAN_TOKEN": ""}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == render_text()
    only = CliRunner().invoke(main, ["advice", "--stack", "asyncpg", "-o", "json"], catch_exceptions=False)
    import json

    assert [f["key"] for f in json.loads(only.stdout)["frameworks"]] == ["asyncpg"]
    from do_pgpool.cli._advice import STACKS

    assert STACKS == [a.key for a in advice()]  # every stack can be asked for
