"""docs/architecture.md stays true: every module it names exists, every layer folder and every error is in it."""

from __future__ import annotations

import re
from pathlib import Path

import do_pgpool._exceptions as errors

from .test_layers import PACKAGE, RANKS

DOC = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")


def test_every_module_the_page_names_exists() -> None:
    named = set(re.findall(r"`((?:[a-z]+/)?_[a-z_]+\.py)`", DOC))
    # a folder's modules listed after it: `targets/` (`_parse`, `_write`, ...)
    for folder, listed in re.findall(r"`([a-z]+)/` \(([^)]*)\)", DOC):
        named.update(f"{folder}/{name}.py" for name in re.findall(r"`(_[a-z_]+)`", listed))
    assert len(named) > 20
    missing = sorted(p for p in named if not (PACKAGE / p).is_file() and not p.endswith("/_x.py"))  # _x: an example
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"


def test_every_layer_folder_is_on_the_page() -> None:
    layers = DOC.split("```")[1]
    assert all(re.search(rf"(^|\s|/){folder}/\s", layers, re.MULTILINE) for folder in RANKS), layers
    assert set(RANKS) == {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}


def test_the_error_tree_is_the_code_s() -> None:
    tree = DOC.split("## Errors carry their facts")[1].split("```")[1]
    on_page = set(re.findall(r"([A-Z][A-Za-z]+Error)\b", tree))
    in_code = {name for name in errors.__all__ if name.endswith("Error")}
    assert on_page == in_code
    for name in in_code:  # each error's parent on the page is its parent in the code
        parent = getattr(errors, name).__mro__[1].__name__
        line = next(line for line in tree.splitlines() if re.search(rf"\b{name}\b", line))
        depth = len(line) - len(line.lstrip(" │├└─"))
        above = [ln for ln in tree.splitlines()[: tree.splitlines().index(line)]
                 if len(ln) - len(ln.lstrip(" │├└─")) < depth]  # fmt: skip
        assert name == "DoPgpoolError" or parent in above[-1], (name, parent)


def test_the_engine_functions_it_names_exist() -> None:
    from do_pgpool.api import _poll, _retry

    for name in ("api_retrying", "call_with_retries", "unsent_retrying", "wait_until", "Pacing", "RetryConfig"):
        assert hasattr(_retry, name)
    for name in ("poll_until", "retry_while_busy", "WaitOptions", "Backoff", "Observation"):
        assert hasattr(_poll, name)
    assert Path(_retry.__file__).name in DOC and "error_type" in DOC and hasattr(errors, "error_type")
