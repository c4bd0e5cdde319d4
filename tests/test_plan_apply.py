"""One plan -> apply shape for every operation, and one form of "the pool asked for" from the CLI to the body.

- ``_changes``: one ``Action`` (its symbol and words) and one ``Change(before, after)``; results carry the Action.
- ``PoolRequest`` is the one type: ``--size 50%`` is resolved by ``plan_pool`` against the cluster's budget.
- ensure for one cluster does not load the fleet module (library and CLI).
- restart: pure ``plan_*``, and ``apply_*(dry_run=True)`` writes nothing; the state left is added to an error
  with ``extended()``, raised from the original (which is not edited).
"""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from do_pgpool import _exceptions as errors
from do_pgpool._changes import Action, Change
from do_pgpool._models import Cluster, Pool
from do_pgpool.api._gateway import DigitalOcean
from do_pgpool.api._retry import RetryConfig
from do_pgpool.ops._pool import ensure_pool
from do_pgpool.ops._pool_plan import PoolRequest, PoolSize, plan_pool
from do_pgpool.ops._restart import apply_app_restart, apply_cluster_restart, plan_app_restart, plan_cluster_restart
from do_pgpool.testing import FakeDigitalOcean

TOKEN = "dop_v1_" + "f" * 8 + "plan-apply-token"


def cluster(size: str = "db-s-2vcpu-4gb", **kw: object) -> Cluster:
    base: dict[str, object] = dict(id="c1", name="app-db", engine="pg", status="online", size=size, num_nodes=1)
    base.update(kw)
    return Cluster(**base)  # type: ignore[arg-type]


@pytest.fixture
def gateway(fake_do: FakeDigitalOcean):  # type: ignore[no-untyped-def]
    http = httpx.Client(transport=fake_do.http_transport())
    retry = RetryConfig(sleep=fake_do.clock.sleep, clock=fake_do.clock.now)
    with DigitalOcean("test-token", http=http, retry=retry) as gw:
        yield gw
    http.close()


# -- Action and Change ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "symbol", "done", "planned"),
    [
        (Action.CREATE, "+", "created", "would create"),
        (Action.UPDATE, "~", "updated", "would update"),
        (Action.REPLACE, "-/+", "replaced", "would replace"),
        (Action.DELETE, "-", "deleted", "would delete"),
        (Action.NONE, "=", "unchanged", "unchanged"),
    ],
)
def test_each_action_has_its_symbol_and_words(action: Action, symbol: str, done: str, planned: str) -> None:
    assert (action.symbol, action.word(), action.word(dry_run=True)) == (symbol, done, planned)


def test_an_operation_may_name_its_own_verb() -> None:
    assert (Action.UPDATE.word(verb="resize"), Action.UPDATE.word(dry_run=True, verb="restart")) == (
        "resized", "would restart")
    change = Change(Action.UPDATE, "cluster 'db'", 1, 2, "size 1 -> 2", verb="resize")
    assert change.describe() == "~ resize cluster 'db': size 1 -> 2"


# -- one PoolRequest -----------------------------------------------------------------------------------


def test_a_share_of_the_budget_is_resolved_by_the_plan_against_the_cluster() -> None:
    request = PoolRequest("50%", name="web")
    assert request.size == PoolSize(50, percent=True)
    assert plan_pool(cluster("db-s-2vcpu-4gb"), [], request).desired.size == 48  # limit 97
    assert plan_pool(cluster("db-s-1vcpu-1gb"), [], request).desired.size == 11  # limit 22
    assert PoolRequest("20").size == 20 and PoolRequest(PoolSize(20)).size == 20  # an absolute size is a number


def test_the_request_is_validated_once_when_made() -> None:
    with pytest.raises(errors.ConfigError, match="3 to 60"):
        PoolRequest("50%", name="x")
    with pytest.raises(errors.ConfigError, match="at least 1"):
        PoolRequest(0)


