"""The values a secret target receives: the pool's connection string with the right credentials.

DigitalOcean's pool ``connection`` carries the credentials of the pool's **user**. A pool without a user (the
"inbound user": clients' own credentials pass through PgBouncer) answers ``"user": ""`` and ``"password": ""``
there while host, port and URI are set, so its string needs a database user's credentials from the users API:
``secret_user`` names that user (``GET /v2/databases/{id}/users/{name}``, one request). The same option works for
a pool whose user *is* that user; any other combination is refused, since PgBouncer would reject the login.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from .._exceptions import ConfigError, CredentialsMissingError, NotFoundError, Param, Part, PlanError
from .._models import Cluster, Pool
from ..api._ports import DatabasesAPI

__all__ = ["check_secret_user", "check_secret_user_exists", "inbound_needs_secret_user", "secret_values"]


def inbound_needs_secret_user(pool: str) -> list[Part]:
    """Why an inbound-user pool has no connection string to write, and what to name instead."""
    return [
        f"{pool} has no user of its own (inbound user): DigitalOcean's connection for it has an empty user and "
        "password, so there is no connection string to write. Name the database user the application logs in "
        "as with ", Param("secret_user", "NAME"), "; the secret then gets the pool's host, port and database "
        "with that user's password from the users API.",
    ]


def secret_values(
    users: DatabasesAPI,
    cluster_id: str,
    pool: Pool,
    *,
    name: str,
    direct_name: str | None = None,
    cluster: Cluster | None = None,
    private: bool = False,
    secret_user: str | None = None,
) -> dict[str, str]:
    """``{name: pool string}`` (+ ``{direct_name: the cluster's direct string}``, which needs ``cluster``).

    Raises CredentialsMissingError when there is no password to write (the token lacks
    database:view_credentials, or an inbound-user pool and no ``secret_user``), PlanError when ``secret_user``
    cannot log in through this pool. Nothing is written by this function.
    """
    from ._write import connection_string_for

    if secret_user is not None:
        values = {name: _with_user(users, cluster_id, pool, secret_user, private)}
    elif pool.user is None:
        raise CredentialsMissingError(inbound_needs_secret_user(f"pool {pool.name!r}"))
    else:
        values = {name: connection_string_for(pool, private=private)}
    if direct_name:
        if cluster is None:
            raise ValueError("direct_name needs the cluster")
        values[direct_name] = connection_string_for(cluster, private=private)
    return values


def check_secret_user(secret_user: str | None) -> None:
    if secret_user is not None and (not isinstance(secret_user, str) or not secret_user.strip()):
        raise ConfigError([Param("secret_user"), " must name a database user, e.g. ", Param("secret_user", "app")])


def check_secret_user_exists(users: DatabasesAPI, cluster: Cluster, secret_user: str | None) -> None:
    """Refuse a ``secret_user`` that is not a database user of ``cluster``, before anything is written.

    Like an unknown pool ``user`` (a ConfigError, exit 2): the cluster object lists its users, so this costs no
    request; when the answer did not list them, one GET of the user decides.
    """
    if secret_user is None:
        return
    if cluster.users:
        if secret_user in cluster.users:
            return
        known = f" (users: {', '.join(cluster.users)})"
    else:
        try:
            users.get_user(cluster.id, secret_user)
        except NotFoundError:
            known = ""
        else:
            return
    raise ConfigError([
        f"database user {secret_user!r} does not exist on cluster {cluster.name!r}{known}, so its credentials "
        f"cannot go into the pool's string. Create it first (`doctl databases user create {cluster.id} "
        f"{secret_user}`) or pass another ", Param("secret_user"), "; nothing was changed.",
    ])


def _with_user(users: DatabasesAPI, cluster_id: str, pool: Pool, user_name: str, private: bool) -> str:
    if pool.user is not None and pool.user != user_name:
        raise PlanError(
            [f"pool {pool.name!r} logs in to PostgreSQL as {pool.user!r}, and its connection already carries that "
             "user's credentials; ", Param("secret_user", user_name), " applies to pools without a user (inbound "
             "user). Drop ", Param("secret_user"), ", or make the pool's user that one with ", Param("user"), "."]
        )
    conn = pool.private_connection if private else pool.connection
    if conn is None:
        kind = "private (VPC)" if private else "public"
        raise PlanError(f"pool {pool.name!r} has no {kind} connection in DigitalOcean's answer")
    try:
        user = users.get_user(cluster_id, user_name)
    except NotFoundError as exc:
        raise PlanError(
            [f"database user {user_name!r} does not exist on this cluster, so its credentials cannot go into pool "
             f"{pool.name!r}'s string. Create it first (`doctl databases user create CLUSTER_ID {user_name}`) or "
             "name an existing user with ", Param("secret_user"), "."]
        ) from exc
    password = str(user.get("password") or "")
    if not password:
        raise CredentialsMissingError(
            f"DigitalOcean returned database user {user_name!r} without a password: the API token lacks the "
            "`database:view_credentials` scope. Nothing was written. Create a token with "
            "database:view_credentials (custom scopes) or full access, and run again."
        )
    userinfo = f"{quote(user_name, safe='')}:{quote(password, safe='')}@"
    host = f"[{conn.host}]" if ":" in conn.host else conn.host
    parts = urlsplit(conn.uri) if conn.uri else None
    if parts is None or not parts.scheme:
        path = "/" + quote(conn.database or pool.name, safe="")
        return urlunsplit(("postgresql", f"{userinfo}{host}:{conn.port}", path, "sslmode=require", ""))
    return urlunsplit((parts.scheme, f"{userinfo}{host}:{conn.port}", parts.path, parts.query, parts.fragment))
