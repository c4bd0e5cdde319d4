"""The CLI loads a command's module only when it is needed, and the top-level --help says only what is true."""

from __future__ import annotations

import os
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from do_pgpool.cli import COMMANDS, main
from do_pgpool.cli._common import help_width

HEAVY = ("do_pgpool.cli._ensure", "do_pgpool.cli._fix", "do_pgpool.api._gateway", "httpx", "pydo", "azure",
         "logging", "json", "nacl", "dotenv", "psycopg")  # fmt: skip


def test_top_level_help_imports_no_command_module_and_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from do_pgpool.cli import main\n"
        "try:\n"
        "    main(['--help'], prog_name='do-pgpool')\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "ensure-pool" in out
    assert out.strip().splitlines()[-1] == "[]"


def test_each_summary_is_the_first_line_of_its_commands_help() -> None:
    ctx = click.Context(main)
    for name, (_, summary) in COMMANDS.items():
        command = main.get_command(ctx, name)
        assert command is not None and command.name == name
        assert summary == (command.help or "").strip().splitlines()[0], name


def test_help_lists_every_command_and_a_command_runs_through_the_lazy_group() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert f"  {name} " in result.output
    sub = CliRunner().invoke(main, ["ensure-pool", "--help"])
    assert sub.exit_code == 0 and "--secret-user NAME" in sub.output
    unknown = CliRunner().invoke(main, ["no-such-command"])
    assert unknown.exit_code == 2 and "No such command" in unknown.output


def test_top_level_help_claims_dry_run_only_for_commands_that_have_it() -> None:
    help_text = " ".join(CliRunner().invoke(main, ["--help"]).output.split())
    assert "Every command" not in help_text
    assert "Commands that change something take --dry-run; status, list-pools, probe and advice only read." in help_text
    ctx = click.Context(main)

    def options(name: str) -> set[str]:
        command = main.get_command(ctx, name)
        assert command is not None
        return {opt for param in command.params for opt in param.opts}

    for name in ("ensure-pool", "rewrite-secret", "resize", "restart", "terminate-idle", "fix"):  # they write
        assert "--dry-run" in options(name), name
    for name in ("status", "list-pools", "probe", "advice"):  # they only read
        assert "--dry-run" not in options(name), name


def test_top_level_help_passes_the_redactor_without_parsing_urls_and_sizes_itself_without_shutil() -> None:
    # the redactor learns the environment's token; a token's URL and JSON forms are itself, so --help needs no
    # urllib.parse (~2 ms with the ipaddress module it loads; blocked here, as an editable install preloads it);
    # the help's width comes from help_width(), not from shutil (which loads zlib, bz2 and lzma)
    code = (
        "import sys\n"
        "sys.modules['urllib.parse'] = None\n"
        "sys.modules['shutil'] = None\n"
        "from do_pgpool.cli import main\n"
        "main(['--help'], prog_name='do-pgpool')\n"
    )
    env = {**os.environ, "DIGITALOCEAN_TOKEN": "dop_v1_" + "0123456789abcdef" * 4}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "ensure-pool" in out.stdout


@pytest.mark.parametrize("columns", [None, "60", "200", "30", "abc", "-5"])
def test_the_help_width_is_the_one_click_would_choose(monkeypatch: pytest.MonkeyPatch, columns: str | None) -> None:
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    for max_width in (100, None):
        assert help_width(max_width) == click.formatting.HelpFormatter(max_width=max_width).width
