"""``--url-for STACK --probe FILE`` on the secret commands, end to end on both real PgBouncers: the probe's saved
measurements decide the written URL (Prisma's ``pgbouncer=true`` only where prepared statements break through
the pool), a probe that cannot be of a transaction pool is refused, and ``-`` reads the probe from stdin."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from click.testing import CliRunner

from do_pgpool.cli import main
from do_pgpool.testing import FakeDigitalOcean
from do_pgpool.testing._servers import RealServers
from tests.cli_runner import assert_none_shown, invoke
from tests.conftest_servers import POOL_NAME, end_probe_server_connections, local_cluster

pytestmark = pytest.mark.postgres

TOKEN = "dop_v1_" + "m" * 8 + "measured-urls-token"
run = functools.partial(invoke, token=TOKEN)


@pytest.fixture(autouse=True)
def _no_probe_server_connection_left(pg_server: RealServers) -> Iterator[None]:
    """The pools keep the server connections the probe used, named do-pgpool-probe: end them, so that tests
    counting the probe's sessions (tests/test_probe.py) start from none."""
    yield
    end_probe_server_connections(pg_server)


def _fake(servers: RealServers) -> FakeDigitalOcean:
    fake = FakeDigitalOcean()
    fake.add_token(TOKEN)
    cluster = local_cluster(fake, servers)
    fake.add_pool(cluster, POOL_NAME, 20)  # the bouncer's defaultdb-pool: 20 server connections, transaction mode
    return fake


def _params(uri: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(uri).query))


@pytest.mark.parametrize(("bouncer", "prepared", "prisma"), [
    ("pgbouncer_118", "leaks", {"sslmode": "require", "connection_limit": "20", "pgbouncer": "true"}),
    ("pgbouncer_new", "works", {"sslmode": "require", "connection_limit": "20"}),
])  # fmt: skip
def test_the_written_url_follows_the_measured_pool(
    bouncer: str, prepared: str, prisma: dict[str, str], request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    servers: RealServers = request.getfixturevalue(bouncer)
    fake = _fake(servers)
    saved = tmp_path / "probe.json"
    with fake.serve() as url:
        probed = run(url, "probe", "--pool", POOL_NAME, "--no-direct", "-o", "json")
        assert probed.exit_code == 0, probed.output
        saved.write_text(probed.stdout)
        assert json.loads(probed.stdout)["pool"]["protocol_prepared_statements"]["behaviour"] == prepared
        shaped = run(url, "ensure-pool", "--name", POOL_NAME, "--size", "20", "--secret", "stdout",
                     "--url-for", "prisma", "--probe", str(saved))
        unmeasured = run(url, "rewrite-secret", "--pool", POOL_NAME, "--secret", "stdout", "--url-for", "prisma")
        rails = CliRunner().invoke(main, ["rewrite-secret", "--api-url", url, "--pool", POOL_NAME, "--secret", "stdout",
                                          "--url-for", "RAILS", "--probe", "-"], input=probed.stdout,
                                   env={"DIGITALOCEAN_TOKEN": TOKEN}, catch_exceptions=False)  # fmt: skip
    assert shaped.exit_code == 0, shaped.output
    assert _params(shaped.stdout.strip()) == prisma
    assert _params(unmeasured.stdout.strip())["pgbouncer"] == "true"  # not measured: the safe parameters
    assert rails.exit_code == 0, rails.output
    expected = {"sslmode": "require", "advisory_locks": "false"}
    if prepared != "works":
        expected["prepared_statements"] = "false"
    assert _params(rails.stdout.strip()) == expected
    assert_none_shown(shaped, TOKEN)


def test_a_probe_that_kept_session_state_is_refused_for_a_transaction_pool(
    pgbouncer_new: RealServers, pg_server: RealServers, tmp_path: Path
) -> None:
    """Measured on the direct connection (everything works), it would drop Prisma's protection: refused, exit 2,
    saying which pool to probe; nothing written."""
    fake = _fake(pgbouncer_new)
    env_file = tmp_path / ".env"
    result = CliRunner().invoke(main, ["probe", "--no-direct", "-o", "json"],
                                env={"DO_PGPOOL_PROBE_URL": pg_server.direct_url()})  # fmt: skip
    assert result.exit_code == 0, result.output
    saved = tmp_path / "direct.json"
    saved.write_text(result.stdout)
    with fake.serve() as url:
        refused = run(url, "rewrite-secret", "--pool", POOL_NAME, "--secret", f"dotenv:{env_file}",
                      "--url-for", "prisma", "--probe", str(saved))
    assert refused.exit_code == 2, refused.output
    assert "--probe: these measurements kept session state (set, advisory_lock, listen_notify, temporary_table " \
           "worked)" in refused.stderr
    assert f"do-pgpool probe --pool {POOL_NAME} --output json > probe.json" in refused.stderr
    assert not env_file.exists()


def test_probe_needs_url_for_and_a_bad_file_is_refused_before_any_request(tmp_path: Path) -> None:
    fake = FakeDigitalOcean()
    fake.add_token(TOKEN)
    fake.add_cluster("app-db", size="db-s-1vcpu-1gb")
    bad = tmp_path / "probe.json"
    bad.write_text("{}")
    with fake.serve() as url:
        alone = run(url, "ensure-pool", "--size", "5", "--secret", "stdout", "--probe", str(bad))
        broken = run(url, "fix", "--size", "5", "--secret", "stdout", "--url-for", "prisma", "--probe", str(bad))
        no_target = run(url, "ensure-pool", "--size", "5", "--url-for", "prisma", "--probe", str(bad))
    assert alone.exit_code == 2 and "--probe FILE shapes the URL written for a stack: it goes with --url-for" \
        in alone.stderr
    assert broken.exit_code == 2 and f"--probe {bad}: no pool measurements in it" in broken.stderr
    assert no_target.exit_code == 2 and "--url-for, --probe only apply with --secret TARGET" in no_target.stderr
    assert fake.cluster("app-db").pools == {}  # refused before any write


def test_fix_writes_the_measured_shape_and_still_verifies_the_pool(
    pgbouncer_new: RealServers, tmp_path: Path
) -> None:
    """The verification connects with DigitalOcean's plain string: the probe's file shapes only the secret."""
    fake = _fake(pgbouncer_new)
    saved = tmp_path / "probe.json"
    with fake.serve() as url:
        probed = run(url, "probe", "--pool", POOL_NAME, "--no-direct", "-o", "json")
        saved.write_text(probed.stdout)
        result = run(url, "fix", "--size", "20", "--name", POOL_NAME, "--idle-for", "0", "--secret", "stdout",
                     "--url-for", "prisma", "--probe", str(saved), "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    steps = {s["name"]: s for s in data["steps"]}
    assert steps["verify"]["outcome"] == "done", steps["verify"]
    assert _params(data["stdout"]["DATABASE_URL"]) == {"sslmode": "require", "connection_limit": "20"}
