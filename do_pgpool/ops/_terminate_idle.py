"""``terminate_idle``: free connection slots by terminating client sessions idle for long enough.

The whole ``terminate-idle`` command's work: read the cluster (its connection carries the API's credentials),
connect, list the idle sessions (``postgres._terminate.find_idle``) and, unless ``dry_run``, terminate them
(``postgres._terminate.terminate``). Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._exceptions import CredentialsMissingError
from .._models import Cluster
from .._tls import TLS
from ..api._ports import DatabasesAPI
from ..postgres._connect import PgConnection, connect
from ..postgres._terminate import TerminateResult, find_idle, terminate
from ..postgres._usage import Session, Usage, snapshot
from ._status import NO_PASSWORD
from ._tls import tls_connect

__all__ = ["IdleResult", "terminate_idle"]


@dataclass(frozen=True)
class IdleResult:
    """The idle sessions found; with ``dry_run`` nothing was terminated (``terminated`` None) and ``usage`` is
    the usage now, else ``usage`` is the usage after the terminations."""

    cluster: Cluster
    dry_run: bool
    sessions: tuple[Session, ...]
    usage: Usage
    terminated: TerminateResult | None = None

    def describe(self) -> str:
        if self.terminated is not None:
            return self.terminated.describe()
        return (f"dry run: would terminate {len(self.sessions)} session(s); nothing was changed; "
                f"{self.usage.verdict.describe()}")  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        if self.terminated is not None:
            return {"dry_run": False, **self.terminated.as_dict()}
        return {"dry_run": True, "would_terminate": [s.as_dict() for s in self.sessions], "usage": self.usage.as_dict()}


def terminate_idle(
    gateway: DatabasesAPI,
    cluster: str | Cluster | None = None,
    *,
    idle_for: float = 300,
    user: str | None = None,
    application: str | None = None,
    include_idle_in_transaction: bool = False,
    dry_run: bool = False,
    connect_fn: Callable[[str], PgConnection] = connect,
    tls: Callable[[Cluster], TLS] | None = None,
) -> IdleResult:
    """Terminate the client sessions of ``cluster`` (name or uuid; None: the only one) idle ``idle_for`` seconds.

    Only sessions of ``user`` / ``application`` when given; sessions idle inside a transaction only with
    ``include_idle_in_transaction`` (their transaction is rolled back). Never the tool's own session, never
    non-client backends; a session that ran a query since it was listed is left alone. Needs one free slot.
    Raises CredentialsMissingError when the API gave no password, DatabaseError when the server refused
    (``saturated``: it is full; ``unreachable``: nothing answered). A ``Cluster`` already read is used as it is.
    """
    found = cluster if isinstance(cluster, Cluster) else gateway.find_cluster(cluster)
    if found.connection is None or not found.connection.has_password:
        raise CredentialsMissingError(f"{NO_PASSWORD} (cluster {found.name})")
    with tls_connect(connect_fn, tls, found)(found.connection.uri) as conn:
        sessions = tuple(find_idle(conn, idle_for=idle_for, user=user, application=application,
                                   include_idle_in_transaction=include_idle_in_transaction))  # fmt: skip
        if dry_run:
            return IdleResult(found, True, sessions, snapshot(conn))
        result = terminate(conn, sessions)
    return IdleResult(found, False, sessions, result.usage_after, result)
