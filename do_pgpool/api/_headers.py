"""Reading HTTP response headers that carry numbers (rate limits), and the rate-limit wait refused. Pure."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

from .._exceptions import RateLimitedError

__all__ = ["WaitRefused", "header", "header_number", "when_text"]


# Here, not in _limiter (which raises it), because _retry must name it on every run and only a fleet run needs
# the limiter.
class WaitRefused(RateLimitedError):
    """A rate-limit wait longer than allowed, refused before any request was sent (not retried: it says when)."""


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, matched case-insensitively (DigitalOcean's spec even writes ``rateLimit-reset``)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return str(value)
    return None


def header_number(headers: Mapping[str, str], name: str) -> float | None:
    """A numeric header (``retry-after``, ``ratelimit-reset``...), or None when absent or not a finite number."""
    value = header(headers, name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def when_text(at: float, now: float) -> str:
    """``2026-12-06 22:14:05 UTC (in 59m58s)``: a Unix time such as ``ratelimit-reset``, and how far off it is."""
    from .._duration import format_seconds

    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))
    return f"{stamp} (in {format_seconds(max(round(at - now), 0))})"
