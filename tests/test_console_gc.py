"""The console entry point keeps Python's cyclic garbage collector off while the process starts, then freezes what
was loaded out of its way and turns it on again (``_console.STARTUP``), and freezes everything once the outcome is
decided (the final collection at exit would find nothing worth its time); library users' processes are left alone."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHILD = """
import gc, sys, threading
import do_pgpool._console as console
import do_pgpool._advice as advice

timers = []

class Timer:  # the start-up timer, fired when the test says (no real wait)
    def __init__(self, interval, function):
        self.interval, self.function, self.daemon = interval, function, False
        timers.append(self)
    def start(self):
        pass

console.threading.Timer = Timer
during = []
text = advice.render_text
advice.render_text = lambda **kwargs: during.append(gc.isenabled()) or text(**kwargs)
sys.argv = ["do-pgpool", "advice", "--stack", "psycopg"]
assert gc.get_freeze_count() == 0
try:
    console.run()
except SystemExit as exc:
    assert exc.code == 0, exc.code
frozen_at_exit = gc.get_freeze_count() > 0
(timer,) = timers
assert timer.daemon and timer.interval == console.STARTUP, vars(timer)
gc.unfreeze()
timer.function()
print(during, frozen_at_exit, gc.isenabled(), gc.get_freeze_count() > 0, file=sys.stderr)
"""


def test_the_collector_is_off_during_start_up_then_on_with_the_start_up_frozen_and_all_is_frozen_at_exit() -> None:
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD)], capture_output=True, text=True,
                           timeout=60, check=False)  # fmt: skip
    assert child.returncode == 0, child.stderr
    assert child.stderr.strip().splitlines()[-1] == "[False] True True True"


def test_a_process_that_turned_the_collector_off_itself_keeps_it_off() -> None:
    code = "import gc, sys\ngc.disable()\nsys.argv = ['do-pgpool', 'advice']\nimport do_pgpool._console as c\n" \
           "try:\n    c.run()\nexcept SystemExit:\n    pass\nimport threading\n" \
           "print(gc.isenabled(), threading.active_count(), file=sys.stderr)\n"  # fmt: skip
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert child.stderr.strip().splitlines()[-1] == "False 1"  # no timer started


def test_a_library_user_running_the_command_line_in_process_keeps_the_collector_as_it_was() -> None:
    """The policy belongs to the ``do-pgpool`` process (``_console.run``): ``cli.main`` run in a user's process (a
    test, a script) neither turns the collector off, nor freezes anything, nor starts a thread."""
    code = ("import gc, sys, threading\nfrom click.testing import CliRunner\nfrom do_pgpool.cli import main\n"
            "result = CliRunner().invoke(main, ['advice', '--stack', 'psycopg'])\nassert result.exit_code == 0\n"
            "print(gc.isenabled(), gc.get_freeze_count(), threading.active_count(), file=sys.stderr)\n")
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert child.stderr.strip().splitlines()[-1] == "True 0 1", child.stderr
