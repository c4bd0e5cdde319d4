"""One time limit for a whole run (``timeout``; the CLI's ``--timeout``), shared by every request, retry and wait.

Per-read timeouts do not bound a run: a server that accepts and never answers, or trickles one byte at a time,
can hold each read just under its timeout forever. A ``Deadline`` is a point in time; every request gets at
most what is left of it (``cap``), every retry or rate-limit wait that would end past it is not started, and
running out raises ``DeadlineExceededError`` saying what was being done. The clock is injectable (tests).

Code that is not handed a deadline (a PostgreSQL connection deep inside an operation) finds the run's with
``current_deadline()``: the CLI puts each command's deadline in scope (``Deadline.scope()``) while it runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from ._duration import check_seconds, format_seconds
from ._exceptions import DeadlineExceededError, Param

__all__ = ["Deadline", "current_deadline"]

_CURRENT: ContextVar[Deadline | None] = ContextVar("do_pgpool_run_deadline", default=None)


def current_deadline() -> Deadline | None:
    """The deadline in scope (``Deadline.scope()``) on this thread, None outside any."""
    return _CURRENT.get()


class Deadline:
    """``seconds`` from now on ``clock`` (monotonic by default); ``None``: no limit. ``reads_only``: the run it
    bounds changes nothing (``status``, a ``--dry-run``), so running out says so instead of "may have been
    applied"."""

    def __init__(
        self, seconds: float | None, *, clock: Callable[[], float] = time.monotonic, reads_only: bool = False
    ) -> None:
        self.seconds = None if seconds is None else check_seconds(seconds, what="timeout", positive=True)
        self.reads_only = reads_only
        self._clock = clock
        self._at = None if self.seconds is None else clock() + self.seconds

    def __repr__(self) -> str:
        return "Deadline(None)" if self.seconds is None else f"Deadline({format_seconds(self.seconds)})"

    @contextmanager
    def scope(self) -> Iterator[Deadline]:
        """Within the block, ``current_deadline()`` is this deadline (what bounds PostgreSQL connections)."""
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(token)

    @contextmanager
    def narrowed(self, seconds: float) -> Iterator[Deadline]:
        """Within the block, at most ``seconds`` more (a part that must not take the whole run: a watch's API
        read); a ``DeadlineExceededError`` raised then may mean the narrower bound, which the caller words."""
        saved = self._at
        at = self._clock() + seconds
        self._at = at if saved is None else min(saved, at)
        try:
            yield self
        finally:
            self._at = saved

    def remaining(self) -> float:
        """Seconds left (``inf`` without a limit, 0 once passed)."""
        return float("inf") if self._at is None else max(self._at - self._clock(), 0.0)

    def cap(self, seconds: float) -> float:
        """``seconds``, or less if the deadline comes first."""
        return min(seconds, self.remaining())

    def check(self, doing: str, *, needs: float = 0.0) -> None:
        """Raise ``DeadlineExceededError`` if the deadline has passed, or would before ``needs`` more seconds."""
        left = self.remaining()
        if left <= 0 or needs > left:
            raise self.exceeded(doing, needs=needs)

    def exceeded(self, doing: str, *, needs: float = 0.0) -> DeadlineExceededError:
        limit = format_seconds(self.seconds or 0.0)
        if needs > 0 and self.remaining() > 0:
            why = f"{doing} needs {format_seconds(needs)}, more than the {format_seconds(self.remaining())} left"
        else:
            why = f"it ran out while {doing}"
        if self.reads_only:
            return DeadlineExceededError([
                "gave up after the run's time limit (", Param("timeout", limit), f"): {why}. This run only reads: "
                "nothing was changed; run it again with a longer ", Param("timeout"), " if DigitalOcean is slow.",
            ])
        return DeadlineExceededError([
            "gave up after the run's time limit (", Param("timeout", limit), f"): {why}. Anything already sent may "
            "have been applied; run the same command again to finish (it is idempotent), with a longer ",
            Param("timeout"), " if DigitalOcean is slow.",
        ])
