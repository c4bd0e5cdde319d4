"""pytest plugin (entry point ``pytest11: do_pgpool``): the ``fake_do`` fixture and the ``fake_do`` marker.

    def test_pool(fake_do):
        fake_do.add_cluster("app-db")
        ...

    @pytest.mark.fake_do(rate_limit_per_minute=5)
    def test_burst(fake_do): ...

``fake_do_http`` is an ``httpx.Client`` wired to the same fake (base URL https://api.digitalocean.com).
A request to a route the fake does not implement fails the test at teardown (strict mode).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import httpx

    from . import FakeDigitalOcean

MARKER = "fake_do(**options): options for the fake_do fixture's FakeDigitalOcean (rate limits, lifecycle, strict)"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)


@pytest.fixture
def fake_do(request: pytest.FixtureRequest) -> Iterator[FakeDigitalOcean]:
    """A fresh ``FakeDigitalOcean`` for this test."""
    from . import FakeDigitalOcean

    marker = request.node.get_closest_marker("fake_do")
    fake = FakeDigitalOcean(**(marker.kwargs if marker else {}))
    yield fake
    if fake.strict and fake.unmatched:
        pytest.fail(f"do_pgpool.testing: {len(fake.unmatched)} request(s) to unimplemented routes: "
                    + ", ".join(f"{c.method} {c.path}" for c in fake.unmatched), pytrace=False)


@pytest.fixture
def fake_do_http(fake_do: FakeDigitalOcean) -> Iterator[httpx.Client]:
    """An ``httpx.Client`` over ``fake_do`` (bearer ``fake-token``), closed after the test."""
    with fake_do.http_client() as client:
        yield client
