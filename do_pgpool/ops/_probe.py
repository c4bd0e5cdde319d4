"""``probe_pool``: measure what a cluster's pool does to session features, with the direct connection as contrast.

The whole ``probe`` command's work: read the cluster and the pool (their connection strings carry the API's
credentials), run ``postgres._probe.probe`` through the pool's URL and through the cluster's direct URL, and
say what each verdict means. ``probe_urls`` does the same for connection strings given as they are (no API).
Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from .._dburl import mask_url
from .._exceptions import CredentialsMissingError, DatabaseError
from .._models import Cluster, Pool
from .._pool_behaviour import Behaviour, Feature, PoolBehaviour
from .._tls import TLS
from ..api._ports import DatabasesAPI
from ..postgres._connect import PgConnection, connect
from ..postgres._probe import NOTIFY_WAIT, PROBE_TIMEOUT, probe
from ._rewrite import _find_pool
from ._status import NO_PASSWORD
from ._tls import tls_connect

__all__ = ["ProbeReport", "meaning", "probe_pool", "probe_urls"]

#: what a verdict through the pool means for applications, by feature: (works, does not work)
_MEANINGS: dict[Feature, tuple[str, str]] = {
    Feature.PROTOCOL_PREPARED: (
        "tracked by the pool (PgBouncer >= 1.21 with max_prepared_statements > 0): drivers may keep their "
        "prepared statements (psycopg, asyncpg, pgx, JDBC)",
        "not tracked by the pool (PgBouncer < 1.21, or max_prepared_statements = 0): turn drivers' prepared "
        "statements off (prepare_threshold=None, statement_cache_size=0, prepareThreshold=0; see `do-pgpool advice`)",
    ),
    Feature.SQL_PREPARE: (
        "SQL PREPARE/EXECUTE survive here (a session pool or a direct connection)",
        "do not use SQL PREPARE/EXECUTE through this pool (PgBouncer tracks protocol-level statements only)",
    ),
    Feature.SET: (
        "SET and search_path stay with the client",
        "use SET LOCAL inside a transaction, or per-role settings (ALTER ROLE ... SET); never a plain SET",
    ),
    Feature.ADVISORY_LOCK: (
        "session advisory locks hold across transactions",
        "use pg_advisory_xact_lock, or the direct URL / a session-mode pool for code that holds session locks "
        "(migrations, job queues)",
    ),
    Feature.LISTEN: (
        "LISTEN/NOTIFY works",
        "listeners (LISTEN) need the direct URL or a session-mode pool; NOTIFY alone is fine",
    ),
    Feature.TEMP_TABLE: (
        "temporary tables live across transactions",
        "keep a temporary table within one transaction (ON COMMIT DROP), or use the direct URL",
    ),
    Feature.WITH_HOLD_CURSOR: (
        "WITH HOLD cursors live across transactions",
        "no WITH HOLD cursors through this pool (Django: DISABLE_SERVER_SIDE_CURSORS = True)",
    ),
}

_LEAK_NOTE = " (it leaks: wrong results, not only errors)"


def meaning(feature: Feature, behaviour: Behaviour) -> str:
    """One sentence: what ``behaviour`` through a pool means for applications using ``feature``."""
    works, broken = _MEANINGS[feature]
    if behaviour is Behaviour.WORKS:
        return works
    if behaviour is Behaviour.UNKNOWN:
        return "not measured (see the evidence); the advice assumes the worst: " + broken
    return broken + (_LEAK_NOTE if behaviour is Behaviour.LEAKS else "")


@dataclass(frozen=True)
class ProbeReport:
    """The pool's behaviour and, for contrast, the direct connection's (None when not measured: ``direct_error``
    says why, or it was not asked for)."""

    target: str  # for people: "pool web-pool (transaction mode, size 20) of cluster app-db", or a masked URL
    pool: PoolBehaviour
    direct: PoolBehaviour | None = None
    direct_error: str | None = None
    #: what the verdicts cannot say by themselves (a statement-mode pool refuses every transaction)
    notes: tuple[str, ...] = ()

    @property
    def direct_failures(self) -> tuple[Feature, ...]:
        """Features the direct connection did not show working: the probe cannot judge the pool on those."""
        if self.direct is None:
            return ()
        return tuple(m.feature for m in self.direct.measurements if m.behaviour is not Behaviour.WORKS)

    def lines(self) -> list[str]:
        """The text report: a table (feature, through the pool, direct, evidence), then what it means."""
        direct = {m.feature: m for m in self.direct.measurements} if self.direct else {}
        rows = [("feature", "pool", "direct", "evidence (through the pool)")]
        for m in self.pool.measurements:
            d = direct.get(m.feature)
            rows.append((m.feature.value, m.behaviour.value, d.behaviour.value if d else "-", m.detail))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        out = [f"probe of {self.target}"]
        out += ["  " + "  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows]
        if self.direct_error:
            out.append(f"direct connection not measured: {self.direct_error}")
        out.append("what it means:")
        for m in self.pool.measurements:
            out.append(f"  {_LABELS[m.feature]}: {meaning(m.feature, m.behaviour)}")
        for feature in self.direct_failures:
            out.append(f"  note: the direct connection did not show {_LABELS[feature]} working "
                       f"({direct[feature].detail}): the probe cannot judge the pool on it "
                       "(not the pool's doing)")  # fmt: skip
        out += [f"  note: {note}" for note in self.notes]
        return out

    def as_dict(self) -> dict[str, Any]:
        """``pool`` and ``direct`` are ``PoolBehaviour.as_dict()`` (``PoolBehaviour.from_dict`` reads them back)."""
        return {
            "target": self.target,
            "pool": self.pool.as_dict(),
            "direct": self.direct.as_dict() if self.direct is not None else None,
            "direct_error": self.direct_error,
            "meaning": {m.feature.value: meaning(m.feature, m.behaviour) for m in self.pool.measurements},
            "notes": list(self.notes),
        }


_LABELS: dict[Feature, str] = {
    Feature.PROTOCOL_PREPARED: "prepared statements (protocol)",
    Feature.SQL_PREPARE: "SQL PREPARE",
    Feature.SET: "SET / search_path",
    Feature.ADVISORY_LOCK: "advisory locks",
    Feature.LISTEN: "LISTEN/NOTIFY",
    Feature.TEMP_TABLE: "temporary tables",
    Feature.WITH_HOLD_CURSOR: "WITH HOLD cursors",
}


def probe_urls(
    pool_url: str,
    direct_url: str | None = None,
    *,
    timeout: float = PROBE_TIMEOUT,
    connect_fn: Callable[..., PgConnection] = connect,
    notify_wait: float = NOTIFY_WAIT,
    target: str | None = None,
) -> ProbeReport:
    """Probe ``pool_url`` and, for contrast, ``direct_url`` (each within ``timeout`` seconds).

    Raises DatabaseError when the pool does not connect at all; a direct URL that does not connect is reported
    (``direct_error``), not raised: the pool's verdicts stand without it.
    """
    behaviour = probe(pool_url, timeout=timeout, connect_fn=connect_fn, notify_wait=notify_wait)
    direct: PoolBehaviour | None = None
    error: str | None = None
    if direct_url is not None:
        try:
            direct = probe(direct_url, timeout=timeout, connect_fn=connect_fn, notify_wait=notify_wait)
        except DatabaseError as exc:
            error = str(exc).splitlines()[0]
    return ProbeReport(target or mask_url(pool_url), behaviour, direct, error)


def probe_pool(
    gateway: DatabasesAPI,
    cluster: str | Cluster | None = None,
    pool: str | None = None,
    *,
    direct: bool = True,
    timeout: float = PROBE_TIMEOUT,
    connect_fn: Callable[..., PgConnection] = connect,
    tls: Callable[[Cluster], TLS] | None = None,
    notify_wait: float = NOTIFY_WAIT,
) -> ProbeReport:
    """Probe pool ``pool`` (None: the cluster's only pool) of ``cluster`` (name or uuid; None: the only one).

    Connects with the pool's own credentials (an inbound-user pool: the cluster's, which PgBouncer passes
    through) and, with ``direct``, with the cluster's direct connection. ``tls`` gives the cluster's sslmode and
    CA (``ops._tls.TLSPolicy``; PgBouncer's certificate is issued by the same CA); None: the URIs' own
    ``sslmode=require``. Raises CredentialsMissingError when the API gave no password, DatabaseError when the
    pool does not connect. A ``Cluster`` already read is used as it is.
    """
    found = cluster if isinstance(cluster, Cluster) else gateway.find_cluster(cluster)
    chosen = _find_pool(gateway, found.id, pool)
    pool_url = _pool_url(found, chosen)
    direct_url = found.connection.uri if direct and found.connection is not None else None
    target = f"pool {chosen.name} ({chosen.mode} mode, size {chosen.size}) of cluster {found.name}"
    report = probe_urls(pool_url, direct_url, timeout=timeout, connect_fn=tls_connect(connect_fn, tls, found),
                        notify_wait=notify_wait, target=target)  # fmt: skip
    if chosen.mode == "statement":
        note = (f"pool {chosen.name} is in statement mode: PgBouncer refuses every multi-statement transaction "
                "there, so most applications (every ORM) fail on it; use transaction mode (do-pgpool ensure-pool "
                f"--name {chosen.name} --mode transaction --size {chosen.size} --replace: it drops the pool's live "
                "connections)")
        return replace(report, notes=(note,))
    return report


def _pool_url(cluster: Cluster, pool: Pool) -> str:
    """The pool's URI with credentials: its own, or for a pool without a user the cluster's (inbound user)."""
    info = pool.connection
    if info is not None and info.has_password:
        return info.uri
    own = cluster.connection
    if info is None or not info.uri or own is None or not own.has_password:
        raise CredentialsMissingError(f"{NO_PASSWORD} (pool {pool.name} of cluster {cluster.name})")
    parts = urlsplit(info.uri)
    host = f"[{info.host}]" if ":" in info.host else info.host
    userinfo = f"{quote(own.user, safe='')}:{quote(own.password, safe='')}@"
    return urlunsplit(parts._replace(netloc=f"{userinfo}{host}:{info.port}"))
