"""``do-pgpool ensure-pool`` through click's runner: exit codes, messages, JSON, and no secret in any output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner, Result

from do_pgpool.cli import main
from tests.cassette import replay

TOKEN = "dop_v1_" + "f" * 8 + "cli-test-token"
PASSWORD = "scrubbed"  # the cassettes' password: it must never reach the output


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    runner = CliRunner()
    return runner.invoke(main, list(args), env={"DIGITALOCEAN_TOKEN": TOKEN, **(env or {})}, catch_exceptions=False)


def assert_no_secrets(result: Result) -> None:
    text = result.stdout + result.stderr
    assert TOKEN not in text
    assert f":{PASSWORD}@" not in text


def test_create_prints_a_summary_with_a_masked_connection_string() -> None:
    with replay("create"):
        result = run("ensure-pool", "--size", "20")
    assert result.exit_code == 0, result.output
    assert "+ create pool 'defaultdb-pool': transaction, size 20" in result.stdout
    assert "created pool 'defaultdb-pool'" in result.stdout
    assert "postgresql://doadmin:***@" in result.stdout
    assert "leaving 2 for direct connections" in result.stderr
    assert_no_secrets(result)


def test_json_output_has_the_documented_fields() -> None:
    with replay("converged"):
        result = run("ensure-pool", "--size", "20", "--cluster", "backend", "-o", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["action"] == "unchanged"
    assert data["cluster"]["name"] == "backend"
    assert data["pool"] == {"name": "defaultdb-pool", "mode": "transaction", "size": 20, "db": "defaultdb",
                            "user": "doadmin"}
    assert data["budget"] == {"limit": 22, "other_pools": 0, "available": 22}
    assert data["changes"] == [] and data["requests"] == 2
    assert_no_secrets(result)


def test_over_budget_exits_1_with_the_numbers() -> None:
    with replay("over_budget"):
        result = run("ensure-pool", "--size", "20")
    assert result.exit_code == 1
    assert "Error: pool 'defaultdb-pool' of size 20 does not fit" in result.stderr
    assert "limit is 22" in result.stderr and "12 are available" in result.stderr
    # the library says size=12 and resize(connections=N); the CLI words them as its flags
    assert "Use --size 12 or less" in result.stderr and "(do-pgpool resize --connections N)" in result.stderr
    assert "size=" not in result.stderr
    assert_no_secrets(result)


def test_check_exits_3_when_changes_are_pending_and_writes_nothing() -> None:
    with pytest.raises(AssertionError, match="never requested"), replay("create"):
        result = run("ensure-pool", "--size", "20", "--check")
        assert result.exit_code == 3
        assert "dry run: would create" in result.stdout


def test_401_exits_1_and_names_the_token_variable() -> None:
    with replay("unauthorized"):
        result = run("ensure-pool", "--size", "20")
    assert result.exit_code == 1
    assert "401" in result.stderr and "DIGITALOCEAN_TOKEN" in result.stderr
    assert "Traceback" not in result.output
    assert_no_secrets(result)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--size", "0"], "--size 0 is too small: a pool needs at least 1 server connection"),
        (["--size", "5", "--mode", "batch"], "'batch' is not one of"),
        (["--size", "5", "--name", "x"], "3 to 60"),
        (["--size", "5", "--user", "u", "--inbound-user"], "--user and --inbound-user exclude each other"),
        (["--size", "5", "--user", " "], "--user must not be empty"),
        (["--size", "5", "--secret-name", "BAD-NAME"], "not valid"),
        (["--size", "5", "--ref", "main"], "--ref only applies with --secret"),
        (["--size", "5", "--secret-user", "u"], "--secret-user only applies with --secret TARGET"),
        (["--size", "5", "--private", "--ref", "main"], "--private, --ref only apply with --secret"),
        ([], "Missing option '--size'"),
    ],
)
def test_usage_errors_exit_2_before_any_request(args: list[str], message: str) -> None:
    result = run("ensure-pool", *args)  # no cassette: a request would go nowhere and fail differently
    assert result.exit_code == 2
    assert message in result.stderr


def test_missing_token_exits_2_with_what_to_do() -> None:
    result = CliRunner().invoke(main, ["ensure-pool", "--size", "5"], env={"DIGITALOCEAN_TOKEN": ""})
    assert result.exit_code == 2
    assert "DIGITALOCEAN_TOKEN" in result.stderr and "pass --token or set" in result.stderr


def test_help_does_not_import_pydo_or_azure() -> None:
    code = "import sys; from do_pgpool.cli import main\n" \
           "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n" \
           "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydo', 'azure', 'psycopg', 'nacl')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
