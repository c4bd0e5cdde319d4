"""Verify a pool: connect through its connection string and run ``SELECT 1``, always within a bound.

When PostgreSQL is full, PgBouncer accepts the client but queues the query until its ``query_wait_timeout``
(120 s by default) and ignores cancel requests for a queued client; so a watchdog shuts the connection's
socket down when the time is up, and the caller hears why instead of hanging.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from .._dburl import mask_url
from .._exceptions import DatabaseError
from .._tls import TLS
from ._connect import connect, database_error
from ._watchdog import Watchdog, bounded

__all__ = ["VERIFY_TIMEOUT", "VerifyResult", "verify_pool"]

VERIFY_TIMEOUT = 10.0


@dataclass(frozen=True)
class VerifyResult:
    """A pool answered ``SELECT 1``: how long connecting and the query took."""

    target: str  # masked URL
    connect_ms: float
    query_ms: float

    @property
    def latency_ms(self) -> float:
        return self.connect_ms + self.query_ms

    def describe(self) -> str:
        return f"{self.target}: SELECT 1 ok (connect {self.connect_ms:.0f} ms, query {self.query_ms:.1f} ms)"

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "ok": True, "connect_ms": round(self.connect_ms, 1),
                "query_ms": round(self.query_ms, 2), "latency_ms": round(self.latency_ms, 1)}  # fmt: skip


def verify_pool(
    url: str,
    *,
    timeout: float = VERIFY_TIMEOUT,
    clock: Callable[[], float] = time.perf_counter,
    tls: TLS | None = None,
) -> VerifyResult:
    """``SELECT 1`` through a pool's connection string, connect and query each bounded by ``timeout`` seconds.

    Connects with ``prepare_threshold=None``; ``tls`` overrides the URL's sslmode (PgBouncer's certificate is
    issued by the same CA as the cluster's, so ``verify-full`` checks the pool's host too).
    A pool whose server is full queues the query (PgBouncer ignores a
    cancel for a queued client), so the watchdog shuts the connection down when the time is up.
    Raises DatabaseError.
    """
    from .._duration import check_seconds

    timeout = check_seconds(timeout, what="timeout", positive=True)
    started = clock()
    with connect(url, connect_timeout=max(2, math.ceil(timeout)), tls=tls) as conn:
        connected = clock()
        watchdog = Watchdog(conn, timeout)
        try:
            with bounded(conn, "running SELECT 1 through"):  # the run's --timeout, when it comes first
                row = conn.execute("SELECT 1").fetchone()
        except psycopg.Error as exc:
            if watchdog.fired:
                raise DatabaseError(
                    f"{mask_url(url)} accepted the connection but SELECT 1 got no server connection within "
                    f"{timeout:g} s: PgBouncer is waiting for a free PostgreSQL slot (is the server full?)",
                    login_retry=True,
                ) from exc
            raise database_error(exc, url, "running SELECT 1 through") from exc
        finally:
            watchdog.stop()
        done = clock()
    if row is None or row[0] != 1:
        raise DatabaseError(f"SELECT 1 through {mask_url(url)} returned {row!r}")
    return VerifyResult(mask_url(url), (connected - started) * 1000.0, (done - connected) * 1000.0)


