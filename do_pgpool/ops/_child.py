"""Running a command to its end: its exit status, the stop signals passed on, and a bounded wait once it is asked
to stop.

A Ctrl-C typed in a terminal reaches the terminal's whole foreground process group, the command included (it stays
in do-pgpool's group, so it can still read the terminal). A SIGINT, SIGTERM or SIGHUP sent to do-pgpool alone
(``kill``, a CI runner cancelling a job) does not. So, on the first of them while the command runs:

- it is passed on to the command, except a SIGINT while do-pgpool is the terminal's foreground process group
  (the command got that same Ctrl-C; a second one could cut its own clean-up short);
- the command then has ``grace`` seconds to exit, after which it is killed (SIGKILL); a second signal kills it
  at once.

Every signal is recorded, also after the command has exited: what follows it (cleaning up after it) is bounded,
so it is not cut short; the caller reads ``received`` and decides (130 for a Ctrl-C). Handlers can only be
installed in the main thread: elsewhere the command runs without any of this.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

from .._exceptions import CommandError

__all__ = ["STOP_SIGNALS", "ChildExit", "SignalSpan", "resolve_command", "signal_span"]

#: the signals that ask a run to stop
STOP_SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None)
COMMAND_NOT_FOUND = 127
COMMAND_NOT_EXECUTABLE = 126


@dataclass(frozen=True)
class ChildExit:
    """How the command ended: ``status`` as a shell reports it (its exit code, or 128 + N when signal N ended it),
    ``signal`` (N, or None), ``forwarded`` (the stop signal passed on to it, if one was) and ``killed`` when
    do-pgpool had to SIGKILL it (after the grace period, or on a second signal)."""

    status: int
    signal: int | None = None
    killed: bool = False
    forwarded: int | None = None


def resolve_command(argv: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """``argv`` with its program found on ``env``'s PATH (a name with a slash is taken as a path).

    Raises ``CommandError`` (127: not found; 126: found but not executable), before anything is started.
    """
    if not argv or not argv[0]:
        raise CommandError("no command to run: give it after --, e.g. -- alembic upgrade head",
                           exit_status=COMMAND_NOT_FOUND)  # fmt: skip
    program = argv[0]
    if os.sep in program:
        if os.path.isdir(program):
            raise CommandError(f"cannot run {program}: it is a directory", exit_status=COMMAND_NOT_EXECUTABLE)
        if not os.path.isfile(program):
            raise CommandError(f"cannot run {program}: no such file", exit_status=COMMAND_NOT_FOUND)
        if not os.access(program, os.X_OK):
            raise CommandError(f"cannot run {program}: not executable (chmod +x?)", exit_status=COMMAND_NOT_EXECUTABLE)
        return list(argv)
    found = shutil.which(program, path=env.get("PATH", os.defpath))
    if found is None:
        raise CommandError(f"cannot run {program}: command not found on PATH", exit_status=COMMAND_NOT_FOUND)
    return [found, *argv[1:]]


def _terminal_foreground() -> bool:
    """Whether this process's group is the foreground group of its controlling terminal (a Ctrl-C typed there
    reaches the command too). False without a controlling terminal."""
    if not hasattr(os, "tcgetpgrp"):  # not a POSIX system: no process groups to share a Ctrl-C with
        return False
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


@dataclass
class SignalSpan:
    """The stop signals received while installed (``received``, in order), and what they did to the command."""

    grace: float
    #: None: decide from the terminal (see the module); True/False: always / never pass a SIGINT on
    forward_sigint: bool | None = None
    received: list[int] = field(default_factory=list)
    killed: bool = False
    forwarded: int | None = None
    _child: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _acted: int = field(default=0, repr=False)
    _timer: threading.Timer | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.forward_sigint is None:
            self.forward_sigint = not _terminal_foreground()

    @property
    def interrupted(self) -> int | None:
        """The first stop signal received, or None."""
        return self.received[0] if self.received else None

    def handle(self, signum: int, frame: FrameType | None = None) -> None:
        self.received.append(signum)
        self._act()

    def run(self, argv: Sequence[str], *, env: Mapping[str, str], on_started: Callable[[int], None] | None = None,
            ) -> ChildExit:  # fmt: skip
        """Start ``argv`` (resolved: ``resolve_command``) and wait until it exits, however long that takes."""
        self._child = subprocess.Popen(list(argv), env=dict(env))  # noqa: S603 (the user's own command)
        try:
            self._act()  # a signal that came while it was being started
            if on_started is not None:
                on_started(self._child.pid)
            code = self._child.wait()
        finally:
            if self._timer is not None:
                self._timer.cancel()
        if code < 0:
            return ChildExit(128 - code, -code, self.killed, self.forwarded)
        return ChildExit(code, None, self.killed, self.forwarded)

    def _act(self) -> None:
        """Pass the first signal on and start the grace period; kill on the second. Runs in the handler."""
        child = self._child
        if child is None or child.returncode is not None or self._acted >= len(self.received):
            return
        first = self._acted == 0
        self._acted = len(self.received)
        if not first or len(self.received) > 1:
            self._kill()
            return
        signum = self.received[0]
        if signum != signal.SIGINT or self.forward_sigint:
            child.send_signal(signum)
            self.forwarded = signum
        self._timer = threading.Timer(self.grace, self._kill)
        self._timer.daemon = True
        self._timer.start()

    def _kill(self) -> None:
        child = self._child
        if child is not None and child.poll() is None:
            self.killed = True
            child.kill()


@contextmanager
def signal_span(grace: float, *, forward_sigint: bool | None = None) -> Iterator[SignalSpan]:
    """Install the stop-signal handlers for the block (main thread only) and restore the previous ones after."""
    span = SignalSpan(grace, forward_sigint)
    if threading.current_thread() is not threading.main_thread():
        yield span
        return
    previous = {sig: signal.signal(sig, span.handle) for sig in STOP_SIGNALS}
    try:
        yield span
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
