"""DigitalOcean's rate limits, per token, on virtual time: 5,000 requests/hour and 250/minute by default.

Each request has its own timer (a sliding window). ``ratelimit-limit`` is the quota (the hourly limit),
``ratelimit-remaining`` what is left of it and ``ratelimit-reset`` the Unix time at which the oldest request in
the window expires. A burst (per-minute) 429 carries ``retry-after`` and, like DigitalOcean's own sample, the
quota headers too (``remaining`` may read 0 while ``reset`` is far away); a quota 429 has no ``retry-after``, so
clients must wait for ``ratelimit-reset`` (digitalocean-api.md §8, §13).

Both windows can be scaled down (``quota_window``, ``burst_window``) so pacing can be tested in seconds, e.g.
10 requests per 2.5 s. Headers stay whole seconds as DigitalOcean's are (pydo refuses anything else):
``ratelimit-reset`` is rounded up (ASSUMPTION: DigitalOcean's rounding is undocumented; rounding up means the
oldest request has left by then), ``retry-after`` too, at least 1.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

__all__ = ["RateLimiter", "RateVerdict"]

HOUR = 3600.0
MINUTE = 60.0


@dataclass(frozen=True)
class RateVerdict:
    allowed: bool
    headers: dict[str, str]


class RateLimiter:
    def __init__(
        self, per_minute: int = 250, per_hour: int = 5000, *, burst_window: float = MINUTE, quota_window: float = HOUR
    ) -> None:
        if not (burst_window > 0 and quota_window > 0 and per_minute >= 1 and per_hour >= 1):
            raise ValueError("rate limits need at least 1 request per window and windows longer than 0 s")
        self.per_minute = per_minute
        self.per_hour = per_hour
        self.burst_window = float(burst_window)
        self.quota_window = float(quota_window)
        self._windows: dict[str, deque[float]] = {}

    def reset(self) -> None:
        self._windows.clear()

    def _headers(self, window: deque[float], now: float) -> dict[str, str]:
        reset = window[0] + self.quota_window if window else now + self.quota_window
        return {
            "ratelimit-limit": str(self.per_hour),
            "ratelimit-remaining": str(max(self.per_hour - len(window), 0)),
            "ratelimit-reset": str(math.ceil(reset)),
        }

    def peek(self, token: str, now: float) -> dict[str, str]:
        """The headers as they stand, without counting a request."""
        return self._headers(self._window(token, now), now)

    def _window(self, token: str, now: float) -> deque[float]:
        window = self._windows.setdefault(token, deque())
        while window and window[0] <= now - self.quota_window:
            window.popleft()
        return window

    def hit(self, token: str, now: float) -> RateVerdict:
        """Count one request; refused requests are not counted (ASSUMPTION: DO's accounting is undocumented)."""
        window = self._window(token, now)
        if len(window) >= self.per_hour:
            return RateVerdict(False, self._headers(window, now))
        recent = [t for t in window if t > now - self.burst_window]
        if len(recent) >= self.per_minute:
            headers = self._headers(window, now)
            headers["retry-after"] = str(max(math.ceil(recent[0] + self.burst_window - now), 1))
            return RateVerdict(False, headers)
        window.append(now)
        return RateVerdict(True, self._headers(window, now))

