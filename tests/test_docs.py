"""The README and the manual (docs/) say only what is true: their code runs, their commands and flags exist.

- Every fenced ```python block runs. A page's blocks run in order in one namespace (a tutorial builds on
  its earlier blocks), in a temporary working directory, with nothing set up beforehand: a snippet must
  run verbatim for a reader too (against the project's fake, never the network).
- A block preceded by ``<!-- docs-test: pytest -->`` is a whole test file: it is run by pytest.
- A ```console block preceded by ``<!-- docs-test: session -->`` is a terminal session against
  ``do-pgpool fake-api --seed demo``: each ``$ do-pgpool ...`` runs against a fresh seeded fake, and each line
  shown after it must appear in its output (``...`` stands for anything; ``echo "exit $?"`` checks the code).
- A block preceded by ``<!-- docs-test: skip REASON -->`` is not run (it needs an account, a real
  PostgreSQL, ...); the reason is mandatory.
- Every ``do-pgpool COMMAND --flag`` written anywhere (code blocks and inline code) names a command and
  flags that exist; every command has a page under docs/commands/ that mentions each of its options.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from do_pgpool.cli import main
from do_pgpool.testing import ServersUnavailable
from tests.conftest_servers import _unavailable as unavailable

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
MARKER = re.compile(r"<!--\s*docs-test:\s*(?P<kind>skip|pytest|session)\b\s*(?P<reason>.*?)\s*-->")
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<info>[^\n`]*)$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    info: str  # the fence's info string ("python", "console", ...)
    code: str
    marker: str  # "", "skip" or "pytest"
    reason: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path, text: str | None = None) -> list[Block]:
    """The fenced code blocks of a Markdown page, with the docs-test marker on the line before each."""
    lines = (page.read_text(encoding="utf-8") if text is None else text).splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        end = i + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        previous = next((line for line in reversed(lines[:i]) if line.strip()), "")
        marker = MARKER.search(previous)
        code = textwrap.dedent("\n".join(line[indent:] if line[:indent].isspace() else line
                                         for line in lines[i + 1:end]))  # fmt: skip
        found.append(Block(page, i + 1, opening["info"].strip().split(" ")[0], code + "\n",
                           marker["kind"] if marker else "", marker["reason"] if marker else ""))  # fmt: skip
        i = end + 1
    return found


def python_blocks(page: Path) -> list[Block]:
    return [b for b in blocks(page) if b.info in ("python", "py")]


def run_page(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str | None = None) -> int:
    """Run a page's python blocks in order in one namespace; pytest blocks each in their own pytest run.
    Returns how many blocks ran."""
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    ran = 0
    for block in blocks(page, text):
        if block.info not in ("python", "py") or block.marker == "skip":
            continue
        if block.marker == "pytest":
            run_pytest_block(block, tmp_path / f"test_doc_block_{block.line}.py")
        else:
            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    exec(compile(block.code, block.where, "exec"), namespace)  # noqa: S102 - the docs' own code
                except ServersUnavailable as exc:  # a block on Sandbox: the real-server tests' rule (fail as root)
                    unavailable(f"{block.where}: {exc}")
                except Exception as exc:
                    raise AssertionError(f"the snippet at {block.where} fails: {type(exc).__name__}: {exc}") from exc
        ran += 1
    return ran


def run_pytest_block(block: Block, path: Path) -> None:
    path.write_text(block.code, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", str(path)],
                          cwd=path.parent, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0 and " passed" in done.stdout, f"the test file at {block.where} fails:\n{done.stdout}"
    assert "skipped" not in done.stdout, f"the test file at {block.where} skips tests:\n{done.stdout}"


RUNNABLE_PAGES = [p for p in PAGES if any(b.marker != "skip" for b in python_blocks(p))]


@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_snippets_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_page(page, tmp_path, monkeypatch) > 0


def test_the_snippets_are_found_and_skips_say_why() -> None:
    everything = [b for p in PAGES for b in python_blocks(p)]
    runnable = [b for b in everything if b.marker != "skip"]
    assert any(b.page.name == "README.md" for b in runnable), "the README's library snippet must be tested"
    assert len(runnable) >= 10, [b.where for b in runnable]
    assert [b.where for b in everything if b.marker == "skip" and not b.reason] == []


def test_a_broken_snippet_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = ROOT / "docs" / "example.md"
    good = "```python\nx = 41\n```\n\n```python\nassert x + 1 == 42\n```\n"
    assert run_page(page, tmp_path, monkeypatch, text=good) == 2
    bad = "text\n\n```python\nfrom do_pgpool import no_such_name\n```\n"
    with pytest.raises(AssertionError, match=r"docs/example.md:3 fails: ImportError"):
        run_page(page, tmp_path, monkeypatch, text=bad)
    skipped = "<!-- docs-test: skip needs an account -->\n```python\nraise SystemExit(1)\n```\n"
    assert run_page(page, tmp_path, monkeypatch, text=skipped) == 0


# --- terminal sessions -------------------------------------------------------------------------------------

SESSION_PAGES = [p for p in PAGES if any(b.marker == "session" for b in blocks(p))]


@dataclass
class Step:
    command: str
    expected: list[str]


def session_steps(code: str) -> list[Step]:
    steps: list[Step] = []
    for line in code.splitlines():
        if line.startswith("$ "):
            steps.append(Step(line[2:], []))
        elif steps and line.strip() and line.strip() != "...":
            steps[-1].expected.append(line)
    return steps


def run_session(code: str, api_url: str, tmp_path: Path) -> int:
    """Run a console block's commands in order; returns how many do-pgpool commands ran."""
    from click.testing import CliRunner

    env: dict[str, str] = {}
    ran = 0
    for step in session_steps(code):
        command, _, echo = step.command.partition(";")
        words = shlex.split(command)
        if words[0] == "export":
            env.update(w.split("=", 1) for w in words[1:])
            env["DIGITALOCEAN_API_URL"] = api_url  # the session's URL is the fake served for this test
            continue
        assert words[0] == "do-pgpool", f"a session runs do-pgpool commands, not {words[0]!r}"
        result = CliRunner().invoke(main, words[1:], env=env, catch_exceptions=False)
        output = result.output.splitlines() + ([f"exit {result.exit_code}"] if "exit $?" in echo else [])
        if "exit $?" not in echo:
            assert result.exit_code == 0, f"$ {step.command}\n{result.output}"
        for line in step.expected:
            pattern = ".*".join(re.escape(part) for part in line.strip().split("..."))
            assert any(re.fullmatch(pattern, got.strip()) for got in output), \
                f"$ {step.command}: no line like {line.strip()!r} in:\n" + "\n".join(output)
        ran += 1
    return ran