def test_the_cli_hands_the_library_the_one_request_type() -> None:
    from do_pgpool.cli._pool_options import pool_options

    seen = []
    pool_options(lambda pool: seen.append(pool))(size=PoolSize.parse("50%"), name=None, mode="session", db=None,
                                                 user=None, inbound_user=False, replace=False)  # fmt: skip
    assert seen[0].request == PoolRequest(PoolSize(50, percent=True), mode="session")


def test_an_update_plan_holds_the_pool_before_and_after() -> None:
    current = Pool(name="defaultdb-pool", mode="transaction", size=10, db="defaultdb", user="doadmin")
    plan = plan_pool(cluster(), [current], PoolRequest(12))
    (change,) = plan.changes
    assert (change.action, change.before, change.after) == (Action.UPDATE, current.spec, plan.desired)
    assert change.describe() == "~ update pool 'defaultdb-pool': size 10 -> 12"


def test_a_dry_run_result_carries_the_action_not_a_string(fake_do: FakeDigitalOcean, gateway: DigitalOcean) -> None:
    fake_do.add_cluster("app-db")
    planned = ensure_pool(gateway, PoolRequest(5), cluster="app-db", dry_run=True)
    done = ensure_pool(gateway, PoolRequest(5), cluster="app-db")
    again = ensure_pool(gateway, PoolRequest(5), cluster="app-db", dry_run=True)
    assert (planned.action, planned.dry_run, planned.outcome, planned.changed) == (
        Action.CREATE, True, "would create", False)
    assert (done.action, done.dry_run, done.outcome, done.changed) == (Action.CREATE, False, "created", True)
    assert (again.action, again.dry_run, again.outcome) == (Action.NONE, False, "unchanged")
    assert planned.as_dict()["action"] == "would create" and done.as_dict()["action"] == "created"


# -- one cluster does not load the fleet ---------------------------------------------------------------


def _modules_after(code: str, env: dict[str, str]) -> set[str]:
    probe = f"{code}\nimport sys\nprint(sorted(m for m in sys.modules if m.startswith('do_pgpool.')))"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return set(eval(out.stdout.strip().splitlines()[-1]))  # noqa: S307 - our own probe's list of str


@pytest.mark.parametrize("extra", [[], ["--secret", "stdout", "--dry-run"], ["--secret", "stdout"]])
def test_ensure_pool_on_one_cluster_does_not_import_the_fleet_module(extra: list[str]) -> None:
    fake = FakeDigitalOcean()
    fake.add_token(TOKEN)
    fake.add_cluster("app-db", size="db-s-1vcpu-1gb")
    with fake.serve() as url:
        env = {**os.environ, "DIGITALOCEAN_TOKEN": TOKEN, "DIGITALOCEAN_API_URL": url}
        args = ["ensure-pool", "--cluster", "app-db", "--size", "50%", *extra]
        modules = _modules_after(f"from do_pgpool.cli import main\nmain({args!r}, standalone_mode=False)", env)
    assert "do_pgpool.ops._pool" in modules  # the probe saw the run
    assert "do_pgpool.ops._fleet" not in modules
    posts = [c for c in fake.calls if c.method == "POST"]
    assert len(posts) == (0 if "--dry-run" in extra else 1)  # it really ran


def test_fleet_mode_does_import_the_fleet_module() -> None:  # the probe can see it
    fake = FakeDigitalOcean()
    fake.add_token(TOKEN)
    fake.add_cluster("app-db", size="db-s-1vcpu-1gb", tags=["web"])
    with fake.serve() as url:
        env = {**os.environ, "DIGITALOCEAN_TOKEN": TOKEN, "DIGITALOCEAN_API_URL": url}
        args = ["ensure-pool", "--tag", "web", "--size", "5", "--dry-run"]
        modules = _modules_after(f"from do_pgpool.cli import main\nmain({args!r}, standalone_mode=False)", env)
    assert "do_pgpool.ops._fleet" in modules


# -- restart: pure plans, dry runs that write nothing ----------------------------------------------------


