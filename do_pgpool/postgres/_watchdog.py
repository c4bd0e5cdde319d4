"""A bound on the queries of a connection that is already open: a timer that shuts its socket down.

A server that completes the handshake and then stalls (overloaded, a query waiting on a lock, PgBouncer queueing
the client for a free server connection) holds a query forever; ``connect_timeout`` only bounds the handshake.
``SET statement_timeout`` would be refused or leak through a transaction pool, and PgBouncer ignores a cancel for
a client it has queued, so the watchdog closes the socket from this side when the time is up (the waiting call
fails at once), then asks the server to cancel what it was running, so that a backend does not go on with it.

``bounded(conn, doing)`` is the run's ``--timeout`` (``current_deadline()``) applied to the queries of a block.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg

from .._deadline import current_deadline
from .._duration import format_seconds
from .._exceptions import DatabaseError, DeadlineExceededError, Param

if TYPE_CHECKING:
    from ._connect import PgConnection

__all__ = ["Watchdog", "bounded"]


class Watchdog:
    """Shuts ``conn``'s socket down after ``timeout`` seconds unless stopped first, then sends the server a
    cancel request (best effort). ``fired``: it did."""

    def __init__(self, conn: PgConnection, timeout: float) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._stopped = False
        self.fired = False
        self._cancel: Any = None
        try:  # its own copy of the backend's key: usable after the connection is gone
            self._cancel = conn.pgconn.get_cancel()
        except psycopg.Error:
            pass
        self._timer = threading.Timer(max(timeout, 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self.fired = True
            try:
                dup = os.dup(self._conn.fileno())
            except (OSError, psycopg.Error):
                return
            with socket.socket(fileno=dup) as sock:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        if self._cancel is not None:  # after the shutdown: a server that does not answer cannot delay the caller
            try:
                self._cancel.cancel()
            except (psycopg.Error, OSError):
                pass

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
        self._timer.cancel()


@contextmanager
def bounded(conn: PgConnection, doing: str) -> Iterator[None]:
    """The queries on ``conn`` within the block end by the run's deadline (``current_deadline()``; no deadline,
    no bound): with no time left the block does not start, and a query still waiting when the time is up fails
    with ``DeadlineExceededError`` saying what was being done and on which server (``doing``: "reading
    pg_stat_activity on"). An idle connection is never touched: only the block is bounded."""
    from ._connect import server_url, where

    deadline = current_deadline()
    if deadline is None or deadline.seconds is None:
        yield
        return
    what = f"{doing} {where(server_url(conn))}"
    deadline.check(what)
    watchdog = Watchdog(conn, deadline.remaining())
    try:
        yield
    except (psycopg.Error, DatabaseError) as exc:
        if not watchdog.fired:
            raise
        raise DeadlineExceededError([
            "gave up after the run's time limit (", Param("timeout", format_seconds(deadline.seconds)), f"): it ran "
            f"out while {what}. PostgreSQL accepted the connection but did not answer the query in time: it is "
            "overloaded, or the query waits (on a lock, or in PgBouncer's queue for a free server connection: is the "
            "server full?). The query was cancelled. Check the server's load and locks, or give it longer with ",
            Param("timeout"), ".",
        ]) from exc  # fmt: skip
    finally:
        watchdog.stop()