@pytest.mark.parametrize("page", SESSION_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_terminal_sessions_say_what_the_commands_print(page: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from do_pgpool.testing import FakeDigitalOcean, seed_demo

    monkeypatch.chdir(tmp_path)
    for block in (b for b in blocks(page) if b.marker == "session"):
        fake = FakeDigitalOcean()
        seed_demo(fake)
        with fake.serve() as api_url:
            assert run_session(block.code, api_url, tmp_path) > 0


def test_a_session_that_lies_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from do_pgpool.testing import FakeDigitalOcean, seed_demo

    monkeypatch.chdir(tmp_path)
    fake = FakeDigitalOcean()
    seed_demo(fake)
    session = "$ export DIGITALOCEAN_TOKEN=fake\n$ do-pgpool ensure-pool --size 20 --dry-run\n{}\n"
    with fake.serve() as api_url:
        assert run_session(session.format("dry run: would create pool ..."), api_url, tmp_path) == 1
        with pytest.raises(AssertionError, match="no line like .created pool"):
            run_session(session.format("created pool 'defaultdb-pool'"), api_url, tmp_path)


# --- commands and flags -------------------------------------------------------------------------------------

GLOBAL_OPTIONS = {"-v", "-vv", "-vvv", "--verbose", "--version", "-h", "--help"}


def cli_commands() -> dict[str, click.Command]:
    ctx = click.Context(main)
    commands = {name: main.get_command(ctx, name) for name in main.list_commands(ctx)}
    return {name: command for name, command in commands.items() if command is not None}


def option_names(command: click.Command) -> set[str]:
    return {name for param in command.params for name in (*param.opts, *param.secondary_opts)
            if name.startswith("-")} | {"-h", "--help"}  # fmt: skip


def invocations(text: str) -> list[list[str]]:
    """Every ``do-pgpool ...`` command line in a text, as words, up to a pipe, redirection, `&&` or comment."""
    found = []
    for match in re.finditer(r"(?<![\w/.-])do-pgpool((?:[ \t]+[^\s`|&;>#]+)*)", text):
        words = match[1].split()
        # A synopsis writes alternatives as [--a | --b]: drop the brackets, keep every flag.
        found.append([w.strip("[]()") for w in words if w.strip("[]()")])
    return found


def check_invocation(words: list[str], commands: dict[str, click.Command]) -> list[str]:
    while words and words[0] in GLOBAL_OPTIONS:
        words = words[1:]
    if not words or words[0].startswith("-") or not re.fullmatch(r"[a-z][a-z-]*", words[0]):
        return []  # "do-pgpool --help", "do-pgpool COMMAND", a prose mention
    name, *rest = words
    if name not in commands:
        # "do-pgpool cannot connect" in a quoted message is prose; a hyphenated word or flags make it a command
        looks_like_a_command = "-" in name or any(w.startswith("-") for w in rest)
        return [f"no command {name!r}"] if looks_like_a_command else []
    known = option_names(commands[name])
    if "--" in rest:  # `do-pgpool sandbox -- do-pgpool status`: what follows is another command line
        rest = rest[: rest.index("--")]
    flags = {w.split("=", 1)[0] for w in rest if re.fullmatch(r"--?[a-zA-Z][\w-]*(=.*)?", w)}
    return [f"{name}: no option {flag}" for flag in sorted(flags - known)]


def code_texts(page: Path) -> list[str]:
    """The code a page shows: its fenced blocks and its inline `code` spans (prose may say "do-pgpool does")."""
    text = page.read_text(encoding="utf-8")
    fenced = [b.code for b in blocks(page)]
    prose = re.sub(r"^ *(```|~~~).*?^ *\1", "", text, flags=re.M | re.S)
    return fenced + re.findall(r"`([^`\n]+)`", prose)


def test_every_command_line_in_the_docs_exists() -> None:
    commands = cli_commands()
    problems = []
    count = 0
    for page in PAGES:
        for words in (w for code in code_texts(page) for w in invocations(code)):
            count += 1
            problems += [f"{page.relative_to(ROOT)}: do-pgpool {' '.join(words)}: {p}"
                         for p in check_invocation(words, commands)]  # fmt: skip
    assert count >= 50, count
    assert problems == []


def test_the_flag_check_can_fail() -> None:
    commands = cli_commands()
    assert invocations("run `do-pgpool fix --size 20 --secret x` | jq") == [["fix", "--size", "20", "--secret", "x"]]
    assert check_invocation(["fix", "--size", "20", "--no-such"], commands) == ["fix: no option --no-such"]
    assert check_invocation(["-v", "no-such-command"], commands) == ["no command 'no-such-command'"]
    assert check_invocation(["resize", "--no-wait", "--dry-run"], commands) == []
    assert check_invocation(["sandbox", "--port", "0", "--", "do-pgpool", "fix", "--size", "1"], commands) == []


def mentions(text: str, option: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


@pytest.mark.parametrize("name", sorted(cli_commands()))
def test_every_command_and_option_has_its_page(name: str) -> None:
    page = ROOT / "docs" / "commands" / f"{name}.md"
    assert page.exists(), f"`do-pgpool {name}` has no page: write docs/commands/{name}.md and list it in mkdocs.yml"
    text = page.read_text(encoding="utf-8")
    options = [param for param in cli_commands()[name].params if param.opts[0].startswith("-")]
    missing = [p.opts[-1] for p in options if not any(mentions(text, o) for o in (*p.opts, *p.secondary_opts))]
    assert missing == [], f"docs/commands/{name}.md does not mention {missing}"
    assert f"commands/{name}.md" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")


def test_the_readme_stays_short() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines: move the reference into docs/"



def test_the_readme_links_lead_somewhere() -> None:
    """MkDocs checks the links inside docs/; the README is outside it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if "://" not in t]
    assert len(local) >= 10
    assert [t for t in local if not (ROOT / t).exists()] == []


def test_the_api_reference_lists_exactly_the_public_names() -> None:
    import do_pgpool

    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^::: do_pgpool\.(\w+)$", text, flags=re.M))
    assert listed == set(do_pgpool.__all__) - {"__version__"}


def test_the_advice_page_shows_exactly_what_advice_prints_for_every_stack() -> None:
    """Each ```text block on docs/app-settings.md is part of `do-pgpool advice --stack NAME`'s output, and every
    stack has its block: the reference cannot drift from the tool."""
    from click.testing import CliRunner

    from do_pgpool._stacks import STACKS

    shown = [b.code.rstrip("\n") for b in blocks(ROOT / "docs" / "app-settings.md") if b.info == "text"]
    printed = {s.key: CliRunner().invoke(main, ["advice", "--stack", s.key]).stdout for s in STACKS}
    assert [b for b in shown if not any(b in out for out in printed.values())] == [], \
        "docs/app-settings.md: paste the output of `do-pgpool advice --stack NAME`"
    assert [s.key for s in STACKS if not any(b.startswith(f"{s.title}: ") and b in printed[s.key] for b in shown)] \
        == [], "docs/app-settings.md: every stack needs its block"


def test_every_guess_of_the_fake_is_on_the_assumptions_page() -> None:
    from dataclasses import fields

    from do_pgpool.testing import Assumptions

    text = (ROOT / "docs" / "assumptions.md").read_text(encoding="utf-8")
    assert [f.name for f in fields(Assumptions) if f"`{f.name}`" not in text] == []


def test_the_manual_build_refuses_broken_links() -> None:
    """`make docs` (and CI) build with --strict: every warning below, a dead link or anchor included, fails."""
    import yaml

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config["strict"] is True
    assert set(config["validation"].values()) == {"warn"}  # warn + strict = fail
    assert "--strict" in (ROOT / "Makefile").read_text(encoding="utf-8").split("\ndocs:", 1)[1].split("\n\n")[0]
    assert "make docs" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_architecture_page_lists_every_module() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    package = ROOT / "do_pgpool"
    modules = [p.relative_to(package).as_posix() for p in package.rglob("*.py")
               if p.name != "__init__.py" or p.parent.name == "cli" or p.parent == package]  # fmt: skip
    vendored = "testing/openapi/"  # the vendored description and its refresh script: one row
    listed = [m for m in modules if f"`{m}`" in text or (m.startswith(vendored) and f"`{vendored}`" in text)]
    assert sorted(set(modules) - set(listed)) == []
