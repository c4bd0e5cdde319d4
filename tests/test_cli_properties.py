"""Property: whatever a user types into the main commands' options, do-pgpool answers with an exit code and
a message, never a traceback; and a usage error (exit 2) is found before any request reaches the API.

Hypothesis draws option values from garbage text (any Unicode, control characters, superscripts, full-width
digits, path tricks) mixed with values that look right. Only loopback traffic: the API URL is always the
local fake or a URL the command line refuses, ``dotenv:`` targets stay in a temporary directory, and commands
that would reach PostgreSQL (status, fix, terminate-idle) or wait for real (resize/restart without
--dry-run) are not run here.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from do_pgpool import _redact
from do_pgpool.cli import main
from do_pgpool.testing import FakeDigitalOcean

TOKEN = "dop_v1_property-token-000"
UNICODE = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
TRICKY = [
    "", " ", "0", "-1", "1", "20", "50%", "0%", "101%", "nan", "inf", "-inf", "1e400", "99999999999999999999999",
    "\u00b2", "\uff12\uff10", "\u0662\u0660", "20\n", "a b/../x", "../../v2/account", "%2F", "{cluster}", "--help",
    "-h", "\u202e", "x" * 300, "app-db", "app-pool", "transaction", "DATABASE_URL", "main",
]  # fmt: skip
VALUE = st.one_of(st.sampled_from(TRICKY), st.text(UNICODE, max_size=24))
SECRET = st.one_of(
    st.sampled_from(["stdout", "github:acme/web", "github:acme/web@production", "app:web-app", "app:web-app/web",
                     "app:nope", "github:", "app:", "nope:x", "{cluster}", "dotenv:"]),  # fmt: skip
    st.text(UNICODE, max_size=24),
).filter(lambda text: not text.strip().lower().startswith("dotenv:") or text == "dotenv:")
API_URL = st.sampled_from([
    None, "http://admin:pw@127.0.0.1:9", "ftp://127.0.0.1", "http://example.com", "https://[::1", "not a url",
])  # fmt: skip  (never "": an empty variable means the real API)

# Values that look right, so that many runs get past the first check and reach the API (and its refusals).
PLAUSIBLE = {
    "--cluster": ["app-db", "other-db"], "--token": [TOKEN, "dop_v1_other"], "-o": ["text", "json"],
    "--output": ["json"], "--secret": ["stdout", "app:web-app", "github:acme/web"], "--secret-name": ["DB_URL"],
    "--direct-secret-name": ["DIRECT_URL"], "--redeploy-workflow": ["deploy.yml"], "--ref": ["main"],
    "--size": ["5", "20", "50%", "1"], "--name": ["app-pool", "new-pool"], "--mode": ["transaction", "session"],
    "--db": ["defaultdb", "app"], "--user": ["doadmin", "app"], "--tag": ["prod"], "--concurrency": ["2"],
    "--pool": ["app-pool", "other-pool"], "--size-slug": ["db-s-2vcpu-4gb", "db-s-1vcpu-1gb"],
    "--connections": ["50", "500"], "--nodes": ["2", "3"], "--storage-mib": ["20480"], "--timeout": ["90s", "30"],
    "--app": ["web-app", "nope"], "--component": ["web", "nope"], "--stack": ["django"],
    "--pool-env": ["POOL_URL"], "--direct-env": ["DIRECT_URL"],
}  # fmt: skip


def option(name: str) -> st.SearchStrategy[str | None]:
    if name == "--api-url":
        return API_URL
    if name == "--secret":
        return st.one_of(st.sampled_from(PLAUSIBLE[name]), SECRET)
    plausible = st.sampled_from(PLAUSIBLE[name])
    return st.one_of(plausible, plausible, VALUE)  # two in three look right


COMMON = ["--cluster", "--token", "--api-url", "-o"]
SECRETS = ["--secret", "--secret-name", "--direct-secret-name", "--redeploy-workflow", "--ref"]
COMMANDS: dict[str, list[str]] = {
    "ensure-pool": [*COMMON, *SECRETS, "--size", "--name", "--mode", "--db", "--user", "--tag", "--concurrency"],
    "rewrite-secret": [*COMMON, *SECRETS, "--pool"],
    "resize": [*COMMON, "--size-slug", "--connections", "--nodes", "--storage-mib", "--timeout"],
    "restart": [*COMMON, "--app", "--component", "--timeout"],
    "advice": ["--stack", "--pool-env", "--direct-env", "--output"],
}
FLAGS = {"ensure-pool": ["--dry-run", "--check", "--inbound-user", "--replace", "--private", "--all"],
         "rewrite-secret": ["--dry-run", "--private"], "resize": [], "restart": ["--yes"], "advice": []}  # fmt: skip
ALWAYS = {"resize": ["--dry-run"], "restart": ["--dry-run"]}  # never wait for real
REQUIRED = {"ensure-pool": "--size", "rewrite-secret": "--secret"}  # so that runs get past click's own check


# Options whose value can only be judged against the account (does this cluster, pool, user, app, component,
# size slug exist?): refusing them takes a lookup, which may read but never writes. Every other option is
# judged on its face, before any request.
NEEDS_A_LOOKUP = {"--cluster", "--pool", "--user", "--db", "--app", "--component", "--size-slug", "--secret",
                  "--tag", "--connections", "--nodes", "--storage-mib"}  # fmt: skip


@st.composite
def command_lines(draw: st.DrawFn) -> tuple[str, list[str], str | None]:
    command = draw(st.sampled_from(sorted(COMMANDS)))
    options = COMMANDS[command]
    args: list[str] = [command, *ALWAYS.get(command, [])]
    api_url: str | None = None
    names = draw(st.lists(st.sampled_from(sorted(options)), max_size=4))
    if command in REQUIRED and draw(st.integers(0, 9)) > 0:
        names.insert(0, REQUIRED[command])
    for name in names:
        value = draw(option(name))
        if name == "--api-url":
            api_url = value
            continue
        args += [name, value if value is not None else ""]
    args += draw(st.lists(st.sampled_from(FLAGS[command]), max_size=2, unique=True)) if FLAGS[command] else []
    return command, args, api_url


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeDigitalOcean, str, str]]:
    fake = FakeDigitalOcean()
    home = os.getcwd()
    with fake.serve() as url, tempfile.TemporaryDirectory() as workdir:
        os.chdir(workdir)  # any file a run writes lands in a temporary directory
        try:
            yield fake, url, workdir
        finally:
            os.chdir(home)


def _seed(fake: FakeDigitalOcean) -> None:
    fake.reset()
    cluster = fake.add_cluster("app-db", size="db-s-1vcpu-1gb")
    fake.add_pool(cluster, "app-pool", 10)
    fake.add_app("web-app")
    fake.github.add_repo("acme/web")


# 200 examples keep the suite fast (~4 s); a local run with more (e.g. max_examples=3000) goes deeper.
@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(line=command_lines())
def test_any_command_line_gets_an_answer_never_a_traceback(
    served: tuple[FakeDigitalOcean, str, str], line: tuple[str, list[str], str | None]
) -> None:
    fake, url, workdir = served
    command, args, api_url = line
    _seed(fake)
    _redact.forget_all()  # one process, many runs: a token drawn by one example must not mask the next's output
    env = {"DIGITALOCEAN_TOKEN": TOKEN, "DIGITALOCEAN_API_URL": api_url if api_url is not None else url,
           "GITHUB_TOKEN": "ghp_property-token", "GITHUB_API_URL": url, "DO_PGPOOL_CLUSTER": ""}  # fmt: skip
    result = CliRunner().invoke(main, args, env=env)
    shown = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
    assert "Traceback" not in shown and "do-pgpool bug" not in shown, (args, shown)
    assert result.exit_code in (0, 1, 2, 3), (args, result.exit_code, shown)
    if result.exit_code == 2:
        sent = [f"{c.method} {c.path}" for c in fake.calls]
        assert "Error" in result.stderr, (args, shown)
        assert all(call.startswith("GET ") for call in sent), (args, sent, shown)  # a usage error never writes
        if not NEEDS_A_LOOKUP.intersection(args):
            assert sent == [], (args, sent, shown)
    assert TOKEN not in shown and "ghp_property-token" not in shown
