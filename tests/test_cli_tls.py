"""``--sslmode`` / ``--ca-file`` end to end: status verifies the local PostgreSQL (whose certificate a test CA
issued) with the CA the fake API serves at /ca; a wrong CA fails with a clear error; an unreadable CA falls
back to require with a warning unless verify-full was asked for; secrets carry verify-full only on request."""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from do_pgpool.testing import FakeDigitalOcean
from do_pgpool.testing._db_models import FakeCluster
from do_pgpool.testing._errors import FakeAPIError
from do_pgpool.testing._servers import RealServers
from tests.cli_runner import assert_none_shown, invoke
from tests.conftest_servers import POOL_NAME, local_cluster

TOKEN = "dop_v1_" + "t" * 8 + "tls-cli-token"
pytestmark = pytest.mark.postgres
run = functools.partial(invoke, token=TOKEN)


@pytest.fixture(scope="module")
def wrong_pem(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("wrong-ca")
    openssl = shutil.which("openssl")
    assert openssl
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=someone else", "-keyout", str(folder / "k.pem"),
                    "-out", str(folder / "ca.crt")], check=True, capture_output=True, timeout=30)  # fmt: skip
    return (folder / "ca.crt").read_text()


@pytest.fixture
def fake(pgbouncer_server: RealServers) -> FakeDigitalOcean:
    fake = FakeDigitalOcean()
    s = pgbouncer_server
    cluster = local_cluster(fake, s)
    fake.add_pool(cluster, POOL_NAME, 20)
    return fake


@pytest.fixture
def api(fake: FakeDigitalOcean) -> Iterator[str]:
    with fake.serve() as url:
        yield url


def _cluster(fake: FakeDigitalOcean) -> FakeCluster:
    return fake.databases.cluster("app-db")


def _ca_reads(fake: FakeDigitalOcean) -> int:
    return sum(1 for c in fake.calls if c.path.endswith("/ca"))


def test_status_verifies_with_the_clusters_ca_by_default(fake: FakeDigitalOcean, api: str) -> None:
    result = run(api, "status", "--cluster", "app-db", "--no-advice")
    assert result.exit_code == 0, result.output
    assert "verdict:" in result.stdout and "warning" not in result.output
    assert _ca_reads(fake) == 1


def test_status_with_a_wrong_ca_fails_clearly(
    fake: FakeDigitalOcean, api: str, wrong_pem: str, pgbouncer_server: RealServers
) -> None:
    _cluster(fake).ca_pem = wrong_pem
    result = run(api, "status", "--cluster", "app-db")
    assert result.exit_code == 1, result.output
    assert "TLS verification of PostgreSQL failed" in result.output
    assert f"127.0.0.1 port {pgbouncer_server.pg_port}" in result.output and "unknown CA" in result.output
    assert "--ca-file" in result.output and "--sslmode require" in result.output
    assert_none_shown(result, TOKEN, pgbouncer_server.password)
    # the user's choice: encrypted without authentication
    assert run(api, "status", "--cluster", "app-db", "--sslmode", "require").exit_code == 0


def test_an_existing_ca_file_is_used_without_reading_the_api(
    fake: FakeDigitalOcean, api: str, tmp_path: Path, pgbouncer_server: RealServers, wrong_pem: str
) -> None:
    good = tmp_path / "good.crt"
    good.write_text(pgbouncer_server.ca_pem)
    result = run(api, "status", "--cluster", "app-db", "--ca-file", str(good))
    assert result.exit_code == 0, result.output and _ca_reads(fake) == 0
    assert _ca_reads(fake) == 0
    bad = tmp_path / "bad.crt"
    bad.write_text(wrong_pem)
    assert run(api, "status", "--cluster", "app-db", "--ca-file", str(bad)).exit_code == 1


