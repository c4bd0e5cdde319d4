"""A ``dotenv:`` target that cannot be a .env file is refused before anything is written: in a single-cluster
``ensure-pool`` with a ``{cluster}`` path (the cluster's name is read first), and in the library's ``fix``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from do_pgpool._exceptions import ConfigError
from do_pgpool.api._gateway import DigitalOcean
from do_pgpool.cli import main
from do_pgpool.ops._fix import fix
from do_pgpool.ops._pool_plan import PoolRequest
from do_pgpool.targets._parse import parse_target
from do_pgpool.testing import FakeDigitalOcean

TOKEN = "dop_v1_" + "f" * 8 + "preflight-token"


@pytest.fixture
def fake() -> Iterator[tuple[FakeDigitalOcean, str]]:
    fake = FakeDigitalOcean()
    fake.add_token(TOKEN)
    fake.add_cluster("app-db", size="db-s-1vcpu-1gb")
    with fake.serve() as url:
        yield fake, url


def writes(fake: FakeDigitalOcean) -> list[str]:
    return [f"{c.method} {c.path}" for c in fake.calls if c.method != "GET"]


@pytest.mark.parametrize("by", ["name", "uuid", "only cluster"])
def test_ensure_pool_refuses_a_cluster_placeholder_path_before_the_pool_is_written(
    fake: tuple[FakeDigitalOcean, str], tmp_path: Path, by: str
) -> None:
    server, url = fake
    os.mkfifo(tmp_path / "app-db")  # what dotenv:{tmp}/{cluster} becomes for this cluster
    cluster = {"name": ["--cluster", "app-db"], "uuid": ["--cluster", server.cluster("app-db").id]}.get(by, [])
    env = {"DIGITALOCEAN_TOKEN": TOKEN, "DIGITALOCEAN_API_URL": url}
    result = CliRunner().invoke(
        main, ["ensure-pool", *cluster, "--size", "5", "--secret", f"dotenv:{tmp_path}/{{cluster}}"], env=env,
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "is a FIFO (named pipe), not a regular file" in result.output
    assert writes(server) == [] and not server.cluster("app-db").pools
    assert len(server.calls) == 1  # the cluster, read for its name; not its pools


def test_ensure_pool_with_a_placeholder_costs_no_extra_request(fake: tuple[FakeDigitalOcean, str],
                                                              tmp_path: Path) -> None:  # fmt: skip
    server, url = fake
    env = {"DIGITALOCEAN_TOKEN": TOKEN, "DIGITALOCEAN_API_URL": url}
    args = ["ensure-pool", "--cluster", "app-db", "--size", "5", "--secret", f"dotenv:{tmp_path}/{{cluster}}.env"]
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "app-db.env").read_text().startswith("DATABASE_URL=")
    # cluster list, pools, POST, the pool re-read for its connection: the cluster read up front is reused
    assert [c.method for c in server.calls] == ["GET", "GET", "POST", "GET"]


def never_connect(uri: str) -> object:
    raise AssertionError("fix connected to PostgreSQL before refusing the target")


@pytest.mark.parametrize("path", ["app-db", "{cluster}"])
def test_fix_refuses_an_unwritable_dotenv_target_before_any_write(
    fake: tuple[FakeDigitalOcean, str], tmp_path: Path, path: str
) -> None:
    server, url = fake
    os.mkfifo(tmp_path / "app-db")
    with DigitalOcean(TOKEN, api_url=url) as gateway, pytest.raises(ConfigError, match="is a FIFO"):
        fix(gateway, PoolRequest(size=5), cluster="app-db", targets=[parse_target(f"dotenv:{tmp_path}/{path}")],
            connect_fn=never_connect)  # type: ignore[arg-type]  # fmt: skip
    assert writes(server) == [] and not server.cluster("app-db").pools
    # a literal path is refused before any request; a {cluster} path once the cluster is read (its name)
    assert len(server.calls) == (0 if path == "app-db" else 2)
