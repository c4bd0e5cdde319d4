"""Rate-limit headers on every answer, a real per-minute (burst) and hourly limit, on the fake clock."""

from __future__ import annotations

import httpx
import pytest

from do_pgpool.testing import FakeDigitalOcean


def test_every_answer_carries_rate_limit_headers_and_a_request_id(http: httpx.Client) -> None:
    ok = http.get("/v2/databases")
    missing = http.get("/v2/databases/nope")

    for response in (ok, missing):
        assert response.headers["ratelimit-limit"] == "5000"
        assert int(response.headers["ratelimit-reset"]) > 0
        assert response.headers["x-request-id"]
    assert (ok.headers["ratelimit-remaining"], missing.headers["ratelimit-remaining"]) == ("4999", "4998")


def test_burst_limit_answers_429_with_retry_after_until_the_minute_passes() -> None:
    fake = FakeDigitalOcean(rate_limit_per_minute=3)
    with fake.http_client() as http:
        assert [http.get("/v2/databases").status_code for _ in range(3)] == [200, 200, 200]
        fake.clock.advance(20)
        limited = http.get("/v2/databases")

        assert limited.status_code == 429
        assert limited.json()["id"] == "too_many_requests"
        assert limited.headers["retry-after"] == "40"
        fake.clock.advance(40)
        assert http.get("/v2/databases").status_code == 200


def test_hourly_limit_answers_429_without_retry_after() -> None:
    fake = FakeDigitalOcean(rate_limit_per_minute=100, rate_limit_per_hour=2)
    with fake.http_client() as http:
        first = http.get("/v2/databases")
        fake.clock.advance(120)
        http.get("/v2/databases")
        limited = http.get("/v2/databases")

        assert limited.status_code == 429
        assert "retry-after" not in limited.headers
        assert limited.headers["ratelimit-remaining"] == "0"
        assert int(limited.headers["ratelimit-reset"]) == int(first.headers["ratelimit-reset"])
        fake.clock.advance(3600 - 120)
        assert http.get("/v2/databases").status_code == 200


def test_limits_are_per_token() -> None:
    fake = FakeDigitalOcean(rate_limit_per_minute=1)
    with fake.http_client(token="a") as a, fake.http_client(token="b") as b:
        assert [a.get("/v2/databases").status_code, b.get("/v2/databases").status_code] == [200, 200]
        assert a.get("/v2/databases").status_code == 429


@pytest.mark.fake_do(rate_limit_per_minute=1)
def test_the_marker_configures_the_plugin_fixture(fake_do: FakeDigitalOcean, fake_do_http: httpx.Client) -> None:
    assert [fake_do_http.get("/v2/databases").status_code for _ in range(2)] == [200, 429]
    assert fake_do.request_count == 2


def test_an_injected_burst_is_429_with_retry_after(http: httpx.Client, fake: FakeDigitalOcean) -> None:
    fake.faults.rate_limit_burst(2, retry_after=7)

    statuses = [http.get("/v2/databases") for _ in range(3)]

    assert [r.status_code for r in statuses] == [429, 429, 200]
    assert statuses[0].headers["retry-after"] == "7"
