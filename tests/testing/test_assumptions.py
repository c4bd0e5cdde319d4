"""The fake's guesses (``Assumptions``): each default answers as documented in the fake, flipping it gives the
other outcome, and do-pgpool's client is right under both (it never relies on the guessed refusal)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from do_pgpool import _exceptions as errors
from do_pgpool.api._gateway import DigitalOcean
from do_pgpool.ops._pool import ensure_pool
from do_pgpool.ops._pool_plan import PoolRequest
from do_pgpool.ops._resize import resize
from do_pgpool.ops._resize_plan import ResizeRequest
from do_pgpool.testing import Assumptions, FakeDigitalOcean
from tests.testing.conftest import pool_body

BOTH = pytest.mark.parametrize("guess", [True, False], ids=["as-guessed", "other-outcome"])
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def make(**flags: object) -> FakeDigitalOcean:
    return FakeDigitalOcean(assumptions=Assumptions(**flags))  # type: ignore[arg-type]


@pytest.fixture
def gateway_for() -> Iterator[object]:
    opened: list[DigitalOcean] = []

    def connect(fake: FakeDigitalOcean) -> DigitalOcean:
        gw = DigitalOcean("dop_v1_assumptions", http=httpx.Client(transport=fake.http_transport()))
        opened.append(gw)
        return gw

    yield connect
    for gw in opened:
        gw.close()


def writes(fake: FakeDigitalOcean) -> list[tuple[str, str]]:
    return [(c.method, c.path.rsplit("/", 1)[-1]) for c in fake.calls if c.method in WRITES]


# -- the fake: the guess and its other outcome ---------------------------------------------------------


@BOTH
def test_over_budget_pool(guess: bool) -> None:
    fake = make(refuse_over_budget_pool=guess)
    cluster = fake.add_cluster("app-db")  # 1 GiB: 22 connections for pools
    with fake.http_client() as http:
        status = http.post(f"/v2/databases/{cluster.id}/pools", json=pool_body("big", 30)).status_code
    assert status == (422 if guess else 201)


@BOTH
def test_mode_change_by_put(guess: bool) -> None:
    fake = make(refuse_mode_change=guess)
    cluster = fake.add_cluster("app-db")
    fake.add_pool(cluster, "web", 5, mode="session")
    body = {"mode": "transaction", "size": 5, "db": "defaultdb", "user": "doadmin"}
    with fake.http_client() as http:
        status = http.put(f"/v2/databases/{cluster.id}/pools/web", json=body).status_code
    assert status == (422 if guess else 204)
    assert cluster.pools["web"].mode == ("session" if guess else "transaction")


@BOTH
def test_pool_beyond_the_limit_of_21(guess: bool) -> None:
    fake = make(refuse_pool_beyond_limit=guess)
    cluster = fake.add_cluster("big-db", size="db-s-6vcpu-16gb")
    for i in range(21):
        fake.add_pool(cluster, f"pool-{i:02}", 1)
    with fake.http_client() as http:
        status = http.post(f"/v2/databases/{cluster.id}/pools", json=pool_body("pool-21", 1)).status_code
    assert status == (422 if guess else 201)


@BOTH
def test_pool_named_like_a_database(guess: bool) -> None:
    fake = make(refuse_pool_named_like_database=guess)
    cluster = fake.add_cluster("app-db")
    with fake.http_client() as http:
        response = http.post(f"/v2/databases/{cluster.id}/pools", json=pool_body("defaultdb", 5))
    assert response.status_code == (422 if guess else 201)
    if guess:
        assert response.json()["message"] == "pool name is not available"  # as seen in the field (tf #925)


@BOTH
def test_resize_of_a_busy_cluster(guess: bool) -> None:
    fake = make(refuse_busy_resize=guess)
    cluster = fake.add_cluster("app-db", status="resizing")
    with fake.http_client() as http:
        status = http.put(f"/v2/databases/{cluster.id}/resize", json={"size": "db-s-2vcpu-4gb", "num_nodes": 1})
    assert status.status_code == (422 if guess else 202)


@pytest.mark.parametrize("busy", ["migrating", "online"])
def test_status_during_an_update(busy: str) -> None:
    fake = make(update_busy_status=busy)
    cluster = fake.add_cluster("app-db", maintenance_pending=True)
    with fake.http_client() as http:
        assert http.put(f"/v2/databases/{cluster.id}/install_update").status_code == 204
        during = http.get(f"/v2/databases/{cluster.id}").json()["database"]
    assert (during["status"], during["maintenance_window"]["pending"]) == (busy, True)


@pytest.mark.parametrize("when", ["completion", "start"])
def test_when_the_pending_flag_clears_during_an_update(when: str) -> None:
    fake = make(update_pending_clears=when)
    cluster = fake.add_cluster("app-db", maintenance_pending=True)
    with fake.http_client() as http:
        assert http.put(f"/v2/databases/{cluster.id}/install_update").status_code == 204
        during = http.get(f"/v2/databases/{cluster.id}").json()["database"]
        after = [http.get(f"/v2/databases/{cluster.id}").json()["database"] for _ in range(2)][-1]
    assert (during["status"], during["maintenance_window"]["pending"]) == ("migrating", when == "completion")
    assert (after["status"], after["maintenance_window"]["pending"]) == ("online", False)


@pytest.mark.parametrize("when", ["completion", "start"])
def test_when_the_maintenance_event_is_logged(when: str) -> None:
    fake = make(maintenance_event_logged=when)
    cluster = fake.add_cluster("app-db", maintenance_pending=True)

    def logged(http: httpx.Client) -> list[str]:
        return [e["event_type"] for e in http.get(f"/v2/databases/{cluster.id}/events").json()["events"]]

    with fake.http_client() as http:
        before = logged(http)
        http.put(f"/v2/databases/{cluster.id}/install_update")
        during = logged(http)
        for _ in range(3):
            http.get(f"/v2/databases/{cluster.id}")
        after = logged(http)
    assert before == ["cluster_create"]
    assert during == ["cluster_create"] + (["cluster_maintenance_perform"] if when == "start" else [])
    assert after == ["cluster_create", "cluster_maintenance_perform"] and cluster.update is None


# -- the client: right whichever way DigitalOcean answers --------------------------------------------------


@BOTH
def test_an_over_budget_pool_is_refused_before_any_write(guess: bool, gateway_for: object) -> None:
    fake = make(refuse_over_budget_pool=guess)
    fake.add_cluster("app-db")
    with pytest.raises(errors.BudgetError) as info:
        ensure_pool(gateway_for(fake), PoolRequest(size=30), cluster="app-db")  # type: ignore[operator]
    assert info.value.available == 22 and writes(fake) == []


@BOTH
def test_a_mode_change_is_never_sent_as_a_put(guess: bool, gateway_for: object) -> None:
    fake = make(refuse_mode_change=guess)
    cluster = fake.add_cluster("app-db")
    fake.add_pool(cluster, "defaultdb-pool", 5, mode="session")
    gateway = gateway_for(fake)  # type: ignore[operator]
    with pytest.raises(errors.PlanError, match="replace=True"):
        ensure_pool(gateway, PoolRequest(size=5, mode="transaction"), cluster="app-db")
    assert writes(fake) == []
    result = ensure_pool(gateway, PoolRequest(size=5, mode="transaction"), cluster="app-db", replace=True)
    assert result.outcome == "replaced" and cluster.pools["defaultdb-pool"].mode == "transaction"
    assert writes(fake) == [("DELETE", "defaultdb-pool"), ("POST", "pools")]


@BOTH
def test_a_22nd_pool_is_refused_before_any_write(guess: bool, gateway_for: object) -> None:
    fake = make(refuse_pool_beyond_limit=guess)
    cluster = fake.add_cluster("big-db", size="db-s-6vcpu-16gb")
    for i in range(21):
        fake.add_pool(cluster, f"pool-{i:02}", 1)
    with pytest.raises(errors.PlanError, match="DigitalOcean allows 21"):
        ensure_pool(gateway_for(fake), PoolRequest(size=1), cluster="big-db")  # type: ignore[operator]
    assert writes(fake) == []


@BOTH
def test_a_busy_cluster_is_not_resized_without_waiting(guess: bool, gateway_for: object) -> None:
    fake = make(refuse_busy_resize=guess)
    fake.add_cluster("app-db", status="migrating")
    with pytest.raises(errors.PlanError, match="not online"):
        resize(gateway_for(fake), ResizeRequest(size="db-s-2vcpu-4gb"), cluster="app-db", wait=False)  # type: ignore[operator]
    assert writes(fake) == []


@BOTH
def test_a_pool_named_like_a_database(guess: bool, gateway_for: object) -> None:
    fake = make(refuse_pool_named_like_database=guess)
    fake.add_cluster("app-db")
    gateway = gateway_for(fake)  # type: ignore[operator]
    if not guess:
        assert ensure_pool(gateway, PoolRequest(size=5, name="defaultdb"), cluster="app-db").outcome == "created"
        return
    with pytest.raises(errors.ConflictError) as info:
        ensure_pool(gateway, PoolRequest(size=5, name="defaultdb"), cluster="app-db")
    text = str(info.value)
    assert "pool name is not available" in text and "sending it again cannot help" in text
    assert "also the name of a database on the cluster" in text and "choose another name (e.g. defaultdb-pool)" in text
    assert "re-run" not in text.lower()
    assert [w for w in writes(fake)] == [("POST", "pools")]  # one attempt, then a read to reconcile, no retry


#: Every way the fake can run an update (status during it, when the flag clears, when the event is logged)...
UPDATE_OUTCOMES = [
    (busy, clears, logged)
    for busy in ("migrating", "online")
    for clears in ("completion", "start")
    for logged in ("completion", "start")
    if (busy, clears, logged) != ("online", "start", "start")  # ...but one: see the test after this one
]


def restart_against(assumptions: Assumptions) -> tuple[FakeDigitalOcean, object, object]:
    from do_pgpool.ops._restart import restart_cluster
    from do_pgpool.testing import FakeClock, LifecycleOptions
    from tests.test_wait import fake_waiting

    clock = FakeClock()
    fake = FakeDigitalOcean(clock=clock, lifecycle=LifecycleOptions(update_busy_reads=3), assumptions=assumptions)
    cluster = fake.add_cluster("app-db", maintenance_pending=True)
    with fake.http_client() as http, DigitalOcean("dop_v1_assumptions", http=http) as do:
        result = restart_cluster(do, cluster="app-db", waiting=fake_waiting(clock, timeout=15 * 60))
    return fake, cluster, result


@pytest.mark.parametrize(("busy", "clears", "logged"), UPDATE_OUTCOMES)
def test_a_cluster_restart_is_done_only_when_the_maintenance_is(busy: str, clears: str, logged: str) -> None:
    fake, cluster, result = restart_against(
        Assumptions(update_busy_status=busy, update_pending_clears=clears, maintenance_event_logged=logged)
    )
    assert result.outcome == "restarted"  # type: ignore[attr-defined]
    assert not cluster.maintenance_pending and cluster.update is None  # type: ignore[attr-defined]
    event_reads = sum(1 for call in fake.calls if call.path.endswith("/events"))
    if busy == "migrating":
        assert event_reads == 1  # the baseline before the request; the switch-over decides, no more reads
    else:
        assert event_reads >= 2  # online throughout: the events log decides


def test_the_one_outcome_no_documented_signal_tells_from_done_is_reported_done_at_once() -> None:
    """KNOWN LIMIT. Online throughout, the flag cleared and the event logged as the update *starts*: the first
    read after the request looks exactly like the end (online, nothing pending, a new maintenance event).
    do-pgpool cannot tell; this pins that it says "restarted" then, so a change here is seen."""
    fake, cluster, result = restart_against(
        Assumptions(update_busy_status="online", update_pending_clears="start", maintenance_event_logged="start")
    )
    assert result.outcome == "restarted"  # type: ignore[attr-defined]
    assert cluster.update is not None  # type: ignore[attr-defined]  # the fake's update was still running
