"""The retry policy through the gateway: DigitalOcean's own answer (retry-after, ratelimit-reset) decides the wait."""

from __future__ import annotations

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
