"""App Platform: a PUT that failed ambiguously is reconciled by reading the app back, never re-sent blindly.

Every PUT of an app spec starts a deployment; a PUT applied but answered 500 (or cut off) and then sent again
started two. The fake's fault injection applies the change and then fails, exactly like that.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from do_pgpool._exceptions import ServerError
from do_pgpool.api._gateway import DigitalOcean
from do_pgpool.api._retry import RetryConfig
from do_pgpool.targets._app import AppTarget
from do_pgpool.targets._base import TargetOutcome
from do_pgpool.targets._write import write_secrets
from do_pgpool.testing import FakeDigitalOcean

URL = "postgresql://doadmin:AVNS_reconcilePassw0rd@db.example.com:25061/app-pool?sslmode=require"
VALUES = {"DATABASE_URL": URL}


@pytest.fixture
def fake() -> FakeDigitalOcean:
    fake = FakeDigitalOcean()
    fake.add_app("web-app")
    return fake


@pytest.fixture
def gateway(fake: FakeDigitalOcean) -> Iterator[DigitalOcean]:
    slept: list[float] = []
    retry = RetryConfig(sleep=slept.append)
    with DigitalOcean("dop_v1_reconcile-token", http=httpx.Client(transport=fake.http_transport()),
                      retry=retry) as gateway:  # fmt: skip
        yield gateway


def deployments(fake: FakeDigitalOcean) -> int:
    return len(fake.app("web-app").deployments)


def puts(fake: FakeDigitalOcean) -> int:
    return len(fake.calls_to("PUT", "/v2/apps/"))


def apply(gateway: DigitalOcean) -> TargetOutcome:
    (outcome,) = write_secrets([AppTarget("web-app")], VALUES, apps=gateway)
    return outcome


@pytest.mark.parametrize("fault", ["500 after apply", "connection lost after apply"])
def test_an_applied_put_that_failed_starts_exactly_one_deployment(
    fake: FakeDigitalOcean, gateway: DigitalOcean, fault: str
) -> None:
    before = deployments(fake)
    if fault == "500 after apply":
        fake.faults.fail_after_apply("update", status=500)
    else:
        fake.faults.timeout_next("PUT", r"^/v2/apps/", after_apply=True)
    outcome = apply(gateway)
    assert outcome.ok, outcome
    assert outcome.action == "created"
    assert "was applied (no second deployment)" in outcome.detail
    assert puts(fake) == 1
    assert deployments(fake) == before + 1
    assert fake.apps.env_value("web-app", "DATABASE_URL") == URL


def test_a_put_that_failed_before_applying_is_sent_once_more_after_a_read(
    fake: FakeDigitalOcean, gateway: DigitalOcean
) -> None:
    before = deployments(fake)
    fake.faults.fail_next("PUT", r"^/v2/apps/", status=503)
    outcome = apply(gateway)
    assert outcome.ok and "sent again after a failed update" in outcome.detail
    assert puts(fake) == 2
    assert deployments(fake) == before + 1
    assert fake.apps.env_value("web-app", "DATABASE_URL") == URL


def test_when_every_put_fails_the_target_fails_with_the_state_left_and_no_deployment(
    fake: FakeDigitalOcean, gateway: DigitalOcean
) -> None:
    before = deployments(fake)
    fake.faults.fail_next("PUT", r"^/v2/apps/", status=500, times=10)
    outcome = apply(gateway)
    assert not outcome.ok
    assert isinstance(outcome.error, ServerError)
    assert "State left: the app was not changed" in str(outcome.error)
    assert puts(fake) == 2  # bounded: never a blind retry loop
    assert deployments(fake) == before


def test_a_second_run_after_a_reconciled_failure_changes_nothing(fake: FakeDigitalOcean, gateway: DigitalOcean) -> None:
    fake.faults.fail_after_apply("update", status=500)
    apply(gateway)
    before, sent = deployments(fake), puts(fake)
    outcome = apply(gateway)
    assert outcome.action == "unchanged"
    assert (deployments(fake), puts(fake)) == (before, sent)
