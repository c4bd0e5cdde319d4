"""Opt-in stack-shaped URLs for secret targets (``--url-for STACK`` / ``SecretsSpec(url_for=...)``): the pool's
string gets the stack's parameters, the direct string stays DigitalOcean's, the default is unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from click.testing import CliRunner, Result

from do_pgpool._advice import URL_STACKS, stack_uri, stack_url_params
from do_pgpool._exceptions import ConfigError
from do_pgpool._pool_behaviour import Behaviour, Feature, Measurement, PoolBehaviour
from do_pgpool.cli import main
from do_pgpool.targets._spec import SecretsSpec
from do_pgpool.testing import FakeDigitalOcean
from do_pgpool.testing._servers import PoolAlias, RealServers
from tests.conftest_servers import local_cluster

TOKEN = "dop_v1_" + "u" * 8 + "stack-urls-token"
URI = "postgresql://doadmin:s3cr%2Ft@db-host.example:25061/app-pool?sslmode=require"
WORKS = PoolBehaviour((Measurement(Feature.PROTOCOL_PREPARED, Behaviour.WORKS, "measured"),))


def query(uri: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(uri).query)


def test_each_stack_adds_its_parameters_and_keeps_everything_else() -> None:
    assert stack_uri(URI, "prisma", pool_size=20) == URI + "&connection_limit=20&pgbouncer=true"
    assert stack_uri(URI, "rails") == URI + "&prepared_statements=false&advisory_locks=false"
    assert stack_uri(URI, "pgx5") == URI + "&default_query_exec_mode=exec"
    assert stack_uri(URI, "pgx4") == URI + "&statement_cache_mode=describe"
    assert stack_uri(URI, "lib-pq") == URI + "&binary_parameters=yes"
    assert urlsplit(stack_uri(URI, "prisma", pool_size=5)).password == "s3cr%2Ft"  # the password untouched


def test_a_parameter_already_there_is_replaced_not_doubled() -> None:
    assert query(stack_uri(URI + "&pgbouncer=false&connection_limit=3", "prisma", pool_size=7)) == [
        ("sslmode", "require"), ("connection_limit", "7"), ("pgbouncer", "true")]


def test_measured_prepared_statements_drop_the_parameters_that_only_protect_them() -> None:
    assert stack_url_params("prisma", WORKS, pool_size=9) == {"connection_limit": "9"}
    assert stack_url_params("rails", WORKS) == {"advisory_locks": "false"}
    assert stack_url_params("pgx5", WORKS) == {}
    assert stack_url_params("lib-pq", WORKS) == {"binary_parameters": "yes"}


def test_only_stacks_whose_settings_are_url_parameters() -> None:
    with pytest.raises(ConfigError, match="no URL shape for stack 'django'"):
        stack_url_params("django")
    with pytest.raises(ConfigError, match="is not a stack whose settings are URL parameters; one of: prisma"):
        SecretsSpec(url_for="django")


def test_the_cli_choice_is_the_library_list() -> None:
    from do_pgpool.cli._secrets import _OPTIONS

    def probe(url_for: str) -> None: ...

    for add in _OPTIONS:
        probe = add(probe)

    option = next(p for p in probe.__click_params__ if p.name == "url_for")  # type: ignore[attr-defined]
    assert tuple(option.type.choices) == URL_STACKS


# --- end to end: ensure-pool and rewrite-secret write the shaped string -------------------------------------------


@pytest.fixture
def served() -> tuple[FakeDigitalOcean, str]:
    fake = FakeDigitalOcean()
    fake.add_token(TOKEN)
    cluster = fake.add_cluster("app-db", size="db-s-1vcpu-1gb")
    fake.add_pool(cluster, "app-pool", 10)
    return fake, ""


def run(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--api-url", url], env={"DIGITALOCEAN_TOKEN": TOKEN},
                              catch_exceptions=False)  # fmt: skip


def written(env_file: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)


def test_rewrite_secret_writes_prisma_urls_and_the_direct_url(served: tuple[FakeDigitalOcean, str],
                                                               tmp_path: Path) -> None:
    fake, _ = served
    env_file = tmp_path / ".env"
    args = ["rewrite-secret", "--cluster", "app-db", "--pool", "app-pool", "--secret", f"dotenv:{env_file}",
            "--url-for", "prisma", "--direct-secret-name", "DIRECT_URL"]
    pool_uri = str(fake.cluster("app-db").pools["app-pool"].to_api()["connection"]["uri"])
    with fake.serve() as url:
        first = run(url, *args)
        assert first.exit_code == 0, first.output
        values = written(env_file)
        assert values["DATABASE_URL"].strip("'\"") == pool_uri + "&connection_limit=10&pgbouncer=true"
        direct = values["DIRECT_URL"].strip("'\"")
        assert ":25060/" in direct and "pgbouncer" not in direct and "connection_limit" not in direct
        again = run(url, *args)
        assert again.exit_code == 0 and "unchanged" in again.stdout  # idempotent: the same shaped string
        plain = run(url, *args[:7])  # without --url-for: DigitalOcean's string again
        assert plain.exit_code == 0
        assert written(env_file)["DATABASE_URL"].strip("'\"") == pool_uri


def test_ensure_pool_writes_the_rails_shape_to_stdout(served: tuple[FakeDigitalOcean, str]) -> None:
    fake, _ = served
    with fake.serve() as url:
        result = run(url, "ensure-pool", "--cluster", "app-db", "--size", "10", "--name", "app-pool",
                     "--secret", "stdout", "--url-for", "rails")
    assert result.exit_code == 0, result.output
    assert "&prepared_statements=false&advisory_locks=false" in result.stdout


def test_url_for_needs_a_secret_target(served: tuple[FakeDigitalOcean, str]) -> None:
    fake, _ = served
    with fake.serve() as url:
        result = run(url, "ensure-pool", "--cluster", "app-db", "--size", "10", "--url-for", "prisma")
    assert result.exit_code == 2
    assert "--url-for only applies with --secret TARGET" in result.stderr


@pytest.mark.postgres
def test_fix_writes_the_shaped_string_and_verifies_the_pool_with_the_plain_one(
    pgbouncer_server: RealServers, tmp_path: Path
) -> None:
    """Prisma's parameters are not libpq's: psycopg would refuse ``connection_limit``; the verification uses
    DigitalOcean's string, and the secret gets the shaped one."""
    if "shaped-pool" not in pgbouncer_server.pools:
        pgbouncer_server.add_pool("shaped-pool", PoolAlias("defaultdb", 5))
    fake = FakeDigitalOcean()
    fake.add_token(TOKEN)
    local_cluster(fake, pgbouncer_server)
    env_file = tmp_path / ".env"
    with fake.serve() as url:
        result = run(url, "fix", "--cluster", "app-db", "--size", "5", "--name", "shaped-pool", "--idle-for", "0",
                     "--secret", f"dotenv:{env_file}", "--url-for", "prisma", "-o", "json")
    assert result.exit_code == 0, result.output
    steps = {s["name"]: s["outcome"] for s in json.loads(result.stdout)["steps"]}
    assert steps["secrets"] == "done" and steps["verify"] == "done"
    value = written(env_file)["DATABASE_URL"].strip("'\"")
    assert value.endswith("/shaped-pool?sslmode=require&connection_limit=5&pgbouncer=true")
