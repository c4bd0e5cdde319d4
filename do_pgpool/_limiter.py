"""A client-side rate limiter shared by every gateway of a run (fleet mode), so the run never collects 429s.

DigitalOcean allows 250 requests per minute and 5,000 per hour per token, each request on its own timer (sliding
windows; digitalocean-api.md §8). ``RateLimiter`` implements the gateway's ``RequestLimiter`` protocol:

- ``acquire()`` runs before every HTTP request (retries included) and waits until the request fits every
  window. Callers queue on one turnstile lock and the one at the front sleeps while holding it: with N threads
  one wait is slept once, not N times, so the order stays first come, first served and a fake clock advances
  exactly as far as needed.
- A request counts from the moment it is acquired, and its place in the windows is the time its response
  arrived (``observe``), the latest moment the server can have counted it. A request still in flight counts
  as "now". So a request that waited between ``acquire()`` and the wire (a slow connect, another thread's
  long sleep on a shared fake clock) can never push the server's count past the limit. A request that never
  gets an ``observe()`` (a transport error) is taken as answered ``stale_after`` seconds after it left.
- ``observe(status, headers)`` runs after every response. The server's ``ratelimit-remaining`` counts requests
  this process does not know about (another job on the same token): when it runs low, requests are spaced at
  the hourly rate (3600 / limit seconds apart); at zero they wait for ``ratelimit-reset``. A 429 pauses every
  thread for its ``retry-after`` (else until ``ratelimit-reset``), not just the one that got it.

Windows are tracked on the injected ``clock`` (Unix time, like ``ratelimit-reset``), and waits go through the
injected ``sleep``, so tests pass a fake clock and never wait.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ._exceptions import RateLimitedError
from ._headers import header_number

__all__ = ["DO_RATE_LIMITS", "LimiterStats", "RateLimiter", "Window"]

logger = logging.getLogger(__name__)

_MAX_ROUNDS = 8


@dataclass(frozen=True)
class Window:
    """At most ``requests`` within any ``seconds``-long interval."""

    requests: int
    seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1 or self.seconds <= 0:
            raise ValueError(f"a rate window needs requests >= 1 and seconds > 0, not {self}")


#: DigitalOcean's documented limits per token: the burst (per-minute) and the hourly quota.
DO_RATE_LIMITS = (Window(250, 60.0), Window(5000, 3600.0))


@dataclass(frozen=True)
class LimiterStats:
    """What the limiter did so far."""

    requests: int
    waits: int
    waited: float
    throttled_429: int
    server_remaining: int | None


class RateLimiter:
    """Thread-safe sliding-window limiter over one or more windows, steered by DigitalOcean's rate headers.

    ``margin`` seconds are added to every window, for clock skew between us and DigitalOcean. ``low_water`` is
    the share of the hourly quota (5 %: 250 of 5,000) under which the server's ``ratelimit-remaining`` spaces
    requests at the hourly rate. ``stale_after``: a request without a response after this long (a transport
    error) is taken as answered then. ``max_wait``: a single wait longer than this raises ``RateLimitedError``
    instead (None: wait as long as the limits require).
    """

    def __init__(
        self,
        windows: tuple[Window, ...] = DO_RATE_LIMITS,
        *,
        margin: float = 0.5,
        low_water: float = 0.05,
        stale_after: float = 120.0,
        max_wait: float | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not windows:
            raise ValueError("a rate limiter needs at least one window")
        self.windows = tuple(windows)
        self.margin = margin
        self.low_water = low_water
        self.max_wait = max_wait
        self.stale_after = stale_after
        self._clock = clock
        self._sleep = sleep
        self._turnstile = threading.Lock()  # held by the request at the front of the queue, while it waits
        self._state = threading.Lock()  # guards everything below; never held while sleeping
        self._in_flight: deque[float] = deque()  # acquire times of requests without a response yet (FIFO)
        self._answered: list[list[float]] = [[] for _ in self.windows]  # response times, sorted, per window
        self._last_sent: float | None = None
        self._paused_until = 0.0
        self._server_limit: int | None = None
        self._server_remaining: int | None = None
        self._server_reset: float | None = None
        self._requests = 0
        self._waits = 0
        self._waited = 0.0
        self._throttled = 0

    @classmethod
    def scaled(cls, factor: float, **kwargs: object) -> RateLimiter:
        """DigitalOcean's limits with windows ``factor`` times as long (a benchmark against a scaled fake)."""
        windows = tuple(Window(w.requests, w.seconds * factor) for w in DO_RATE_LIMITS)
        return cls(windows, **kwargs)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        limits = ", ".join(f"{w.requests}/{w.seconds:g}s" for w in self.windows)
        return f"RateLimiter({limits})"

    # -- the RequestLimiter protocol -----------------------------------------------------------------

    def acquire(self) -> None:
        """Block until one more request fits every window, then count it as in flight."""
        with self._turnstile:
            waited = 0.0
            wake = float("-inf")
            for _ in range(_MAX_ROUNDS):  # one round, or two when a wait turned up more to wait for
                with self._state:
                    now = max(self._clock(), wake)  # an injected sleep need not move the clock
                    delay = self._delay(now)
                    if delay <= 0:
                        self._send(now, waited)
                        return
                if self.max_wait is not None and waited + delay > self.max_wait:
                    raise RateLimitedError(
                        f"the API rate limit needs a {waited + delay:.0f}s wait, more than the "
                        f"{self.max_wait:.0f}s allowed; run again later or lower the number of clusters",
                        status=429,
                        error_id="too_many_requests",
                        retry_after=waited + delay,
                    )
                logger.debug("rate limiter: waiting %.2fs", delay)
                self._sleep(delay)
                waited += delay
                wake = now + delay
            logger.warning("rate limiter: still limited after %d waits; sending anyway", _MAX_ROUNDS)
            with self._state:
                self._send(max(self._clock(), wake), waited)

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Learn from a response's rate-limit headers (case-insensitive); a 429 pauses everyone."""
        limit = header_number(headers, "ratelimit-limit")
        remaining = header_number(headers, "ratelimit-remaining")
        reset = header_number(headers, "ratelimit-reset")
        retry_after = header_number(headers, "retry-after")
        with self._state:
            now = self._clock()
            if self._in_flight:
                self._count_at(max(now, self._in_flight.popleft()))
            if limit is not None:
                self._server_limit = int(limit)
            if remaining is not None:
                self._server_remaining = int(remaining)
            if reset is not None:
                self._server_reset = reset
            if status == 429:
                self._throttled += 1
                if retry_after is not None:
                    until = now + retry_after
                elif reset is not None:
                    until = reset + 1.0  # the reset second itself may still be limited
                else:
                    until = now + 1.0
                self._paused_until = max(self._paused_until, until)
                logger.warning("rate limited by DigitalOcean; pausing every request for %.1fs", until - now)

    # -- inspection ----------------------------------------------------------------------------------

    @property
    def stats(self) -> LimiterStats:
        with self._state:
            return LimiterStats(
                requests=self._requests,
                waits=self._waits,
                waited=self._waited,
                throttled_429=self._throttled,
                server_remaining=self._server_remaining,
            )

    # -- internals (called with self._state held) ---------------------------------------------------

    def _send(self, now: float, waited: float) -> None:
        self._in_flight.append(now)
        self._last_sent = now
        self._requests += 1
        if waited > 0:
            self._waits += 1
            self._waited += waited
        if self._server_remaining is not None:
            self._server_remaining -= 1  # in flight: not yet in any header we have seen

    def _count_at(self, when: float) -> None:
        for answered in self._answered:
            bisect.insort(answered, when)

    def _delay(self, now: float) -> float:
        while self._in_flight and self._in_flight[0] + self.stale_after <= now:
            self._count_at(self._in_flight.popleft() + self.stale_after)  # never answered: assume it was, late
        start = now
        flying = len(self._in_flight)
        for window, answered in zip(self.windows, self._answered, strict=True):
            span = window.seconds + self.margin
            del answered[: bisect.bisect_right(answered, now - span)]
            room = window.requests - 1 - flying  # answered requests the window may still hold
            if room < 0:  # in-flight requests alone fill it: wait until the oldest is taken as answered
                start = max(start, self._in_flight[-room - 1] + self.stale_after)
            elif len(answered) > room:
                # the answered request `room` places from the newest must leave the window first
                start = max(start, answered[len(answered) - room - 1] + span)
        start = max(start, self._paused_until)
        remaining = self._server_remaining
        if remaining is not None:
            if remaining <= 0 and self._server_reset is not None:
                start = max(start, self._server_reset + 1.0)
            elif remaining < self.low_water * self._quota().requests and self._last_sent is not None:
                start = max(start, self._last_sent + self._quota_spacing())
        return max(start - now, 0.0)

    def _quota(self) -> Window:
        """The longest window (the hourly quota); the server's ``ratelimit-limit`` wins when it is lower."""
        longest = max(self.windows, key=lambda w: w.seconds)
        if self._server_limit and self._server_limit < longest.requests:
            return Window(self._server_limit, longest.seconds)
        return longest

    def _quota_spacing(self) -> float:
        """Seconds between requests that the quota sustains indefinitely (0.72 s at 5,000/h)."""
        quota = self._quota()
        return quota.seconds / quota.requests
