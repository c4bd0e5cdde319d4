"""``probe`` and ``advice`` given what a user at 3 a.m. gives them: a wrong pool, none, several; a connection
string in keyword/value form or not one at all; a cluster in the environment; a stack's name in another case or
misspelt; a FIFO where a manifest should be; a pool measured to keep session state. Each gets one message that
names the problem and what to do, the right exit code, and no password."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from do_pgpool._advice import CAVEATS, advice, caveats, stack_url_params
from do_pgpool._dburl import mask_secrets_in, mask_url
from do_pgpool._exceptions import ConfigError
from do_pgpool._pool_behaviour import Behaviour, Feature, Measurement, PoolBehaviour
from do_pgpool._stacks import detect_stacks, stack_key
from do_pgpool.cli import main
from do_pgpool.postgres._connect import login_refused, scrub
from do_pgpool.testing import FakeDigitalOcean
from do_pgpool.testing._servers import PoolAlias, RealServers
from tests.cli_runner import invoke
from tests.conftest_servers import PROBE_POOL_NAME, end_probe_server_connections, local_cluster

TOKEN = "dop_v1_" + "i" * 8 + "probe-inputs-token"
run = functools.partial(invoke, token=TOKEN)
SESSION_POOL = PoolBehaviour(tuple(Measurement(f, Behaviour.WORKS, "measured") for f in Feature))
PREPARED_ONLY = PoolBehaviour(tuple(
    Measurement(f, Behaviour.WORKS if f is Feature.PROTOCOL_PREPARED else Behaviour.LEAKS, "measured")
    for f in Feature))  # fmt: skip


def cli(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)


# --- which pool ----------------------------------------------------------------------------------------------


@pytest.fixture
def fake() -> FakeDigitalOcean:
    fake = FakeDigitalOcean()
    fake.add_token(TOKEN)
    fake.add_cluster("app-db", size="db-s-1vcpu-1gb")
    return fake


def test_a_cluster_without_a_pool_is_told_to_create_one(fake: FakeDigitalOcean) -> None:
    with fake.serve() as url:
        result = run(url, "probe")
    assert result.exit_code == 2
    said = "this cluster has no connection pool yet: create one with do-pgpool ensure-pool --size N (or do-pgpool fix)"
    assert said in result.stderr
    assert "say which" not in result.stderr


def test_several_pools_and_no_pool_option_names_them(fake: FakeDigitalOcean) -> None:
    fake.add_pool(fake.cluster("app-db"), "web", 5)
    fake.add_pool(fake.cluster("app-db"), "jobs", 3)
    with fake.serve() as url:
        result = run(url, "probe")
    assert result.exit_code == 2
    assert "this cluster has 2 pools (" in result.stderr and "say which with --pool NAME" in result.stderr


def test_an_unknown_pool_names_the_pools_there_are(fake: FakeDigitalOcean) -> None:
    fake.add_pool(fake.cluster("app-db"), "web", 5)
    with fake.serve() as url:
        wrong = run(url, "probe", "--pool", "wbe")
        secret = run(url, "rewrite-secret", "--pool", "wbe", "--secret", "stdout")
    for result in (wrong, secret):
        assert result.exit_code == 1
        assert "this cluster has no pool named 'wbe'; its pools: web; name one with --pool NAME" in result.stderr


def test_an_unknown_pool_on_a_cluster_without_pools_says_how_to_create_it(fake: FakeDigitalOcean) -> None:
    with fake.serve() as url:
        result = run(url, "probe", "--pool", "web")
    assert result.exit_code == 1
    assert "no pool named 'web'; it has no pool yet: create one with do-pgpool ensure-pool --name web --size N" \
        in result.stderr


# --- --url ---------------------------------------------------------------------------------------------------


def test_url_ignores_the_cluster_from_the_environment_but_not_from_the_command_line() -> None:
    env = {"DO_PGPOOL_CLUSTER": "app-db", "DO_PGPOOL_MY_IP": "203.0.113.7", "DO_PGPOOL_PROBE_URL": "not a url"}
    from_env = cli("probe", env=env)
    assert from_env.exit_code == 2 and "--url: not a connection string libpq can read" in from_env.stderr
    given = cli("probe", "--cluster", "app-db", env=env)
    assert given.exit_code == 2
    assert "--url probes that connection string: it takes no --cluster (those pick" in given.stderr


@pytest.mark.parametrize("url", [
    "host=127.0.0.1 port=1 user=doadmin password=Kw-s3cret-pw9 dbname=web",
    "postgresql://doadmin:Kw%zz-s3cret-pw9@127.0.0.1:1/web",  # libpq echoes a bad percent-encoding
    "postgresql://doadmin@127.0.0.1:1/web?password=Kw-s3cret-pw9",
])  # fmt: skip
def test_a_password_in_any_form_of_url_is_never_shown(url: str) -> None:
    result = cli("probe", "--no-direct", env={"DO_PGPOOL_PROBE_URL": url})
    assert result.exit_code in (1, 2), result.output
    text = result.stdout + result.stderr
    assert "s3cret-pw9" not in text and "Error: " in text


def test_keyword_value_passwords_are_masked_everywhere() -> None:
    assert mask_secrets_in("host=h password=abc123 dbname=d") == "host=h password=*** dbname=d"
    assert mask_secrets_in("host=h password='a b\\' c' user=u") == "host=h password=*** user=u"
    assert mask_secrets_in("u?password=abc&sslmode=require") == "u?password=***&sslmode=require"
    assert mask_secrets_in("db_password=kept") == "db_password=kept"  # another key: not this rule's
    assert mask_url("host=h password=abc123") == "host=h password=***"
    assert scrub('database "pw-as-db-name" does not exist', "host=h password=pw-as-db-name") == \
        'database "***" does not exist'


def test_a_refused_login_says_what_to_do() -> None:
    said = login_refused('connection to server at "h", port 6432 failed: FATAL:  SASL authentication failed')
    assert said is not None and "wrong user or password" in said and "rewrite-secret --secret stdout" in said
    pool = login_refused("FATAL:  no such database: nopool")
    assert pool is not None and "the database part of a pool's connection string is the pool's name" in pool
    assert login_refused("FATAL:  remaining connection slots are reserved") is None


@pytest.mark.postgres
def test_a_wrong_password_through_the_real_pgbouncer(pgbouncer_server: RealServers) -> None:
    url = pgbouncer_server.pool_url(PROBE_POOL_NAME).replace(pgbouncer_server.password, "Wrong-pw-77")
    result = cli("probe", "--no-direct", env={"DO_PGPOOL_PROBE_URL": url})
    assert result.exit_code == 1
    assert "the login was refused: wrong user or password" in result.stderr and "Wrong-pw-77" not in result.stderr


def test_probe_and_advice_help_give_examples_and_exit_codes() -> None:
    text = cli("probe", "--help").stdout
    assert "do-pgpool probe -o json | do-pgpool advice --stack prisma --probe -" in text
    assert "0  the probe ran, whatever the verdicts" in text and "1  the pool does not connect at all" in text
    advice_help = cli("advice", "--help").stdout
    assert "Exit codes:" in advice_help and "2  usage: an unknown --stack" in advice_help


# --- advice's inputs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "key"), [
    ("Django", "django"), ("good_job", "good-job"), ("lib/pq", "lib-pq"), ("postgres.js", "postgres-js"),
    ("SQLAlchemy+asyncpg", "sqlalchemy-asyncpg"), ("pgjdbc", "jdbc"), ("psycopg3", "psycopg"), ("pg", "node-postgres"),
])  # fmt: skip
def test_a_stack_as_people_type_it(typed: str, key: str) -> None:
    assert stack_key(typed) == key


def test_a_misspelt_stack_gets_the_closest_names() -> None:
    with pytest.raises(ConfigError, match=r"'djnago' is not a stack this knows; did you mean django\? one of: "):
        stack_key("djnago")
    result = cli("advice", "--stack", "rials")
    assert result.exit_code == 2 and "did you mean rails?" in result.stderr
    both = cli("advice", "--stack", "Rails", "--stack", "rails")
    assert both.exit_code == 0 and both.stdout.count("Rails / ActiveRecord (pg):") == 1


@pytest.mark.parametrize("name", ["", "A B", "1URL", "DATABASE-URL"])
def test_an_environment_variable_name_is_checked(name: str) -> None:
    result = cli("advice", "--stack", "psycopg", "--pool-env", name)
    assert result.exit_code == 2 and "is not an environment variable's name" in result.stderr


def test_the_probe_is_read_from_standard_input() -> None:
    saved = json.dumps({"target": "pool web", "pool": PREPARED_ONLY.as_dict()})
    result = cli("advice", "--stack", "prisma", "--probe", "-", stdin=saved)
    assert result.exit_code == 0, result.output
    assert "Prepared statements through this pool: works (measured)." in result.stdout
    assert "25061>&connection_limit=N\n" in result.stdout  # no &pgbouncer=true
    empty = cli("advice", "--stack", "prisma", "--probe", "-", stdin="")
    assert empty.exit_code == 2 and "--probe - (standard input): empty;" in empty.stderr


def test_a_manifest_that_is_not_a_regular_file_is_named_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "requirements.txt")  # reading it would block forever
    (tmp_path / "package.json").symlink_to("/dev/zero")  # reading it would never end
    (tmp_path / "go.mod").write_text("module x\nrequire github.com/jackc/pgx/v5 v5.5.0\n")
    found = detect_stacks(tmp_path)
    assert found.stacks == ("pgx5",)
    assert {p.file: p.reason for p in found.problems} == {
        "requirements.txt": "not a regular file, not read", "package.json": "not a regular file, not read"}


# --- a measured pool changes exactly what it should --------------------------------------------------------------


def test_a_pool_that_keeps_session_state_drops_exactly_those_workarounds() -> None:
    by_key = {a.key: a for a in advice(stacks=("rails", "django"), behaviour=SESSION_POOL)}
    assert not any("advisory_locks" in line or "prepared_statements" in line for line in by_key["rails"].lines)
    assert not any("DISABLE_SERVER_SIDE_CURSORS" in line or "OPTIONS" in line for line in by_key["django"].lines)
    assert any("'CONN_MAX_AGE': 0," in line for line in by_key["django"].lines)  # about the pool, not sessions
    assert stack_url_params("rails", SESSION_POOL) == {}
    assert [c.feature for c in caveats(SESSION_POOL)] == ["migrations, pg_dump, psql sessions"]


def test_a_transaction_pool_that_keeps_prepared_statements_keeps_every_session_workaround() -> None:
    by_key = {a.key: a for a in advice(stacks=("rails", "django"), behaviour=PREPARED_ONLY)}
    assert "  advisory_locks: false" in by_key["rails"].lines
    assert not any("prepared_statements" in line for line in by_key["rails"].lines)
    assert "'DISABLE_SERVER_SIDE_CURSORS': True," in by_key["django"].lines
    assert not any("OPTIONS" in line for line in by_key["django"].lines)
    assert caveats(PREPARED_ONLY) == CAVEATS and caveats(None) == CAVEATS


def test_a_reader_that_goes_away_is_not_a_bug(tmp_path: Path) -> None:
    """``do-pgpool advice | head -1``: stdout's reader closes early; exit 141 as a shell reports SIGPIPE, with no
    "a do-pgpool bug" message and no traceback."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "do_pgpool", "advice", "--stack", "django"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the child has imported anything: its first write meets a closed pipe
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err
    assert "bug" not in err and "Traceback" not in err and "BrokenPipe" not in err


