"""A client-side rate limiter shared by every gateway of a run (fleet mode), so the run paces itself before 429s.

DigitalOcean allows 250 requests per minute and 5,000 per hour per token, each request on its own timer (sliding
windows; digitalocean-api.md §8). ``RateLimiter`` implements the gateway's ``RequestLimiter`` protocol:

- ``acquire()`` runs before every HTTP request (retries included) and waits until the request fits. Callers
  queue on one turnstile lock and the one at the front sleeps while holding it: with N threads one wait is
  slept once, not N times, so the order stays first come, first served and a fake clock advances exactly as
  far as needed.
- Our own windows: a request counts from the moment it is acquired, and its place in the windows is the time
  its response arrived (``observe``), the latest moment the server can have counted it. A request still in
  flight counts as "now"; one that never gets an ``observe()`` is taken as answered ``stale_after`` seconds
  after it left.
- The server's view, from the headers of every answer (``ratelimit-limit``, ``-remaining``, ``-reset``): they
  count requests this process does not know about (another job on the same token). ``remaining`` is a budget:
  each request sent spends one; the requests still in flight when an answer arrives may not be in its count,
  so they are taken off it too. Answers overtake each other (threads), so an older one is recognised and
  ignored: its ``reset`` is earlier than one already seen (the oldest request of a sliding window only ever
  gets younger), or it is the same and its ``remaining`` higher (nothing left the window, so the count only
  grew). At 0, while answers are on their way, the next request waits for them (each
  brings a fresher count); with none in flight it waits until ``reset`` (the moment the oldest request leaves
  the window), then one request goes out alone and its answer says how many more may follow: a probe, so
  the workers never guess together.
- The server's window, learned: when its ``ratelimit-limit`` matches none of our windows (a scaled-down fake,
  a changed limit), its length is estimated from every answer: the answer counts ``limit - remaining``
  requests, so the oldest of them was sent no earlier than the request that many places back among those sent
  up to the answered one (further back by the requests still in flight when it left: they may have reached the
  server after it), and ``reset`` is at or after it + the window. The smallest ``reset - that send time``
  seen is an upper bound that tightens with each answer (whole-second resets land on different fractions), and
  a window of that length joins ours: pacing to the millisecond instead of waiting for a rounded-up reset. Once
  a run has had to wait for it (it has more requests than one window holds), its requests are also spread
  evenly, one every ``seconds / requests``: the same rate as bursts, but each answer's oldest request is then
  sent at another fraction of a second, so the estimate tightens to within a few hundredths of the window
  (bursts paced by it start at the same fraction after every reset, and the estimate stalls up to 0.5 s
  above it). A run that never waits still bursts. A 429 while it paces (our clock apart from DigitalOcean's)
  drops it for good: back to waiting for ``reset``.
- A 429 (or a 503 with ``retry-after``) pauses every thread. ``retry-after`` wins when present: a burst 429
  also says ``remaining: 0`` with a ``reset`` up to an hour away, which is about the hourly quota, not this
  wait. Without it, a 429 waits for ``reset``.
- Every wait is bounded: one longer than ``max_wait``, or past the run's ``Deadline``, raises
  ``RateLimitedError`` at once, saying when the limit lifts. A wait of ``notice_after`` seconds or more is
  announced through ``on_wait(seconds, reason)`` before it starts (the CLI prints it on stderr; this module
  never prints).

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
from typing import TYPE_CHECKING

from .._duration import check_seconds, format_seconds
from .._exceptions import Param, Part
from ._headers import WaitRefused, header_number, when_text

if TYPE_CHECKING:
    from .._deadline import Deadline

__all__ = [
    "DEFAULT_MAX_WAIT",
    "DO_RATE_LIMITS",
    "NOTICE_AFTER",
    "LimiterStats",
    "RateLimiter",
    "WaitRefused",
    "Window",
]

logger = logging.getLogger(__name__)

_MAX_ROUNDS = 8
#: send times kept to learn the server's window from its answers (a window of more requests is not learned)
_SENT_LOG = 1024
#: a wait this long or longer is announced (``on_wait``) before it starts
NOTICE_AFTER = 5.0
#: the longest single rate-limit wait of a fleet run unless told otherwise (``--max-wait``): a burst window
DEFAULT_MAX_WAIT = 60.0
#: after ``ratelimit-reset``: DigitalOcean's is a whole second, taken as rounded up (the oldest request has left
#: by then; a server that rounds down costs one 429, which pauses everyone until its next reset)
_RESET_MARGIN = 0.05

WaitNotice = Callable[[float, str], None]


@dataclass(frozen=True)
class Window:
    """At most ``requests`` within any ``seconds``-long interval."""

    requests: int
    seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1 or not self.seconds > 0:
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
    instead (None: no cap but ``deadline``). ``on_wait(seconds, reason)`` hears of every wait of at least
    ``notice_after`` seconds before it starts.
    """

    def __init__(
        self,
        windows: tuple[Window, ...] = DO_RATE_LIMITS,
        *,
        margin: float = 0.5,
        low_water: float = 0.05,
        stale_after: float = 120.0,
        max_wait: float | None = None,
        deadline: Deadline | None = None,
        on_wait: WaitNotice | None = None,
        notice_after: float = NOTICE_AFTER,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not windows:
            raise ValueError("a rate limiter needs at least one window")
        self.windows = tuple(windows)
        self.margin = check_seconds(margin, what="margin")
        self.low_water = low_water
        self.max_wait = None if max_wait is None else check_seconds(max_wait, what="--max-wait")
        self.stale_after = check_seconds(stale_after, what="stale_after", positive=True)
        self.deadline = deadline
        self.on_wait = on_wait
        self.notice_after = notice_after
        self._clock = clock
        self._sleep = sleep
        self._turnstile = threading.Lock()  # held by the request at the front of the queue, while it waits
        self._state = threading.Condition()  # guards everything below; never held while sleeping
        self._in_flight: deque[float] = deque()  # acquire times of requests without a response yet (sorted)
        self._senders: deque[int] = deque()  # the thread that sent each of them
        # response times, sorted, per window; the last list is for the learned server window (``_learned``)
        self._answered: list[list[float]] = [[] for _ in (*self.windows, None)]
        self._sent_log: deque[float] = deque(maxlen=_SENT_LOG)  # acquire times of recent requests (sorted)
        self._sent_flying: deque[int] = deque(maxlen=_SENT_LOG)  # for each: how many were in flight as it left
        self._learned: Window | None = None  # the server's window, estimated from the answers
        self._learning = True  # until a 429 shows the estimate cannot be trusted
        self._last_sent: float | None = None
        self._spreading = False  # a wait was needed under the learned window: spread its requests from now on
        self._paused_until = 0.0
        self._pause_reason = ""
        self._server_limit: int | None = None
        self._server_remaining: int | None = None  # the server's count, minus what we sent since
        self._server_reset: float | None = None
        self._fresh_remaining: int | None = None  # the lowest ratelimit-remaining seen with that reset
        self._others: int | None = None  # requests in the server's count that are not ours (None: unknown)
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
        """Block until one more request fits every window and the server's budget, then count it as in flight."""
        with self._turnstile:
            waited = 0.0
            wake = float("-inf")
            patient = True
            for _ in range(_MAX_ROUNDS):  # one round, or a few when a wait turned up more to wait for
                with self._state:
                    if patient and self._needs_an_answer():
                        # the budget is spent but answers are on their way, each with a fresher count: wait for
                        # them (an event, not a sleep; bounded: nobody else can send while we hold the turnstile)
                        patient = self._state.wait_for(lambda: not self._needs_an_answer(), self.stale_after)
                    now = max(self._clock(), wake)  # an injected sleep need not move the clock
                    delay, reason = self._delay(now)
                    if delay <= 0:
                        self._send(now, waited)
                        return
                self._check_wait(delay, reason, now)
                if delay >= self.notice_after and self.on_wait is not None:
                    self.on_wait(delay, reason)
                logger.debug("rate limiter: waiting %.2fs (%s)", delay, reason)
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
            sent = None
            if self._in_flight:
                sent = self._answered_one()
                self._count_at(max(now, sent))
            if limit is not None:
                self._server_limit = int(limit)
            if status == 429 or (status >= 500 and retry_after is not None):
                self._pause(status, now, retry_after, reset)
            elif remaining is not None and reset is not None:
                if sent is not None:
                    self._learn_window(int(remaining), reset, sent)
                self._learn(int(remaining), reset)
            self._state.notify_all()

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

    @property
    def learned_window(self) -> Window | None:
        """The server's window as estimated from its answers (None: not learned, or one of ours is the server's)."""
        with self._state:
            return self._learned

    # -- internals (called with self._state held) ---------------------------------------------------

    def _needs_an_answer(self) -> bool:
        """The budget is spent, and another thread's request is on its way (a caller never waits for itself)."""
        spent = self._server_remaining is not None and self._server_remaining <= 0
        return spent and any(sender != threading.get_ident() for sender in self._senders)

    def _answered_one(self) -> float:
        """Take this thread's request off the in-flight list (else the oldest): when it was sent."""
        me = threading.get_ident()
        index = next((i for i, sender in enumerate(self._senders) if sender == me), 0)
        sent = self._in_flight[index]
        del self._in_flight[index], self._senders[index]
        return sent

    def _pause(self, status: int, now: float, retry_after: float | None, reset: float | None) -> None:
        if status == 429:
            self._throttled += 1
        if retry_after is not None:  # a burst 429 (or a 503 saying when): its remaining/reset are the hour's
            until, reason = now + retry_after, f"DigitalOcean answered {status} with retry-after {retry_after:g}s"
        elif reset is not None:
            until, reason = reset + _RESET_MARGIN, "DigitalOcean answered 429 without retry-after"
        else:
            until, reason = now + 1.0, "DigitalOcean answered 429"
        if self._learned is not None:  # paced by it and still refused (a clock apart from DigitalOcean's): drop it
            self._learned, self._learning = None, False
        if until > self._paused_until:
            self._paused_until, self._pause_reason = until, reason
        # after the pause one request probes the budget (the others wait for its answer), whatever it says
        self._server_remaining, self._server_reset, self._fresh_remaining, self._others = 0, None, None, None
        logger.warning("rate limited (%s); pausing every request for %.1fs", reason, until - now)

    def _learn(self, remaining: int, reset: float) -> None:
        if self._server_reset is not None:
            if reset < self._server_reset:
                return  # older news: the oldest request of a sliding window only ever gets younger
            if reset == self._server_reset and self._fresh_remaining is not None and remaining > self._fresh_remaining:
                return  # older news: with the same oldest request nothing left the window, so the count only grows
        self._fresh_remaining = remaining
        self._others = self._others_in_window(remaining)
        # the requests still in flight may not be in this answer's count: spend them now
        self._server_remaining, self._server_reset = remaining - len(self._in_flight), reset

    def _learn_window(self, remaining: int, reset: float, sent: float) -> None:
        """Tighten the estimate of the server's window from one answer (see the module's docstring)."""
        limit = self._server_limit
        if not self._learning or limit is None or remaining >= limit or any(w.requests == limit for w in self.windows):
            return  # nothing counted, or a window of ours already is the server's
        counted = limit - remaining  # this request and the ones before it still in the server's window
        last = bisect.bisect_right(self._sent_log, sent)  # the requests sent up to this one
        # those in flight as it left may have reached the server after it, uncounted: the oldest it counted may
        # lie that many places further back (earlier: a longer bound, never a shorter one)
        oldest = last - counted - self._sent_flying[last - 1] if last else -1
        if oldest < 0:
            return  # more than the log holds: no bound
        seconds = reset - self._sent_log[oldest]
        if seconds > 0 and (self._learned is None or seconds < self._learned.seconds):
            self._learned = Window(limit, seconds)

    def _send(self, now: float, waited: float) -> None:
        self._sent_flying.append(len(self._in_flight))
        self._in_flight.append(now)
        self._sent_log.append(now)
        self._senders.append(threading.get_ident())
        self._last_sent = now
        self._requests += 1
        if waited > 0:
            self._spreading = self._learned is not None
            self._waits += 1
            self._waited += waited
        if self._server_remaining is not None:
            # in flight: not yet in any header we have seen. Sent on a spent budget (the reset passed, or a pause
            # ended), it is a probe: at 0 the others wait for its answer, which says how many may follow
            self._server_remaining = max(self._server_remaining - 1, 0)

    def _check_wait(self, delay: float, reason: str, now: float) -> None:
        """Refuse, before it starts, a wait longer than ``max_wait`` or past the run's deadline."""
        limits: list[list[Part]] = []
        if self.max_wait is not None and delay > self.max_wait:
            limits.append([Param("max_wait", format_seconds(self.max_wait))])
        if self.deadline is not None and delay >= self.deadline.remaining():
            limits.append([f"the {format_seconds(self.deadline.remaining())} left of ", Param("timeout")])
        if not limits:
            return
        reset_at = now + delay
        bounds: list[Part] = [*limits[0], *([" and ", *limits[1]] if len(limits) > 1 else [])]
        raise WaitRefused(
            [f"the API rate limit ({reason}) needs a {format_seconds(delay)} wait, until {when_text(reset_at, now)}: "
             "more than ", *bounds, " allow" if len(limits) > 1 else " allows", ". Run the same command again then "
             "(converged clusters are only read), or allow a longer wait."],
            status=429,
            error_id="too_many_requests",
            retry_after=delay,
            reset_at=reset_at,
        )

    def _count_at(self, when: float) -> None:
        for answered in self._answered:
            bisect.insort(answered, when)

    def _delay(self, now: float) -> tuple[float, str]:
        while self._in_flight and self._in_flight[0] + self.stale_after <= now:
            self._senders.popleft()
            self._count_at(self._in_flight.popleft() + self.stale_after)  # never answered: assume it was, late
        start, reason = now, ""

        def later(when: float, why: str) -> None:
            nonlocal start, reason
            if when > start:
                start, reason = when, why

        flying = len(self._in_flight)
        for window, answered, span in self._spans():
            del answered[: bisect.bisect_right(answered, now - span)]
            room = window.requests - 1 - flying  # answered requests the window may still hold
            why = f"{window.requests} requests per {format_seconds(window.seconds)}"
            if window is self._learned:  # its count is the server's, spent: say so as the headers did
                why = "DigitalOcean's ratelimit-remaining is 0"
            if room < 0:  # in-flight requests alone fill it: wait until the oldest is taken as answered
                later(self._in_flight[-room - 1] + self.stale_after, why)
            elif len(answered) > room:
                # the answered request `room` places from the newest must leave the window first
                later(answered[len(answered) - room - 1] + span, why)
        learned = self._learned
        if learned is not None and self._spreading and self._last_sent is not None:
            later(self._last_sent + learned.seconds / learned.requests, "DigitalOcean's rate limit, spread evenly")
        later(self._paused_until, self._pause_reason)
        remaining, reset = self._server_remaining, self._server_reset
        if remaining is not None:
            if remaining <= 0 and reset is not None and self._others == 0:
                pass  # the server counts only ours: our windows know to the millisecond when the oldest leaves
            elif remaining <= 0 and reset is not None:
                later(reset + _RESET_MARGIN, "DigitalOcean's ratelimit-remaining is 0")
            elif reset is not None and remaining < self.low_water * self._quota().requests and self._last_sent:
                later(self._last_sent + self._quota_spacing(), "DigitalOcean's ratelimit-remaining runs low")
        return max(start - now, 0.0), reason

    def _others_in_window(self, remaining: int) -> int | None:
        """How many requests the server counts that our own window of its size does not hold (another job on the
        token); None without such a window. At 0, ours know to the millisecond when the oldest leaves, where
        ``ratelimit-reset`` only says the second."""
        for window, answered, span in self._spans():
            if window.requests == self._server_limit:
                ours = len(answered) - bisect.bisect_right(answered, self._clock() - span)
                return max(window.requests - remaining - ours - len(self._in_flight), 0)
        return None

    def _spans(self) -> list[tuple[Window, list[float], float]]:
        """Each window with its answered requests and how long one counts: ours with ``margin``; the learned one
        with the reset's margin only (its length is already an upper bound: measured from send times)."""
        ours = zip(self.windows, self._answered, strict=False)  # the last list is the learned window's
        spans = [(w, answered, w.seconds + self.margin) for w, answered in ours]
        learned = self._answered[-1]
        if self._learned is not None:
            spans.append((self._learned, learned, self._learned.seconds + _RESET_MARGIN))
        else:  # nothing to pace yet: keep what the longest window holds, in case one is learned
            del learned[: bisect.bisect_right(learned, self._clock() - max(w.seconds for w in self.windows))]
        return spans

    def _quota(self) -> Window:
        """The longest window (the hourly quota); the server's ``ratelimit-limit`` wins when it is lower, and the
        learned window when there is one (that limit is its)."""
        if self._learned is not None:
            return self._learned
        longest = max(self.windows, key=lambda w: w.seconds)
        if self._server_limit and self._server_limit < longest.requests:
            return Window(self._server_limit, longest.seconds)
        return longest

    def _quota_spacing(self) -> float:
        """Seconds between requests that the quota sustains indefinitely (0.72 s at 5,000/h)."""
        quota = self._quota()
        return quota.seconds / quota.requests


