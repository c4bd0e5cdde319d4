"""Which secret targets still point at a pool: .env values, App Platform values, bindings and fingerprints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from do_pgpool import plan_delete_pool
from do_pgpool._changes import Action
from do_pgpool._exceptions import PlanError
from do_pgpool._models import Cluster, Connection, Pool
from do_pgpool.postgres._pool_clients import PoolActivity
from do_pgpool.targets._app import fingerprint, fingerprint_key
from do_pgpool.targets._parse import parse_target
from do_pgpool.targets._pool_refs import PoolReference, references_to_pool, url_points_at

HOST = "app-db-do-user-1-0.db.ondigitalocean.com"
PRIVATE = "private-" + HOST
URI = f"postgresql://doadmin:s3cret@{HOST}:25061/old-pool?sslmode=require"
POOL = Pool("old-pool", "transaction", 5, "defaultdb", "doadmin",
            Connection(URI, HOST, 25061, "old-pool", "doadmin", "s3cret"),
            Connection(URI.replace(HOST, PRIVATE), PRIVATE, 25061, "old-pool", "doadmin", "s3cret"))  # fmt: skip


class Apps:
    """The one App Platform read the check makes."""

    request_count = 0

    def __init__(self, envs: list[dict[str, Any]], component_envs: list[dict[str, Any]] | None = None) -> None:
        spec: dict[str, Any] = {"name": "web-app", "envs": envs,
                                "services": [{"name": "web", "envs": component_envs or []}]}  # fmt: skip
        self.app = {"id": "6d1c5c4e-0000-4000-8000-000000000001", "spec": spec}

    def list_apps(self) -> list[dict[str, Any]]:
        return [self.app]

    def get_app(self, app_id: str) -> dict[str, Any]:
        return self.app


def verdict(target: str, apps: Any = None, name: str = "DATABASE_URL") -> PoolReference:
    (ref,) = references_to_pool([parse_target(target)], POOL, [name], apps=apps)
    return ref


@pytest.mark.parametrize(("url", "expected"), [
    (URI, True),
    (URI.replace(HOST, PRIVATE), True),
    (URI.replace("/old-pool", "/defaultdb"), False),  # the cluster itself through PgBouncer's port: another pool
    (URI.replace(":25061", ":25060"), False),
    (URI.replace(HOST, "other.example.com"), False),
    ("not a url", False),
])  # fmt: skip
def test_a_url_points_at_the_pool_by_host_port_and_pool_name(url: str, expected: bool) -> None:
    assert url_points_at(url, POOL) is expected


def test_dotenv_values_are_read(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(f'export DATABASE_URL="{URI}"\nREPORTS_URL=postgresql://x@elsewhere:5432/db\n')
    assert verdict(f"dotenv:{env}").verdict == "yes"
    assert verdict(f"dotenv:{env}", name="REPORTS_URL").verdict == "no"
    assert verdict(f"dotenv:{env}", name="MISSING").reason == "the file has no such variable"
    assert verdict(f"dotenv:{tmp_path / 'absent.env'}").reason == "the file does not exist"


def test_an_app_secret_is_compared_through_its_fingerprint() -> None:
    app_id = "6d1c5c4e-0000-4000-8000-000000000001"
    secret = {"key": "DATABASE_URL", "value": "EV[1:abc:def]", "type": "SECRET"}
    mark = {"key": fingerprint_key("DATABASE_URL"), "value": fingerprint(app_id, "DATABASE_URL", URI)}
    assert verdict("app:web-app", Apps([secret, mark])).verdict == "yes"
    private_mark = {**mark, "value": fingerprint(app_id, "DATABASE_URL", URI.replace(HOST, PRIVATE))}
    assert verdict("app:web-app", Apps([secret, private_mark])).verdict == "yes"
    other = {**mark, "value": fingerprint(app_id, "DATABASE_URL", URI.replace("old-pool", "new-pool"))}
    assert verdict("app:web-app", Apps([secret, other])).verdict == "no"
    unknown = verdict("app:web-app", Apps([secret]))
    assert unknown.verdict == "unknown" and "no DO_PGPOOL_DATABASE_URL_SHA256 fingerprint" in unknown.reason


def test_an_app_binding_or_plain_value_in_a_component_is_found() -> None:
    bound = [{"key": "DATABASE_URL", "value": "${app-db.old-pool.DATABASE_URL}"}]
    assert verdict("app:web-app/web", Apps([], bound)).verdict == "yes"
    assert verdict("app:web-app", Apps([], bound)).verdict == "yes"  # app level checks its components too
    other = [{"key": "DATABASE_URL", "value": "${app-db.new-pool.DATABASE_URL}"}]
    assert verdict("app:web-app/web", Apps([], other)).verdict == "no"
    plain = [{"key": "DATABASE_URL", "value": URI, "type": "GENERAL"}]
    assert verdict("app:web-app", Apps(plain)).verdict == "yes"


def test_github_and_stdout() -> None:
    assert verdict("github:acme/web").verdict == "unknown"
    assert verdict("stdout").verdict == "no"


# --- the pure plan ----------------------------------------------------------------------------------------

CLUSTER = Cluster.from_api({"id": "9cc10173-0000-4000-8000-000000000001", "name": "app-db", "engine": "pg",
                            "size": "db-s-1vcpu-1gb", "status": "online", "num_nodes": 1})  # fmt: skip
QUIET = PoolActivity("defaultdb", "doadmin", {})


def test_the_plan_is_one_delete_or_nothing() -> None:
    plan = plan_delete_pool(CLUSTER, [POOL], "old-pool", activity=QUIET)
    assert [c.action for c in plan.changes] == [Action.DELETE] and plan.changes[0].before == POOL.spec
    assert plan.changes[0].after is None and plan.warnings == ()
    assert not plan_delete_pool(CLUSTER, [POOL], "gone", activity=QUIET)


def test_an_unknown_reference_does_not_block_but_a_yes_does_and_force_keeps_it_as_a_warning() -> None:
    unknown = PoolReference("github:acme/web", "DATABASE_URL", "unknown", "GitHub never returns a secret's value")
    assert plan_delete_pool(CLUSTER, [POOL], "old-pool", activity=QUIET, references=[unknown])
    yes = PoolReference("dotenv:.env", "DATABASE_URL", "yes", "its URL connects to database 'old-pool'")
    with pytest.raises(PlanError, match="secret DATABASE_URL at dotenv:.env still points at the pool") as caught:
        plan_delete_pool(CLUSTER, [POOL], "old-pool", activity=QUIET, references=[yes])
    assert caught.value.state_left == "the pool exists; nothing was changed"
    forced = plan_delete_pool(CLUSTER, [POOL], "old-pool", activity=QUIET, references=[yes], force=True)
    assert forced.action is Action.DELETE and "dotenv:.env" in forced.warnings[0]
