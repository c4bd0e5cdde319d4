"""Connecting to PostgreSQL, and what a failure means: full (saturated), unreachable, or another error.

Synchronous psycopg 3. Every psycopg error is mapped to :class:`DatabaseError` here, with the password
masked; a connection refused because the server is full becomes ``DatabaseError(saturated=True)`` with
what can still be done. psycopg reports ``sqlstate=None`` for that connect-time failure, so it is
recognised by the server's message text (the one place this project classifies by text: the facts
``saturated``, ``unreachable`` and ``login_retry`` are set here, and nothing reads a message again).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from .._dburl import mask_secrets_in, mask_url
from .._deadline import current_deadline
from .._duration import format_seconds
from .._exceptions import DatabaseError, Param, Part
from .._tls import TLS

__all__ = [
    "ACCESS_HINT",
    "SATURATED_ADVICE",
    "TLS_ADVICE",
    "PgConnection",
    "connect",
    "database_error",
    "is_saturation_message",
    "mapped",
    "scrub",
    "server_url",
    "tls_failure",
    "unreachable_reason",
    "where",
]

APPLICATION_NAME = "do-pgpool"
CONNECT_TIMEOUT = 10

# PostgreSQL <= 15: "... reserved for non-replication superuser connections";
# 16+: "... reserved for roles with the SUPERUSER attribute" (or "... of the pg_use_reserved_connections role");
# after the reserved slots too: "sorry, too many clients already".
SATURATION_MARKERS = ("remaining connection slots are reserved for", "sorry, too many clients already")

# PgBouncer's "server login has been failing, try again later (server_login_retry)", and a connect timeout:
# either way PgBouncer waits server_login_retry before it logs in to the server again.
LOGIN_RETRY_MARKERS = ("server login has been failing", "timeout expired")

SATURATED_ADVICE = (
    "do-pgpool cannot connect either, so it cannot terminate idle sessions. What can still be done:\n"
    "  - restart the application that holds the connections: do-pgpool restart --app APP\n"
    "  - restart the cluster through maintenance: do-pgpool restart --cluster CLUSTER\n"
    "  - resize the cluster for more connections: do-pgpool resize --cluster CLUSTER --connections N\n"
    "On DigitalOcean doadmin is not a superuser, so the reserved slots cannot be used. Once a slot is free, "
    "put a pool in front: do-pgpool fix --cluster CLUSTER --size N"
)

#: an open psycopg session; not ``_models.Connection`` (what the API says about how to connect)
PgConnection = psycopg.Connection[Any]



def is_saturation_message(text: str) -> bool:
    """True for the server's "no connection slot left" refusals (any PostgreSQL version)."""
    lowered = text.lower()
    return any(marker in lowered for marker in SATURATION_MARKERS)


def scrub(text: str, url: str) -> str:
    """Mask credentialed URLs and the literal password of ``url`` in a driver message."""
    text = mask_secrets_in(text)
    try:
        password = urlsplit(url).password if "://" in url else None
    except ValueError:
        password = None
    try:  # a keyword/value string (host=... password=...) too, and a URL's ?password=
        given = conninfo_to_dict(url).get("password")
    except psycopg.Error:
        given = None
    secrets = {password, unquote(password) if password else None, given if isinstance(given, str) else None}
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def where(url: str) -> str:
    """``host:port/db`` of a URL, for messages (no user, no password)."""
    try:
        parts = urlsplit(url)
        return f"{parts.hostname}:{parts.port or 5432}{parts.path}" if parts.hostname else "the database"
    except ValueError:
        return "the database"


def _server_said(detail: str) -> str:
    """``connection failed: connection to server at ... failed: FATAL:  remaining ...`` -> ``FATAL: remaining ...``."""
    last = detail.strip().splitlines()[-1] if detail.strip() else detail
    _, sep, tail = last.rpartition("FATAL:")
    return f"FATAL: {tail.strip()}" if sep else last.strip()


