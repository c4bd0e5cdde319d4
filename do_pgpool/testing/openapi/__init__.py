"""DigitalOcean's OpenAPI description, vendored (the part do-pgpool uses): see README.md beside it.

``SPEC_PATH`` is the JSON file; ``load()`` parses it once. The fake's tests validate every answer and every
accepted request against it, and the resize tests read DigitalOcean's own size options from it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["COMMIT", "SPEC_PATH", "load"]

SPEC_PATH = Path(__file__).with_name("do-databases-apps.json")
#: The digitalocean/openapi commit the vendored copy was cut from.
COMMIT = "7c1300c479fed9c353cda9fc21cd968619552304"


@lru_cache(maxsize=1)
def load() -> dict[str, Any]:
    """The description as a dict (cached: treat it as read-only)."""
    spec: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return spec