def test_a_missing_ca_file_is_fetched_and_stored(fake: FakeDigitalOcean, api: str, tmp_path: Path) -> None:
    target = tmp_path / "do-ca.crt"
    result = run(api, "status", "--cluster", "app-db", "--ca-file", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_text() == _cluster(fake).ca_pem and target.stat().st_mode & 0o777 == 0o644


def test_an_unreadable_ca_falls_back_to_require_with_a_warning_unless_verify_full_was_asked(
    fake: FakeDigitalOcean, api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(database_cluster_uuid: str) -> object:
        raise FakeAPIError(403, "You are not authorized to perform this operation")

    monkeypatch.setattr(fake.databases, "get_ca", forbidden)
    result = run(api, "status", "--cluster", "app-db", "--no-advice")
    assert result.exit_code == 0, result.output
    assert "cannot read the CA of cluster app-db" in result.stderr and "sslmode=require" in result.stderr
    strict = run(api, "status", "--cluster", "app-db", "--sslmode", "verify-full")
    assert strict.exit_code == 2, strict.output
    assert "--sslmode verify-full needs it" in strict.output and "--ca-file PATH" in strict.output


def test_fix_writes_verify_full_only_when_asked(fake: FakeDigitalOcean, api: str, tmp_path: Path) -> None:
    env, ca = tmp_path / ".env", tmp_path / "do-ca.crt"
    plain = run(api, "fix", "--cluster", "app-db", "--size", "20", "--name", POOL_NAME, "--secret", f"dotenv:{env}")
    assert plain.exit_code == 0, plain.output
    assert "sslmode=require" in env.read_text() and "sslrootcert" not in env.read_text()
    strict = run(api, "fix", "--cluster", "app-db", "--size", "20", "--name", POOL_NAME, "--secret", f"dotenv:{env}",
                 "--sslmode", "verify-full", "--ca-file", str(ca))  # fmt: skip
    assert strict.exit_code == 0, strict.output
    text = env.read_text()
    assert f"sslmode=verify-full&sslrootcert={ca}" in text and "sslmode=require" not in text
    assert ca.read_text() == _cluster(fake).ca_pem  # written next to the .env, where the app reads it


def test_verify_full_on_a_secret_needs_a_ca_file(api: str, tmp_path: Path) -> None:
    result = run(api, "fix", "--cluster", "app-db", "--size", "20", "--secret", f"dotenv:{tmp_path / '.env'}",
                 "--sslmode", "verify-full")  # fmt: skip
    assert result.exit_code == 2 and "--ca-file PATH" in result.output


def test_rewrite_secret_and_ensure_pool_write_verify_full_and_the_ca(
    fake: FakeDigitalOcean, api: str, tmp_path: Path
) -> None:
    env, ca = tmp_path / ".env", tmp_path / "do-ca.crt"
    dry = run(api, "rewrite-secret", "--secret", f"dotenv:{env}", "--sslmode", "verify-full", "--ca-file", str(ca),
              "--dry-run")  # fmt: skip
    assert dry.exit_code == 0, dry.output
    assert not ca.exists() and not env.exists()  # a dry run writes nothing, the CA included
    done = run(api, "rewrite-secret", "--secret", f"dotenv:{env}", "--sslmode", "verify-full", "--ca-file", str(ca))
    assert done.exit_code == 0, done.output
    assert f"sslmode=verify-full&sslrootcert={ca}" in env.read_text()
    assert ca.read_text() == _cluster(fake).ca_pem
    before = len(fake.calls)
    again = run(api, "ensure-pool", "--cluster", "app-db", "--size", "20", "--name", POOL_NAME,
                "--secret", f"dotenv:{env}", "--sslmode", "verify-full", "--ca-file", str(ca))  # fmt: skip
    assert again.exit_code == 0, again.output
    assert "unchanged" in again.output  # same string: idempotent
    assert not any(c.path.endswith("/ca") for c in fake.calls[before:])  # the CA file exists: no read
    fleet = run(api, "ensure-pool", "--all", "--size", "20", "--secret", f"dotenv:{env}", "--sslmode", "verify-full",
                "--ca-file", str(ca))  # fmt: skip
    assert fleet.exit_code == 2 and "one cluster" in fleet.output
