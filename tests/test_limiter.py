"""The client-side rate limiter: sliding windows, server headers, 429 pauses, threads. Virtual time only."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from do_pgpool._exceptions import RateLimitedError
from do_pgpool.api._limiter import DO_RATE_LIMITS, RateLimiter, Window

START = 1_767_225_600.0


class Clock:
    """Virtual Unix time; ``sleep`` advances it and records the wait."""

    def __init__(self) -> None:
        self.now = START
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def limiter(clock: Clock, *windows: Window, **kwargs: object) -> RateLimiter:
    return RateLimiter(windows or DO_RATE_LIMITS, clock=clock, sleep=clock.sleep, **kwargs)  # type: ignore[arg-type]


def send(lim: RateLimiter, clock: Clock, n: int) -> list[float]:
    """``n`` requests the way the gateway makes them: acquire, send (instantly), observe the response."""
    times = []
    for _ in range(n):
        lim.acquire()
        times.append(clock())
        lim.observe(200, {})
    return times


def most_in_any_window(times: Sequence[float], seconds: float) -> int:
    """The largest number of send times inside any half-open interval (t - seconds, t]."""
    ordered = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(ordered):
        while ordered[lo] <= t - seconds:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def test_the_defaults_are_digitaloceans_limits() -> None:
    assert DO_RATE_LIMITS == (Window(250, 60.0), Window(5000, 3600.0))


def test_a_burst_up_to_the_minute_limit_goes_out_at_once_and_the_next_waits_for_the_oldest(clock: Clock) -> None:
    lim = limiter(clock, Window(250, 60.0), Window(5000, 3600.0), margin=0.5)
    send(lim, clock, 250)
    assert clock.sleeps == []
    lim.acquire()
    assert clock.sleeps == [60.5]  # the first request leaves the window 60 s (+ margin) after it was sent
    assert lim.stats.requests == 251 and lim.stats.waits == 1


def test_a_long_run_never_exceeds_either_window(clock: Clock) -> None:
    lim = limiter(clock, Window(25, 60.0), Window(100, 3600.0), margin=0.0)
    times = send(lim, clock, 450)
    assert most_in_any_window(times, 60.0) == 25
    assert most_in_any_window(times, 3600.0) == 100
    # and no slower than it has to be: bursts of 25 a minute apart, 100 an hour; the last 50 go out in
    # the fifth hour's first two minutes
    assert times[-1] - times[0] == pytest.approx(4 * 3600.0 + 60.0)


def test_threads_share_one_budget_and_one_wait_is_slept_once(clock: Clock) -> None:
    lim = limiter(clock, Window(100, 60.0), margin=0.5)
    times: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(50):
            lim.acquire()
            with lock:
                times.append(clock())
            lim.observe(200, {})

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(times) == 400
    assert most_in_any_window(times, 60.5) == 100
    # 400 requests at 100 per minute: three full waits; a clock shared by 8 sleepers is not advanced 8 times
    assert clock.now - START == pytest.approx(3 * 60.5)
    assert len(clock.sleeps) == 3


def test_a_request_counts_from_its_response_not_from_when_it_left(clock: Clock) -> None:
    lim = limiter(clock, Window(2, 60.0), margin=0.0)
    lim.acquire()
    lim.acquire()
    clock.now += 100.0  # both requests took 100 s: DigitalOcean may have counted them at the very end
    lim.observe(200, {})
    lim.observe(200, {})
    lim.acquire()
    assert clock.sleeps == [60.0]


def test_requests_in_flight_count_as_now(clock: Clock) -> None:
    lim = limiter(clock, Window(3, 60.0), margin=0.0)
    lim.acquire()
    lim.observe(200, {})  # answered at START
    clock.now += 30.0
    lim.acquire()
    lim.acquire()  # two in flight
    lim.acquire()  # the window is full: wait for the answered one to leave, at START + 60
    assert clock.sleeps == [30.0]


def test_a_request_never_answered_is_taken_as_answered_after_stale_after(clock: Clock) -> None:
    lim = limiter(clock, Window(1, 60.0), margin=0.0, stale_after=30.0)
    lim.acquire()  # a transport error: no observe() ever comes
    lim.acquire()  # taken as answered at START + 30, so it occupies the window until START + 90
    assert clock.now == START + 90.0
    assert clock.sleeps == [30.0, 60.0]
    assert lim.stats.waits == 1 and lim.stats.waited == 90.0


def test_a_sleep_that_does_not_move_the_clock_ends_its_wait_after_one_round() -> None:
    # sleep=list.append (as in tests/test_ensure_cassettes.py): the clock stays at START, so every wait is
    # measured from START: until START + 10, then until START + 20
    waits: list[float] = []
    lim = RateLimiter((Window(1, 10.0),), margin=0.0, clock=lambda: START, sleep=waits.append)
    for _ in range(3):
        lim.acquire()
        lim.observe(200, {})
    assert waits == [10.0, 20.0]


def test_low_server_remaining_spaces_requests_at_the_hourly_rate(clock: Clock) -> None:
    lim = limiter(clock)
    lim.acquire()
    lim.observe(200, {"ratelimit-limit": "5000", "ratelimit-remaining": "4000", "ratelimit-reset": str(START)})
    send(lim, clock, 3)
    assert clock.sleeps == []  # plenty left: no pacing
    lim.observe(200, {"RateLimit-Limit": "5000", "RateLimit-Remaining": "100", "RateLimit-Reset": str(START)})
    send(lim, clock, 3)
    assert clock.sleeps == pytest.approx([0.72, 0.72, 0.72])  # 3600 s / 5000


def test_an_exhausted_quota_waits_for_ratelimit_reset(clock: Clock) -> None:
    lim = limiter(clock)
    lim.acquire()
    lim.observe(200, {"ratelimit-limit": "5000", "ratelimit-remaining": "0", "rateLimit-reset": str(START + 42)})
    lim.acquire()
    assert clock.sleeps == pytest.approx([42.05])  # until the reset (rounded up to the second) has passed


def test_a_429_with_retry_after_pauses_every_caller(clock: Clock) -> None:
    lim = limiter(clock)
    lim.acquire()
    lim.observe(429, {"retry-after": "7", "ratelimit-remaining": "4000"})
    lim.acquire()
    lim.acquire()
    assert clock.sleeps == [7.0]
    assert lim.stats.throttled_429 == 1


def test_a_429_without_retry_after_waits_for_the_reset(clock: Clock) -> None:
    lim = limiter(clock)
    lim.acquire()
    lim.observe(429, {"ratelimit-remaining": "0", "ratelimit-reset": str(START + 30)})
    lim.acquire()
    assert clock.sleeps == pytest.approx([30.05])


def test_garbage_headers_are_ignored(clock: Clock) -> None:
    lim = limiter(clock)
    lim.observe(200, {"ratelimit-remaining": "lots", "ratelimit-reset": ""})
    lim.observe(200, {"ratelimit-limit": "inf", "ratelimit-remaining": "nan", "ratelimit-reset": "-inf"})
    send(lim, clock, 5)
    assert clock.sleeps == [] and lim.stats.server_remaining is None


def test_a_wait_longer_than_max_wait_raises_with_the_numbers(clock: Clock) -> None:
    lim = limiter(clock, Window(2, 3600.0), margin=0.0, max_wait=60.0)
    send(lim, clock, 2)
    with pytest.raises(RateLimitedError, match=r"needs a 1h wait, until 2026-01-01 01:00:00 UTC \(in 1h\): more "
                       "than max_wait=1m allows") as info:
        lim.acquire()
    assert info.value.retry_after == pytest.approx(3600.0)
    assert info.value.reset_at == pytest.approx(START + 3600.0)
    assert lim.stats.requests == 2  # the refused request was not counted


def test_scaled_limits_keep_the_counts_and_shrink_the_windows() -> None:
    lim = RateLimiter.scaled(0.01)
    assert lim.windows == (Window(250, 0.6), Window(5000, 36.0))
    assert repr(lim) == "RateLimiter(250/0.6s, 5000/36s)"


@pytest.mark.parametrize("window", [(0, 60.0), (10, 0.0)])
def test_a_window_must_allow_something(window: tuple[int, float]) -> None:
    with pytest.raises(ValueError, match="rate window"):
        Window(*window)


# -- burst 429s, caps, notices, the server's budget --------------------------------------------------------


def test_a_burst_429_with_retry_after_waits_that_long_not_until_the_hourly_reset(clock: Clock) -> None:
    # DigitalOcean's burst 429: remaining 0 AND retry-after, with the (hourly) reset ~50 minutes away
    lim = limiter(clock)
    lim.acquire()
    lim.observe(429, {"ratelimit-limit": "5000", "ratelimit-remaining": "0",
                      "ratelimit-reset": str(int(START) + 3001), "retry-after": "2"})  # fmt: skip
    lim.acquire()
    assert clock.sleeps == [2.0]


def test_a_503_with_retry_after_pauses_every_caller_too(clock: Clock) -> None:
    lim = limiter(clock)
    lim.acquire()
    lim.observe(503, {"retry-after": "4"})
    lim.acquire()
    assert clock.sleeps == [4.0]
    assert lim.stats.throttled_429 == 0


def test_an_hourly_429_an_hour_away_fails_at_once_saying_when_the_limit_resets(clock: Clock) -> None:
    lim = limiter(clock, max_wait=60.0)
    lim.acquire()
    lim.observe(429, {"ratelimit-remaining": "0", "ratelimit-reset": str(int(START) + 3600)})
    with pytest.raises(RateLimitedError) as info:
        lim.acquire()
    assert "until 2026-01-01 01:00:00 UTC (in 1h)" in str(info.value)
    assert "more than max_wait=1m allows" in str(info.value)
    assert clock.sleeps == []  # refused before sleeping


def test_a_wait_past_the_runs_deadline_is_refused_before_it_starts(clock: Clock) -> None:
    from do_pgpool._deadline import Deadline

    lim = limiter(clock, Window(1, 30.0), margin=0.0, deadline=Deadline(10.0, clock=clock))
    send(lim, clock, 1)
    with pytest.raises(RateLimitedError, match=r"needs a 30s wait.*more than the 10s left of timeout"):
        lim.acquire()
    assert clock.sleeps == []


def test_long_waits_are_announced_before_they_start_and_short_ones_are_not(clock: Clock) -> None:
    heard: list[tuple[float, str, int]] = []
    lim = limiter(clock, Window(1, 3.0), Window(2, 60.0), margin=0.0,
                  on_wait=lambda s, why: heard.append((s, why, len(clock.sleeps))))  # fmt: skip
    send(lim, clock, 3)  # waits 3 s (not announced), then 57 s (announced, before sleeping)
    assert clock.sleeps == [3.0, 57.0]
    assert heard == [(57.0, "2 requests per 1m", 1)]


def test_a_spent_server_budget_waits_for_the_reset_then_sends_one_probe(clock: Clock) -> None:
    lim = limiter(clock)
    lim.acquire()
    lim.observe(200, {"ratelimit-limit": "10", "ratelimit-remaining": "1", "ratelimit-reset": str(int(START) + 3)})
    send(lim, clock, 1)  # the last one the budget allows: no wait
    assert clock.sleeps == []
    lim.acquire()  # spent: until the reset (rounded up to the second by the server) + 50 ms
    assert clock.sleeps == pytest.approx([3.05])
    assert lim.stats.server_remaining == 0  # the probe: its answer says how many may follow
    lim.observe(200, {"ratelimit-limit": "10", "ratelimit-remaining": "7", "ratelimit-reset": str(int(START) + 6)})
    send(lim, clock, 7)
    assert clock.sleeps == pytest.approx([3.05])


def test_an_answer_overtaken_by_a_newer_one_does_not_refill_the_budget(clock: Clock) -> None:
    lim = limiter(clock)
    reset = str(int(START) + 3)
    lim.acquire()
    lim.observe(200, {"ratelimit-limit": "10", "ratelimit-remaining": "2", "ratelimit-reset": reset})
    lim.observe(200, {"ratelimit-limit": "10", "ratelimit-remaining": "6", "ratelimit-reset": reset})  # older news
    assert lim.stats.server_remaining == 2
    lim.observe(200, {"ratelimit-limit": "10", "ratelimit-remaining": "9", "ratelimit-reset": str(int(START) + 2)})
    assert lim.stats.server_remaining == 2  # an earlier reset is older news too


def test_requests_in_flight_are_taken_off_the_servers_count(clock: Clock) -> None:
    lim = limiter(clock)
    done = threading.Event()
    other = threading.Thread(target=lambda: (lim.acquire(), done.wait(5)))  # one request in flight elsewhere
    other.start()
    lim.acquire()
    lim.observe(200, {"ratelimit-limit": "10", "ratelimit-remaining": "5", "ratelimit-reset": str(int(START) + 3)})
    assert lim.stats.server_remaining == 4  # the other thread's request may not be in that count yet
    done.set()
    other.join(5)


def test_a_spent_budget_waits_for_another_threads_answer_instead_of_the_reset(clock: Clock) -> None:
    lim = limiter(clock)
    lim.acquire()
    lim.observe(200, {"ratelimit-limit": "10", "ratelimit-remaining": "1", "ratelimit-reset": str(int(START) + 30)})
    sent = threading.Event()

    def other() -> None:  # sends the last request the budget allows; its answer arrives a little later
        lim.acquire()
        sent.set()
        clock.sleep(0.1)
        lim.observe(200, {"ratelimit-limit": "10", "ratelimit-remaining": "4", "ratelimit-reset": str(int(START) + 31)})

    thread = threading.Thread(target=other)
    thread.start()
    assert sent.wait(5)
    lim.acquire()  # the budget is spent, but an answer is on its way: it says 4 left, so no 30 s wait
    thread.join(5)
    assert clock.sleeps == [0.1]
    assert lim.stats.server_remaining == 3


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0])
def test_a_max_wait_that_is_not_a_finite_duration_is_refused(value: float) -> None:
    from do_pgpool._exceptions import ConfigError

    with pytest.raises(ConfigError, match="--max-wait"):
        RateLimiter(max_wait=value)
