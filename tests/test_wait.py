"""The waits: bounded backoff, busy statuses, 412/429 while polling, timeouts with the last status.

Nothing sleeps: a FakeClock is both the clock and the sleep (its ``sleep`` advances it). The HTTP tests go
through the real gateway (pydo over httpx) with respx answering from scripted sequences, each answer checked
against DigitalOcean's OpenAPI description unless it deliberately leaves it (unknown statuses).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx

from do_pgpool import _exceptions as errors
from do_pgpool._models import Cluster, ClusterEvent
from do_pgpool.api._gateway import DigitalOcean
from do_pgpool.api._poll import Backoff, Observation, Progress, ProgressCallback, Stopwatch, WaitOptions, poll_until
from do_pgpool.api._retry import RetryConfig
from do_pgpool.ops._wait import (
    DeploymentFailedError,
    maintenance_events,
    wait_for_deployment,
    wait_for_maintenance,
    wait_until_ready,
)
from do_pgpool.testing import FakeClock
from tests.openapi_check import validate_response

API = "https://api.digitalocean.com"
CLUSTER_ID = "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30"
CLUSTER_PATH = f"/v2/databases/{CLUSTER_ID}"
RATE_HEADERS = {"ratelimit-limit": "5000", "ratelimit-remaining": "4990", "ratelimit-reset": "1767229200"}


# -- helpers shared by test_resize / test_restart / test_cli_resize ------------------------------------


def fake_waiting(
    clock: FakeClock, *, timeout: float = 30 * 60.0, on_progress: ProgressCallback | None = None,
    backoff: Backoff | None = None,
) -> WaitOptions:
    """Wait options on the virtual clock: every sleep advances it, nothing really sleeps."""
    return WaitOptions(
        timeout=timeout, clock=clock, sleep=clock.sleep, backoff=backoff or Backoff(), on_progress=on_progress
    )


def cluster_json(
    status: str = "online",
    size: str = "db-s-1vcpu-1gb",
    num_nodes: int = 1,
    *,
    pending: bool = False,
    storage: int = 10240,
    name: str = "app-db",
    engine: str = "pg",
    region: str = "nyc3",
) -> dict[str, Any]:
    host = f"{name}-do-user-1-0.b.db.ondigitalocean.com"
    return {
        "id": CLUSTER_ID,
        "name": name,
        "engine": engine,
        "version": "16",
        "num_nodes": num_nodes,
        "size": size,
        "region": region,
        "status": status,
        "created_at": "2026-01-01T00:00:00Z",
        "db_names": ["defaultdb"],
        "connection": {
            "uri": f"postgresql://doadmin:scrubbed@{host}:25060/defaultdb?sslmode=require",
            "database": "defaultdb", "host": host, "port": 25060, "user": "doadmin", "password": "scrubbed",
            "ssl": True,
        },
        "users": [{"name": "doadmin", "role": "primary", "password": "scrubbed"}],
        "maintenance_window": {
            "day": "tuesday", "hour": "08:00:00", "pending": pending,
            "description": ["Update to the latest minor version of PostgreSQL"] if pending else [],
        },
        "storage_size_mib": storage,
        "tags": [],
    }


def ok(body: dict[str, Any] | None = None, status: int = 200, *, headers: dict[str, str] | None = None,
       validate: bool = True) -> Callable[[httpx.Request], httpx.Response]:
    def respond(request: httpx.Request) -> httpx.Response:
        hdrs = {**RATE_HEADERS, **(headers or {})}
        response = (
            httpx.Response(status, headers=hdrs, json=body) if body is not None
            else httpx.Response(status, headers=hdrs)
        )
        if validate:
            validate_response(request, response)
        return response

    return respond


def cluster(status: str = "online", size: str = "db-s-1vcpu-1gb", num_nodes: int = 1, **kw: Any) -> Any:
    """A GET /v2/databases/{id} answer. Statuses outside DO's enum are not validated (the spec lists five)."""
    known = status in ("creating", "online", "resizing", "migrating", "forking")
    return ok({"database": cluster_json(status, size, num_nodes, **kw)}, validate=known)


