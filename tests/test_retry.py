"""The retry policy through the gateway: DigitalOcean's own answer (retry-after, ratelimit-reset) decides the wait."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest
import respx

from do_pgpool import _exceptions as errors
from do_pgpool.api._gateway import DigitalOcean
from do_pgpool.api._retry import RetryConfig
from do_pgpool.testing import FakeClock, FakeDigitalOcean

API = "https://api.digitalocean.com"
TOKEN = "dop_v1_" + "0" * 8 + "not-a-real-token"
NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
LIMITED = {"id": "too_many_requests", "message": "API rate limit exceeded."}


def gateway(sleeps: list[float], **config: object) -> DigitalOcean:
    return DigitalOcean(TOKEN, retry=RetryConfig(sleep=sleeps.append, clock=lambda: float(NOW), **config))  # type: ignore[arg-type]


def test_a_burst_429_with_remaining_0_and_retry_after_2_waits_2s_not_until_the_reset() -> None:
    # DigitalOcean's burst sample: remaining 0, the (hourly) reset ~50 minutes away, retry-after small
    clock = FakeClock(NOW)
    fake = FakeDigitalOcean(clock=clock)
    fake.add_cluster("app-db")
    fake.faults.rate_limit_burst(1, retry_after=2)
    retry = RetryConfig(sleep=clock.sleep, clock=clock.now)
    with httpx.Client(transport=fake.http_transport()) as http, DigitalOcean(TOKEN, http=http, retry=retry) as do:
        assert [c.name for c in do.list_clusters()] == ["app-db"]
    first = fake.calls[0]
    assert (first.status, fake.calls[1].status) == (429, 200)
    assert clock.sleeps == [2.0]


def test_a_503_with_retry_after_waits_that_long() -> None:
    sleeps: list[float] = []
    with respx.mock:
        route = respx.get(f"{API}/v2/databases").mock(side_effect=[
            httpx.Response(503, json={"id": "server_error", "message": "busy"}, headers={"retry-after": "7"}),
            httpx.Response(200, json={"databases": []}),
        ])  # fmt: skip
        assert gateway(sleeps).list_clusters() == []
    assert route.call_count == 2 and sleeps == [7.0]


def test_a_503_without_retry_after_backs_off_as_before() -> None:
    sleeps: list[float] = []
    with respx.mock:
        respx.get(f"{API}/v2/databases").mock(side_effect=[
            httpx.Response(503, json={"id": "server_error", "message": "busy"}),
            httpx.Response(200, json={"databases": []}),
        ])  # fmt: skip
        gateway(sleeps).list_clusters()
    assert len(sleeps) == 1 and 0.5 <= sleeps[0] <= 1.0  # initial backoff 0.5 s + up to 0.5 s jitter


def test_a_429_whose_reset_is_an_hour_away_fails_at_once_saying_when() -> None:
    sleeps: list[float] = []
    with respx.mock:
        route = respx.get(f"{API}/v2/databases").respond(
            429, json=LIMITED, headers={"ratelimit-remaining": "0", "ratelimit-reset": str(NOW + 3600)}
        )
        with pytest.raises(errors.RateLimitedError) as info:
            gateway(sleeps).list_clusters()
    assert route.call_count == 1 and sleeps == []
    assert "The hourly quota resets at 2026-01-01 01:00:00 UTC (in 1h)" in str(info.value)
    assert "run the same command again then" in str(info.value)


def test_a_retry_after_longer_than_the_wait_budget_fails_at_once_saying_when() -> None:
    sleeps: list[float] = []
    with respx.mock:
        respx.get(f"{API}/v2/databases").respond(429, json=LIMITED, headers={"retry-after": "90"})
        with pytest.raises(errors.RateLimitedError, match=r"Retry after 2026-01-01 00:01:30 UTC \(in 1m30s\)"):
            gateway(sleeps, max_wait=60.0).list_clusters()
    assert sleeps == []


def test_a_wait_reads_again_no_sooner_than_a_503s_retry_after() -> None:
    from do_pgpool.api._poll import Backoff, Observation, WaitOptions, poll_until

    clock = FakeClock(NOW)
    answers: list[object] = [errors.ServerError("503", status=503, retry_after=40.0), Observation("ok", "online",
                                                                                                    done=True)]

    def observe() -> Observation[str]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]

    waiting = WaitOptions(timeout=600, clock=clock.now, sleep=clock.sleep, backoff=Backoff(initial=5.0))
    assert poll_until(observe, what="cluster", waiting=waiting) == "ok"
    assert clock.sleeps == [40.0]


def test_a_429_still_there_after_its_reset_says_so_rather_than_blaming_the_wait() -> None:
    sleeps: list[float] = []
    with respx.mock:
        route = respx.get(f"{API}/v2/databases").respond(
            429, json=LIMITED, headers={"ratelimit-remaining": "0", "ratelimit-reset": str(NOW - 5)}  # clock skew
        )
        with pytest.raises(errors.RateLimitedError, match="DigitalOcean still refused after 5 tries"):
            gateway(sleeps).list_clusters()
    assert route.call_count == 5 and len(sleeps) == 4


def _failing(*failures: BaseException) -> tuple[list[int], object]:
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]
        return "ok"

    return calls, fn


def _busy() -> errors.ServerError:
    return errors.ServerError("busy", status=503, retry_after=3.0)


FAILURES = {
    "a 429 with retry-after": [errors.RateLimitedError("429", status=429, retry_after=2.0)],
    "a 429 every time": [errors.RateLimitedError("429", status=429, retry_after=2.0)] * 5,
    "a 429 until the reset": [errors.RateLimitedError("429", status=429, reset_at=NOW + 30.0)] * 5,
    "a 503 with retry-after": [_busy()],
    "a 500, backoff with jitter": [errors.ServerError("oops", status=500)] * 3,
    "a refused connection, twice": [errors.ConnectionFailedError("refused")] * 2,
    "a timeout, then a 503": [errors.RequestTimeoutError("slow"), _busy()],
    "a body that is not JSON": [errors.InvalidResponseError("not json")],
    "not retryable": [errors.NotFoundError("gone", status=404)],
}


def _outcome(run: Any, failures: list[BaseException], caplog: pytest.LogCaptureFixture, **kwargs: Any) -> object:
    """What a user sees of ``run`` over ``failures``: result or error (and its cause), tries, waits, log lines."""
    from do_pgpool._deadline import Deadline

    caplog.clear()
    random.seed(7)  # the backoff's jitter, alike for both
    clock = FakeClock(NOW)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.sleep(seconds)

    calls, fn = _failing(*failures)
    deadline_in = kwargs.pop("deadline_in")
    deadline = None if deadline_in is None else Deadline(deadline_in, clock=clock.now)
    try:
        outcome: object = run(fn, RetryConfig(sleep=sleep, clock=clock.now), deadline=deadline, **kwargs)
    except errors.DoPgpoolError as exc:
        outcome = (type(exc), str(exc), type(exc.__cause__), exc.__cause__ is failures[len(calls) - 1])
    return outcome, len(calls), sleeps, [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize("only_rate_limits", [False, True])
@pytest.mark.parametrize("deadline_in", [None, 4.0])
@pytest.mark.parametrize("failures", FAILURES.values(), ids=FAILURES.keys())
def test_the_first_try_is_the_engines_first_attempt_when_it_fails(
    failures: list[BaseException], only_rate_limits: bool, deadline_in: float | None, caplog: pytest.LogCaptureFixture
) -> None:
    # call_with_retries sends the first try without tenacity; its failure is replayed as attempt 1: the same
    # tries, waits, final error and its cause, and log lines as api_retrying's own
    from do_pgpool.api._retry import api_retrying, call_with_retries

    kwargs = {"only_rate_limits": only_rate_limits, "deadline_in": deadline_in}
    engine = _outcome(lambda f, c, **kw: api_retrying(c, **kw)(f), failures, caplog, **kwargs)
    assert _outcome(call_with_retries, failures, caplog, **kwargs) == engine


def test_a_first_try_that_succeeds_is_sent_once_and_never_waits() -> None:
    from do_pgpool.api._retry import call_with_retries

    sleeps: list[float] = []
    calls, fn = _failing()
    assert call_with_retries(fn, RetryConfig(sleep=sleeps.append)) == "ok"  # type: ignore[arg-type]
    assert calls == [1] and sleeps == []
