"""Virtual time for the fake: a clock tests advance by hand, and lifecycles that move on reads or on time.

Nothing here sleeps. ``FakeClock.sleep`` advances the clock instead, so it can be handed to code under test
as its ``sleep=`` (and ``clock.now`` as its ``clock=``): a retry loop then "waits" in virtual time.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone

__all__ = ["FakeClock", "Progression", "SystemClock", "iso"]

#: 2026-01-01T00:00:00Z: a fixed start keeps every timestamp the fake produces deterministic.
DEFAULT_START = 1_767_225_600.0


class FakeClock:
    """A monotonic virtual clock. ``now()`` is Unix time in seconds; ``advance()`` moves it forward."""

    def __init__(self, start: float = DEFAULT_START) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        #: every virtual sleep, in order (what code under test "waited")
        self.sleeps: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def __call__(self) -> float:
        return self.now()

    def advance(self, seconds: float) -> None:
        if seconds < 0 or math.isnan(seconds):
            raise ValueError(f"a clock only moves forward; got {seconds!r} seconds")
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        """Drop-in for ``time.sleep``: records the wait and advances the clock, returning at once."""
        self.sleeps.append(seconds)
        self.advance(max(seconds, 0.0))

    def __repr__(self) -> str:
        return f"FakeClock(now={iso(self.now())})"


class SystemClock(FakeClock):
    """Wall-clock time plus whatever ``advance()`` added: for the long-running ``fake-api`` server, so that
    rate-limit windows and ``ratelimit-reset`` follow real time for any client and for demos."""

    def __init__(self) -> None:
        super().__init__(0.0)

    def now(self) -> float:
        return time.time() + super().now()


def iso(timestamp: float) -> str:
    """RFC 3339 UTC, the way DigitalOcean writes ``created_at``."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Progression:
    """A status that moves through ``stages`` (name, reads spent there) and then stays at ``final``.

    Moto's managed state: each ``observe()`` (one API read) spends one read; virtual time spends one read
    per ``seconds_per_read`` elapsed since ``started``. Both count, so tests can drive it either way.
    """

    def __init__(
        self,
        stages: Sequence[tuple[str, int]],
        final: str,
        *,
        started: float,
        seconds_per_read: float,
    ) -> None:
        self.stages = tuple(stages)
        self.final = final
        self.started = started
        self.seconds_per_read = seconds_per_read
        self.reads = 0

    def position(self, now: float) -> int:
        elapsed = max(now - self.started, 0.0)
        by_time = int(elapsed // self.seconds_per_read) if self.seconds_per_read > 0 else 0
        return self.reads + by_time

    def current(self, now: float) -> str:
        """The stage at ``now`` without spending a read."""
        pos = self.position(now)
        for name, reads in self.stages:
            if pos < reads:
                return name
            pos -= reads
        return self.final

    def observe(self, now: float) -> str:
        """The stage one read sees; the read is then spent."""
        stage = self.current(now)
        self.reads += 1
        return stage

    def done(self, now: float) -> bool:
        return self.current(now) == self.final
