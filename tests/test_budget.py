from __future__ import annotations

import pytest

from do_pgpool._budget import Budget, connection_limit, ram_gib_from_slug, share_of_budget


@pytest.mark.parametrize(
    ("slug", "ram", "limit"),
    [
        ("db-s-1vcpu-1gb", 1, 22),
        ("db-s-1vcpu-2gb", 2, 47),
        ("db-s-2vcpu-4gb", 4, 97),
        ("gd-2vcpu-8gb", 8, 197),
        ("gd-2vcpu-8gb-intel", 8, 197),
        ("so1_5-2vcpu-16gb", 16, 397),
        ("db-amd-4vcpu-32gb", 32, 797),
        ("db-s-16vcpu-64gb", 64, 997),
        ("m3-32vcpu-256gb", 256, 997),
    ],
)
def test_limit_is_25_per_gib_minus_3_capped_at_997(slug: str, ram: int, limit: int) -> None:
    assert ram_gib_from_slug(slug) == ram
    assert connection_limit(slug) == limit


@pytest.mark.parametrize("slug", ["c-96-intel", "", "db-s-1vcpu"])
def test_slugs_without_ram_are_not_guessed(slug: str) -> None:
    assert connection_limit(slug) is None


def test_available_leaves_out_the_pool_itself() -> None:
    budget = Budget.for_pool("db-s-1vcpu-1gb", [("a", 10), ("b", 5)], "a")
    assert (budget.limit, budget.other_pools, budget.available) == (22, 5, 17)
    assert budget.direct_headroom(15) == 2


@pytest.mark.parametrize(("limit", "percent", "size"), [(22, 50, 11), (97, 50, 48), (22, 1, 1), (997, 100, 997)])
def test_share_of_budget_rounds_down_and_is_at_least_one(limit: int, percent: float, size: int) -> None:
    assert share_of_budget(limit, percent) == size
