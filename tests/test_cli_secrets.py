"""``do-pgpool rewrite-secret`` end to end against the loopback fake (DigitalOcean + GitHub in one server)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from do_pgpool.cli._common import DoPgpoolGroup
from do_pgpool.cli._secrets import rewrite_secret_command
from do_pgpool.testing import FakeDigitalOcean

TOKEN = "dop_v1_" + "e" * 8 + "secrets-cli-token"
GH_TOKEN = "ghp_secretsclitoken"

# Registered here on a group of its own: the lead owns cli/__init__.py (one add_command line to add there).
cli = DoPgpoolGroup(commands={"rewrite-secret": rewrite_secret_command})


@pytest.fixture
def served() -> Iterator[tuple[FakeDigitalOcean, str]]:
    fake = FakeDigitalOcean()
    cluster = fake.add_cluster("app-db", size="db-s-1vcpu-1gb")
    fake.add_pool(cluster, "app-pool", 10)
    fake.github.add_repo("acme/web", environments=["production"], workflows=["deploy.yml"])
    fake.add_app("web-app", envs={"LOG_LEVEL": "info"}, secrets=())
    with fake.serve() as url:
        yield fake, url


def run(url: str, *args: str) -> Result:
    env = {"DIGITALOCEAN_TOKEN": TOKEN, "GITHUB_TOKEN": GH_TOKEN, "GITHUB_API_URL": url}
    return CliRunner().invoke(cli, ["rewrite-secret", "--api-url", url, *args], env=env, catch_exceptions=False)


def pool_uri(fake: FakeDigitalOcean) -> str:
    pool = fake.cluster("app-db").pools["app-pool"]
    uri = str(pool.to_api()["connection"]["uri"])
    return uri


def password_of(uri: str) -> str:
    from urllib.parse import urlsplit

    password = urlsplit(uri).password
    assert password
    return password


def test_writes_github_env_secret_app_and_dotenv_then_second_run_changes_nothing(
    served: tuple[FakeDigitalOcean, str], tmp_path: Path
) -> None:
    fake, url = served
    env_file = tmp_path / ".env"
    args = ["--cluster", "app-db", "--pool", "app-pool", "--secret", "github:acme/web@production",
            "--secret", "app:web-app", "--secret", f"dotenv:{env_file}"]
    first = run(url, *args)
    assert first.exit_code == 0, first.output
    uri = pool_uri(fake)
    assert ":25061/app-pool" in uri and "sslmode=require" in uri
    assert fake.github.secret_value("acme/web", "DATABASE_URL", "production") == uri
    assert f"DATABASE_URL={uri}" in env_file.read_text()
    assert "deployment" in first.stdout
    second = run(url, *args)
    assert second.exit_code == 0, second.output
    assert "app:web-app: unchanged" in second.stdout and f"dotenv:{env_file}: unchanged" in second.stdout
    secret = password_of(uri)
    for result in (first, second):
        assert secret not in result.output and TOKEN not in result.output and GH_TOKEN not in result.output


def test_stdout_target_prints_only_the_value_on_stdout(served: tuple[FakeDigitalOcean, str]) -> None:
    fake, url = served
    result = run(url, "--secret", "stdout")  # the only pool of the only cluster
    assert result.exit_code == 0, result.output
    assert result.stdout == pool_uri(fake) + "\n"
    assert "stdout: printed" in result.stderr


def test_dry_run_json_shows_no_value_and_writes_nothing(served: tuple[FakeDigitalOcean, str], tmp_path: Path) -> None:
    fake, url = served
    env_file = tmp_path / ".env"
    result = run(url, "--secret", "github:acme/web", "--secret", f"dotenv:{env_file}", "--dry-run", "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [s["action"] for s in data["secrets"]] == ["unknown", "create"]
    assert data["pool"] == "app-pool"
    assert not env_file.exists()
    assert password_of(pool_uri(fake)) not in result.output


def test_a_failing_target_exits_1_and_the_others_are_written(
    served: tuple[FakeDigitalOcean, str], tmp_path: Path
) -> None:
    fake, url = served
    env_file = tmp_path / ".env"
    result = run(url, "--secret", "github:acme/missing", "--secret", f"dotenv:{env_file}")
    assert result.exit_code == 1
    assert "1 of 2 secret targets failed: github:acme/missing" in result.stderr
    assert env_file.exists()


def test_redeploy_and_direct_secret(served: tuple[FakeDigitalOcean, str]) -> None:
    fake, url = served
    result = run(url, "--secret", "github:acme/web", "--direct-secret-name", "DIRECT_DATABASE_URL",
                 "--redeploy-workflow", "deploy.yml", "--ref", "main")
    assert result.exit_code == 0, result.output
    assert "workflow deploy.yml dispatched on main" in result.stdout
    direct = fake.github.secret_value("acme/web", "DIRECT_DATABASE_URL")
    assert ":25060/" in direct


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "at least one --secret"),
        (("--secret", "github:acme"), "OWNER/REPO"),
        (("--secret", "dotenv:/x/.env", "--redeploy-workflow", "d.yml"), "go together"),
        (("--secret", "dotenv:/x/.env", "--redeploy-workflow", "d.yml", "--ref", "main"), "github:OWNER/REPO"),
        (("--secret", "stdout", "--secret-name", "BAD-NAME"), "not valid"),
        (("--secret", "stdout", "--direct-secret-name", "DATABASE_URL"), "--direct-secret-name must differ"),
    ],
)
def test_usage_errors_exit_2_before_any_request(served: tuple[FakeDigitalOcean, str], args: tuple[str, ...],
                                                message: str) -> None:
    fake, url = served
    before = len(fake.calls)
    result = run(url, *args)
    assert result.exit_code == 2
    assert message in result.output
    assert len(fake.calls) == before