def _host_port(url: str) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
        return parts.hostname or "the database host", parts.port or 5432
    except ValueError:
        return "the database host", 5432


def _timed_out(detail: str) -> bool:
    lowered = detail.lower()
    return any(m in lowered for m in ("timeout expired", "timed out", "no route to host", "network is unreachable"))


#: the last line of a "did not answer" failure: how to check this machine against the trusted sources (the
#: address is not read before connecting unless given, which costs no request when the way is open)
ACCESS_HINT: tuple[Part, ...] = (
    "\nTo check this machine's address against the cluster's trusted sources pass ", Param("my_ip", "ADDR"),
    "; to let it in for this run only, add ", Param("temporary_access"), ".",
)


def unreachable_reason(detail: str, host: str, port: int) -> str | None:
    """Why no server answered (from the driver's message), with what to check; None if a server answered."""
    lowered = detail.lower()
    if any(m in lowered for m in ("could not translate host name", "failed to resolve host", "name or service not")):
        return (f"the host name {host} does not resolve; check the cluster's host name, this machine's DNS, and "
                "that a private-network host (private-...) is used only from inside the cluster's VPC")  # fmt: skip
    if "connection refused" in lowered:
        return (f"nothing accepts connections at {host} port {port} (connection refused); check the port and that "
                "the cluster is online")  # fmt: skip
    if _timed_out(detail):
        return (f"{host} port {port} did not answer; check that this machine's IP address is among the cluster's "
                "trusted sources and that no firewall blocks the port")  # fmt: skip
    return None


TLS_ADVICE = (
    "download this cluster's CA certificate (control panel: the cluster's Connection Details, or "
    "GET /v2/databases/{uuid}/ca) and pass it with --ca-file PATH, or choose --sslmode require (encrypted, "
    "server not authenticated)"
)


def tls_failure(detail: str, host: str, port: int) -> str | None:
    """What failed in verifying the server's certificate (from libpq's message), with what to do; None if not TLS."""
    lowered = detail.lower()
    where = f"{host} port {port}"
    if "does not match host name" in lowered:
        return (f"the certificate of {where} is not issued for the host name {host} (hostname mismatch); connect "
                f"with the host name DigitalOcean gives for the cluster, or {TLS_ADVICE}")  # fmt: skip
    if "certificate verify failed" in lowered:
        return (f"the certificate of {where} is not signed by the given CA (unknown CA: the CA file is not this "
                f"cluster's, or someone is in between); {TLS_ADVICE}")  # fmt: skip
    if "root certificate file" in lowered:
        return f"the CA file for {where} cannot be read; {TLS_ADVICE}"
    if "server does not support ssl" in lowered:
        return f"{where} does not offer TLS at all; check that this is the cluster's host and port"
    return None


def login_refused(detail: str) -> str | None:
    """Why the server (or PgBouncer) refused the login, with what to do; None if it did not."""
    lowered = detail.lower()
    if "password authentication failed" in lowered or "sasl authentication failed" in lowered:
        return ("the login was refused: wrong user or password (a pool logs in with its own user's credentials: "
                "take its connection string from the API, e.g. `do-pgpool rewrite-secret --secret stdout`)")
    if "no such database" in lowered:
        return ("PgBouncer has no pool by that name: the database part of a pool's connection string is the pool's "
                "name (`do-pgpool list-pools` lists them)")
    return None


