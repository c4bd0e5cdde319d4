"""Checks for values entering the library's public functions: a wrong type or an impossible number is a
ConfigError with a sentence, never a TypeError or OverflowError from deep inside. Pure."""

from __future__ import annotations

import math
from typing import overload

from ._exceptions import ConfigError, Param

__all__ = ["check_number", "check_text"]


@overload
def check_text(value: object, label: str | Param) -> str: ...


@overload
def check_text(value: object, label: str | Param, *, optional: bool) -> str | None: ...


def check_text(value: object, label: str | Param, *, optional: bool = False) -> str | None:
    """``value`` if it is a ``str`` (or None when ``optional``); otherwise a ConfigError naming ``label``."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ConfigError([label, f" must be a string (str), not {type(value).__name__}"])
    return value


def check_number(value: object, label: str | Param, *, minimum: float = 0.0, unit: str = "seconds") -> float:
    """A finite int or float of at least ``minimum``; ``nan``, ``inf``, bools and strings are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError([label, f" must be a number of {unit}, not {type(value).__name__}"])
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ConfigError([label, f" must be a finite number of {unit}, not {value!r}"])
    if number < minimum:
        raise ConfigError([label, f" must be at least {minimum:g} {unit}, not {value!r}"])
    return number
