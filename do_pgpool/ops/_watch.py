"""``status --watch``: the status frame after frame, the server read every frame, the API on a slower cadence.

Live usage (``pg_stat_activity``) changes by the second and costs DigitalOcean nothing; the cluster and its
pools change rarely, and every read of them spends the account's API rate limit. So each frame reads the
server, and the API is read again only once ``api_every`` seconds (30 by default) have passed since the last
attempt: 2 requests (the cluster by uuid, its pools; 3 with the settings) per read, 4 (6) a minute at most,
whatever the frame interval. A failed API read keeps the last good answer, marked stale (``api_age``, the
failure in ``api_failure``), and is tried again one cadence later, not every frame.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

from .._deadline import current_deadline
from .._exceptions import DeadlineExceededError, DoPgpoolError
from .._models import Cluster, Pool
from .._tls import TLS
from ..api._ports import DatabasesAPI
from ..postgres._connect import PgConnection, connect
from ._config import config_values
from ._status import ClusterStatus, live_status

__all__ = ["API_EVERY", "Frame", "StatusWatch"]

#: seconds between two reads of the cluster and its pools during a watch
API_EVERY = 30.0
#: seconds one API read of a watch may take, retries included: a failing API must not freeze the view (the run's
#: deadline would otherwise let the retries go on for a minute); it is tried again one cadence later
API_BUDGET = 10.0


@dataclass(frozen=True)
class Frame:
    """One frame of a watch: ``status`` (its cluster, pools and settings as last read from the API, its usage
    read just now), how old that API part is, and why the last API read failed (None: it did not)."""

    status: ClusterStatus
    api_age: float
    api_failure: DoPgpoolError | None = field(default=None, compare=False)

    @property
    def stale(self) -> bool:
        """The cluster and pools shown are older than they should be: the last API read failed."""
        return self.api_failure is not None

    @property
    def complete(self) -> bool:
        """Both parts are fresh: the server was read, and the last API read succeeded."""
        return self.status.usage is not None and not self.stale


class StatusWatch:
    """Frames of one cluster's status, starting from ``first`` (a ``cluster_status`` read at ``clock()``).

    ``clock`` is any monotonic clock (the CLI's wait clock, fake in tests); ``tls`` and ``connect_fn`` as for
    ``cluster_status``; ``with_config`` re-reads the settings with the cluster and pools.
    """

    def __init__(
        self,
        gateway: DatabasesAPI,
        first: ClusterStatus,
        *,
        clock: Callable[[], float],
        tls: Callable[[Cluster], TLS] | None = None,
        connect_fn: Callable[[str], PgConnection] = connect,
        with_config: bool = False,
        api_every: float = API_EVERY,
        api_budget: float = API_BUDGET,
    ) -> None:
        self._gateway = gateway
        self._clock = clock
        self._tls = tls
        self._connect = connect_fn
        self._with_config = with_config
        self.api_every = api_every
        self.api_budget = api_budget
        self._cluster, self._pools, self._config = first.cluster, first.pools, first.config
        self._read_at = self._tried_at = clock()
        self._failure: DoPgpoolError | None = None
        self.api_reads = 1
        self.frame = Frame(first, 0.0)

    def next(self) -> Frame:
        """The next frame: the API read again if ``api_every`` has passed since the last attempt, then the server."""
        if self._clock() - self._tried_at >= self.api_every:
            self._read_api()
        status, conn = live_status(self._cluster, self._pools, self._connect, self._tls)
        if conn is not None:
            conn.close()
        if self._config is not None:
            status = replace(status, config=self._config)
        self.frame = Frame(status, self._clock() - self._read_at, self._failure)
        return self.frame

    def _read_api(self) -> None:
        self._tried_at = self._clock()
        self.api_reads += 1
        deadline = current_deadline()
        try:
            with deadline.narrowed(self.api_budget) if deadline is not None else nullcontext():
                cluster = self._gateway.find_cluster(self._cluster.id)
                pools: tuple[Pool, ...] = tuple(self._gateway.list_connection_pools(cluster.id)) \
                    if cluster.is_postgres else ()  # fmt: skip
                config: dict[str, Any] | None = config_values(self._gateway.get_config(cluster.id)) \
                    if self._with_config and cluster.is_postgres else None  # fmt: skip
        except DeadlineExceededError as exc:
            if deadline is not None and deadline.remaining() <= 0:  # the run's own limit: the watch ends
                raise
            cause = exc.__cause__  # the read's budget ran out: the API's last answer, if it gave one, says why
            self._failure = cause if isinstance(cause, DoPgpoolError) else DoPgpoolError(
                f"DigitalOcean did not answer within {self.api_budget:g} s (a watch's API read is bounded so "
                f"that the view goes on; tried again in {self.api_every:g} s)")  # fmt: skip
            return
        except DoPgpoolError as exc:  # an API error, a transport failure: show what was last read
            self._failure = exc
            return
        self._cluster, self._pools, self._config = cluster, pools, config
        self._read_at, self._failure = self._tried_at, None