def events(*types_and_ids: tuple[str, str]) -> Any:
    """A GET /v2/databases/{id}/events answer: (event_type, id) pairs, validated against the spec."""
    entries = [{"id": ident, "cluster_name": "app-db", "event_type": kind, "create_time": "2026-01-01T00:00:00Z"}
               for kind, ident in types_and_ids]
    return ok({"events": entries})


def error(status: int, error_id: str, message: str, headers: dict[str, str] | None = None) -> Any:
    return ok({"id": error_id, "message": message, "request_id": "4d9d8375-3c56-4925-a3e7-eb137fed17e9"},
              status, headers=headers, validate=False)


class Script:
    """Answers one route from a list, in order; the last answer repeats. Records every request."""

    def __init__(self, *answers: Any) -> None:
        assert answers
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        response: httpx.Response = answer(request)
        return response

    @property
    def count(self) -> int:
        return len(self.requests)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def gateway(clock: FakeClock) -> Iterator[DigitalOcean]:
    # the gateway's own retries (429, 5xx) sleep on the same virtual clock
    with DigitalOcean("dop_v1_test-token", retry=RetryConfig(sleep=clock.sleep, clock=clock)) as do:
        yield do


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


# -- poll_until: the loop itself -------------------------------------------------------------------


def statuses(*values: str) -> Callable[[], Observation[str]]:
    queue = list(values)

    def observe() -> Observation[str]:
        value = queue.pop(0) if len(queue) > 1 else queue[0]
        return Observation(value, value, done=value == "done")

    return observe


def test_backoff_grows_by_the_factor_and_is_capped() -> None:
    b = Backoff()
    assert [b.delay(i) for i in range(7)] == [5.0, 7.5, 11.25, 16.875, 25.3125, 30.0, 30.0]
    with pytest.raises(ValueError):
        Backoff(initial=0)
    with pytest.raises(ValueError):
        Backoff(initial=10, maximum=5)


def test_poll_sleeps_the_backoff_between_reads_and_returns_when_done(clock: FakeClock) -> None:
    value = poll_until(statuses("a", "b", "c", "done"), what="thing", waiting=fake_waiting(clock))
    assert value == "done"
    assert clock.sleeps == [5.0, 7.5, 11.25]


def test_poll_in_ten_minutes_reads_at_most_24_times(clock: FakeClock) -> None:
    reads = []

    def observe() -> Observation[str]:
        reads.append(clock())
        return Observation("busy", "busy")

    with pytest.raises(errors.WaitTimeoutError):
        poll_until(observe, what="thing", waiting=fake_waiting(clock, timeout=600))
    # reads at 0, 5, 12.5, 23.75, 40.6, 65.9 s, then every 30 s up to 575.9 s (17 more), then one at the deadline
    assert len(reads) == 24
    gaps = [b - a for a, b in zip(reads, reads[1:], strict=False)]
    assert min(gaps[:-1]) >= 5.0, "never faster than the backoff"
    assert reads[-1] - reads[0] == pytest.approx(600.0), "one last read exactly at the deadline"


def test_timeout_names_the_thing_the_last_status_and_the_expectation(clock: FakeClock) -> None:
    with pytest.raises(errors.WaitTimeoutError) as info:
        poll_until(
            lambda: Observation("x", "resizing", "db-s-1vcpu-1gb x1"),
            what="cluster 'app-db'", waiting=fake_waiting(clock, timeout=90), expectation="online",
        )
    err = info.value
    assert err.last_status == "resizing"
    assert err.elapsed == pytest.approx(90.0)
    assert "cluster 'app-db' was not ready after 1m30s" in str(err)
    assert "last seen resizing (db-s-1vcpu-1gb x1)" in str(err)
    assert "waiting for online" in str(err) and "longer timeout" in str(err)


def test_zero_timeout_still_reads_once(clock: FakeClock) -> None:
    assert poll_until(statuses("done"), what="x", waiting=fake_waiting(clock, timeout=0)) == "done"
    with pytest.raises(errors.WaitTimeoutError):
        poll_until(statuses("busy"), what="x", waiting=fake_waiting(clock, timeout=0))
    assert clock.sleeps == []


