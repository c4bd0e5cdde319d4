"""DigitalOcean's rate limits, per token, on virtual time: 5,000 requests/hour and 250/minute by default.

Each request has its own one-hour timer (a sliding window). ``ratelimit-limit`` is the hourly limit,
``ratelimit-remaining`` what is left of it and ``ratelimit-reset`` the Unix time at which the oldest
request in the window expires. A burst (per-minute) 429 carries ``retry-after``; an hourly 429 does not,
so clients must wait for ``ratelimit-reset`` (digitalocean-api.md §8).
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
    def __init__(self, per_minute: int = 250, per_hour: int = 5000) -> None:
        self.per_minute = per_minute
        self.per_hour = per_hour
        self._windows: dict[str, deque[float]] = {}

    def reset(self) -> None:
        self._windows.clear()

    def _headers(self, window: deque[float], now: float) -> dict[str, str]:
        reset = window[0] + HOUR if window else now + HOUR
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
        while window and window[0] <= now - HOUR:
            window.popleft()
        return window

    def hit(self, token: str, now: float) -> RateVerdict:
        """Count one request; refused requests are not counted (ASSUMPTION: DO's accounting is undocumented)."""
        window = self._window(token, now)
        if len(window) >= self.per_hour:
            return RateVerdict(False, self._headers(window, now))
        last_minute = [t for t in window if t > now - MINUTE]
        if len(last_minute) >= self.per_minute:
            headers = self._headers(window, now)
            headers["retry-after"] = str(max(math.ceil(last_minute[0] + MINUTE - now), 1))
            return RateVerdict(False, headers)
        window.append(now)
        return RateVerdict(True, self._headers(window, now))
