"""Every ``--help`` says only what is true of its command: exit codes for the flags it has, no masked prose,
``\\b`` blocks rendered at the help's own indentation."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from do_pgpool.cli import COMMANDS, main

NAMES = sorted(COMMANDS)


def help_of(*args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    return result.stdout


def command(name: str) -> click.Command:
    found = main.get_command(click.Context(main), name)
    assert found is not None
    return found


def exit_codes(text: str) -> dict[str, str]:
    """``{code: meaning}`` from the "Exit codes:" block of a help text."""
    block = text.partition("Exit codes:")[2]
    assert block, "no exit codes in the help"
    rows = (re.match(r"\s+(\d+|N)  (.+)", line) for line in block.splitlines()[1:])
    return {m[1]: m[2] for m in rows if m}


def flags_of(cmd: click.Command) -> set[str]:
    return {opt for param in cmd.params for opt in (*param.opts, *param.secondary_opts)}


@pytest.mark.parametrize("name", NAMES)
def test_every_flag_in_the_exit_codes_is_an_option_of_that_command(name: str) -> None:
    cmd = command(name)
    if cmd.epilog is None:  # advice: prints text, reads nothing
        return
    codes = exit_codes(help_of(name))
    mentioned = {flag for meaning in codes.values() for flag in re.findall(r"--[a-z][a-z-]*", meaning)}
    assert mentioned <= flags_of(cmd), f"{name} --help names {sorted(mentioned - flags_of(cmd))}"
    assert ("3" in codes) == ("--check" in flags_of(cmd)), name
    assert ("4" in codes) == ("--fail-at" in flags_of(cmd)), name
    if "--dry-run" in flags_of(cmd):
        assert "--dry-run" in codes["0"], name
    assert ("secret target" in codes.get("1", "")) == ("--secret" in flags_of(cmd)), name


def test_the_exit_codes_follow_the_options() -> None:
    """The generator itself: each line appears exactly when the command has what it names."""
    from do_pgpool.cli._common import ClusterCommand

    bare = ClusterCommand("bare", params=[])
    full = ClusterCommand("full", params=[click.Option(["--dry-run"], is_flag=True),
                                          click.Option(["--check"], is_flag=True),
                                          click.Option(["--secret", "targets"], multiple=True)])  # fmt: skip
    assert "--dry-run" not in (bare.epilog or "") and "3  " not in (bare.epilog or "")
    assert "secret target" not in (bare.epilog or "")
    assert "or --dry-run" in (full.epilog or "") and "3  with --check" in (full.epilog or "")
    assert "a failed secret target" in (full.epilog or "")
    assert "4  " not in (full.epilog or "")
    gated = ClusterCommand("gated", params=[click.Option(["--fail-at"])])
    assert "    4  with --fail-at: the verdict is at or beyond the given level" in (gated.epilog or "")


def test_the_top_level_exit_codes_name_the_command_of_check() -> None:
    codes = exit_codes(help_of())
    assert codes["3"].startswith("--check only (ensure-pool, ensure-config)")
    assert all("--check" in flags_of(command(name)) for name in ("ensure-pool", "ensure-config"))
    assert [name for name in NAMES if "--check" in flags_of(command(name))] == ["ensure-config", "ensure-pool"]
    assert codes["4"].startswith("status --fail-at only")
    assert "--fail-at" in flags_of(command("status"))


@pytest.mark.parametrize("name", ["", *NAMES])
def test_no_help_text_is_masked(name: str) -> None:
    """The redactor masks credentials, not prose such as "bearer token"."""
    text = help_of(*([name] if name else []))
    assert "***" not in text


def test_fake_api_help_says_bearer_token() -> None:
    assert "Accept only this bearer token (repeatable)" in " ".join(help_of("fake-api").split())


@pytest.mark.parametrize("name", ["", *NAMES])
def test_help_paragraphs_start_at_the_helps_indentation(name: str) -> None:
    """Docstring indentation must not leak: the description starts at 2 spaces, and a ``\\b`` block lines up
    with it (only its own list items and continuation lines go deeper)."""
    text = help_of(*([name] if name else []))
    description = text.split("\n\n", 1)[1].split("\nOptions:")[0]
    for paragraph in description.split("\n\n"):
        first = paragraph.splitlines()[0]
        assert re.match(r"  \S", first), f"{name}: {first!r}"


def test_sandbox_help_renders_its_blocks_as_written() -> None:
    text = help_of("sandbox")
    lines = text.splitlines()
    assert "  Starts, on free 127.0.0.1 ports and in a temporary folder:" in lines
    assert "    - a real PgBouncer, which serves the cluster's connection pools" in lines
    assert "  In one shell:   do-pgpool sandbox" in lines
    assert "    do-pgpool status" in lines
    assert any(line.startswith("  `make demo` replays the whole incident") for line in lines)
    assert "`-- CMD`" in text  # kept whole, not wrapped between -- and CMD