def test_progress_reports_every_read_and_the_end(clock: FakeClock) -> None:
    seen: list[Progress] = []
    poll_until(statuses("a", "a", "done"), what="thing", waiting=fake_waiting(clock, on_progress=seen.append))
    assert [(p.status, p.polls, p.next_in, p.done) for p in seen] == [
        ("a", 1, 5.0, False), ("a", 2, 7.5, False), ("done", 3, None, True),
    ]
    assert [p.elapsed for p in seen] == [0.0, 5.0, 12.5]


def raising(*excs: BaseException | None) -> Callable[[], Observation[str]]:
    queue = list(excs)

    def observe() -> Observation[str]:
        exc = queue.pop(0) if queue else None
        if exc is not None:
            raise exc
        return Observation("done", "online", done=True)

    return observe


def api_error(cls: type[errors.APIError], status: int, **kw: Any) -> errors.APIError:
    return cls(f"{status}", status=status, **kw)


def test_412_while_polling_is_busy_not_fatal(clock: FakeClock) -> None:
    seen: list[Progress] = []
    observe = raising(api_error(errors.PreconditionFailedError, 412), api_error(errors.PreconditionFailedError, 412))
    assert poll_until(observe, what="x", waiting=fake_waiting(clock, on_progress=seen.append)) == "done"
    assert seen[0].status == "busy (412)"
    assert clock.sleeps == [5.0, 7.5]


def test_429_that_escapes_the_gateway_waits_longer_not_crashes(clock: FakeClock) -> None:
    no_hint = errors.RateLimitedError("429", status=429)
    with_hint = errors.RateLimitedError("429", status=429, retry_after=3.0)
    assert poll_until(raising(no_hint, with_hint), what="x", waiting=fake_waiting(clock)) == "done"
    # no retry-after: a whole burst window; a retry-after shorter than the backoff: the backoff
    assert clock.sleeps == [60.0, 7.5]


def test_server_errors_are_tolerated_a_few_times_in_a_row_then_raised(clock: FakeClock) -> None:
    boom = api_error(errors.ServerError, 503)
    assert poll_until(raising(boom, boom, None), what="x", waiting=fake_waiting(clock)) == "done"
    with pytest.raises(errors.ServerError):
        poll_until(raising(*[boom] * 5), what="x", waiting=fake_waiting(clock, backoff=Backoff()))


@pytest.mark.parametrize(
    "exc",
    [
        errors.AuthenticationError("401", status=401),
        errors.NotFoundError("404", status=404),
        errors.InvalidResponseError("not JSON"),
    ],
)
def test_other_errors_end_the_wait_at_once(clock: FakeClock, exc: Exception) -> None:
    with pytest.raises(type(exc)):
        poll_until(raising(exc), what="x", waiting=fake_waiting(clock))
    assert clock.sleeps == []


# -- wait_until_ready over HTTP ------------------------------------------------------------------------


def test_ready_needs_online_and_the_target_size_not_just_online(
    api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock
) -> None:
    # the race: after the 202 the cluster still reads online with the old size for a while
    script = Script(
        cluster("online", "db-s-1vcpu-1gb"), cluster("online", "db-s-1vcpu-1gb"),
        cluster("resizing", "db-s-1vcpu-1gb"), cluster("resizing", "db-s-2vcpu-4gb"),
        cluster("online", "db-s-2vcpu-4gb"),
    )
    api.get(CLUSTER_PATH).mock(side_effect=script)
    done = wait_until_ready(gateway, CLUSTER_ID, size="db-s-2vcpu-4gb", num_nodes=1, waiting=fake_waiting(clock))
    assert (done.status, done.size) == ("online", "db-s-2vcpu-4gb")
    assert script.count == 5


def test_online_with_the_right_size_but_wrong_node_count_keeps_waiting(
    api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock
) -> None:
    script = Script(cluster("online", "db-s-2vcpu-4gb", 1), cluster("online", "db-s-2vcpu-4gb", 2))
    api.get(CLUSTER_PATH).mock(side_effect=script)
    done = wait_until_ready(gateway, CLUSTER_ID, size="db-s-2vcpu-4gb", num_nodes=2, waiting=fake_waiting(clock))
    assert done.num_nodes == 2 and script.count == 2


