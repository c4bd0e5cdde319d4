"""One serializer for JSON output: dataclass fields (or the names asked for), enums by value, secrets left out.

A field declared ``repr=False`` holds a secret (a password, a URI with one: see ``_models.Connection``), so it is
never written. Results whose documented JSON differs from their fields pick what they show with ``only``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields, is_dataclass
from enum import Enum
from typing import Any

__all__ = ["jsonable"]


def jsonable(value: Any, *, only: Sequence[str] | None = None) -> Any:
    """``value`` as JSON-ready data. ``only``: these attributes (fields or properties) of a dataclass, in order."""
    if isinstance(value, Enum):
        return value.value
    if is_dataclass(value) and not isinstance(value, type):
        names = only if only is not None else [f.name for f in fields(value) if f.repr]
        return {name: jsonable(getattr(value, name)) for name in names}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [jsonable(v) for v in value]
    return value
