"""One secret target's failure never stops the others: a GitHub public key that is not base64 fails its own
target with a clear message, and the targets listed after it are still written and reported."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from do_pgpool._exceptions import InvalidResponseError
from do_pgpool.cli import main
from do_pgpool.targets._base import TargetOutcome
from do_pgpool.targets._simple import StdoutTarget
from do_pgpool.targets._write import write_secrets
from do_pgpool.testing import FakeDigitalOcean

TOKEN = "dop_v1_isolation-token-0000"


@pytest.fixture
def fake() -> FakeDigitalOcean:
    fake = FakeDigitalOcean()
    cluster = fake.add_cluster("app-db", size="db-s-1vcpu-1gb")
    fake.add_pool(cluster, "app-pool", 10)
    fake.add_app("web-app")
    fake.github.add_repo("acme/web")
    fake.github.add_repo("acme/api")
    return fake


def break_public_key(fake: FakeDigitalOcean, repo: str, key: str) -> None:
    scope = fake.github.scope(repo)
    scope.public_key = lambda: {"key_id": "568250167242549743", "key": key}  # type: ignore[method-assign]


def run(fake: FakeDigitalOcean, *args: str) -> Result:
    with fake.serve() as url:
        env = {"DIGITALOCEAN_TOKEN": TOKEN, "DIGITALOCEAN_API_URL": url, "GITHUB_TOKEN": "ghp_isolation0token",
               "GITHUB_API_URL": url}  # fmt: skip
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.mark.parametrize("key", ["not base64 at all!", "c2hvcnQ=", "\u00e9t\u00e9"])
def test_a_bad_github_public_key_fails_that_target_only(fake: FakeDigitalOcean, tmp_path: Path, key: str) -> None:
    break_public_key(fake, "acme/web", key)
    env_file = tmp_path / ".env"
    result = run(fake, "rewrite-secret", "--secret", "github:acme/web", "--secret", "github:acme/api",
                 "--secret", "app:web-app", "--secret", f"dotenv:{env_file}")  # fmt: skip
    assert result.exit_code == 1
    assert "unexpected" not in result.output and "Traceback" not in result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("! github:acme/web: failed") and "not a base64 Curve25519 key" in lines[0]
    assert any(line.startswith("~ github:acme/api: created") for line in lines)
    assert any(line.startswith("~ app:web-app: created") for line in lines)
    assert "DATABASE_URL=" in env_file.read_text()
    assert "1 of 4 secret targets failed: github:acme/web" in result.stderr
    assert fake.github.scope("acme/api").secrets and not fake.github.scope("acme/web").secrets


def test_the_json_report_lists_every_target(fake: FakeDigitalOcean) -> None:
    break_public_key(fake, "acme/web", "%%%")
    result = run(fake, "rewrite-secret", "--secret", "github:acme/web", "--secret", "app:web-app", "-o", "json")
    assert result.exit_code == 1
    first, second = json.loads(result.stdout)["secrets"]
    assert (first["ok"], first["error_type"]) == (False, "InvalidResponseError")
    assert (second["ok"], second["action"]) == (True, "created")


def test_dry_run_finds_the_bad_key_too(fake: FakeDigitalOcean) -> None:
    break_public_key(fake, "acme/web", "%%%")
    result = run(fake, "rewrite-secret", "--secret", "github:acme/web", "--secret", "github:acme/api", "--dry-run")
    assert result.exit_code == 1
    assert "not a base64 Curve25519 key" in result.stdout and "github:acme/api" in result.stdout


class _BrokenTarget:
    kind = "broken"
    label = "broken:one"

    def describe(self) -> str:
        return "a target with a bug"

    def plan(self, values: Mapping[str, str]) -> list[object]:
        raise ZeroDivisionError("division by zero")

    def apply(self, values: Mapping[str, str]) -> TargetOutcome:
        raise ZeroDivisionError("division by zero")


def test_a_target_that_raises_anything_fails_alone_in_the_library() -> None:
    values = {"DATABASE_URL": "postgresql://u:AVNS_isolationPw@h:25061/p"}
    broken, printed = write_secrets([_BrokenTarget(), StdoutTarget()], values)  # type: ignore[list-item]
    assert not broken.ok and "ZeroDivisionError" in str(broken.error) and "a do-pgpool bug" in str(broken.error)
    assert printed.ok and printed.output == values


def test_the_library_reports_a_bad_key_as_an_invalid_response() -> None:
    fake = FakeDigitalOcean()
    fake.github.add_repo("acme/web")
    break_public_key(fake, "acme/web", "AAAA")
    from do_pgpool.api._github import GitHub

    with GitHub("ghp_isolation0token", http=fake.http_client(base_url="https://api.github.com")) as github:
        with pytest.raises(InvalidResponseError, match="4 characters"):
            github.put_secret("acme/web", "DATABASE_URL", "x")


def test_the_advice_says_a_plain_rerun_helps_only_after_transient_failures(fake: FakeDigitalOcean) -> None:
    from do_pgpool._exceptions import ConflictError, ServerError, TransportError
    from do_pgpool.targets._base import rerun_advice

    def failed(error: Exception) -> TargetOutcome:
        return TargetOutcome("t", "failed", error=error)  # type: ignore[arg-type]

    transient = [failed(ServerError("500", status=500)), failed(TransportError("reset"))]
    assert rerun_advice(transient) == "re-run to finish (every target is idempotent)"
    for lasting in (ConflictError("422", status=422), InvalidResponseError("bad key")):
        assert "a plain re-run would fail the same way" in rerun_advice([*transient, failed(lasting)])

    break_public_key(fake, "acme/web", "%%%")
    result = run(fake, "rewrite-secret", "--secret", "github:acme/web")
    assert "fix what each error names, then re-run" in result.stderr
