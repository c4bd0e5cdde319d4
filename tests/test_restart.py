"""restart: the cluster's pending maintenance (install_update) and an App Platform app's rolling restart."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from do_pgpool import _exceptions as errors
from do_pgpool.api._gateway import DigitalOcean
from do_pgpool.api._poll import Progress
from do_pgpool.ops._restart import prepare_app_restart, restart_app, restart_cluster
from do_pgpool.ops._wait import DeploymentFailedError
from do_pgpool.testing import FakeClock, FakeDigitalOcean, LifecycleOptions
from tests.test_wait import (
    CLUSTER_ID,
    CLUSTER_PATH,
    Script,
    api,
    clock,
    cluster,
    error,
    events,
    fake_waiting,
    gateway,
    ok,
)

__all__ = ["api", "clock", "gateway"]  # fixtures re-used from test_wait

UPDATE_PATH = f"{CLUSTER_PATH}/install_update"
EVENTS_PATH = f"{CLUSTER_PATH}/events"
CREATED = ("cluster_create", "pe8u2huh")
APP_ID = "c2a93513-8d9b-4223-9d61-5e7272c81cf5"
DEPLOYMENT_ID = "b6bdf840-2854-4f87-a36c-5f231c617c84"


# -- cluster ---------------------------------------------------------------------------------------


def test_nothing_pending_means_no_write_and_says_so(
    api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock
) -> None:
    api.get(CLUSTER_PATH).mock(side_effect=Script(cluster("online", pending=False)))
    put = api.put(UPDATE_PATH).mock(return_value=httpx.Response(204))
    result = restart_cluster(gateway, cluster=CLUSTER_ID, waiting=fake_waiting(clock))
    assert result.outcome == "nothing pending" and not put.called
    assert result.requests == 1 and "no maintenance pending" in result.description


def test_pending_update_is_started_and_waited_for_through_busy_and_back(
    api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock
) -> None:
    reads = Script(
        cluster("online", pending=True),  # find
        cluster("online", pending=True),  # right after the 204: nothing visible yet; not done
        cluster("migrating", pending=True), cluster("migrating", pending=False),
        cluster("online", pending=False),
    )
    api.get(CLUSTER_PATH).mock(side_effect=reads)
    log = Script(events(CREATED))
    api.get(EVENTS_PATH).mock(side_effect=log)
    put = Script(ok(None, 204))
    api.put(UPDATE_PATH).mock(side_effect=put)
    seen: list[Progress] = []
    result = restart_cluster(gateway, cluster=CLUSTER_ID, waiting=fake_waiting(clock, on_progress=seen.append))
    assert result.outcome == "restarted" and put.count == 1 and reads.count == 5
    assert log.count == 1 and result.requests == 7  # the events log only before the request: busy was seen
    assert result.cluster is not None and result.cluster.status == "online"
    assert "maintenance not started yet" in seen[0].detail
    assert "node IPs change" in result.description


def test_a_cluster_that_stays_online_is_done_when_its_events_log_shows_the_maintenance(
    api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock
) -> None:
    old = ("cluster_maintenance_perform", "pe0ld001")
    reads = Script(
        cluster("online", pending=True),  # find
        cluster("online", pending=True),  # running, or not started: the same to a reader
        cluster("online", pending=False),  # flag cleared, nothing logged yet: not done
        cluster("online", pending=False),
    )
    api.get(CLUSTER_PATH).mock(side_effect=reads)
    new = ("cluster_maintenance_perform", "pe9")
    log = Script(events(CREATED, old), events(CREATED, old), events(CREATED, old, new))
    api.get(EVENTS_PATH).mock(side_effect=log)
    put = Script(ok(None, 204))
    api.put(UPDATE_PATH).mock(side_effect=put)
    seen: list[Progress] = []
    result = restart_cluster(gateway, cluster=CLUSTER_ID, waiting=fake_waiting(clock, on_progress=seen.append))
    assert result.outcome == "restarted" and put.count == 1
    assert (reads.count, log.count, result.requests) == (4, 3, 8)
    assert log.requests[0].url.params["per_page"] == "200"
    assert any("flag cleared, but no switch-over" in p.detail for p in seen)


def test_no_wait_reads_no_events(api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock) -> None:
    api.get(CLUSTER_PATH).mock(side_effect=Script(cluster("online", pending=True)))
    log = api.get(EVENTS_PATH).mock(return_value=httpx.Response(500))
    api.put(UPDATE_PATH).mock(side_effect=Script(ok(None, 204)))
    result = restart_cluster(gateway, cluster=CLUSTER_ID, wait=False, waiting=fake_waiting(clock))
    assert result.outcome == "requested" and not log.called and result.requests == 2


def test_dry_run_reads_once_and_writes_nothing(api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock) -> None:
    api.get(CLUSTER_PATH).mock(side_effect=Script(cluster("online", pending=True)))
    put = api.put(UPDATE_PATH).mock(return_value=httpx.Response(204))
    result = restart_cluster(gateway, cluster=CLUSTER_ID, dry_run=True, waiting=fake_waiting(clock))
    assert result.outcome == "would restart" and not put.called and result.requests == 1


def test_412_on_install_update_is_retried_until_accepted(
    api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock
) -> None:
    reads = Script(cluster("online", pending=True), cluster("migrating", pending=True),
                   cluster("online", pending=False))
    api.get(CLUSTER_PATH).mock(side_effect=reads)
    api.get(EVENTS_PATH).mock(side_effect=Script(events(CREATED)))
    put = Script(error(412, "precondition_failed", "cluster is undergoing maintenance"), ok(None, 204))
    api.put(UPDATE_PATH).mock(side_effect=put)
    result = restart_cluster(gateway, cluster=CLUSTER_ID, waiting=fake_waiting(clock))
    assert result.outcome == "restarted" and put.count == 2 and clock.sleeps[0] == 5.0


def test_restart_wait_times_out_with_the_last_status(
    api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock
) -> None:
    api.get(CLUSTER_PATH).mock(side_effect=Script(cluster("online", pending=True), cluster("migrating", pending=True)))
    api.get(EVENTS_PATH).mock(side_effect=Script(events(CREATED)))
    api.put(UPDATE_PATH).mock(side_effect=Script(ok(None, 204)))
    with pytest.raises(errors.WaitTimeoutError) as info:
        restart_cluster(gateway, cluster=CLUSTER_ID, waiting=fake_waiting(clock, timeout=120))
    assert info.value.last_status == "migrating" and "last seen migrating" in str(info.value)


def test_end_to_end_cluster_restart_against_the_fake_then_nothing_pending() -> None:
    fake_clock = FakeClock()
    fake = FakeDigitalOcean(clock=fake_clock, lifecycle=LifecycleOptions(update_busy_reads=3))
    fake.add_cluster("app-db", maintenance_pending=True)
    with fake.http_client() as http, DigitalOcean("fake-token", http=http) as do:
        first = restart_cluster(do, cluster="app-db", waiting=fake_waiting(fake_clock))
        second = restart_cluster(do, cluster="app-db", waiting=fake_waiting(fake_clock))
    assert first.outcome == "restarted"
    assert second.outcome == "nothing pending" and second.requests == 1
    assert len(fake.calls_to("PUT")) == 1


# -- App Platform ----------------------------------------------------------------------------------


def app_json(name: str = "web") -> dict[str, Any]:
    return {
        "id": APP_ID,
        "spec": {"name": name, "services": [{"name": "api"}], "workers": [{"name": "jobs"}]},
    }


def deployment(phase: str) -> Any:
    return ok({"deployment": {"id": DEPLOYMENT_ID, "phase": phase, "cause": "manual restart"}})


def serve_app(api: respx.MockRouter) -> None:
    api.get("/v2/apps").mock(side_effect=Script(ok({"apps": [app_json()], "links": {}, "meta": {"total": 1}})))
    api.get(f"/v2/apps/{APP_ID}").mock(side_effect=Script(ok({"app": app_json()})))


def test_app_by_name_is_restarted_and_its_deployment_waited_for(
    api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock
) -> None:
    serve_app(api)
    post = Script(deployment("PENDING_DEPLOY"))
    api.post(f"/v2/apps/{APP_ID}/restart").mock(side_effect=post)
    polls = Script(deployment("DEPLOYING"), deployment("DEPLOYING"), deployment("ACTIVE"))
    api.get(f"/v2/apps/{APP_ID}/deployments/{DEPLOYMENT_ID}").mock(side_effect=polls)
    result = restart_app(gateway, "web", components=["api"], waiting=fake_waiting(clock))
    assert result.outcome == "restarted" and result.phase == "ACTIVE"
    assert post.bodies() == [{"components": ["api"]}]
    assert polls.count == 3 and result.requests == 5  # list apps, POST, 3 polls


def test_app_by_id_is_one_read_and_all_components_by_default(
    api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock
) -> None:
    listing = api.get("/v2/apps").mock(return_value=httpx.Response(500))
    get_app = Script(ok({"app": app_json()}))
    api.get(f"/v2/apps/{APP_ID}").mock(side_effect=get_app)
    post = Script(deployment("PENDING_DEPLOY"))
    api.post(f"/v2/apps/{APP_ID}/restart").mock(side_effect=post)
    api.get(f"/v2/apps/{APP_ID}/deployments/{DEPLOYMENT_ID}").mock(side_effect=Script(deployment("ACTIVE")))
    result = restart_app(gateway, APP_ID, waiting=fake_waiting(clock))
    assert result.outcome == "restarted" and result.name == "web"
    assert not listing.called and get_app.count == 1
    assert post.bodies() in ([{}], [None]), "no components: DigitalOcean restarts them all"


def test_no_wait_returns_after_the_post(api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock) -> None:
    serve_app(api)
    api.post(f"/v2/apps/{APP_ID}/restart").mock(side_effect=Script(deployment("PENDING_DEPLOY")))
    polls = api.get(f"/v2/apps/{APP_ID}/deployments/{DEPLOYMENT_ID}").mock(return_value=httpx.Response(500))
    result = restart_app(gateway, "web", wait=False, waiting=fake_waiting(clock))
    assert result.outcome == "requested" and result.deployment_id == DEPLOYMENT_ID and not polls.called


def test_failed_deployment_raises_with_the_phase(
    api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock
) -> None:
    serve_app(api)
    api.post(f"/v2/apps/{APP_ID}/restart").mock(side_effect=Script(deployment("PENDING_DEPLOY")))
    api.get(f"/v2/apps/{APP_ID}/deployments/{DEPLOYMENT_ID}").mock(side_effect=Script(deployment("ERROR")))
    with pytest.raises(DeploymentFailedError, match="ended in ERROR"):
        restart_app(gateway, "web", waiting=fake_waiting(clock))


def test_unknown_app_lists_the_apps(api: respx.MockRouter, gateway: DigitalOcean) -> None:
    serve_app(api)
    with pytest.raises(errors.NotFoundError, match=r"no App Platform app named 'shop' .*\(apps: web\)"):
        prepare_app_restart(gateway, "shop")


def test_unknown_component_is_refused_before_the_post(api: respx.MockRouter, gateway: DigitalOcean) -> None:
    serve_app(api)
    post = api.post(f"/v2/apps/{APP_ID}/restart").mock(return_value=httpx.Response(200))
    with pytest.raises(errors.ConfigError, match=r"no component 'www' \(components: api, jobs\)"):
        restart_app(gateway, "web", components=["www"])
    assert not post.called


def test_app_restart_against_the_fake() -> None:
    fake_clock = FakeClock()
    fake = FakeDigitalOcean(clock=fake_clock)
    fake.add_app("web")
    with fake.http_client() as http, DigitalOcean("fake-token", http=http) as do:
        result = restart_app(do, "web", waiting=fake_waiting(fake_clock))
    assert result.outcome == "restarted" and result.phase == "ACTIVE"
    assert len(fake.calls_to("POST")) == 1