@pytest.mark.postgres
def test_a_statement_mode_pool_is_told_what_it_breaks(pgbouncer_118: RealServers, pg_server: RealServers) -> None:
    """Every feature is unknown there (PgBouncer refuses the probe's transactions); the note says why it matters
    and how to change the mode."""
    if "stmt-pool" not in pgbouncer_118.pools:
        pgbouncer_118.add_pool("stmt-pool", PoolAlias("defaultdb", 2, mode="statement"))
    fake = FakeDigitalOcean()
    fake.add_token(TOKEN)
    fake.add_pool(local_cluster(fake, pgbouncer_118), "stmt-pool", 2, mode="statement")
    try:
        with fake.serve() as url:
            result = run(url, "probe", "--pool", "stmt-pool", "--no-direct", "-o", "json")
    finally:
        end_probe_server_connections(pg_server)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {v["behaviour"] for v in data["pool"].values()} == {"unknown"}
    assert "transaction blocks not allowed in statement pooling mode" in data["pool"]["set"]["detail"]
    assert data["notes"] == [
        "pool stmt-pool is in statement mode: PgBouncer refuses every multi-statement transaction there, so most "
        "applications (every ORM) fail on it; use transaction mode (do-pgpool ensure-pool --name stmt-pool --mode "
        "transaction --size 2 --replace: it drops the pool's live connections)"]


def test_a_huge_tree_is_cut_short_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from do_pgpool import _stacks

    monkeypatch.setattr(_stacks, "MAX_FILES", 3)
    for i in range(5):
        (tmp_path / f"svc{i}").mkdir()
        (tmp_path / f"svc{i}" / "requirements.txt").write_text("psycopg\n")
    found = detect_stacks(tmp_path)
    assert [d.file for d in found.found] == [f"svc{i}/requirements.txt" for i in range(3)]  # 3 read, 2 not
    assert [p.describe() for p in found.problems] == [
        "svc3/requirements.txt: not read, nor any manifest after it: more than 3 manifests (point at the app's own "
        "folder)"]
