"""Resize, install_update and app deployments move on reads or on the fake clock, never on real sleeps."""

from __future__ import annotations

import httpx
import pytest

from do_pgpool.testing import FakeCluster, FakeDigitalOcean, LifecycleOptions


def status(http: httpx.Client, cluster: FakeCluster) -> tuple[str, str, int]:
    db = http.get(f"/v2/databases/{cluster.id}").json()["database"]
    return db["status"], db["size"], db["num_nodes"]


def resize(http: httpx.Client, cluster: FakeCluster, size: str = "db-s-2vcpu-4gb", nodes: int = 1) -> httpx.Response:
    return http.put(f"/v2/databases/{cluster.id}/resize", json={"size": size, "num_nodes": nodes})


def test_resize_is_202_then_online_resizing_online_with_the_new_size(http: httpx.Client, cluster: FakeCluster) -> None:
    response = resize(http, cluster, "db-s-2vcpu-4gb", 2)

    assert (response.status_code, response.content) == (202, b"")
    seen = [status(http, cluster) for _ in range(5)]
    assert seen == [
        ("online", "db-s-1vcpu-1gb", 1),  # the race of doctl PR #1936: still online at the old size
        ("online", "db-s-1vcpu-1gb", 1),
        ("resizing", "db-s-1vcpu-1gb", 1),
        ("resizing", "db-s-1vcpu-1gb", 1),
        ("online", "db-s-2vcpu-4gb", 2),
    ]


def test_the_clock_moves_a_resize_on_without_reads(
    http: httpx.Client, fake: FakeDigitalOcean, cluster: FakeCluster
) -> None:
    resize(http, cluster)

    fake.clock.advance(25)  # 10 s per read by default: 2 reads' worth of online, then resizing
    assert status(http, cluster)[0] == "resizing"
    fake.clock.advance(60)
    assert status(http, cluster) == ("online", "db-s-2vcpu-4gb", 1)


def test_lifecycle_lengths_are_configurable(cluster: FakeCluster) -> None:
    fake = FakeDigitalOcean(lifecycle=LifecycleOptions(resize_online_reads=0, resize_busy_reads=1))
    quick = fake.add_cluster("quick")
    with fake.http_client() as http:
        resize(http, quick)
        assert [status(http, quick)[0] for _ in range(2)] == ["resizing", "online"]


@pytest.mark.parametrize(
    ("size", "nodes", "message"),
    [
        ("db-s-1vcpu-1gb", 2, "not available with 2 node(s)"),
        ("db-s-2vcpu-4gb", 4, "between 1 and 3"),
        ("db-s-9vcpu-9gb", 1, "not available"),
    ],
)
def test_resize_validation(http: httpx.Client, cluster: FakeCluster, size: str, nodes: int, message: str) -> None:
    response = resize(http, cluster, size, nodes)

    assert response.status_code == 422
    assert message in response.json()["message"]


def test_nodes_cannot_shrink(http: httpx.Client, fake: FakeDigitalOcean) -> None:
    big = fake.add_cluster("big", size="db-s-4vcpu-8gb")

    assert "smaller" in resize(http, big, "db-s-2vcpu-4gb").json()["message"]


def test_resize_while_resizing_is_refused(http: httpx.Client, fake: FakeDigitalOcean, cluster: FakeCluster) -> None:
    resize(http, cluster)
    fake.clock.advance(25)

    assert resize(http, cluster, "db-s-4vcpu-8gb").status_code == 422


def test_resize_during_maintenance_is_412(http: httpx.Client, fake: FakeDigitalOcean, cluster: FakeCluster) -> None:
    fake.faults.maintenance(cluster)

    response = resize(http, cluster)

    assert (response.status_code, response.json()["message"]) == (412, "cluster is undergoing maintenance")
    fake.faults.end_maintenance(cluster)
    assert resize(http, cluster).status_code == 202


def test_install_update_goes_busy_then_online_without_pending(http: httpx.Client, fake: FakeDigitalOcean) -> None:
    cluster = fake.add_cluster("app-db", maintenance_pending=True)

    response = http.put(f"/v2/databases/{cluster.id}/install_update")

    assert (response.status_code, response.content) == (204, b"")
    windows = []
    for _ in range(3):
        db = http.get(f"/v2/databases/{cluster.id}").json()["database"]
        windows.append((db["status"], db["maintenance_window"]["pending"]))
    assert windows == [("migrating", True), ("migrating", True), ("online", False)]


def test_the_events_log_records_create_update_and_maintenance_with_the_fakes_clock(
    http: httpx.Client, fake: FakeDigitalOcean
) -> None:
    cluster = fake.add_cluster("app-db", maintenance_pending=True)
    log = f"/v2/databases/{cluster.id}/events"
    created = http.get(log).json()["events"]
    http.put(f"/v2/databases/{cluster.id}/install_update")
    fake.clock.advance(60)  # past the update's busy reads
    resize(http, cluster)
    fake.clock.advance(60)  # past the resize
    events = http.get(log).json()["events"]

    assert [e["event_type"] for e in created] == ["cluster_create"]
    assert [e["event_type"] for e in events] == ["cluster_create", "cluster_maintenance_perform", "cluster_update"]
    assert {e["cluster_name"] for e in events} == {"app-db"} and len({e["id"] for e in events}) == 3
    assert [e["create_time"] for e in events] == [
        "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z",
    ]


def test_install_update_with_nothing_pending_changes_nothing(http: httpx.Client, cluster: FakeCluster) -> None:
    assert http.put(f"/v2/databases/{cluster.id}/install_update").status_code == 204
    assert status(http, cluster)[0] == "online"


def test_maintenance_window_update(http: httpx.Client, cluster: FakeCluster) -> None:
    response = http.put(f"/v2/databases/{cluster.id}/maintenance", json={"day": "Tuesday", "hour": "14:00"})

    assert response.status_code == 204
    window = http.get(f"/v2/databases/{cluster.id}").json()["database"]["maintenance_window"]
    assert (window["day"], window["hour"]) == ("tuesday", "14:00")
