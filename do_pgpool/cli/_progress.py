"""Progress of long waits on stderr, and the ``--timeout`` / ``--no-wait`` options.

- stderr is a terminal: one live line, rewritten in place, with the elapsed time and the current status; the
  elapsed time ticks every second while the wait sleeps (the renderer provides the wait's ``sleep``).
- stderr is not a terminal (CI logs, pipes): one line per status change, nothing in between.
- ``-o json``: nothing at all; stdout carries only the final result.

Imports only click at module level (``do-pgpool --help`` stays fast).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click

from ._common import run_deadline, timeout_option

if TYPE_CHECKING:
    from ..api._poll import Progress, WaitOptions

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_TIMEOUT_TEXT = "30m"


def wait_options(f: F) -> F:
    """``--wait/--no-wait`` and ``--timeout`` (the whole run's limit, as on every API command; 30m here)."""
    f = timeout_option(
        DEFAULT_TIMEOUT_TEXT,
        expose_value=True,
        help="Give up after this long, waiting included (90s, 30m, 1h, or seconds); the operation itself goes "
        "on at DigitalOcean. Each request also gives up after 30s without a complete answer.",
    )(f)
    f = click.option(
        "--wait/--no-wait",
        default=True,
        show_default=True,
        help="Wait until the operation has finished.",
    )(f)
    return f


@dataclass
class WaitClock:
    """Where waits get their time: the real clock by default. Tests pass one as ``CliRunner.invoke(obj=...)``."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def wait_clock() -> WaitClock:
    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(WaitClock) if ctx is not None else None
    return found if found is not None else WaitClock()


@dataclass
class ProgressRenderer:
    """The ``on_progress`` callback and the ``sleep`` of a wait, rendering on ``stream`` (stderr).

    ``live`` (a terminal) rewrites one line in place and ticks the elapsed time every second while sleeping;
    otherwise a line is written only when the status changes. ``enabled=False`` (``-o json``) writes nothing.
    """

    stream: IO[str] = field(default_factory=lambda: sys.stderr)
    enabled: bool = True
    live: bool | None = None
    clock: Callable[[], float] = time.monotonic
    real_sleep: Callable[[float], None] = time.sleep
    _start: float | None = field(default=None, init=False, repr=False)
    _last_key: tuple[str, str, str] | None = field(default=None, init=False, repr=False)
    _last: Progress | None = field(default=None, init=False, repr=False)
    _width: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.live is None:
            isatty = getattr(self.stream, "isatty", None)
            self.live = bool(isatty and isatty())

    def elapsed(self) -> float:
        if self._start is None:
            self._start = self.clock()
        return self.clock() - self._start

    def __call__(self, progress: Progress) -> None:
        if not self.enabled:
            return
        self._last = progress
        if self.live:
            self._draw(progress)
            return
        key = (progress.what, *progress.key)
        if key != self._last_key:
            self._last_key = key
            self.stream.write(f"[{_clock_text(self.elapsed())}] {_line(progress)}\n")
            self.stream.flush()

    def sleep(self, seconds: float) -> None:
        """Sleep; on a terminal, redraw the live line every second so the elapsed time moves."""
        if not (self.enabled and self.live and self._last is not None):
            self.real_sleep(seconds)
            return
        left = seconds
        while left > 0:
            step = min(1.0, left)
            self.real_sleep(step)
            left -= step
            self._draw(self._last)

    def message(self, text: str) -> None:
        """A one-off line (e.g. "resize accepted"), below the live line."""
        if not self.enabled:
            return
        self.finish()
        self.stream.write(f"[{_clock_text(self.elapsed())}] {text}\n")
        self.stream.flush()

    def finish(self) -> None:
        """End the live line, so what follows starts on a fresh line."""
        if self.live and self._width:
            self.stream.write("\n")
            self.stream.flush()
        self._width = 0

    def _draw(self, progress: Progress) -> None:
        text = f"[{_clock_text(self.elapsed())}] {_line(progress)}"
        pad = max(self._width - len(text), 0)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._width = len(text)


def _line(progress: Progress) -> str:
    detail = f" ({progress.detail})" if progress.detail else ""
    return f"{progress.what}: {progress.status}{detail}"


def _clock_text(seconds: float) -> str:
    total = max(int(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def renderer_for(output: str, waits: WaitClock) -> ProgressRenderer:
    """Progress on stderr for text output; silent for ``-o json``."""
    return ProgressRenderer(stream=sys.stderr, enabled=output != "json", clock=waits.clock, real_sleep=waits.sleep)


def progress_and_waiting(output: str, timeout: float) -> tuple[ProgressRenderer, WaitOptions]:
    """The progress renderer (``finish()`` it after the wait) and the wait options that report to it.

    The clock and sleep come from ``wait_clock()`` (a fake one in tests); the renderer's ``sleep`` ticks the
    live line while the wait sleeps.
    """
    from ..api._poll import WaitOptions

    progress = renderer_for(output, wait_clock())
    left = min(timeout, run_deadline().remaining())  # the run's deadline (--timeout) bounds the waits too
    return progress, WaitOptions(timeout=left, clock=progress.clock, sleep=progress.sleep, on_progress=progress)
