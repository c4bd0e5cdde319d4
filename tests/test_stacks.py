"""Stack detection from an app's repository (fixture repos under tests/stack_repos/, one per stack) and the advice
it chooses: per stack, decided by a saved probe's measurements; the CLI's --stack / --app-dir / --probe."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from do_pgpool import _stacks
from do_pgpool._advice import advice, render_text
from do_pgpool._exceptions import ConfigError
from do_pgpool._pool_behaviour import Behaviour, Feature, Measurement, PoolBehaviour
from do_pgpool._stacks import STACKS, Detections, detect_stacks
from do_pgpool.cli import main

REPOS = Path(__file__).parent / "stack_repos"

#: fixture repo -> (stack, file:line of the evidence) for each stack found, in STACKS order
EXPECTED: dict[str, list[tuple[str, str]]] = {
    "django-requirements": [("django", "requirements.txt:2")],
    "django-psycopg2": [("psycopg2", "requirements.txt:1")],
    "psycopg-pep621": [("psycopg", "pyproject.toml:5")],
    "sqlalchemy-poetry": [("sqlalchemy", "pyproject.toml:7")],
    "sqlalchemy-asyncpg-uv": [("sqlalchemy-asyncpg", "pyproject.toml:7")],
    "asyncpg-pipfile": [("asyncpg", "Pipfile:7")],
    "rails": [("rails", "Gemfile.lock:10"), ("good-job", "Gemfile.lock:7")],
    "prisma6": [("prisma", "package.json:8")],
    "prisma7-lock": [("prisma7", "package.json:9")],
    "node-postgres-knex": [("knex", "package.json:4")],
    "postgres-js": [("postgres-js", "package.json:4")],
    "drizzle": [("drizzle", "package.json:4")],
    "sequelize-typeorm": [("sequelize", "package.json:4"), ("typeorm", "package.json:5"),
                          ("graphile-worker", "package.json:6")],
    "go-pgx5": [("pgx5", "go.mod:6"), ("lib-pq", "go.mod:7")],
    "go-pgx4": [("pgx4", "go.mod:5")],
    "java-maven": [("jdbc", "pom.xml:6")],
    "java-gradle": [("jdbc", "build.gradle.kts:3")],
    "laravel": [("laravel", "composer.json:6")],
    "php-pdo": [("pdo-pgsql", "composer.json:5")],
    "hasura": [("hasura", "docker-compose.yml:3")],
    "monorepo": [("django", "backend/requirements.txt:1"), ("prisma", "web/package.json:1"),
                 ("pgx5", "services/billing/go.mod:5")],
}  # fmt: skip


def test_every_fixture_repo_has_its_expectation() -> None:
    repos = {p.name for p in REPOS.iterdir() if p.is_dir()} - {"empty", "malformed"}
    assert repos == set(EXPECTED)
    covered = {stack for found in EXPECTED.values() for stack, _ in found}
    assert len(covered) >= 10


@pytest.mark.parametrize("repo", sorted(EXPECTED))
def test_the_stack_is_detected_with_its_evidence(repo: str) -> None:
    found = detect_stacks(REPOS / repo)
    assert [(d.stack, f"{d.file}:{d.line}") for d in found.found] == EXPECTED[repo]
    assert found.problems == ()
    for d in found.found:
        assert d.evidence and d.stack in d.describe() and d.file in d.describe()


def test_a_framework_covers_its_driver_and_a_lock_file_completes_the_project() -> None:
    django = detect_stacks(REPOS / "django-requirements").found[0]
    assert django.evidence == "dependency Django"  # psycopg, also listed, is Django's driver: not reported again
    both = detect_stacks(REPOS / "sqlalchemy-asyncpg-uv").found[0]
    assert both.evidence == "dependency sqlalchemy + asyncpg (uv.lock:5)"  # asyncpg only in the lock file
    prisma = detect_stacks(REPOS / "prisma7-lock").found[0]
    assert "7.1.0 in package-lock.json" in prisma.evidence  # 'latest' in package.json: the lock decides
    assert "major 5" in detect_stacks(REPOS / "prisma6").found[0].evidence


def test_dependency_folders_are_not_the_app(tmp_path: Path) -> None:
    # monorepo/web/node_modules/pg/package.json names postgres.js: not reported
    assert "postgres-js" not in detect_stacks(REPOS / "monorepo").stacks
    (tmp_path / "tests" / "fixture").mkdir(parents=True)
    (tmp_path / "tests" / "fixture" / "go.mod").write_text("require github.com/lib/pq v1.10.9\n")
    assert detect_stacks(tmp_path).stacks == ()
    assert detect_stacks(tmp_path / "tests" / "fixture").stacks == ("lib-pq",)  # named: read whatever its name


def test_nothing_found_says_where_it_looked_and_lists_every_stack() -> None:
    found = detect_stacks(REPOS / "empty")
    assert found.found == () and found.stacks == ()
    message = str(ConfigError(found.nothing_found()))
    assert "PostgreSQL stack detected in" in message and "package.json" in message and "go.mod" in message
    assert "name it with stack=NAME, one of" in message  # the library's words; the CLI says --stack NAME
    assert all(s.key in message for s in STACKS)


def test_malformed_manifests_are_named_and_the_others_still_read() -> None:
    found = detect_stacks(REPOS / "malformed")
    assert found.stacks == ("asyncpg",)  # from api/requirements.txt beside the broken pyproject.toml
    problems = {p.file: p.reason for p in found.problems}
    assert set(problems) == {"api/pyproject.toml", "web/package.json"}
    assert "not valid TOML" in problems["api/pyproject.toml"]
    assert problems["web/package.json"].startswith("not valid JSON (line 1, column 44")


def test_a_file_is_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        detect_stacks(tmp_path / "nowhere")


def _requirements(folder: Path, line: str = "asyncpg\n") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "requirements.txt").write_text(line)


def test_the_walk_reads_no_deeper_than_its_depth(tmp_path: Path) -> None:
    _requirements(tmp_path / "a" / "b" / "c" / "d")  # MAX_DEPTH folders down: read
    (tmp_path / "a" / "b" / "c" / "d" / "e").mkdir()
    (tmp_path / "a" / "b" / "c" / "d" / "e" / "go.mod").write_text("require github.com/lib/pq v1.10.9\n")
    assert _stacks.MAX_DEPTH == 4
    found = detect_stacks(tmp_path)
    assert [(d.stack, d.file) for d in found.found] == [("asyncpg", "a/b/c/d/requirements.txt")]
    assert found.problems == ()


def test_where_a_bound_stopped_the_walk_is_a_problem_naming_the_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _requirements(tmp_path / "a")
    _requirements(tmp_path / "b", "psycopg\n")
    _requirements(tmp_path / "c", "SQLAlchemy\n")
    monkeypatch.setattr(_stacks, "MAX_FILES", 2)
    found = detect_stacks(tmp_path)
    assert found.stacks == ("psycopg", "asyncpg")  # a/ and b/, in order; c/ not read
    assert [(p.file, p.reason.split(":")[0]) for p in found.problems] == [
        ("c/requirements.txt", "not read, nor any manifest after it")]
    monkeypatch.setattr(_stacks, "MAX_FILES", 500)
    monkeypatch.setattr(_stacks, "MAX_DIRS", 3)  # the app directory, a/, b/
    found = detect_stacks(tmp_path)
    assert found.stacks == ("psycopg", "asyncpg")
    assert [p.file for p in found.problems] == ["c"] and "more than 3 folders" in found.problems[0].reason
    monkeypatch.setattr(_stacks, "MAX_DIRS", 5_000)
    monkeypatch.setattr(_stacks, "MAX_BYTES", len("SQLAlchemy\n") - 1)
    found = detect_stacks(tmp_path)
    assert found.stacks == ("psycopg", "asyncpg")
    assert [(p.file, p.reason) for p in found.problems] == [
        ("c/requirements.txt", f"larger than {_stacks.MAX_BYTES} bytes, not read")]


def test_links_to_folders_are_not_followed_and_only_regular_files_are_opened(tmp_path: Path) -> None:
    app, outside = tmp_path / "app", tmp_path / "outside"
    _requirements(outside)
    app.mkdir()
    (app / "loop").symlink_to(app)  # would walk itself forever, or MAX_DEPTH times over
    (app / "elsewhere").symlink_to(outside)  # leads out of the repository
    (app / "requirements.txt").symlink_to(outside / "requirements.txt")  # a linked manifest is read
    os.mkfifo(app / "package.json")  # opening it to read would wait for a writer forever
    (app / "composer.json").symlink_to("/dev/zero")  # endless
    done = threading.Event()
    result: list[Detections] = []
    worker = threading.Thread(target=lambda: (result.append(detect_stacks(app)), done.set()), daemon=True)
    worker.start()
    assert done.wait(timeout=30), "detect_stacks hung on a pipe or a device"
    (found,) = result
    assert [(d.stack, d.file) for d in found.found] == [("asyncpg", "requirements.txt")]
    assert sorted((p.file, p.reason) for p in found.problems) == [
        ("composer.json", "not a regular file, not read"), ("package.json", "not a regular file, not read")]


def test_a_folder_that_cannot_be_listed_is_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _requirements(tmp_path / "api")
    (tmp_path / "secret").mkdir()
    scandir = os.scandir

    def refusing(path: Any) -> Any:  # root reads any folder: a refusal is staged
        if Path(path).name == "secret":
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    found = detect_stacks(tmp_path)
    assert found.stacks == ("asyncpg",)
    assert [(p.file, p.reason) for p in found.problems] == [("secret", "folder not listed (Permission denied)")]


def test_a_prisma_range_without_a_number_is_taken_as_the_current_major(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"devDependencies": {"prisma": "latest"}}')
    found = detect_stacks(tmp_path).found[0]
    assert found.stack == "prisma7" and "version unknown" in found.evidence


def test_psycopg2_gets_its_own_advice_under_django_and_sqlalchemy(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("SQLAlchemy\npsycopg2\n")
    found = detect_stacks(tmp_path).found
    assert [(d.stack, d.evidence) for d in found] == [("psycopg2", "dependency SQLAlchemy + psycopg2")]
    text = lines("psycopg2", None)
    assert "prepare_threshold=" not in text and "'DISABLE_SERVER_SIDE_CURSORS': True," in text
    (tmp_path / "requirements.txt").write_text("SQLAlchemy\npsycopg2\npsycopg\n")  # psycopg 3 wins
    assert detect_stacks(tmp_path).stacks == ("sqlalchemy",)


def test_a_gemfile_without_lock_and_python_requirements_with_extras_and_markers(tmp_path: Path) -> None:
    (tmp_path / "Gemfile").write_text("source 'https://rubygems.org'\ngem 'rails', '~> 7.1'\ngem \"pg\"\n")
    (tmp_path / "requirements-prod.txt").write_text("-r base.txt\nSQLAlchemy[asyncio]==2.0 ; python_version>'3'\n"
                                                    "psycopg-binary>=3\n")
    assert detect_stacks(tmp_path).stacks == ("sqlalchemy", "rails")


PYTHON_REPOS = ["django-requirements", "django-psycopg2", "psycopg-pep621", "sqlalchemy-poetry",
                "sqlalchemy-asyncpg-uv", "asyncpg-pipfile", "monorepo"]


@pytest.mark.parametrize("repo", PYTHON_REPOS)
def test_without_tomllib_python_310_finds_the_same_stacks(repo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from do_pgpool import _stacks

    monkeypatch.setattr(_stacks, "_TOMLLIB", False)
    assert detect_stacks(REPOS / repo).stacks == tuple(stack for stack, _ in EXPECTED[repo])


# --- the advice per stack, decided by the measurements -----------------------------------------------------------


def pool(prepared: Behaviour, listen: Behaviour = Behaviour.BREAKS) -> PoolBehaviour:
    return PoolBehaviour((
        Measurement(Feature.PROTOCOL_PREPARED, prepared, "measured"),
        Measurement(Feature.LISTEN, listen, "measured"),
        Measurement(Feature.ADVISORY_LOCK, listen, "measured"),
    ))


WORKS, BREAKS = pool(Behaviour.WORKS), pool(Behaviour.BREAKS)


def lines(stack: str, behaviour: PoolBehaviour | None) -> str:
    return "\n".join(advice(stacks=[stack], behaviour=behaviour)[0].lines)


def test_every_known_stack_has_advice_with_sources_in_the_same_order() -> None:
    items = advice()
    assert [(a.key, a.title) for a in items] == [(s.key, s.title) for s in STACKS]
    assert all(a.sources and a.lines and a.why for a in items)
    assert [a.key for a in items if a.session] == [s.key for s in STACKS if s.needs_session]


@pytest.mark.parametrize(("stack", "safe", "gone_when_prepared_work"), [
    ("prisma", "connection_limit=N&pgbouncer=true", "pgbouncer=true"),
    ("rails", "  prepared_statements: false", "prepared_statements"),
    ("pgx5", "default_query_exec_mode=exec", "default_query_exec_mode"),
    ("pgx4", "statement_cache_mode=describe", "statement_cache_mode"),
    ("jdbc", "prepareThreshold=0", "prepareThreshold"),
    ("laravel", "PDO::ATTR_EMULATE_PREPARES => true", "ATTR_EMULATE_PREPARES"),
    ("pdo-pgsql", "PDO::ATTR_EMULATE_PREPARES => true", "ATTR_EMULATE_PREPARES"),
    ("postgres-js", "{ prepare: false }", "prepare: false"),
    ("drizzle", "{ prepare: false }", "prepare: false"),
    ("psycopg", "prepare_threshold=None", "prepare_threshold"),
    ("django", "'OPTIONS': {'prepare_threshold': None},", "prepare_threshold"),
    ("sqlalchemy", "connect_args={'prepare_threshold': None}", "prepare_threshold"),
    ("sqlalchemy-asyncpg", "poolclass=NullPool", "NullPool"),
    ("asyncpg", "statement_cache_size=0", "statement_cache_size"),
    ("prisma7", "leave out the adapter's statementNameGenerator", "statementNameGenerator"),
])  # fmt: skip
def test_prepared_statements_are_turned_off_unless_measured_to_work(
    stack: str, safe: str, gone_when_prepared_work: str
) -> None:
    assert safe in lines(stack, None)  # not measured: the safe settings
    assert safe in lines(stack, BREAKS)
    assert safe in lines(stack, pool(Behaviour.LEAKS))
    assert safe in lines(stack, pool(Behaviour.UNKNOWN))
    assert gone_when_prepared_work not in lines(stack, WORKS)


def test_what_is_needed_on_any_transaction_pool_stays_when_prepared_statements_work() -> None:
    assert "advisory_locks: false" in lines("rails", WORKS)
    assert "connection_limit=N" in lines("prisma", WORKS) and "directUrl" in lines("prisma", WORKS)
    assert "binary_parameters=yes" in lines("lib-pq", WORKS)
    assert "'DISABLE_SERVER_SIDE_CURSORS': True," in lines("django", WORKS)
    assert "env('DIRECT_DATABASE_URL')" in lines("prisma7", None) and "PrismaPg" in lines("prisma7", None)


@pytest.mark.parametrize("stack", ["good-job", "graphile-worker", "hasura"])
def test_a_stack_needing_sessions_is_told_plainly(stack: str) -> None:
    text = lines(stack, None)
    assert "must not connect through a transaction pool" in text and "$DIRECT_DATABASE_URL" in text
    assert "--mode session" in text
    assert lines(stack, WORKS) == text  # prepared statements alone do not give it a session
    assert "measured to keep sessions" in lines(stack, pool(Behaviour.WORKS, listen=Behaviour.WORKS))


def test_the_text_says_whether_the_pool_was_measured() -> None:
    assert "Prepared statements: not measured" in render_text(only="psycopg")
    assert "Prepared statements through this pool: works (measured)." in render_text(only="psycopg", behaviour=WORKS)
    assert "measured: breaks through this pool" in render_text(only="psycopg", behaviour=BREAKS)


def test_an_unknown_stack_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="no advice for 'mongo'; known: django, psycopg, .*, hasura"):
        advice(stacks=["mongo"])


# --- the command ---------------------------------------------------------------------------------------------


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["advice", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_advice_for_an_app_dir_prints_what_was_detected_and_only_those_stacks() -> None:
    code, out, err = run("--app-dir", str(REPOS / "monorepo"))
    assert code == 0, err
    assert f"Detected in {REPOS / 'monorepo'}:\n  - django (backend/requirements.txt:1: dependency Django)\n" in out
    titles = [a.title for a in advice()]
    assert [t for t in titles if f"\n{t}: " in out] == ["Django (psycopg 3)", "Prisma 6 and older", "Go pgx v5"]


def test_stack_overrides_detection_and_may_repeat() -> None:
    code, out, _ = run("--app-dir", str(REPOS / "monorepo"), "--stack", "jdbc", "--stack", "rails")
    assert code == 0 and "Detected" not in out
    assert "Java JDBC" in out and "Rails" in out and "Django" not in out


def test_a_named_app_dir_without_a_stack_is_a_usage_error_listing_the_stacks() -> None:
    code, out, err = run("--app-dir", str(REPOS / "empty"))
    assert code == 2 and out == ""
    assert "PostgreSQL stack detected in" in err and "hasura" in err and "--stack NAME" in err


def test_the_current_directory_without_a_stack_gives_every_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run()
    assert code == 0
    assert out.strip() == render_text()
    assert "showing every stack" in err


def test_unreadable_manifests_are_warnings_naming_the_file() -> None:
    code, out, err = run("--app-dir", str(REPOS / "malformed"))
    assert code == 0 and "asyncpg" in out
    assert "warning: could not read api/pyproject.toml: not valid TOML" in err
    assert "warning: could not read web/package.json: not valid JSON" in err


@pytest.mark.parametrize("shape", ["bare", "pool", "behaviour"])
def test_a_saved_probe_decides_the_settings(tmp_path: Path, shape: str) -> None:
    saved = WORKS.as_dict()
    # the probe's own -o json: {"target", "pool", "direct", "direct_error", "meaning"}
    data = saved if shape == "bare" else {"target": "pool app-pool", shape: saved, "direct": None,
                                          "direct_error": None, "meaning": {}}
    probe = tmp_path / "probe.json"
    probe.write_text(json.dumps(data))
    code, out, _ = run("--stack", "prisma", "--probe", str(probe))
    assert code == 0
    assert "&pgbouncer=true" not in out and "25061>&connection_limit=N\n" in out
    assert "Prepared statements through this pool: works (measured)." in out
    code, out, _ = run("--stack", "prisma", "--probe", str(probe), "-o", "json")
    data = json.loads(out)
    assert data["prepared_statements"] == "works" and data["measured"] == saved and data["detected"] is None
    assert [f["key"] for f in data["frameworks"]] == ["prisma"]


@pytest.mark.parametrize(("content", "says"), [
    ("{not json", "not JSON"),
    ('{"cluster": "app-db"}', "no pool measurements in it"),
    ("", "empty"),
    ('{"protocol_prepared_statements": {"behaviour": "sometimes"}}',
     "the measurement 'protocol_prepared_statements' is \"sometimes\"; expected {\"behaviour\": one of works, breaks, "
     "leaks, unknown"),
    ('{"pool": {"protocol_prepared_statements": "works"}}', "the measurement 'protocol_prepared_statements' is "
     "\"works\"; expected {\"behaviour\""),
])  # fmt: skip
def test_a_bad_probe_file_is_a_usage_error_naming_it(tmp_path: Path, content: str, says: str) -> None:
    probe = tmp_path / "probe.json"
    probe.write_text(content)
    code, out, err = run("--stack", "django", "--probe", str(probe))
    assert code == 2 and out == ""
    assert f"--probe {probe}: {says}" in err and "do-pgpool probe -o json" in err


def test_json_carries_the_detections(tmp_path: Path) -> None:
    code, out, _ = run("--app-dir", str(REPOS / "rails"), "-o", "json")
    data = json.loads(out)
    assert code == 0
    assert data["detected"]["stacks"] == ["rails", "good-job"]
    assert data["detected"]["found"][0] == {"stack": "rails", "file": "Gemfile.lock", "line": 10,
                                            "evidence": "gems rails + pg"}
    assert [f["key"] for f in data["frameworks"]] == ["rails", "good-job"]
    assert data["frameworks"][1]["session"] is True


def test_an_app_dir_that_does_not_exist_is_a_usage_error(tmp_path: Path) -> None:
    code, out, err = run("--app-dir", str(tmp_path / "nowhere"))
    assert code == 2 and out == ""
    assert f"--app-dir {tmp_path / 'nowhere'}: no such directory" in err


def test_fix_names_how_many_stacks_its_advice_covers() -> None:
    from do_pgpool.ops._fix import _advice_step

    assert _advice_step("DATABASE_URL").describe().endswith(f"({len(STACKS)} stacks)")


@pytest.mark.parametrize(("lock", "content", "expected"), [
    ("yarn.lock", '"prisma@^6.0.0":\n  version "6.19.3"\n  resolved "https://registry.yarnpkg.com/x"\n',
     ("prisma", "6.19.3 in yarn.lock")),
    ("yarn.lock", 'prisma@latest:\n  version: 7.1.0\n', ("prisma7", "7.1.0 in yarn.lock")),
    ("pnpm-lock.yaml", "packages:\n\n  prisma@5.22.0:\n    resolution: {integrity: sha512-x}\n",
     ("prisma", "5.22.0 in pnpm-lock.yaml")),
    ("pnpm-lock.yaml", "packages:\n  /@prisma/client@7.0.1(prisma@7.0.1):\n    dev: false\n",
     ("prisma7", "7.0.1 in pnpm-lock.yaml")),
])  # fmt: skip
def test_yarn_and_pnpm_locks_decide_prisma_major(tmp_path: Path, lock: str, content: str,
                                                 expected: tuple[str, str]) -> None:
    (tmp_path / "package.json").write_text('{"dependencies": {"@prisma/client": "*"}}')
    (tmp_path / lock).write_text(content)
    found = detect_stacks(tmp_path).found[0]
    assert found.stack == expected[0] and expected[1] in found.evidence


# --- end to end: the probe of a real PgBouncer decides the advice ------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize(("bouncer", "prepared_off"), [("pgbouncer_118", True), ("pgbouncer_new", False)])
def test_a_saved_probe_of_a_real_pgbouncer_decides_prisma_and_rails(
    bouncer: str, prepared_off: bool, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """PgBouncer 1.18 breaks protocol-level prepared statements, >= 1.21 with max_prepared_statements keeps them:
    the probe's saved JSON gives Prisma pgbouncer=true and Rails prepared_statements: false on the first only."""
    from do_pgpool.ops._probe import probe_urls
    from tests.conftest_servers import PROBE_POOL_NAME

    servers = request.getfixturevalue(bouncer)
    report = probe_urls(servers.pool_url(PROBE_POOL_NAME), notify_wait=0.2)
    saved = tmp_path / "probe.json"
    saved.write_text(json.dumps(report.as_dict()))
    code, out, err = run("--stack", "prisma", "--stack", "rails", "--probe", str(saved))
    assert code == 0, err
    assert ("&pgbouncer=true" in out) is prepared_off
    assert ("  prepared_statements: false" in out) is prepared_off
    assert "  advisory_locks: false" in out and "&connection_limit=N" in out  # whatever the pool does
    verdicts = ("leaks", "breaks") if prepared_off else ("works",)
    assert any(f"Prepared statements through this pool: {v} (measured)." in out for v in verdicts)