def test_unknown_statuses_are_busy(api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock) -> None:
    seen: list[Progress] = []
    script = Script(cluster("upgrading"), cluster("rebalancing"), cluster("online"))
    api.get(CLUSTER_PATH).mock(side_effect=script)
    done = wait_until_ready(gateway, CLUSTER_ID, waiting=fake_waiting(clock, on_progress=seen.append))
    assert done.status == "online"
    assert [p.status for p in seen] == ["upgrading", "rebalancing", "online"]
    assert seen[0].what == "cluster 'app-db'"


def test_429_while_polling_goes_through_the_gateway_retry_then_continues(
    api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock
) -> None:
    script = Script(
        cluster("resizing"),
        error(429, "too_many_requests", "API rate limit exceeded.", {"retry-after": "7"}),
        cluster("online", "db-s-2vcpu-4gb"),
    )
    api.get(CLUSTER_PATH).mock(side_effect=script)
    done = wait_until_ready(gateway, CLUSTER_ID, size="db-s-2vcpu-4gb", waiting=fake_waiting(clock))
    assert done.size == "db-s-2vcpu-4gb"
    assert clock.sleeps == [5.0, 7.0], "the backoff, then the gateway honouring retry-after"


def test_429_that_outlasts_the_gateway_retries_becomes_a_longer_backoff(
    api: respx.MockRouter, clock: FakeClock
) -> None:
    # a gateway that gives up on the first 429 (no retries): the wait must absorb it
    limited = error(429, "too_many_requests", "API rate limit exceeded.")
    script = Script(cluster("resizing"), limited, cluster("online"))
    api.get(CLUSTER_PATH).mock(side_effect=script)
    with DigitalOcean("dop_v1_t", retry=RetryConfig(max_attempts=1, sleep=clock.sleep, clock=clock)) as gw:
        done = wait_until_ready(gw, CLUSTER_ID, waiting=fake_waiting(clock))
    assert done.status == "online"
    assert clock.sleeps == [5.0, 60.0]


def test_412_while_polling_backs_off(api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock) -> None:
    script = Script(error(412, "precondition_failed", "cluster is undergoing maintenance"), cluster("online"))
    api.get(CLUSTER_PATH).mock(side_effect=script)
    assert wait_until_ready(gateway, CLUSTER_ID, waiting=fake_waiting(clock)).status == "online"
    assert script.count == 2 and clock.sleeps == [5.0]


def test_timeout_says_the_last_status_and_size(api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock) -> None:
    api.get(CLUSTER_PATH).mock(side_effect=Script(cluster("resizing", "db-s-1vcpu-1gb")))
    with pytest.raises(errors.WaitTimeoutError) as info:
        wait_until_ready(gateway, CLUSTER_ID, size="db-s-2vcpu-4gb", waiting=fake_waiting(clock, timeout=120))
    text = str(info.value)
    assert info.value.last_status == "resizing"
    assert "last seen resizing (db-s-1vcpu-1gb x1; waiting for size db-s-1vcpu-1gb -> db-s-2vcpu-4gb)" in text
    assert "waiting for online with size db-s-2vcpu-4gb" in text
    assert "dop_v1_" not in text


def test_polling_rate_is_bounded_by_the_backoff(api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock) -> None:
    script = Script(cluster("resizing"))
    api.get(CLUSTER_PATH).mock(side_effect=script)
    with pytest.raises(errors.WaitTimeoutError):
        wait_until_ready(gateway, CLUSTER_ID, size="db-s-2vcpu-4gb", waiting=fake_waiting(clock, timeout=600))
    assert script.count <= 24, f"{script.count} GETs in 10 minutes (doctl's fixed 10 s would make 60)"
    assert gateway.request_count == script.count


# -- maintenance and deployments -------------------------------------------------------------------


class Reader:
    """A gateway stand-in answering from lists (for the waits that only read): clusters, and events logs."""

    def __init__(self, *clusters: Cluster, events: list[list[ClusterEvent]] | None = None) -> None:
        self.clusters = list(clusters)
        self.logs = list(events or [[]])
        self.reads = 0
        self.event_reads = 0

    def get_cluster(self, cluster_id: str) -> Cluster:
        self.reads += 1
        return self.clusters.pop(0) if len(self.clusters) > 1 else self.clusters[0]

    def list_events(self, cluster_id: str) -> list[ClusterEvent]:
        self.event_reads += 1
        return self.logs.pop(0) if len(self.logs) > 1 else self.logs[0]


