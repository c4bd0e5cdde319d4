"""Ctrl-C against the real console entry point, in a real process: a SIGINT at each phase of a run.

The signal is sent by the child to itself at a precise point (an import hook, a patched function), so each
phase is hit every time, without sleeps or timing races. Every run is bounded by a timeout.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# Runs in the child before the entry point: `where` says when to send SIGINT to itself.
PRELUDE = """
import atexit, os, signal, sys

def interrupt(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGINT)

where = sys.argv.pop(1)
if where == "imports":
    class Hook:
        def find_spec(self, name, path=None, target=None):
            if name == "click":
                interrupt()
            return None
    sys.meta_path.insert(0, Hook())
elif where == "parsing":
    import click
    original_parse = click.Command.parse_args
    def parse_args(self, ctx, args):
        interrupt()
        return original_parse(self, ctx, args)
    click.Command.parse_args = parse_args
elif where == "command":
    import do_pgpool._advice
    do_pgpool._advice.render_text = lambda **kwargs: interrupt() or "unreachable"
elif where == "after":
    import click
    original_close = click.Context.close
    def close(self):
        original_close(self)
        interrupt()
    click.Context.close = close
    atexit.register(interrupt)  # and once more while the interpreter shuts down

from do_pgpool._console import run
sys.argv[0] = "do-pgpool"
run()
"""


def run_child(where: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PRELUDE), where, *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("where", ["imports", "parsing"])
def test_ctrl_c_before_the_command_exits_130_without_a_traceback(where: str) -> None:
    child = run_child(where, "advice")
    assert child.returncode == 130, child.stderr
    assert "Traceback" not in child.stderr and "KeyboardInterrupt" not in child.stderr
    assert "Interrupted before anything was sent; nothing was changed." in child.stderr
    assert child.stdout == ""


def test_ctrl_c_during_the_command_exits_130_with_the_one_line_message() -> None:
    child = run_child("command", "advice")
    assert child.returncode == 130, child.stderr
    assert "Traceback" not in child.stderr
    assert child.stderr.strip() == "Interrupted: advice only reads; nothing was changed."  # advice sends nothing


def test_ctrl_c_after_a_successful_run_still_exits_0() -> None:
    child = run_child("after", "advice", "--stack", "psycopg")
    assert child.returncode == 0, child.stderr
    assert "prepare_threshold=None" in child.stdout
    assert "Traceback" not in child.stderr and "Interrupted" not in child.stderr


def test_without_ctrl_c_the_exit_codes_are_the_commands() -> None:
    assert run_child("nowhere", "advice").returncode == 0
    usage = run_child("nowhere", "ensure-pool")
    assert usage.returncode == 2 and "Missing option '--size'" in usage.stderr
