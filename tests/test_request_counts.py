"""The request budget of ``ensure-pool``, counted by the fake (``fake.calls``): converged by uuid 1, by name 2,
create 3, update 3; a secret adds one read of the pool only after a write."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

from do_pgpool.testing import FakeDigitalOcean
from tests.cli_runner import invoke

TOKEN = "dop_v1_" + "b" * 8 + "request-count-token"
run = functools.partial(invoke, token=TOKEN)


@pytest.fixture
def fake() -> FakeDigitalOcean:
    fake = FakeDigitalOcean()
    cluster = fake.add_cluster("app-db", size="db-s-1vcpu-2gb", users=("doadmin", "app"))
    fake.add_pool(cluster, "defaultdb-pool", 10)
    return fake


@pytest.fixture
def api(fake: FakeDigitalOcean) -> Iterator[str]:
    with fake.serve() as url:
        yield url


def calls(fake: FakeDigitalOcean, api: str, *args: str) -> list[tuple[str, str]]:
    """Run ``ensure-pool ARGS`` and return the (method, path) of each request it made."""
    before = len(fake.calls)
    result = run(api, "ensure-pool", *args)
    assert result.exit_code == 0, result.output
    uuid = fake.cluster("app-db").id
    return [(c.method, c.path.replace(uuid, "ID")) for c in fake.calls[before:]]


def test_converged_by_uuid_is_one_request_the_pool_list(fake: FakeDigitalOcean, api: str) -> None:
    uuid = fake.cluster("app-db").id
    assert calls(fake, api, "--cluster", uuid, "--size", "10") == [("GET", "/v2/databases/ID/pools")]


def test_converged_by_name_is_two_requests(fake: FakeDigitalOcean, api: str) -> None:
    assert calls(fake, api, "--cluster", "app-db", "--size", "10") == [
        ("GET", "/v2/databases"), ("GET", "/v2/databases/ID/pools"),
    ]  # fmt: skip


def test_converged_by_uuid_with_a_secret_reads_nothing_more(
    fake: FakeDigitalOcean, api: str, tmp_path: Path
) -> None:
    uuid = fake.cluster("app-db").id
    env = tmp_path / ".env"
    got = calls(fake, api, "--cluster", uuid, "--size", "10", "--secret", f"dotenv:{env}")
    assert got == [("GET", "/v2/databases/ID/pools")]
    assert "DATABASE_URL=" in env.read_text()


def test_converged_by_uuid_with_a_cluster_placeholder_reads_the_cluster_once(
    fake: FakeDigitalOcean, api: str, tmp_path: Path
) -> None:
    uuid = fake.cluster("app-db").id
    got = calls(fake, api, "--cluster", uuid, "--size", "10", "--secret", f"dotenv:{tmp_path}/{{cluster}}.env")
    # the cluster first: its name decides the path, which is checked before anything could be written
    assert got == [("GET", "/v2/databases/ID"), ("GET", "/v2/databases/ID/pools")]
    assert (tmp_path / "app-db.env").exists()


@pytest.mark.parametrize("by", ["uuid", "name"])
def test_create_and_update_are_three_requests(fake: FakeDigitalOcean, api: str, by: str) -> None:
    ref = fake.cluster("app-db").id if by == "uuid" else "app-db"
    created = calls(fake, api, "--cluster", ref, "--size", "5", "--name", "new-pool")
    updated = calls(fake, api, "--cluster", ref, "--size", "6", "--name", "new-pool")
    assert len(created) == 3 and created[-1] == ("POST", "/v2/databases/ID/pools")
    assert len(updated) == 3 and updated[-1] == ("PUT", "/v2/databases/ID/pools/new-pool")
    assert fake.cluster("app-db").pools["new-pool"].size == 6


def test_a_secret_adds_one_read_of_the_pool_after_a_write(fake: FakeDigitalOcean, api: str, tmp_path: Path) -> None:
    uuid = fake.cluster("app-db").id
    secret = ("--secret", f"dotenv:{tmp_path / '.env'}")
    created = calls(fake, api, "--cluster", uuid, "--size", "5", "--name", "new-pool", *secret)
    updated = calls(fake, api, "--cluster", uuid, "--size", "5", "--name", "new-pool", "--user", "app", *secret)
    for got, write in ((created, "POST"), (updated, "PUT")):
        assert len(got) == 4 and got[2][0] == write
        assert got[3] == ("GET", "/v2/databases/ID/pools/new-pool")
