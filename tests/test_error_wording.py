"""Library errors speak library (parameters: ``size=2``); the CLI words the same errors with its flags."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import do_pgpool
from do_pgpool._exceptions import BudgetError, ConfigError, Param, PlanError, Step
from do_pgpool.cli._common import error_text, flag
from do_pgpool.ops._pool_plan import PoolRequest, PoolSize
from do_pgpool.ops._resize_plan import ResizeRequest

PACKAGE = Path(do_pgpool.__file__).parent
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def _library_modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if not {"cli", "testing"} & set(p.relative_to(PACKAGE).parts)]


def test_no_flag_is_named_in_a_message_raised_or_set_by_library_code() -> None:
    offenders = []
    for path in _library_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and node.exc is not None:
                checked: ast.AST = node.exc
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Attribute) and t.attr == "message" for t in node.targets
            ):
                checked = node.value
            else:
                continue
            for const in ast.walk(checked):
                if isinstance(const, ast.Constant) and isinstance(const.value, str) and FLAG.search(const.value):
                    offenders.append(f"{path.relative_to(PACKAGE)}:{const.lineno}: {const.value!r}")
    assert offenders == []


def test_the_guard_catches_a_flag_in_a_message() -> None:
    assert FLAG.search("Use --size 2 or less") and not FLAG.search("size=2; a pool-size of 2")


@pytest.mark.parametrize(
    ("make", "library", "cli"),
    [
        (lambda: PoolRequest(size=5, user="u", inbound_user=True),
         "user and inbound_user exclude each other", "--user and --inbound-user exclude each other"),
        (lambda: PoolSize.parse("abc"),
         "size='abc' is neither a whole number nor a percentage; e.g. size=20 or size=50%",
         "--size 'abc' is neither a whole number nor a percentage; e.g. --size 20 or --size 50%"),
        (lambda: ResizeRequest(size="db-s-1vcpu-1gb", connections=5),
         "give either a size slug (size_slug) or a connection count (connections), not both",
         "give either a size slug (--size-slug) or a connection count (--connections), not both"),
        (lambda: ResizeRequest(connections=5, num_nodes=4), "num_nodes=4: a DigitalOcean", "--nodes 4: a DigitalOcean"),
    ],
)
def test_library_and_cli_wordings_of_the_same_error(make: object, library: str, cli: str) -> None:
    with pytest.raises(ConfigError) as info:
        make()  # type: ignore[operator]
    assert library in str(info.value)
    assert cli in error_text(info.value)


def test_budget_error_carries_the_numbers_and_each_front_end_words_the_hint() -> None:
    exc = BudgetError(
        ["Use ", Param("size", 12), " or less (", Step("resize", (Param("connections", "N"),)), ")."],
        limit=22, used_by_others=10, requested=20,
    )
    assert (exc.limit, exc.used_by_others, exc.requested, exc.available) == (22, 10, 20, 12)
    assert str(exc) == "Use size=12 or less (resize(connections=N))."
    assert error_text(exc) == "Use --size 12 or less (do-pgpool resize --connections N)."


def test_flags_follow_the_cli_names() -> None:
    assert [flag(Param(n, v)) for n, v in [("storage_size_mib", 5), ("replace", True), ("no_wait", True),
                                            ("cluster", "NAME_OR_UUID"), ("inbound_user", None)]] == [
        "--storage-mib 5", "--replace", "--no-wait", "--cluster NAME_OR_UUID", "--inbound-user"]


def test_a_message_goes_on_in_a_copy_worded_everywhere_and_is_never_rewritten() -> None:
    exc = PlanError(["Pass ", Param("replace", True), "."])
    left = exc.with_state_left("nothing", " Re-run.")
    assert str(left) == "Pass replace=True.\nState left: nothing Re-run." and left.state_left == "nothing"
    assert error_text(left).startswith("Pass --replace.") and "State left: nothing Re-run." in error_text(left)
    with pytest.raises(AttributeError):
        exc.message = "rewritten"  # type: ignore[misc]  # no exception is mutated after it was raised
    assert str(exc) == "Pass replace=True."
