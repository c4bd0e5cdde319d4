"""Concurrent ``ensure_pool`` runs on one cluster, over the loopback fake: each run has its own gateway and HTTP
connection, and a barrier makes both POST only after both have read the pools (the race, every time)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from do_pgpool._changes import Action
from do_pgpool._exceptions import PlanError
from do_pgpool._models import Pool, PoolSpec
from do_pgpool.api._gateway import DigitalOcean
from do_pgpool.ops._pool import EnsureResult, ensure_pool
from do_pgpool.ops._pool_plan import PoolRequest
from do_pgpool.testing import FakeDigitalOcean

TOKEN = "dop_v1_" + "f" * 8 + "concurrent-token"
RUNS = 2


class RacingGateway(DigitalOcean):
    """Waits at ``barrier`` before its POST, so every run has listed the pools before any run creates one."""

    def __init__(self, url: str, barrier: threading.Barrier) -> None:
        super().__init__(TOKEN, api_url=url)
        self.barrier = barrier

    def add_connection_pool(self, cluster_id: str, spec: PoolSpec) -> Pool:
        self.barrier.wait()
        return super().add_connection_pool(cluster_id, spec)


@pytest.fixture
def served() -> Iterator[tuple[FakeDigitalOcean, str]]:
    fake = FakeDigitalOcean()
    fake.add_token(TOKEN)
    fake.add_cluster("app-db", size="db-s-2vcpu-4gb")
    with fake.serve() as url:
        yield fake, url


def race(url: str, cluster_id: str, sizes: list[int]) -> list[EnsureResult | BaseException]:
    """One thread per size, all released into their POST together; bounded by the barrier's and join's timeouts."""
    barrier = threading.Barrier(len(sizes), timeout=20)
    results: list[EnsureResult | BaseException] = [RuntimeError("did not finish")] * len(sizes)

    def run(i: int, size: int) -> None:
        with RacingGateway(url, barrier) as gateway:
            try:
                results[i] = ensure_pool(gateway, PoolRequest(db="defaultdb", size=size), cluster=cluster_id)
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                results[i] = exc

    threads = [threading.Thread(target=run, args=(i, size), daemon=True) for i, size in enumerate(sizes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    return results


def test_different_sizes_at_once_end_with_one_pool_updated_in_place(served: tuple[FakeDigitalOcean, str]) -> None:
    fake, url = served
    cluster = fake.cluster("app-db")
    results = race(url, cluster.id, [10, 15])
    assert all(isinstance(r, EnsureResult) for r in results), results
    done = sorted(r.outcome for r in results if isinstance(r, EnsureResult))
    assert done == ["created", "updated"]
    winner = next(r for r in results if isinstance(r, EnsureResult) and r.outcome == "created")
    loser = next(r for r in results if isinstance(r, EnsureResult) and r.outcome == "updated")
    assert loser.note == "another run created the pool meanwhile; it was updated in place"
    (change,) = loser.changes
    assert change.action is Action.UPDATE and change.before is not None and change.after is not None
    assert (change.before.size, change.after.size) == (winner.pool.size, loser.pool.size) != (10, 10)
    # exactly one pool, with the size of the run that wrote last (the update in place)
    assert [(p.name, p.size) for p in fake.cluster("app-db").pools.values()] == [("defaultdb-pool", loser.pool.size)]
    assert len(fake.calls_to("POST", f"/v2/databases/{cluster.id}/pools")) == RUNS
    assert len(fake.calls_to("PUT", f"/v2/databases/{cluster.id}/pools/defaultdb-pool")) == 1
    # the loser: list, cluster, POST (422), re-read, PUT
    assert loser.requests == 5


def test_the_same_size_at_once_ends_with_one_pool_and_no_update(served: tuple[FakeDigitalOcean, str]) -> None:
    fake, url = served
    cluster = fake.cluster("app-db")
    results = race(url, cluster.id, [10, 10])
    assert all(isinstance(r, EnsureResult) for r in results), results
    assert sorted(r.outcome for r in results if isinstance(r, EnsureResult)) == ["created", "created"]
    notes = [r.note for r in results if isinstance(r, EnsureResult)]
    assert sorted(notes, key=str) == [None, "the create answered 422, but the pool exists as requested"]
    assert [(p.name, p.size) for p in fake.cluster("app-db").pools.values()] == [("defaultdb-pool", 10)]
    assert fake.calls_to("PUT") == []


def test_a_mode_taken_meanwhile_is_refused_without_a_second_write(served: tuple[FakeDigitalOcean, str]) -> None:
    """Only size and user are updated in place; a pool made meanwhile in another mode is never replaced."""
    fake, url = served
    cluster = fake.cluster("app-db")
    with RacingGateway(url, threading.Barrier(1, timeout=20)) as gateway:
        real_list = gateway.list_connection_pools
        reads: list[int] = []

        def stale_first_read(cluster_id: str) -> list[Pool]:
            reads.append(1)
            if len(reads) == 1:  # our read, just before another run created the pool in session mode
                fake.add_pool(cluster, "defaultdb-pool", 10, mode="session")
                return []
            return real_list(cluster_id)

        gateway.list_connection_pools = stale_first_read  # type: ignore[method-assign]
        with pytest.raises(PlanError, match="in session mode.*replace=True"):
            ensure_pool(gateway, PoolRequest(db="defaultdb", size=12, mode="transaction"), cluster=cluster.id)
    assert len(reads) == 2  # re-planned once against the pool that exists
    assert fake.calls_to("PUT") == [] and fake.calls_to("DELETE") == []
    assert [(p.mode, p.size) for p in fake.cluster("app-db").pools.values()] == [("session", 10)]


def test_cli_runs_at_once_with_different_sizes_all_succeed_with_one_pool(served: tuple[FakeDigitalOcean, str]) -> None:
    """Real processes, as deploys start them: whichever way the race falls, every run exits 0 and one pool is left
    (without the re-plan, a run whose create lost the race exited 1 with "re-run")."""
    fake, url = served
    env = {**os.environ, "DIGITALOCEAN_TOKEN": TOKEN, "DIGITALOCEAN_API_URL": url}
    cmd = [sys.executable, "-m", "do_pgpool", "ensure-pool", "--cluster", fake.cluster("app-db").id, "--size"]
    runs = [subprocess.Popen([*cmd, str(size)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for size in (8, 9, 10, 11)]  # fmt: skip
    outputs = [run.communicate(timeout=60)[0] for run in runs]
    assert [run.returncode for run in runs] == [0] * len(runs), outputs
    pools = list(fake.cluster("app-db").pools.values())
    assert len(pools) == 1 and pools[0].size in (8, 9, 10, 11)
    assert len(fake.calls_to("POST")) >= 1 and len(fake.calls_to("DELETE")) == 0
