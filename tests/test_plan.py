"""plan_pool is pure: the whole decision table runs without HTTP."""

from __future__ import annotations

import pytest

from do_pgpool._changes import Action
from do_pgpool._exceptions import BudgetError, ConfigError, PlanError
from do_pgpool._models import Cluster, Pool
from do_pgpool.ops._pool_plan import PoolRequest, plan_pool


def cluster(size: str = "db-s-1vcpu-1gb", **kw: object) -> Cluster:
    base: dict[str, object] = dict(
        id="c1", name="app-db", engine="pg", status="online", size=size, num_nodes=1,
        db_names=("defaultdb", "app"), users=("doadmin", "app"),
    )
    base.update(kw)
    return Cluster(**base)  # type: ignore[arg-type]


def pool(name: str = "defaultdb-pool", size: int = 10, mode: str = "transaction", db: str = "defaultdb",
         user: str | None = "doadmin") -> Pool:
    return Pool(name=name, mode=mode, size=size, db=db, user=user)


def test_missing_pool_is_created_with_the_defaults() -> None:
    plan = plan_pool(cluster(), [], PoolRequest(size=15))
    assert plan.action is Action.CREATE
    assert [(c.action, c.before, c.after) for c in plan.changes] == [(Action.CREATE, None, plan.desired)]
    assert plan.desired.as_dict() == {
        "name": "defaultdb-pool", "mode": "transaction", "size": 15, "db": "defaultdb", "user": "doadmin",
    }


def test_default_name_follows_the_database() -> None:
    assert plan_pool(cluster(), [], PoolRequest(size=5, db="app")).desired.name == "app-pool"


def test_matching_pool_means_no_change() -> None:
    plan = plan_pool(cluster(), [pool(size=15)], PoolRequest(size=15))
    assert not plan and plan.action is Action.NONE


def test_update_keeps_the_current_user_db_and_mode_unless_asked() -> None:
    current = pool(size=10, mode="session", user="app", db="app", name="reports")
    plan = plan_pool(cluster(), [current], PoolRequest(size=12, name="reports"))
    assert plan.action is Action.UPDATE
    change = plan.changes[0]
    assert change.action is Action.UPDATE and change.before == current.spec and change.after is not None
    assert change.after.body() == {"mode": "session", "size": 12, "db": "app", "user": "app"}


def test_update_can_switch_to_the_inbound_user_and_the_body_omits_user() -> None:
    plan = plan_pool(cluster(), [pool()], PoolRequest(size=10, inbound_user=True))
    change = plan.changes[0]
    assert change.action is Action.UPDATE and change.after is not None
    assert change.after.body() == {"mode": "transaction", "size": 10, "db": "defaultdb"}
    assert "user doadmin -> (inbound user)" in change.describe()


def test_mode_change_is_refused_without_replace_and_says_connections_drop() -> None:
    with pytest.raises(PlanError, match="Pass replace=True") as info:
        plan_pool(cluster(), [pool(mode="session")], PoolRequest(size=10, mode="transaction"))
    assert "drops every live connection" in str(info.value)


def test_mode_change_with_replace_plans_delete_and_create() -> None:
    plan = plan_pool(cluster(), [pool(mode="session")], PoolRequest(size=10, mode="transaction"), replace=True)
    assert plan.action is Action.REPLACE and plan.changes[0].action is Action.REPLACE


def test_budget_counts_other_pools_but_not_the_pool_being_resized() -> None:
    pools = [pool(size=10), pool(name="reports", size=5)]
    plan = plan_pool(cluster(), pools, PoolRequest(size=17))
    assert plan.budget.as_dict() == {"limit": 22, "other_pools": 5, "available": 17}
    with pytest.raises(BudgetError) as info:
        plan_pool(cluster(), pools, PoolRequest(size=18))
    assert (info.value.limit, info.value.used_by_others, info.value.available) == (22, 5, 17)
    assert "Use size=17 or less" in str(info.value)


@pytest.mark.parametrize(("slug", "limit"), [("db-s-2vcpu-4gb", 97), ("gd-2vcpu-8gb", 197), ("db-s-16vcpu-64gb", 997)])
def test_budget_scales_with_ram(slug: str, limit: int) -> None:
    assert plan_pool(cluster(size=slug), [], PoolRequest(size=limit)).budget.limit == limit
    with pytest.raises(BudgetError):
        plan_pool(cluster(size=slug), [], PoolRequest(size=limit + 1))


def test_twenty_of_twenty_two_warns_about_direct_headroom_with_a_suggestion() -> None:
    plan = plan_pool(cluster(), [], PoolRequest(size=20))
    assert plan.action is Action.CREATE
    (warning,) = plan.warnings
    assert "20 of 22" in warning and "leaving 2 for direct connections" in warning
    assert "A pool size of 19 keeps 3" in warning


def test_unknown_slug_is_a_warning_not_a_guess() -> None:
    plan = plan_pool(cluster(size="c-96-intel"), [], PoolRequest(size=500))
    assert plan.budget.limit is None
    assert any("was not checked" in w for w in plan.warnings)


def test_twenty_second_pool_is_refused() -> None:
    pools = [pool(name=f"pool-{i:02d}", size=1) for i in range(21)]
    with pytest.raises(PlanError, match="allows 21"):
        plan_pool(cluster(size="db-s-2vcpu-4gb"), pools, PoolRequest(size=1, name="one-more"))


@pytest.mark.parametrize(
    ("status", "engine", "match"),
    [("resizing", "pg", "'resizing', not online"), ("online", "mysql", "not PostgreSQL"), ("forking", "pg", "forking")],
)
def test_cluster_must_be_an_online_postgres(status: str, engine: str, match: str) -> None:
    with pytest.raises(PlanError, match=match):
        plan_pool(cluster(status=status, engine=engine), [], PoolRequest(size=5))


def test_unknown_db_and_user_are_refused_with_the_candidates() -> None:
    with pytest.raises(ConfigError, match="databases: defaultdb, app"):
        plan_pool(cluster(), [], PoolRequest(size=5, db="nope"))
    with pytest.raises(ConfigError, match="users: doadmin, app"):
        plan_pool(cluster(), [], PoolRequest(size=5, user="nobody"))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"size": 0}, "at least 1"),
        ({"size": 5, "name": "ab"}, "3 to 60"),
        ({"size": 5, "name": "x" * 61}, "3 to 60"),
        ({"size": 5, "name": "bad name"}, "letters, digits"),
        ({"size": 5, "mode": "batch"}, "not one of"),
        ({"size": 5, "user": "u", "inbound_user": True}, "exclude each other"),
        ({"size": 5, "db": " "}, "must not be empty"),
    ],
)
def test_invalid_requests_are_refused_before_any_request(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        PoolRequest(**kwargs)  # type: ignore[arg-type]