def c(status: str = "online", pending: bool = False) -> Cluster:
    return Cluster.from_api(cluster_json(status, pending=pending))


CREATED = ClusterEvent("pe000001", "cluster_create", "2025-06-01T10:00:00Z")
OLD_MAINTENANCE = ClusterEvent("pe000002", "cluster_maintenance_perform", "2025-11-04T08:10:00Z")
NEW_MAINTENANCE = ClusterEvent("pe000003", "cluster_maintenance_perform", "2026-01-01T00:05:00Z")
BEFORE = frozenset({OLD_MAINTENANCE.key})  # what the events log held before install_update


def wait(reader: Reader, clock: FakeClock, **options: Any) -> Cluster:
    return wait_for_maintenance(reader, CLUSTER_ID, before=BEFORE, waiting=fake_waiting(clock, **options))


def test_maintenance_events_are_the_keys_of_the_maintenance_entries_only() -> None:
    no_id = ClusterEvent("", "cluster_maintenance_perform", "2026-01-01T00:05:00Z")
    reader = Reader(c(), events=[[CREATED, OLD_MAINTENANCE, no_id, ClusterEvent("x", "cluster_update")]])
    assert maintenance_events(reader, CLUSTER_ID) == {"pe000002", "cluster_maintenance_perform@2026-01-01T00:05:00Z"}


def test_maintenance_wait_is_not_done_while_online_with_the_update_still_pending(clock: FakeClock) -> None:
    reader = Reader(c("online", True), c("online", True), c("migrating", True), c("online", False))
    done = wait(reader, clock)
    assert done.status == "online" and not done.maintenance_pending and reader.reads == 4
    assert reader.event_reads == 0  # a switch-over was seen: the events log is not needed


def test_maintenance_wait_online_after_busy_but_still_pending_is_not_done(clock: FakeClock) -> None:
    # The busy spell ended, but DigitalOcean still lists the update as pending: not over yet.
    reader = Reader(c("online", True), c("migrating", True), c("online", True), c("online", True),
                    c("online", False))  # fmt: skip
    seen: list[Progress] = []
    done = wait(reader, clock, on_progress=seen.append)
    assert done.maintenance_pending is False and reader.reads == 5
    assert any("waiting for the pending flag to clear" in p.detail for p in seen)


def test_maintenance_wait_flag_cleared_while_online_is_not_done_until_the_switch_over(clock: FakeClock) -> None:
    # The flag clears while the old cluster keeps serving (online) and nothing is logged yet: not over.
    reader = Reader(c("online", True), c("online", False), c("online", False), c("migrating", False),
                    c("online", False), events=[[CREATED, OLD_MAINTENANCE]])  # fmt: skip
    seen: list[Progress] = []
    done = wait(reader, clock, on_progress=seen.append)
    assert done.status == "online" and reader.reads == 5
    assert reader.event_reads == 2  # only while online with the flag cleared and no busy spell seen
    assert any("no switch-over (status leaving online) and no new cluster_maintenance_perform" in p.detail
               for p in seen)


def test_maintenance_wait_that_stays_online_ends_with_a_new_maintenance_event(clock: FakeClock) -> None:
    # DigitalOcean never leaves online: the flag clears, and the events log gains the maintenance.
    reader = Reader(c("online", True), c("online", True), c("online", False), c("online", False),
                    events=[[CREATED, OLD_MAINTENANCE], [CREATED, OLD_MAINTENANCE, NEW_MAINTENANCE]])
    done = wait(reader, clock)
    assert done.status == "online" and not done.maintenance_pending
    assert (reader.reads, reader.event_reads) == (4, 2)


