"""The public surface: everything in __all__ resolves, and nothing private leaks into it."""

from __future__ import annotations

import do_pgpool


def test_every_public_name_resolves_and_is_defined_in_the_package() -> None:
    for name in do_pgpool.__all__:
        value = getattr(do_pgpool, name)
        if name != "__version__":
            assert getattr(value, "__module__", "do_pgpool").startswith("do_pgpool"), name


def test_all_is_sorted_and_public() -> None:
    assert do_pgpool.__all__ == sorted(do_pgpool.__all__)
    assert not [n for n in do_pgpool.__all__ if n.startswith("_") and n != "__version__"]


def test_type_checking_imports_match_the_lazy_exports() -> None:
    import ast
    from pathlib import Path

    tree = ast.parse(Path(do_pgpool.__file__).read_text())
    imported: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            for alias in node.names:
                target = node.module if alias.asname is None else f"{node.module}:{alias.name}"
                imported[alias.asname or alias.name] = target
    assert imported == do_pgpool._EXPORTS
