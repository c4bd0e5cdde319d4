"""When the database does not answer (no such host, refused, no answer): say so, with the host and what to check;
behind a loopback (fake) API, point to ``do-pgpool sandbox``. Loopback only: "refused" is a free local port."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator

import pytest

from do_pgpool._exceptions import DatabaseError
from do_pgpool.cli._sandbox import sandbox_hint
from do_pgpool.postgres._connect import connect, unreachable_reason
from do_pgpool.testing import FakeDigitalOcean
from do_pgpool.testing._servers import free_port
from tests.cli_runner import assert_none_shown, invoke

TOKEN = "dop_v1_" + "u" * 8 + "unreachable-token"
run = functools.partial(invoke, token=TOKEN)


@pytest.mark.parametrize(
    ("driver_said", "expected"),
    [
        ("failed to resolve host 'db.example': [Errno -2] Name or service not known",
         "the host name db.example does not resolve; check the cluster's host name, this machine's DNS"),
        ('could not translate host name "db.example" to address: Name or service not known',
         "the host name db.example does not resolve"),
        ('connection to server at "10.0.0.5", port 25060 failed: Connection refused',
         "nothing accepts connections at db.example port 25060 (connection refused)"),
        ("connection timeout expired",
         "db.example port 25060 did not answer; check that this machine's IP address is among the cluster's "
         "trusted sources"),
    ],
)  # fmt: skip
def test_each_way_of_not_answering_names_the_host_and_what_to_check(driver_said: str, expected: str) -> None:
    reason = unreachable_reason(driver_said, "db.example", 25060)
    assert reason is not None and reason.startswith(expected)


def test_no_answer_says_how_to_check_the_trusted_sources_in_flags_on_the_command_line() -> None:
    import psycopg

    from do_pgpool.cli._common import error_text
    from do_pgpool.postgres._connect import database_error

    url = "postgresql://doadmin:pw@db.example:25060/defaultdb"
    timed_out = database_error(psycopg.OperationalError("connection timeout expired"), url, "connecting to")
    assert timed_out.unreachable and "my_ip=ADDR" in str(timed_out) and "temporary_access" in str(timed_out)
    assert "--my-ip ADDR" in error_text(timed_out) and "--temporary-access" in error_text(timed_out)
    assert "my_ip" not in error_text(timed_out)
    refused = database_error(psycopg.OperationalError("Connection refused"), url, "connecting to")
    assert refused.unreachable and "my_ip" not in str(refused)  # a refusal is not the trusted sources


def test_a_server_that_answered_is_not_unreachable() -> None:
    assert unreachable_reason('FATAL:  password authentication failed for user "doadmin"', "h", 1) is None


def test_a_refused_connection_is_a_plain_unreachable_error_without_the_password() -> None:
    port = free_port()
    with pytest.raises(DatabaseError) as caught:
        connect(f"postgresql://doadmin:s3cret-pw@127.0.0.1:{port}/defaultdb?sslmode=require", connect_timeout=2)
    assert caught.value.unreachable and not caught.value.saturated
    message = str(caught.value)
    assert message.startswith(f"cannot reach PostgreSQL: nothing accepts connections at 127.0.0.1 port {port}")
    assert "s3cret-pw" not in message


def test_the_sandbox_hint_is_for_loopback_apis_only() -> None:
    assert sandbox_hint("https://api.digitalocean.com") is None
    for url in ("http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080"):
        hint = sandbox_hint(url)
        assert hint is not None and "`do-pgpool sandbox`" in hint and url in hint


# --- the commands, behind a fake API whose cluster does not answer ------------------------------------------


@pytest.fixture
def api() -> Iterator[str]:
    fake = FakeDigitalOcean()
    fake.add_cluster("app-db", size="db-s-1vcpu-1gb", host="127.0.0.1", port=free_port(), pool_port=free_port())
    with fake.serve() as url:
        yield url


def test_status_says_the_database_does_not_answer_and_points_to_the_sandbox(api: str) -> None:
    result = run(api, "status", "--cluster", "app-db")
    assert result.exit_code == 1
    assert "live: unavailable: cannot reach PostgreSQL: nothing accepts connections at 127.0.0.1" in result.stdout
    assert "`do-pgpool sandbox` serves the same fake API with a real local PostgreSQL" in result.stderr
    assert_none_shown(result, TOKEN)


def test_terminate_idle_says_the_same(api: str) -> None:
    result = run(api, "terminate-idle", "--cluster", "app-db", "--dry-run")
    assert result.exit_code == 1
    assert "Error: cannot reach PostgreSQL: nothing accepts connections at 127.0.0.1" in result.stderr
    assert "`do-pgpool sandbox`" in result.stderr


def test_fix_dry_run_reports_its_status_step_as_skipped_not_done(api: str) -> None:
    text = run(api, "fix", "--cluster", "app-db", "--size", "20", "--dry-run")
    assert text.exit_code == 0, text.output
    assert "- [1/6] status: skipped: live usage unavailable: cannot reach PostgreSQL: nothing accepts" in text.stdout
    assert "- [2/6] terminate-idle: skipped: live usage unknown, so nothing is terminated (the database did not " \
           "answer)" in text.stdout  # fmt: skip
    assert "`do-pgpool sandbox`" in text.stderr
    as_json = run(api, "fix", "--cluster", "app-db", "--size", "20", "--dry-run", "-o", "json")
    data = json.loads(as_json.stdout)
    assert data["steps"][0]["outcome"] == "skipped" and data["status"]["unreachable"] is True