def test_a_cluster_restart_plan_is_pure() -> None:
    idle = plan_cluster_restart(cluster())
    assert not idle and idle.action is Action.NONE and "no maintenance pending" in idle.describe()
    due = plan_cluster_restart(cluster(maintenance_pending=True, maintenance_description=("minor update",)))
    (change,) = due.changes
    assert (due.action, change.before, change.after) == (Action.UPDATE, ("minor update",), ())
    assert due.describe().startswith("~ start pending maintenance on cluster 'app-db' (install_update): minor update.")


def test_an_app_restart_plan_checks_the_components() -> None:
    app = {"id": "a1", "spec": {"name": "web", "services": [{"name": "api"}, {"name": "worker"}]}}
    plan = plan_app_restart(app, ["api"])
    assert plan.action is Action.UPDATE and plan.all_components == ("api", "worker")
    assert plan.describe().startswith("~ restart app 'web' (api): a rolling restart")
    with pytest.raises(errors.ConfigError, match="no component 'cron'"):
        plan_app_restart(app, ["cron"])


def test_a_restart_dry_run_writes_nothing(fake_do: FakeDigitalOcean, gateway: DigitalOcean) -> None:
    found = fake_do.add_cluster("app-db", maintenance_pending=True)
    plan = plan_cluster_restart(gateway.find_cluster("app-db"))
    before = len(fake_do.calls)
    result = apply_cluster_restart(gateway, plan, dry_run=True)
    assert (result.action, result.dry_run, result.outcome) == (Action.UPDATE, True, "would restart")
    assert len(fake_do.calls) == before and found.maintenance_pending
    app = apply_app_restart(gateway, plan_app_restart({"id": "a1", "spec": {"name": "web"}}), dry_run=True)
    assert (app.outcome, app.target, app.as_dict()["action"]) == ("would restart", "app", "would restart")
    assert len(fake_do.calls) == before


# -- errors: the state left is added by extended(), the original is not edited -----------------------------


def test_a_failed_create_says_the_state_left_and_chains_the_untouched_original(
    fake_do: FakeDigitalOcean, gateway: DigitalOcean
) -> None:
    found = fake_do.add_cluster("app-db")
    fake_do.faults.fail_next("POST", r"/pools$", status=500, times=10)
    with pytest.raises(errors.ServerError) as info:
        ensure_pool(gateway, PoolRequest(5), cluster="app-db")
    assert "State left: the pool does not exist; nothing was changed" in str(info.value)
    original = info.value.__cause__
    assert isinstance(original, errors.ServerError) and "State left" not in str(original)
    assert found.pools == {}


# -- one serializer ---------------------------------------------------------------------------------------


def test_the_serializer_writes_enums_by_value_and_never_a_secret_field() -> None:
    from do_pgpool._jsonable import jsonable
    from do_pgpool._models import Connection

    secret = "s3cret-pass"
    conn = Connection(uri=f"postgresql://doadmin:{secret}@h:25060/defaultdb", host="h", port=25060,
                      database="defaultdb", user="doadmin", password=secret)  # fmt: skip
    change = Change(Action.CREATE, "pool 'p'", None, conn)
    data = jsonable(change)
    assert data["action"] == "create" and data["before"] is None
    assert data["after"] == {"host": "h", "port": 25060, "database": "defaultdb", "user": "doadmin", "ssl": True}
    assert secret not in repr(data)
    assert jsonable(cluster(), only=("name", "is_postgres")) == {"name": "app-db", "is_postgres": True}


def test_pool_prepare_then_apply_is_ensure(fake_do: FakeDigitalOcean, gateway: DigitalOcean) -> None:
    from do_pgpool.ops._pool import apply_pool, prepare_pool

    found = fake_do.add_cluster("app-db")
    plan = prepare_pool(gateway, PoolRequest(5, name="web"), cluster="app-db")
    assert plan.action is Action.CREATE and found.pools == {}  # planning writes nothing
    done = apply_pool(gateway, plan)
    assert (done.outcome, found.pools["web"].size, done.requests) == ("created", 5, 1)
    converged = prepare_pool(gateway, PoolRequest(5, name="web"), cluster=found.id)
    assert not converged and converged.cluster is None and converged.cluster_id == found.id  # by uuid: pools only
    assert apply_pool(gateway, converged).outcome == "unchanged"
