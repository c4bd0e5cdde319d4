"""State models of the fake managed databases: users, clusters, pools, and their API representations.

Connections look as the real API serves them (digitalocean-api.md §13), not as the OpenAPI examples do:
``"protocol": "postgresql"``, ``postgresql://USER:PASS@HOST:PORT/DB?sslmode=require``, ``database`` set
(``defaultdb`` for the direct connection, the pool's name for a pool), hosts like
``<name>-do-user-<n>-0.<letter>.db.ondigitalocean.com``. Pools use the cluster's host, ``pool_port`` and the
pool name as database; pools of multi-node clusters carry standby connections. See ``_backend`` for the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .._budget import ram_gib_from_slug
from ._clock import Progression

__all__ = ["LOOPBACK_HOSTS", "FakeCluster", "FakePool", "FakeUser"]

JsonDict = dict[str, Any]
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: The URI scheme and ``protocol`` real answers carry (the spec's examples say ``postgres://``).
SCHEME = "postgresql"
#: Base disk per plan, in MiB, as the real API reports it in ``storage_size_mib`` (DigitalOcean's pricing page).
_BASE_STORAGE_MIB = {1: 10 * 1024, 2: 30 * 1024, 4: 60 * 1024, 8: 140 * 1024, 16: 290 * 1024, 32: 580 * 1024}
#: What ``semantic_version`` says for each major version (a recent minor release of each).
SEMANTIC_VERSIONS = {"13": "13.22", "14": "14.19", "15": "15.14", "16": "16.10", "17": "17.6"}


def base_storage_mib(size: str) -> int:
    ram = ram_gib_from_slug(size)
    return _BASE_STORAGE_MIB.get(ram or 1, 10 * 1024 * max(ram or 1, 1))


#: a fake cluster's CA when no real server stands behind it (well-formed PEM armour, not a usable certificate)
PLACEHOLDER_CA_PEM = "-----BEGIN CERTIFICATE-----\nZmFrZSBjbHVzdGVyIENB\n-----END CERTIFICATE-----\n"


@dataclass
class FakeUser:
    name: str
    password: str = field(repr=False)
    role: str = "normal"

    def to_api(self, view_credentials: bool = True) -> JsonDict:
        return {"name": self.name, "role": self.role, "password": self.password if view_credentials else ""}


def _connection(
    host: str, port: int, database: str, user: FakeUser | None, view_credentials: bool, path_db: str
) -> JsonDict:
    """A ``database_connection``. Without ``database:view_credentials`` the password is empty and the URI
    carries only the user name (tf #1165: read-only tokens get empty passwords)."""
    password = user.password if (user and view_credentials) else ""
    if user is None:
        userinfo = ""
    elif password:
        userinfo = f"{quote(user.name, safe='')}:{quote(password, safe='')}@"
    else:
        userinfo = f"{quote(user.name, safe='')}@"
    netloc = f"[{host}]" if ":" in host else host
    return {
        "protocol": SCHEME,
        "uri": f"{SCHEME}://{userinfo}{netloc}:{port}/{quote(path_db, safe='')}?sslmode=require",
        "database": database,
        "host": host,
        "port": port,
        "user": user.name if user else "",
        "password": password,
        "ssl": True,
    }


@dataclass
class FakeCluster:
    id: str
    name: str
    size: str
    num_nodes: int
    region: str
    version: str
    host: str
    port: int
    pool_port: int
    created_at: str
    engine: str = "pg"
    status: str = "online"
    project_id: str = ""
    tags: list[str] = field(default_factory=list)
    users: dict[str, FakeUser] = field(default_factory=dict, repr=False)
    db_names: list[str] = field(default_factory=list)
    pools: dict[str, FakePool] = field(default_factory=dict, repr=False)
    storage_size_mib: int | None = None
    maintenance_day: str = "tuesday"
    maintenance_hour: str = "08:00:00"
    maintenance_pending: bool = False
    maintenance_description: list[str] = field(default_factory=list)
    config: JsonDict = field(default_factory=dict, repr=False)
    #: ``GET /autoscale``'s ``storage`` object (storage autoscaling is off unless enabled)
    autoscale_storage: JsonDict = field(default_factory=lambda: {"enabled": False})
    #: ``GET /ca``: the CA that issued the cluster's certificate, PEM (the sandbox puts its servers' test CA here)
    ca_pem: str = field(default=PLACEHOLDER_CA_PEM, repr=False)
    #: fault injection: a resize answers 412 while set
    under_maintenance: bool = False
    resize: Progression | None = field(default=None, repr=False)
    resize_target: tuple[str, int, int | None] | None = field(default=None, repr=False)
    update: Progression | None = field(default=None, repr=False)
    #: the events log (``GET .../events``), oldest first: ``events_logs`` objects
    events: list[JsonDict] = field(default_factory=list, repr=False)

    @property
    def primary_user(self) -> FakeUser:
        return next((u for u in self.users.values() if u.role == "primary"), next(iter(self.users.values())))

    def host_variant(self, prefix: str) -> str:
        """``private-<host>``/``replica-<host>``, except that a loopback host stays itself so that every URI
        the fake hands out still reaches the local PostgreSQL/PgBouncer a test started."""
        return self.host if self.host in LOOPBACK_HOSTS else f"{prefix}{self.host}"

    def _conn(self, prefix: str, view_credentials: bool) -> JsonDict:
        db = self.db_names[0] if self.db_names else "defaultdb"
        # Real answers set ``database`` (defaultdb); the OpenAPI example's "" is not what the API serves.
        return _connection(self.host_variant(prefix), self.port, db, self.primary_user, view_credentials, db)

    @property
    def semantic_version(self) -> str:
        return SEMANTIC_VERSIONS.get(self.version, f"{self.version}.0")

    def to_api(self, view_credentials: bool = True) -> JsonDict:
        out: JsonDict = {
            "id": self.id,
            "name": self.name,
            "engine": self.engine,
            "version": self.version,
            "semantic_version": self.semantic_version,
            "num_nodes": self.num_nodes,
            "size": self.size,
            "region": self.region,
            "status": self.status,
            "created_at": self.created_at,
            "tags": list(self.tags) or None,  # real answers say null, not [], for an untagged cluster
            "db_names": list(self.db_names),
            "connection": self._conn("", view_credentials),
            "private_connection": self._conn("private-", view_credentials),
            "users": [u.to_api(view_credentials) for u in self.users.values()],
            "maintenance_window": {
                "day": self.maintenance_day,
                "hour": self.maintenance_hour,
                "pending": self.maintenance_pending,
                "description": list(self.maintenance_description),
            },
            "project_id": self.project_id,
            "storage_size_mib": self.storage_size_mib or base_storage_mib(self.size),
        }
        if self.num_nodes > 1:
            out["standby_connection"] = self._conn("replica-", view_credentials)
            out["standby_private_connection"] = self._conn("private-replica-", view_credentials)
        return out


@dataclass
class FakePool:
    name: str
    mode: str
    size: int
    db: str
    #: None: an inbound-user pool (clients' own credentials pass through)
    user: str | None
    cluster: FakeCluster = field(repr=False, compare=False)

    def _conn(self, prefix: str, view_credentials: bool) -> JsonDict:
        # As DigitalOcean serves it (the Terraform provider's live tests): the connection carries the pool
        # user's credentials, read from the cluster's users now, so a PUT that changes the user changes them;
        # an inbound-user pool answers "user": "" and "password": "" with host, port and URI set.
        user = self.cluster.users.get(self.user) if self.user else None
        host = self.cluster.host_variant(prefix)
        return _connection(host, self.cluster.pool_port, self.name, user, view_credentials, self.name)

    def to_api(self, view_credentials: bool = True) -> JsonDict:
        out: JsonDict = {"name": self.name, "mode": self.mode, "size": self.size, "db": self.db}
        if self.user:
            out["user"] = self.user
        out["connection"] = self._conn("", view_credentials)
        out["private_connection"] = self._conn("private-", view_credentials)
        if self.cluster.num_nodes > 1:  # §13: pools of multi-node clusters carry the standby pair too
            out["standby_connection"] = self._conn("replica-", view_credentials)
            out["standby_private_connection"] = self._conn("private-replica-", view_credentials)
        return out