def database_error(exc: psycopg.Error, url: str, doing: str) -> DatabaseError:
    detail = scrub(str(exc).strip(), url)
    login_retry = any(marker in detail.lower() for marker in LOGIN_RETRY_MARKERS)
    if is_saturation_message(detail):
        return DatabaseError(
            f"PostgreSQL at {where(url)} refused the connection because it is full: every connection slot "
            f"open to non-superusers is taken (server said: {_server_said(detail)}).\n{SATURATED_ADVICE}",
            saturated=True, login_retry=login_retry,
        )  # fmt: skip
    tls = tls_failure(detail, *_host_port(url))
    if tls is not None:
        return DatabaseError(f"TLS verification of PostgreSQL failed: {tls}.\n{doing} {mask_url(url)} failed: "
                             f"{detail}", tls_failed=True)  # fmt: skip
    refused = login_refused(detail)
    if refused is not None:
        return DatabaseError(f"{refused}.\n{doing} {mask_url(url)} failed: {detail}", login_retry=login_retry)
    reason = unreachable_reason(detail, *_host_port(url))
    if reason is not None:
        hint = ACCESS_HINT if _timed_out(detail) else ()
        return DatabaseError([f"cannot reach PostgreSQL: {reason}.\n{doing} {mask_url(url)} failed: {detail}", *hint],
                             unreachable=True, login_retry=login_retry)  # fmt: skip
    return DatabaseError(f"{doing} {mask_url(url)} failed: {detail}", login_retry=login_retry)


def connect(
    url: str,
    *,
    application_name: str = APPLICATION_NAME,
    connect_timeout: int = CONNECT_TIMEOUT,
    prepare_threshold: int | None = None,
    tls: TLS | None = None,
) -> PgConnection:
    """Open an autocommit connection (``prepare_threshold=None``: safe through a transaction pool).

    ``tls`` overrides the URL's ``sslmode``/``sslrootcert`` (do-pgpool's own connections: ``verify-full``).
    ``connect_timeout`` (whole seconds, at least 2: libpq's rule) is cut to what is left of the run's deadline
    (``current_deadline()``, the CLI's ``--timeout``), so a server that accepts and never answers cannot hold
    a run past its limit; with no time left at all, ``DeadlineExceededError``.
    Raises :class:`DatabaseError`; ``saturated=True`` when the server refused because it is full,
    ``tls_failed=True`` when the server's certificate did not verify.
    """
    tls_params: dict[str, Any] = tls.conninfo() if tls is not None else {}
    deadline = current_deadline()
    cut = None  # the seconds the deadline left, when fewer than connect_timeout
    if deadline is not None:
        deadline.check(f"connecting to PostgreSQL at {where(url)}")
        if deadline.remaining() < connect_timeout:
            cut = deadline.remaining()
            connect_timeout = max(2, math.ceil(cut))
    try:
        return psycopg.connect(
            url,
            **tls_params,
            autocommit=True,
            application_name=application_name,
            connect_timeout=connect_timeout,
            prepare_threshold=prepare_threshold,
        )
    except psycopg.Error as exc:
        doing = "connecting to" if tls is None else f"connecting (sslmode={tls.sslmode}) to"
        error = database_error(exc, url, doing)
        if cut is not None and _timed_out(str(exc)):
            error = error.extended(f"\nIt was given {format_seconds(cut)}: what was left of the run's time limit (",
                                   Param("timeout"), ").")  # fmt: skip
        raise error from exc


@contextmanager
def mapped(target: PgConnection | str, doing: str) -> Iterator[None]:
    """psycopg errors in the block as ``DatabaseError`` (``doing``: "reading pg_stat_activity on").

    Given the connection (not only its URL), the block's queries are also bounded by the run's deadline
    (``_watchdog.bounded``): a server that stalls after the handshake ends the run in time, saying so.
    """
    if isinstance(target, str):
        try:
            yield
        except psycopg.Error as exc:
            raise database_error(exc, target, doing) from exc
        return
    from ._watchdog import bounded

    url = server_url(target)
    with bounded(target, doing):
        try:
            yield
        except psycopg.Error as exc:
            raise database_error(exc, url, doing) from exc


def server_url(conn: PgConnection) -> str:
    info = conn.info
    return f"postgresql://{info.user}@{info.host}:{info.port}/{info.dbname}"


# --- verdict ---------------------------------------------------------------------------------------------
