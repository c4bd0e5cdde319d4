"""The ``do-pgpool`` console entry point: owns Ctrl-C from its first line to the process's exit.

Python's own SIGINT handling prints a traceback when Ctrl-C lands during the imports (the first ~0.1 s), and
a Ctrl-C that lands after the command has finished, while the interpreter shuts down, can make the process
die by signal although everything succeeded. So this module imports nothing heavy, installs its handler
first, imports the command line, and once the command's outcome is decided ignores Ctrl-C while it exits
with that outcome's code.

Start-up allocates a few hundred thousand objects that live as long as the process (modules, classes, functions:
pydo's generated operations alone are most of them), and Python's collector traverses the young ones again and again
while they load, finding no garbage: about 5 % of a converged ensure-pool's time. So the collector is off while the
process starts: ``STARTUP`` seconds, after which everything loaded so far is frozen out of its way (``gc.freeze``)
and it runs as usual. Reference counting frees everything else meanwhile; the little cyclic garbage made in that
second (measured: ~600 of ~93,000 objects, the API and PostgreSQL clients loaded) is frozen with the rest and kept,
a one-off cost even for a long-running command (`sandbox`, `status --watch`). A run that ends sooner never collects,
as a process's exit frees its memory anyway. For the same reason everything is frozen once the outcome is decided:
the interpreter's final collection at exit would otherwise traverse every object once more (~30 ms of a converged
ensure-pool) to free memory the operating system takes back at once. The exit itself is Python's usual one: atexit
handlers run, files are closed and the standard streams flushed. Nothing here forks without exec (children are
started by ``subprocess``), so no child inherits the collector turned off without the timer that turns it on.
"""

from __future__ import annotations

import gc
import signal
import sys
import threading
from types import FrameType
from typing import NoReturn

__all__ = ["run", "settle"]

EXIT_INTERRUPTED = 130
#: seconds after the start during which the cyclic garbage collector stays off
STARTUP = 1.0
_settled = False


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    if not _settled:  # once the outcome is decided, a late Ctrl-C changes nothing
        raise KeyboardInterrupt


def settle() -> None:
    """The command's outcome is decided: from now on Ctrl-C is ignored (it could only turn success into a crash)."""
    global _settled
    _settled = True


def run() -> NoReturn:
    """``do-pgpool``: run the command line and exit with its code (130 after Ctrl-C, never a traceback)."""
    global _settled
    _settled = False
    signal.signal(signal.SIGINT, _on_sigint)
    _collect_after_startup()
    try:
        code = _main()
    except KeyboardInterrupt:  # while starting or parsing, before any command ran: nothing was sent
        settle()
        sys.stderr.write("\nInterrupted before anything was sent; nothing was changed.\n")
        code = EXIT_INTERRUPTED
    settle()
    gc.freeze()  # nothing left to collect before the exit frees it all (see above)
    sys.exit(code)


def _collect_after_startup() -> None:
    """The collector off now, on again after ``STARTUP`` seconds with what was loaded frozen out of its way."""
    if not gc.isenabled():
        return  # whoever runs us turned it off: theirs to turn on

    def resume() -> None:
        gc.freeze()
        gc.enable()

    gc.disable()
    timer = threading.Timer(STARTUP, resume)
    timer.daemon = True  # never keeps the process alive
    timer.start()


def _main() -> int:
    import click

    from .cli import main
    from .cli._common import RedactingStream

    try:
        result = main.main(prog_name="do-pgpool", standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):
            raise exc.__cause__ from None
        sys.stderr.write("Aborted!\n")
        return 1
    except click.ClickException as exc:
        exc.show(file=RedactingStream(sys.stderr))  # type: ignore[arg-type]  # a text stream in all but name
        return exc.exit_code
    finally:
        settle()
    # non-standalone click returns the command's value, or the code of an explicit Exit (--check: 3, Ctrl-C: 130)
    return result if isinstance(result, int) and not isinstance(result, bool) else 0