def test_a_new_maintenance_event_while_the_update_is_pending_is_not_done(clock: FakeClock) -> None:
    # Logged at the start? Then the event alone proves nothing: the flag must clear too.
    reader = Reader(c("online", True), c("online", True), c("online", False),
                    events=[[OLD_MAINTENANCE, NEW_MAINTENANCE]])
    done = wait(reader, clock)
    assert not done.maintenance_pending and (reader.reads, reader.event_reads) == (3, 1)


def test_an_old_maintenance_event_does_not_count_and_the_timeout_says_what_was_awaited(clock: FakeClock) -> None:
    reader = Reader(c("online", True), c("online", False), events=[[CREATED, OLD_MAINTENANCE]])
    with pytest.raises(errors.WaitTimeoutError) as info:
        wait(reader, clock, timeout=60)
    text = str(info.value)
    assert "last seen online" in text and "no switch-over" in text
    assert ("waiting for online with no update pending, after a switch-over or a new cluster_maintenance_perform "
            "event in the cluster's events log") in text
    assert reader.event_reads == reader.reads - 1  # every read after the first found the flag cleared


def test_maintenance_wait_times_out_if_nothing_ever_happens(clock: FakeClock) -> None:
    reader = Reader(c("online", True))
    with pytest.raises(errors.WaitTimeoutError, match="maintenance not started yet"):
        wait(reader, clock, timeout=60)
    assert reader.event_reads == 0


class Deployments:
    def __init__(self, *phases: str, reason: str | None = None) -> None:
        self.phases = list(phases)
        self.reason = reason

    def get_deployment(self, app_id: str, deployment_id: str) -> dict[str, Any]:
        phase = self.phases.pop(0) if len(self.phases) > 1 else self.phases[0]
        out: dict[str, Any] = {"id": deployment_id, "phase": phase, "progress": {"success_steps": 1, "total_steps": 3}}
        if self.reason:
            out["progress"]["steps"] = [{"name": "deploy", "component_name": "web", "status": "ERROR",
                                         "reason": {"code": "HealthCheckFailed", "message": self.reason}}]
        return out


def test_deployment_wait_ends_at_active(clock: FakeClock) -> None:
    seen: list[Progress] = []
    done = wait_for_deployment(
        Deployments("PENDING_DEPLOY", "DEPLOYING", "ACTIVE"), "app-1", "dep-1", app_name="web",
        waiting=fake_waiting(clock, on_progress=seen.append),
    )
    assert done["phase"] == "ACTIVE"
    assert [p.status for p in seen] == ["PENDING_DEPLOY", "DEPLOYING", "ACTIVE"]
    assert seen[0].detail == "1/3 steps" and seen[0].what == "deployment dep-1 of app 'web'"


@pytest.mark.parametrize("phase", ["ERROR", "CANCELED", "SUPERSEDED"])
def test_deployment_failure_phases_raise_with_the_reason(clock: FakeClock, phase: str) -> None:
    with pytest.raises(DeploymentFailedError) as info:
        wait_for_deployment(Deployments("DEPLOYING", phase, reason="health check failed"), "app-1", "dep-1",
                            waiting=fake_waiting(clock))
    assert info.value.phase == phase and info.value.deployment_id == "dep-1"
    assert f"ended in {phase} (web: health check failed)" in str(info.value)
    assert isinstance(info.value, errors.DoPgpoolError)


# -- WaitOptions and Stopwatch: one value for how to wait, one deadline per operation ----------------


def test_a_negative_timeout_is_refused_when_the_options_are_made() -> None:
    with pytest.raises(errors.ConfigError, match="timeout must be at least 0s"):
        WaitOptions(timeout=-1)
    for endless in (float("nan"), float("inf")):
        with pytest.raises(errors.ConfigError, match="is not a finite number of seconds"):
            WaitOptions(timeout=endless)


def test_the_stopwatch_shares_one_deadline_and_counts_time_and_requests(clock: FakeClock) -> None:
    class Counter:
        request_count = 7

    counter = Counter()
    watch = Stopwatch(counter, fake_waiting(clock, timeout=100))
    clock.advance(30)
    counter.request_count = 10
    assert (watch.elapsed(), watch.requests(), watch.waiting().timeout) == (30.0, 3, 70.0)
    clock.advance(500)
    assert watch.waiting().timeout == 0.0, "never negative once the deadline has passed"
