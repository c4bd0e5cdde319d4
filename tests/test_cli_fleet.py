"""``do-pgpool ensure-pool`` in fleet mode (and --size N%, --secret) through click's runner, against the fake
DigitalOcean API served on loopback: tables, JSON Lines, exit codes, secrets, and no password in any output."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from do_pgpool.cli import main
from do_pgpool.cli._ensure import FleetProgress
from do_pgpool.testing import FakeDigitalOcean

TOKEN = "dop_v1_" + "c" * 16 + "fleet-cli-token"
SIZES = ["db-s-1vcpu-1gb", "db-s-1vcpu-2gb", "db-s-2vcpu-4gb", "db-s-4vcpu-8gb"]  # 50%: 11, 23, 48, 98
HALF = [11, 23, 48, 98]


@pytest.fixture
def fake() -> Iterator[FakeDigitalOcean]:
    fake = FakeDigitalOcean()
    yield fake
    fake.assert_no_unmatched()


@pytest.fixture
def url(fake: FakeDigitalOcean) -> Iterator[str]:
    with fake.serve() as base:
        yield base


def seed(fake: FakeDigitalOcean, n: int = 6, tag: str = "customers") -> list[str]:
    names = [f"shop-{i}" for i in range(n)]
    for i, name in enumerate(names):
        fake.add_cluster(name, size=SIZES[i % 4], tags=[tag])
    return names


def run(url: str, *args: str) -> Result:
    env = {"DIGITALOCEAN_TOKEN": TOKEN, "DIGITALOCEAN_API_URL": url}
    return CliRunner().invoke(main, ["ensure-pool", *args], env=env, catch_exceptions=False)


def assert_no_secrets(result: Result) -> None:
    text = result.stdout + result.stderr
    assert TOKEN not in text
    assert "fake-password" not in text


def test_a_tagged_fleet_gets_half_of_each_budget_and_a_table(fake: FakeDigitalOcean, url: str) -> None:
    names = seed(fake)
    fake.add_cluster("internal", tags=["ops"])

    result = run(url, "--tag", "customers", "--size", "50%")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["CLUSTER", "ACTION", "POOL", "SIZE", "SECRETS", "ERROR"]
    for i, name in enumerate(names):
        assert lines[1 + i].split() == [name, "created", str(HALF[i % 4]), "-", "-"]
        assert fake.cluster(name).pools["defaultdb-pool"].size == HALF[i % 4]
    assert lines[-1] == "6 clusters (6 created); all ok; 13 API requests"
    assert fake.cluster("internal").pools == {}
    assert_no_secrets(result)


def test_json_lines_one_object_per_cluster(fake: FakeDigitalOcean, url: str) -> None:
    names = seed(fake, 4)
    result = run(url, "--tag", "customers", "--size", "10", "-o", "json")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["cluster"]["name"] for r in records] == names
    first = records[0]
    assert (first["action"], first["pool_size"], first["ok"], first["error"]) == ("created", 10, True, None)
    assert first["pool"]["name"] == "defaultdb-pool" and first["secrets"] == [] and first["requests"] == 2
    assert first["connection"].startswith("postgresql://doadmin:***@shop-0-do-user-")
    assert_no_secrets(result)


def test_one_failed_cluster_is_reported_the_others_finish_and_the_exit_code_is_1(
    fake: FakeDigitalOcean, url: str
) -> None:
    names = seed(fake)
    fake.faults.fail_next("POST", rf"^/v2/databases/{fake.cluster(names[2]).id}/pools$", status=403)

    result = run(url, "--tag", "customers", "--size", "50%")

    assert result.exit_code == 1
    row = next(line for line in result.stdout.splitlines() if line.startswith(names[2]))
    assert row.split()[:4] == [names[2], "failed", "48", "-"] and "403" in row and "database:create" in row
    assert f"Error: 1 of 6 clusters failed: {names[2]}. Re-run the same command" in result.stderr
    assert [n for n in names if fake.cluster(n).pools] == names[:2] + names[3:]
    # the re-run finishes the job and only reads the converged ones
    before = len(fake.calls)
    again = run(url, "--tag", "customers", "--size", "50%")
    assert again.exit_code == 0
    assert [c.method for c in fake.calls[before:]].count("POST") == 1


def test_dry_run_prints_the_whole_fleets_plan_and_writes_nothing(fake: FakeDigitalOcean, url: str) -> None:
    names = seed(fake, 3)
    fake.add_pool(names[1], "defaultdb-pool", 10)

    result = run(url, "--tag", "customers", "--size", "50%", "--dry-run")

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"cluster {names[0]} (db-s-1vcpu-1gb)\n  + create pool 'defaultdb-pool': transaction, size 11" in out
    assert f"cluster {names[1]} (db-s-1vcpu-2gb)\n  ~ update pool 'defaultdb-pool': size 10 -> 23" in out
    assert "dry run, nothing was changed: 3 clusters (2 would create, 1 would update); all ok" in out
    assert {c.method for c in fake.calls} == {"GET"}


def test_check_exits_3_while_the_fleet_drifts_and_0_once_converged(fake: FakeDigitalOcean, url: str) -> None:
    seed(fake, 2)
    assert run(url, "--all", "--size", "5", "--check").exit_code == 3
    assert run(url, "--all", "--size", "5").exit_code == 0
    assert run(url, "--all", "--size", "5", "--check").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tag", "x", "--all"], "--tag and --all exclude each other"),
        (["--tag", "x", "--cluster", "db"], "--cluster picks one cluster"),
        (["--tag", "x", "--concurrency", "0"], "0 is not in the range 1<=x<=32"),
        (["--tag", "x", "--size", "50%%"], "neither a whole number nor a percentage"),
        (["--tag", "x", "--size", "0"], "--size 0 is too small"),
        (["--tag", "x", "--size", "120%"], "use 1% to 100%"),
        (["--tag", "x", "--direct-secret-name", "DIRECT_URL"], "--direct-secret-name only applies with --secret"),
        (["--tag", "x", "--secret", "dotenv:/tmp/.env"], "no {cluster} placeholder"),
    ],
)
def test_usage_errors_exit_2_before_any_request(
    fake: FakeDigitalOcean, url: str, args: list[str], message: str
) -> None:
    seed(fake, 1)
    result = run(url, "--size", "5", *args) if "--size" not in args else run(url, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert fake.calls == []


def test_a_tag_nobody_carries_exits_1_and_names_it(fake: FakeDigitalOcean, url: str) -> None:
    seed(fake, 1)
    result = run(url, "--tag", "custmers", "--size", "5")
    assert result.exit_code == 1
    assert "no PostgreSQL cluster with the tag 'custmers'" in result.stderr


def test_one_cluster_accepts_a_percentage_of_its_own_budget(fake: FakeDigitalOcean, url: str) -> None:
    fake.add_cluster("solo", size="db-s-2vcpu-4gb")
    created = run(url, "--cluster", "solo", "--size", "50%")
    assert created.exit_code == 0, created.output
    assert "+ create pool 'defaultdb-pool': transaction, size 48" in created.stdout
    again = run(url, "--cluster", "solo", "--size", "50%", "-o", "json")
    data = json.loads(again.stdout)
    assert (data["action"], data["pool"]["size"], data["requests"]) == ("unchanged", 48, 2)


def test_fleet_secrets_go_to_each_clusters_file_and_a_rerun_changes_nothing(
    fake: FakeDigitalOcean, url: str, tmp_path: Path
) -> None:
    names = seed(fake, 3)
    target = f"dotenv:{tmp_path}/{{cluster}}.env"

    result = run(url, "--tag", "customers", "--size", "50%", "--secret", target, "--direct-secret-name", "DIRECT_URL")

    assert result.exit_code == 0, result.output
    for name in names:
        text = (tmp_path / f"{name}.env").read_text()
        assert "DATABASE_URL=" in text and ":25061/defaultdb-pool" in text
        assert "DIRECT_URL=" in text and ":25060/defaultdb" in text
        assert (tmp_path / f"{name}.env").stat().st_mode & 0o777 == 0o600
    assert [line.split()[3:5] for line in result.stdout.splitlines()[1:4]] == [["1", "changed"]] * 3
    assert_no_secrets(result)

    again = run(url, "--tag", "customers", "--size", "50%", "--secret", target, "--direct-secret-name", "DIRECT_URL")
    assert [line.split()[1:5] for line in again.stdout.splitlines()[1:4]] == [["unchanged", "11", "1", "unchanged"],
                                                                             ["unchanged", "23", "1", "unchanged"],
                                                                             ["unchanged", "48", "1", "unchanged"]]


def test_a_failed_secret_target_fails_the_run_but_not_the_other_clusters(
    fake: FakeDigitalOcean, url: str, tmp_path: Path
) -> None:
    names = seed(fake, 3)
    for name in names[1:]:
        (tmp_path / name).mkdir()
    result = run(url, "--tag", "customers", "--size", "5", "--secret", f"dotenv:{tmp_path}/{{cluster}}/.env",
                 "-o", "json")
    assert result.exit_code == 1
    records = {r["cluster"]["name"]: r for r in map(json.loads, result.stdout.splitlines())}
    # The .env of the first cluster cannot be written (no folder): refused before its pool is touched.
    assert records[names[0]]["action"] == "failed" and records[names[0]]["ok"] is False
    assert "does not exist" in records[names[0]]["error"]
    assert not fake.cluster(names[0]).pools
    assert all(records[n]["ok"] for n in names[1:])
    assert f"1 of 3 clusters failed: {names[0]}" in result.stderr
    assert_no_secrets(result)


def test_the_stdout_target_prints_each_clusters_value_and_moves_the_table_to_stderr(
    fake: FakeDigitalOcean, url: str
) -> None:
    names = seed(fake, 2)
    result = run(url, "--tag", "customers", "--size", "5", "--secret", "stdout")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == names
    assert all(f"{name}\tDATABASE_URL=postgresql://doadmin:fake-password-" in line and ":25061/defaultdb-pool" in line
               for name, line in zip(names, lines, strict=True))
    assert "CLUSTER" in result.stderr and "1 printed" in result.stderr and TOKEN not in result.output


def test_one_cluster_with_secrets_writes_after_the_pool_and_dry_run_hides_the_value(
    fake: FakeDigitalOcean, url: str, tmp_path: Path
) -> None:
    fake.add_cluster("solo")
    target = f"dotenv:{tmp_path}/{{cluster}}.env"

    plan = run(url, "--cluster", "solo", "--size", "5", "--secret", target, "--dry-run")
    assert plan.exit_code == 0, plan.output
    assert "? dry run: dotenv:" in plan.stdout and "written once the pool is created" in plan.stdout
    assert not (tmp_path / "solo.env").exists()

    done = run(url, "--cluster", "solo", "--size", "5", "--secret", target, "-o", "json")
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["action"] == "created" and data["secrets"][0]["action"] == "created"
    assert ":25061/defaultdb-pool" in (tmp_path / "solo.env").read_text()
    assert_no_secrets(plan)
    assert_no_secrets(done)


def test_progress_is_a_live_line_on_a_terminal_and_silent_otherwise() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    from do_pgpool._models import Cluster
    from do_pgpool.ops._fleet import ClusterOutcome

    outcome = ClusterOutcome(Cluster(id="i", name="shop-1", engine="pg", status="online", size="s", num_nodes=1),
                             "created")
    tty, pipe = Terminal(), io.StringIO()
    for stream in (tty, pipe):
        progress = FleetProgress(stream)
        progress(1, 2, outcome)
        progress(2, 2, outcome)
        progress.close()
    assert "\r\x1b[Kclusters done 1/2" in tty.getvalue() and "clusters done 2/2" in tty.getvalue()
    assert tty.getvalue().endswith("\r\x1b[K")
    assert pipe.getvalue() == ""
