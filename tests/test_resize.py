"""resize: the plan (pure, against DigitalOcean's own options example), refusals before any write, the PUT, the wait."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from do_pgpool import _exceptions as errors
from do_pgpool._models import Cluster
from do_pgpool.api._gateway import DigitalOcean
from do_pgpool.api._poll import Progress, ProgressCallback
from do_pgpool.ops._resize import ResizeResult, apply_resize, prepare_resize, resize
from do_pgpool.ops._resize_plan import ResizeRequest, plan_resize
from do_pgpool.testing import FakeClock, FakeDigitalOcean, LifecycleOptions, openapi
from tests.test_wait import (
    CLUSTER_ID,
    CLUSTER_PATH,
    Script,
    api,
    clock,
    cluster,
    cluster_json,
    error,
    fake_waiting,
    gateway,
    ok,
)

__all__ = ["OPTIONS", "api", "clock", "gateway"]  # fixtures re-used from test_wait

def _options_example() -> dict[str, Any]:
    """components.responses.options' example: DigitalOcean's own list of sizes per engine and node count."""
    spec = openapi.load()
    example: dict[str, Any] = spec["components"]["responses"]["options"]["content"]["application/json"]["example"]
    return example


OPTIONS = _options_example()
RESIZE_PATH = f"{CLUSTER_PATH}/resize"


def on(size: str = "db-s-1vcpu-1gb", nodes: int = 1, status: str = "online", **kw: Any) -> Cluster:
    return Cluster.from_api(cluster_json(status, size, nodes, **kw))


# -- plan_resize: pure ------------------------------------------------------------------------------


def test_explicit_size_plans_one_resize_with_both_budgets() -> None:
    plan = plan_resize(on(), OPTIONS, ResizeRequest(size="db-s-2vcpu-4gb"))
    assert (plan.size, plan.num_nodes, plan.budget_before, plan.budget_after) == ("db-s-2vcpu-4gb", 1, 22, 97)
    assert [c.describe() for c in plan.changes] == [
        "~ resize cluster 'app-db': size db-s-1vcpu-1gb -> db-s-2vcpu-4gb (budget 22 -> 97)"
    ]
    after = plan.changes[0].after
    assert after is not None and after.body() == {"size": "db-s-2vcpu-4gb", "num_nodes": 1}


@pytest.mark.parametrize(
    ("current", "nodes", "wanted", "expected"),
    [
        ("db-s-1vcpu-1gb", 1, 22, "db-s-1vcpu-1gb"),  # already enough: no change
        ("db-s-1vcpu-1gb", 1, 23, "db-s-1vcpu-2gb"),  # 47
        ("db-s-1vcpu-1gb", 1, 50, "db-s-2vcpu-4gb"),  # 97: db-s family first among the 4 GiB sizes
        ("db-s-1vcpu-1gb", 1, 150, "db-s-4vcpu-8gb"),  # 197, not gd-2vcpu-8gb or db-amd-2vcpu-8gb
        ("db-s-1vcpu-1gb", 1, 397, "db-s-6vcpu-16gb"),
        ("db-s-1vcpu-1gb", 1, 997, "gd-16vcpu-64gb"),  # needs 40 GiB: the first 64 GiB size in DO's order
        ("db-amd-1vcpu-2gb", 1, 90, "db-amd-2vcpu-4gb"),  # keeps the current family at equal RAM
        ("db-s-1vcpu-1gb", 2, 10, "db-s-1vcpu-2gb"),  # 2 nodes: the 1 GiB size is not offered
    ],
)
def test_connections_picks_the_smallest_fitting_size(current: str, nodes: int, wanted: int, expected: str) -> None:
    plan = plan_resize(on(current), OPTIONS, ResizeRequest(connections=wanted, num_nodes=nodes))
    assert plan.size == expected
    assert plan.budget_after is not None and plan.budget_after >= wanted
    assert plan.reason


def test_connections_above_the_997_cap_is_refused_with_advice() -> None:
    with pytest.raises(errors.ConfigError, match=r"caps a cluster at 997.*ensure_pool\(\)"):
        plan_resize(on(), OPTIONS, ResizeRequest(connections=998))


def test_unknown_slug_is_refused_listing_valid_choices() -> None:
    with pytest.raises(errors.ConfigError) as info:
        plan_resize(on(), OPTIONS, ResizeRequest(size="db-s-3vcpu-5gb"))
    text = str(info.value)
    assert "unknown size slug 'db-s-3vcpu-5gb'" in text
    assert "at least as big as the current db-s-1vcpu-1gb: db-s-1vcpu-1gb, " in text
    assert "db-s-2vcpu-4gb" in text and "so1_5-32vcpu-256gb" in text


def test_smaller_size_is_refused() -> None:
    with pytest.raises(errors.ConfigError, match="smaller than the current db-s-2vcpu-4gb.*cannot resize"):
        plan_resize(on("db-s-2vcpu-4gb"), OPTIONS, ResizeRequest(size="db-s-1vcpu-2gb"))


def test_slug_not_offered_for_that_node_count_is_refused() -> None:
    with pytest.raises(errors.ConfigError) as info:
        plan_resize(on(), OPTIONS, ResizeRequest(size="db-s-1vcpu-1gb", num_nodes=3))
    assert "not offered with 3 node(s) (it is with 1)" in str(info.value)


@pytest.mark.parametrize("nodes", [0, 4])
def test_node_count_outside_1_to_3_is_refused(nodes: int) -> None:
    with pytest.raises(errors.ConfigError, match="1 to 3 nodes"):
        ResizeRequest(size="db-s-2vcpu-4gb", num_nodes=nodes)


def test_size_and_connections_exclude_each_other() -> None:
    with pytest.raises(errors.ConfigError):
        ResizeRequest(size="db-s-2vcpu-4gb", connections=50)
    with pytest.raises(errors.ConfigError):
        ResizeRequest()


def test_same_size_and_nodes_is_no_change() -> None:
    plan = plan_resize(on("db-s-2vcpu-4gb", 2), OPTIONS, ResizeRequest(size="db-s-2vcpu-4gb", num_nodes=2))
    assert not plan and plan.changes == ()


def test_adding_a_standby_only_changes_nodes() -> None:
    plan = plan_resize(on("db-s-2vcpu-4gb"), OPTIONS, ResizeRequest(size="db-s-2vcpu-4gb", num_nodes=2))
    assert plan.changes[0].describe() == "~ resize cluster 'app-db': nodes 1 -> 2"


def test_removing_standbys_warns() -> None:
    plan = plan_resize(on("db-s-2vcpu-4gb", 3), OPTIONS, ResizeRequest(size="db-s-2vcpu-4gb", num_nodes=1))
    assert any("removes standby" in w for w in plan.warnings)


# -- resize() over HTTP --------------------------------------------------------------------------------


def serve_options(api: respx.MockRouter) -> Script:
    script = Script(ok(OPTIONS))
    api.get("/v2/databases/options").mock(side_effect=script)
    return script


def serve_busy_put(api: respx.MockRouter) -> Script:
    """The options, an online cluster, and a PUT /resize that answers 412 (maintenance) every time."""
    serve_options(api)
    api.get(CLUSTER_PATH).mock(side_effect=Script(cluster("online")))
    put = Script(error(412, "precondition_failed", "cluster is undergoing maintenance"))
    api.put(RESIZE_PATH).mock(side_effect=put)
    return put


def resize_to_2gb(
    gateway: DigitalOcean, clock: FakeClock, *, wait: bool = True, timeout: float = 30 * 60.0,
    on_progress: ProgressCallback | None = None,
) -> ResizeResult:
    """``resize --cluster CLUSTER_ID --size-slug db-s-2vcpu-4gb`` on the virtual clock."""
    waiting = fake_waiting(clock, timeout=timeout, on_progress=on_progress)
    return resize(gateway, ResizeRequest(size="db-s-2vcpu-4gb"), cluster=CLUSTER_ID, wait=wait, waiting=waiting)


def test_resize_accepted_while_still_online_with_the_old_size_waits_for_the_new_size(
    api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock
) -> None:
    serve_options(api)
    reads = Script(
        cluster("online"),  # find_cluster
        cluster("online"), cluster("online"), cluster("online"),  # the race: 202 given, nothing changed yet
        cluster("resizing"), cluster("resizing"),
        cluster("online", "db-s-2vcpu-4gb"),
    )
    api.get(CLUSTER_PATH).mock(side_effect=reads)
    put = Script(ok(None, 202))
    api.put(RESIZE_PATH).mock(side_effect=put)
    seen: list[Progress] = []
    result = resize_to_2gb(gateway, clock, on_progress=seen.append)
    assert result.outcome == "resized"
    assert (result.cluster.status, result.cluster.size) == ("online", "db-s-2vcpu-4gb")
    assert put.bodies() == [{"size": "db-s-2vcpu-4gb", "num_nodes": 1}]
    assert reads.count == 7
    assert result.requests == 9 == gateway.request_count  # cluster, options, PUT, 6 polls
    assert [p.status for p in seen][:3] == ["online", "online", "online"]
    assert "waiting for size db-s-1vcpu-1gb -> db-s-2vcpu-4gb" in seen[0].detail


def test_412_on_the_put_is_retried_with_backoff_then_succeeds(
    api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock
) -> None:
    serve_options(api)
    api.get(CLUSTER_PATH).mock(side_effect=Script(cluster("online"), cluster("online", "db-s-2vcpu-4gb")))
    put = Script(
        error(412, "precondition_failed", "cluster is undergoing maintenance"),
        error(412, "precondition_failed", "cluster is undergoing maintenance"),
        ok(None, 202),
    )
    api.put(RESIZE_PATH).mock(side_effect=put)
    result = resize_to_2gb(gateway, clock)
    assert result.outcome == "resized"
    assert put.count == 3
    assert clock.sleeps[:2] == [5.0, 7.5]


def test_412_on_the_put_without_wait_says_nothing_changed(
    api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock
) -> None:
    put = serve_busy_put(api)
    with pytest.raises(errors.PreconditionFailedError, match="Nothing was changed"):
        resize_to_2gb(gateway, clock, wait=False)
    assert put.count == 1 and clock.sleeps == []


def test_412_on_the_put_until_the_deadline_times_out(
    api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock
) -> None:
    put = serve_busy_put(api)
    with pytest.raises(errors.WaitTimeoutError, match="412.*nothing was changed"):
        resize_to_2gb(gateway, clock, timeout=60)
    assert put.count <= 6


@pytest.mark.parametrize(
    "request_",
    [
        ResizeRequest(size="db-s-1vcpu-1gb"),  # the current size
        ResizeRequest(connections=20),  # the current budget (22) is already enough
    ],
)
def test_already_at_the_target_is_a_no_op_with_two_reads(
    api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock, request_: ResizeRequest
) -> None:
    serve_options(api)
    api.get(CLUSTER_PATH).mock(side_effect=Script(cluster("online")))
    put = api.put(RESIZE_PATH).mock(return_value=httpx.Response(202))
    result = resize(gateway, request_, cluster=CLUSTER_ID, waiting=fake_waiting(clock))
    assert result.outcome == "unchanged" and not put.called
    assert result.requests == 2


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (ResizeRequest(size="db-s-9vcpu-1tb"), "unknown size slug"),
        (ResizeRequest(size="db-s-1vcpu-1gb", num_nodes=2), "not offered with 2 node"),
        (ResizeRequest(connections=5000), "caps a cluster at 997"),
    ],
)
def test_refusals_happen_before_any_write(
    api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock, request_: ResizeRequest, message: str
) -> None:
    serve_options(api)
    api.get(CLUSTER_PATH).mock(side_effect=Script(cluster("online")))
    put = api.put(RESIZE_PATH).mock(return_value=httpx.Response(202))
    with pytest.raises(errors.ConfigError, match=message):
        resize(gateway, request_, cluster=CLUSTER_ID, waiting=fake_waiting(clock))
    assert not put.called


def test_smaller_size_refused_before_any_write(api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock) -> None:
    serve_options(api)
    api.get(CLUSTER_PATH).mock(side_effect=Script(cluster("online", "db-s-4vcpu-8gb")))
    put = api.put(RESIZE_PATH).mock(return_value=httpx.Response(202))
    with pytest.raises(errors.ConfigError, match="smaller"):
        resize_to_2gb(gateway, clock)
    assert not put.called


def test_dry_run_reads_two_and_writes_nothing(api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock) -> None:
    serve_options(api)
    api.get(CLUSTER_PATH).mock(side_effect=Script(cluster("online")))
    put = api.put(RESIZE_PATH).mock(return_value=httpx.Response(202))
    plan = prepare_resize(gateway, ResizeRequest(connections=90), cluster=CLUSTER_ID)
    result = apply_resize(gateway, plan, dry_run=True, waiting=fake_waiting(clock))
    assert result.outcome == "would resize" and result.plan is plan and plan.size == "db-s-2vcpu-4gb"
    assert not put.called and gateway.request_count == 2 and result.requests == 0
    again = resize(gateway, ResizeRequest(connections=90), cluster=CLUSTER_ID, dry_run=True,
                   waiting=fake_waiting(clock))  # fmt: skip
    assert again.outcome == "would resize" and again.requests == 2 and not put.called


def test_no_wait_returns_after_the_202(api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock) -> None:
    serve_options(api)
    reads = Script(cluster("online"))
    api.get(CLUSTER_PATH).mock(side_effect=reads)
    api.put(RESIZE_PATH).mock(side_effect=Script(ok(None, 202)))
    result = resize_to_2gb(gateway, clock, wait=False)
    assert result.outcome == "requested" and reads.count == 1 and clock.sleeps == []


def test_timeout_after_the_put_has_the_last_status(
    api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock
) -> None:
    serve_options(api)
    api.get(CLUSTER_PATH).mock(side_effect=Script(cluster("online"), cluster("resizing")))
    api.put(RESIZE_PATH).mock(side_effect=Script(ok(None, 202)))
    with pytest.raises(errors.WaitTimeoutError) as info:
        resize_to_2gb(gateway, clock, timeout=300)
    assert info.value.last_status == "resizing"
    assert "db-s-1vcpu-1gb x1" in str(info.value)
    assert info.value.elapsed == pytest.approx(300.0)


def test_a_busy_cluster_is_waited_for_then_resized(
    api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock
) -> None:
    serve_options(api)
    reads = Script(
        cluster("migrating"),  # find_cluster: busy
        cluster("migrating"), cluster("online"),  # wait for it first
        cluster("online", "db-s-2vcpu-4gb"),  # after the PUT
    )
    api.get(CLUSTER_PATH).mock(side_effect=reads)
    put = Script(ok(None, 202))
    api.put(RESIZE_PATH).mock(side_effect=put)
    result = resize_to_2gb(gateway, clock)
    assert result.outcome == "resized" and put.count == 1


def test_a_busy_cluster_with_no_wait_is_refused_without_writing(
    api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock
) -> None:
    serve_options(api)
    api.get(CLUSTER_PATH).mock(side_effect=Script(cluster("resizing")))
    put = api.put(RESIZE_PATH).mock(return_value=httpx.Response(202))
    with pytest.raises(errors.PlanError, match="'resizing', not online"):
        resize_to_2gb(gateway, clock, wait=False)
    assert not put.called


def test_rerun_while_the_resize_runs_just_waits_for_it(
    api: respx.MockRouter, gateway: DigitalOcean, clock: FakeClock
) -> None:
    serve_options(api)
    new = "db-s-2vcpu-4gb"
    reads = Script(cluster("resizing", new), cluster("resizing", new), cluster("online", new))
    api.get(CLUSTER_PATH).mock(side_effect=reads)
    put = api.put(RESIZE_PATH).mock(return_value=httpx.Response(202))
    result = resize_to_2gb(gateway, clock)
    assert result.outcome == "unchanged" and not put.called
    assert result.cluster.status == "online"


# -- against the project's stateful fake -------------------------------------------------------------


def test_end_to_end_against_the_fake_and_idempotent() -> None:
    fake_clock = FakeClock()
    fake = FakeDigitalOcean(clock=fake_clock, lifecycle=LifecycleOptions(resize_online_reads=3, resize_busy_reads=4))
    fake.add_cluster("app-db", size="db-s-1vcpu-1gb")
    with fake.http_client() as http, DigitalOcean("fake-token", http=http) as do:
        first = resize(do, ResizeRequest(connections=90), cluster="app-db", waiting=fake_waiting(fake_clock))
        second = resize(do, ResizeRequest(connections=90), cluster="app-db", waiting=fake_waiting(fake_clock))
    assert first.outcome == "resized" and first.cluster.size == "db-s-2vcpu-4gb"
    assert second.outcome == "unchanged" and second.requests == 2
    assert [c.method for c in fake.calls_to("PUT")] == ["PUT"]
