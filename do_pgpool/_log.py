"""The library stays silent unless its user configures logging: a ``NullHandler`` on the ``do_pgpool`` logger.

Imported by ``_exceptions`` (which every library module imports) rather than by the package itself, so that
``import do_pgpool`` and ``do-pgpool --help`` do not pay for ``logging`` (several ms); any module that can log
has installed this before its first log call.
"""

from __future__ import annotations

import logging

logging.getLogger("do_pgpool").addHandler(logging.NullHandler())
