"""Fleet mode against the fake DigitalOcean API: 100 clusters, one shared limiter, virtual time only."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest

from do_pgpool._changes import Action
from do_pgpool._exceptions import ConfigError, PlanError, ServerError
from do_pgpool._models import Cluster
from do_pgpool.api._gateway import DigitalOcean
from do_pgpool.api._limiter import RateLimiter, Window
from do_pgpool.api._retry import RetryConfig
from do_pgpool.ops._fleet import FleetResult, ensure_fleet
from do_pgpool.ops._pool import ensure_pool
from do_pgpool.ops._pool_plan import PoolRequest, PoolSize
from do_pgpool.targets._parse import parse_target
from do_pgpool.targets._spec import SecretsSpec
from do_pgpool.testing import FakeClock, FakeDigitalOcean
from tests.test_limiter import most_in_any_window

TAG = "fleet"
SIZES = ["db-s-1vcpu-1gb", "db-s-1vcpu-2gb", "db-s-2vcpu-4gb", "db-s-4vcpu-8gb"]  # limits 22, 47, 97, 197
HALF = {"db-s-1vcpu-1gb": 11, "db-s-1vcpu-2gb": 23, "db-s-2vcpu-4gb": 48, "db-s-4vcpu-8gb": 98}


class Sent(NamedTuple):
    at: float
    method: str
    path: str
    status: int


class Harness:
    """The fake, its clock, a request log with virtual timestamps, and gateways sharing one limiter."""

    def __init__(self, *, per_minute: int = 250, per_hour: int = 5000, limiter: RateLimiter | None = None) -> None:
        self.clock = FakeClock()
        self.fake = FakeDigitalOcean(clock=self.clock, rate_limit_per_minute=per_minute, rate_limit_per_hour=per_hour)
        self.limiter = limiter or RateLimiter(
            (Window(per_minute, 60.0), Window(per_hour, 3600.0)), clock=self.clock.now, sleep=self.clock.sleep
        )
        self.log: list[Sent] = []
        self._lock = threading.Lock()
        self.http = httpx.Client(transport=httpx.MockTransport(self._handle))

    def _handle(self, request: httpx.Request) -> httpx.Response:
        at = self.clock.now()
        response = self.fake.handle(request)
        with self._lock:
            self.log.append(Sent(at, request.method, request.url.path, response.status_code))
        return response

    def connect(self) -> DigitalOcean:
        retry = RetryConfig(sleep=self.clock.sleep, clock=self.clock.now)
        return DigitalOcean("fleet-token", http=self.http, retry=retry, limiter=self.limiter)

    def seed(self, n: int = 100) -> list[str]:
        names = [f"tenant-{i:03d}" for i in range(n)]
        for i, name in enumerate(names):
            self.fake.add_cluster(name, size=SIZES[i % len(SIZES)], tags=[TAG, "customer"])
        return names

    def run(self, template: PoolRequest | None = None, **kwargs: object) -> FleetResult:
        template = template or PoolRequest(PoolSize.parse("50%"))
        return ensure_fleet(self.connect, template, tag=TAG, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def harness() -> Iterator[Harness]:
    h = Harness()
    yield h
    h.http.close()


# -- sizes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("slug", "size"), list(HALF.items()))
def test_half_the_budget_is_resolved_per_cluster(slug: str, size: int) -> None:
    cluster = Cluster(id="c", name="c", engine="pg", status="online", size=slug, num_nodes=1)
    assert PoolSize.parse("50%").resolve(cluster) == size


def test_an_absolute_size_ignores_the_cluster_and_prints_as_given() -> None:
    cluster = Cluster(id="c", name="c", engine="pg", status="online", size="db-s-1vcpu-1gb", num_nodes=1)
    assert PoolSize.parse("20").resolve(cluster) == 20
    assert (str(PoolSize.parse("20")), str(PoolSize.parse(" 12.5% "))) == ("20", "12.5%")


@pytest.mark.parametrize(("text", "message"), [
    ("0%", "use 1% to 100%"), ("150%", "use 1% to 100%"), ("0", "at least 1"), ("half", "neither a whole number"),
    ("-5", "neither a whole number"), ("5.5", "neither a whole number"),
])
def test_bad_sizes_are_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PoolSize.parse(text)


def test_a_percentage_needs_a_slug_that_says_the_ram() -> None:
    cluster = Cluster(id="c", name="big", engine="pg", status="online", size="c-96-intel", num_nodes=1)
    with pytest.raises(PlanError, match="'c-96-intel' does not say the node's RAM; give an absolute size"):
        PoolSize.parse("50%").resolve(cluster)


def test_the_template_validates_the_pool_before_any_request() -> None:
    with pytest.raises(ConfigError, match="3 to 60"):
        PoolRequest(PoolSize.parse("50%"), name="x")


# -- the fleet -----------------------------------------------------------------------------------------


def test_a_hundred_clusters_of_mixed_sizes_all_converge(harness: Harness) -> None:
    names = harness.seed(100)
    harness.fake.add_cluster("someone-else", size="db-s-1vcpu-1gb")  # untagged: untouched
    harness.fake.add_cluster("cache", engine="redis", tags=[TAG])  # tagged, but no PgBouncer there

    result = harness.run()

    assert result.ok and [o.cluster.name for o in result.outcomes] == names
    assert [c.name for c in result.skipped] == ["cache"]
    assert {o.outcome for o in result.outcomes} == {"created"}
    assert {o.action for o in result.outcomes} == {Action.CREATE}
    for i, name in enumerate(names):
        pool = harness.fake.cluster(name).pools["defaultdb-pool"]
        assert (pool.size, pool.mode, pool.user) == (HALF[SIZES[i % 4]], "transaction", "doadmin")
    assert harness.fake.cluster("someone-else").pools == {}
    # one listing, then per cluster: read its pools, create
    assert result.requests == 1 + 2 * 100 == len(harness.fake.calls)
    assert [c.path for c in harness.fake.calls_to("GET", "/v2/databases")][:1] == ["/v2/databases"]


def test_a_rerun_only_reads_one_listing_plus_one_request_per_cluster(harness: Harness) -> None:
    harness.seed(100)
    harness.run()
    before = len(harness.fake.calls)

    again = harness.run()

    rerun = harness.fake.calls[before:]
    assert again.ok and {o.outcome for o in again.outcomes} == {"unchanged"}
    assert {c.method for c in rerun} == {"GET"}
    assert len(rerun) == again.requests == 1 + 100
    assert all(o.requests == 1 for o in again.outcomes)
    # 302 requests in both runs, more than the 250-a-minute burst: the limiter spread them, DO never said 429
    assert all(s.status != 429 for s in harness.log)
    assert most_in_any_window([s.at for s in harness.log], 60.0) <= 250


def test_the_limiter_holds_a_scaled_down_per_minute_budget() -> None:
    h = Harness(per_minute=40, per_hour=1000)
    h.seed(100)

    result = h.run(concurrency=8)

    assert result.ok
    times = [s.at for s in h.log]
    assert len(times) == 201 and all(s.status != 429 for s in h.log)
    assert most_in_any_window(times, 60.0) <= 40
    # ideal: 201 requests at 40 a minute need 5 more full minutes after the first burst (+ the 0.5 s margin)
    assert times[-1] - times[0] == pytest.approx(5 * 60.5)
    assert h.limiter.stats.throttled_429 == 0 and h.limiter.stats.requests == 201


def test_without_the_limiter_the_same_run_collects_429s() -> None:
    # the counterfactual that shows the test above can fail: a limiter that lets everything through
    h = Harness(per_minute=40, per_hour=1000, limiter=None)
    h.limiter = RateLimiter((Window(10_000, 60.0),), clock=h.clock.now, sleep=h.clock.sleep)
    h.seed(30)
    h.run(concurrency=8)
    assert any(s.status == 429 for s in h.log)


def test_faults_on_a_few_clusters_are_reported_per_cluster_and_the_rest_succeed(harness: Harness) -> None:
    names = harness.seed(20)
    broken = harness.fake.cluster(names[3])
    harness.fake.faults.fail_next("GET", rf"^/v2/databases/{broken.id}/pools$", status=500, times=99)
    denied = harness.fake.cluster(names[7])
    harness.fake.faults.fail_next("POST", rf"^/v2/databases/{denied.id}/pools$", status=403)
    harness.fake.cluster(names[11]).status = "resizing"
    full = harness.fake.add_cluster("tenant-full", size="db-s-1vcpu-1gb", tags=[TAG])
    harness.fake.add_pool(full, "reports", 20, validate=False)

    result = harness.run()

    by_name = {o.cluster.name: o for o in result.outcomes}
    failed = {o.cluster.name for o in result.failed}
    assert failed == {names[3], names[7], names[11], "tenant-full"}
    assert isinstance(by_name[names[3]].error, ServerError)
    assert "database:create scope" in str(by_name[names[7]].error)
    assert "'resizing', not online" in str(by_name[names[11]].error)
    assert "limit is 22" in str(by_name["tenant-full"].error)
    assert all(by_name[n].outcome == "failed" and by_name[n].action is None for n in failed)
    assert all(o.outcome == "created" for o in result.outcomes if o.cluster.name not in failed)
    assert len([o for o in result.outcomes if o.ok]) == 17


def test_a_429_burst_pauses_every_worker_and_the_run_still_converges(harness: Harness) -> None:
    harness.seed(12)
    harness.fake.faults.rate_limit_burst(3, retry_after=5)
    result = harness.run()
    assert result.ok
    assert harness.limiter.stats.throttled_429 == 3
    assert [s.status for s in harness.log].count(429) == 3


def test_dry_run_plans_every_cluster_and_writes_nothing(harness: Harness) -> None:
    names = harness.seed(8)
    harness.fake.add_pool(names[0], "defaultdb-pool", 5)
    harness.fake.add_pool(names[1], "defaultdb-pool", 23)  # 2 GiB: already half its budget

    result = harness.run(dry_run=True)

    actions = [o.outcome for o in result.outcomes]
    assert actions[:3] == ["would update", "unchanged", "would create"]
    assert result.dry_run and {c.method for c in harness.fake.calls} == {"GET"}
    assert [o.pending for o in result.outcomes][:2] == [True, False]


def test_no_matching_cluster_is_an_error_that_names_the_tag(harness: Harness) -> None:
    harness.fake.add_cluster("cache", engine="redis", tags=[TAG])
    with pytest.raises(PlanError, match="no PostgreSQL cluster with the tag 'fleet' \\(1 clusters of other engines"):
        harness.run()


def test_all_clusters_without_a_tag(harness: Harness) -> None:
    harness.fake.add_cluster("a-db")
    harness.fake.add_cluster("b-db", tags=["x"])
    result = ensure_fleet(harness.connect, PoolRequest(PoolSize.parse("5")), tag=None)
    assert [o.cluster.name for o in result.outcomes] == ["a-db", "b-db"]


def test_progress_reports_each_cluster_once_in_order_of_completion(harness: Harness) -> None:
    harness.seed(10)
    seen: list[tuple[int, int]] = []
    harness.run(progress=lambda done, total, outcome: seen.append((done, total)))
    assert seen == [(i, 10) for i in range(1, 11)]


def test_concurrency_is_bounded(harness: Harness) -> None:
    with pytest.raises(ConfigError, match="concurrency=0 is out of range"):
        harness.run(concurrency=0)


# -- secrets -------------------------------------------------------------------------------------------


def test_secrets_go_to_each_clusters_own_target_after_its_pool_is_confirmed(harness: Harness, tmp_path: Path) -> None:
    names = harness.seed(6)
    for name in names[1:]:
        (tmp_path / name).mkdir()  # names[0] has no folder: its .env cannot be written
    harness.fake.faults.fail_next("POST", rf"^/v2/databases/{harness.fake.cluster(names[2]).id}/pools$", status=403)
    spec = SecretsSpec((parse_target(f"dotenv:{tmp_path}/{{cluster}}/.env"),), direct_name="DIRECT_URL")

    result = harness.run(secrets=spec)

    by_name = {o.cluster.name: o for o in result.outcomes}
    # names[0]'s .env cannot be written (no folder): refused before its pool is touched.
    assert not by_name[names[0]].ok and by_name[names[0]].outcome == "failed"
    assert "does not exist" in str(by_name[names[0]].error) and by_name[names[0]].requests == 0
    assert not harness.fake.cluster(names[0]).pools
    assert by_name[names[2]].secrets == ()  # pool failed: no secret written
    assert not (tmp_path / names[2] / ".env").exists()
    for name in names[1:2] + names[3:]:
        text = (tmp_path / name / ".env").read_text()
        assert f"@{harness.fake.cluster(name).host}:25061/defaultdb-pool" in text
        assert ":25060/defaultdb" in text and text.startswith("DATABASE_URL=")
        assert by_name[name].secrets_summary() == "1 changed"

    again = harness.run(secrets=spec)
    assert by_name[names[3]].secrets[0].target == f"dotenv:{tmp_path}/{names[3]}/.env"
    assert {again_o.secrets_summary() for again_o in again.outcomes if again_o.cluster.name != names[0]} \
        <= {"1 unchanged", "1 changed"}
    assert {o.cluster.name: o.secrets_summary() for o in again.outcomes}[names[3]] == "1 unchanged"


def test_a_dry_run_shows_which_targets_would_change_never_the_value(harness: Harness, tmp_path: Path) -> None:
    names = harness.seed(2)
    harness.fake.add_pool(names[1], "defaultdb-pool", 23)  # 2 GiB: already converged
    spec = SecretsSpec((parse_target(f"dotenv:{tmp_path}/{{cluster}}.env"),))

    result = harness.run(secrets=spec, dry_run=True)

    create, existing = result.outcomes
    assert create.secrets[0].detail.startswith("written once the pool is created")
    assert existing.secrets[0].dry_run and existing.secrets[0].action == "create"
    assert "fake-password" not in repr(existing.as_dict()) and not list(tmp_path.iterdir())


def test_a_fleet_target_without_the_placeholder_is_refused_before_any_request(harness: Harness) -> None:
    harness.seed(2)
    spec = SecretsSpec((parse_target("github:acme/web"),))
    with pytest.raises(ConfigError, match=r"no \{cluster\} placeholder.*github:acme/\{cluster\}"):
        harness.run(secrets=spec)
    assert harness.fake.calls == []


# -- one cluster -----------------------------------------------------------------------------------------


def test_one_cluster_by_name_with_a_percentage_costs_two_requests_when_converged(harness: Harness) -> None:
    harness.fake.add_cluster("solo", size="db-s-2vcpu-4gb")
    with harness.connect() as gateway:
        first = ensure_pool(gateway, PoolRequest(PoolSize.parse("50%")), cluster="solo")
        second = ensure_pool(gateway, PoolRequest(PoolSize.parse("50%")), cluster="solo")
    assert (first.outcome, first.pool.size, first.requests) == ("created", 48, 3)
    assert (second.outcome, second.requests) == ("unchanged", 2)
