"""Durations: one parser for the CLI's duration options and one check for every library parameter in seconds.

Accepted everywhere: a finite number of seconds (``90``, ``2.5``) or ``90s``, ``30m``, ``1h``, ``1h30m``.
Refused everywhere: ``nan``, ``inf``, negative numbers, booleans, anything else, with a sentence naming the
option. One rule, so ``--timeout nan`` and ``--idle-for inf`` get the same answer.
"""

from __future__ import annotations

import math
import re

from ._exceptions import ConfigError

__all__ = ["check_seconds", "format_seconds", "parse_duration"]

_UNITS = re.compile(r"^(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?$", re.ASCII)
_NUMBER = re.compile(r"^(?:\d+(?:\.\d*)?|\.\d+)$", re.ASCII)


def parse_duration(text: str, *, what: str = "duration", minimum: float = 0.0, positive: bool = False) -> float:
    """``90``, ``2.5``, ``90s``, ``30m``, ``1h``, ``1h30m`` -> seconds (see ``check_seconds``); ConfigError otherwise.

    Digits are ASCII (``２０`` is refused: a duration is typed, not pasted from prose); ``1e3`` is 1000 seconds.
    """
    value = str(text).strip().lower()
    match = _UNITS.match(value)
    if value and match and any(match.groupdict().values()):
        parts = {unit: float(number) for unit, number in match.groupdict().items() if number}
        seconds = parts.get("h", 0.0) * 3600 + parts.get("m", 0.0) * 60 + parts.get("s", 0.0)
    elif _NUMBER.match(value):
        seconds = float(value)
    else:
        try:
            seconds = float(value)
        except ValueError:
            seconds = None
        if seconds is None or not value.isascii():
            raise ConfigError(f"{what} {text!r} is not a duration: use seconds (90) or 90s, 30m, 1h, 1h30m".strip())
        if not math.isfinite(seconds):
            raise ConfigError(f"{what} {text!r} is not a finite number of seconds".strip())
    return check_seconds(seconds, what=what, minimum=minimum, positive=positive)


def check_seconds(value: object, *, what: str, minimum: float = 0.0, positive: bool = False) -> float:
    """``value`` as float seconds: finite, at least ``minimum`` (``positive``: above 0); else ConfigError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{what} must be a number of seconds, not {type(value).__name__} {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds):
        raise ConfigError(f"{what} {value!r} is not a finite number of seconds".strip())
    if seconds < minimum:
        raise ConfigError(f"{what} must be at least {format_seconds(minimum)}, not {format_seconds(seconds)}".strip())
    if positive and seconds <= 0:
        raise ConfigError(f"{what} must be more than 0 seconds, not {format_seconds(seconds)}".strip())
    return seconds


def format_seconds(seconds: float) -> str:
    """``2.5`` -> ``2.5s``; ``90`` -> ``1m30s``; ``3600`` -> ``1h``."""
    if seconds < 60:
        return f"{round(seconds, 2):g}s"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
    return text or "0s"
