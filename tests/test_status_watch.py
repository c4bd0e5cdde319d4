"""``ops._watch.StatusWatch`` without a server: the API cadence is its own, not the frames', and a failed read
keeps the last good answer. The fake DigitalOcean in process; the PostgreSQL connection is a stub that refuses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from do_pgpool._exceptions import DatabaseError
from do_pgpool.api._gateway import DigitalOcean
from do_pgpool.ops._status import cluster_status
from do_pgpool.ops._watch import API_EVERY, StatusWatch
from do_pgpool.postgres._connect import PgConnection
from do_pgpool.testing import FakeClock, FakeDigitalOcean

TOKEN = "dop_v1_" + "w" * 8 + "watch-token"


def refused(url: str, **kwargs: object) -> PgConnection:
    raise DatabaseError("cannot reach PostgreSQL: stub", unreachable=True)


@pytest.fixture
def fake() -> FakeDigitalOcean:
    fake = FakeDigitalOcean()
    fake.add_pool(fake.add_cluster("app-db", size="db-s-1vcpu-1gb"), "app-pool", 10)
    return fake


@pytest.fixture
def gateway(fake: FakeDigitalOcean) -> Iterator[DigitalOcean]:
    with DigitalOcean(TOKEN, http=fake.http_client(TOKEN)) as gw:
        yield gw


def pool_reads(fake: FakeDigitalOcean) -> int:
    return sum(c.path.endswith("/pools") for c in fake.calls_to("GET", "/v2/databases/"))


# API reads: the first, then one at the first frame 30 s or more after the last attempt (1 s: at 30, 60 and
# 90 s; 7 s: 35 and 70; 30 s: 30, 60 and 90; 45 s: 45 and 90), over frames for 100 s
@pytest.mark.parametrize(("every", "reads"), [(1.0, 4), (7.0, 3), (30.0, 4), (45.0, 3)])
def test_the_api_is_read_every_30_s_whatever_the_frame_interval(
    fake: FakeDigitalOcean, gateway: DigitalOcean, every: float, reads: int
) -> None:
    clock = FakeClock()
    start = clock()
    watch = StatusWatch(gateway, cluster_status(gateway, "app-db", connect_fn=refused), clock=clock,
                        connect_fn=refused)  # fmt: skip
    while clock() - start + every <= 100:
        clock.sleep(every)
        frame = watch.next()
        assert frame.api_age < API_EVERY + every and not frame.stale
    assert pool_reads(fake) == watch.api_reads == reads


def test_a_failed_read_keeps_the_last_answer_and_is_tried_again_one_cadence_later(
    fake: FakeDigitalOcean, gateway: DigitalOcean
) -> None:
    clock = FakeClock()
    watch = StatusWatch(gateway, cluster_status(gateway, "app-db", connect_fn=refused), clock=clock,
                        connect_fn=refused)  # fmt: skip
    fake.faults.fail_next("GET", r"/pools$", status=403, times=2)
    clock.sleep(30)
    stale = watch.next()
    assert stale.stale and not stale.complete and stale.api_age == 30
    assert [p.name for p in stale.status.pools] == ["app-pool"]  # the last good answer
    assert "403" in str(stale.api_failure)
    clock.sleep(10)
    assert watch.next().api_age == 40 and pool_reads(fake) == 2  # the first and the failed one: not every frame
    clock.sleep(20)
    assert watch.next().stale  # tried at 60 s: the second injected failure
    clock.sleep(30)
    fresh = watch.next()  # 90 s: read again
    assert not fresh.stale and fresh.api_age == 0 and pool_reads(fake) == 4
    assert fresh.status.usage is None and not fresh.complete  # the server part still could not be read
