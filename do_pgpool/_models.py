"""Typed, immutable views of DigitalOcean objects. No I/O here.

Anything that can hold a password masks it in ``repr``/``str``; the clear value is reachable only
through explicit accessors (``Connection.password``, ``Connection.uri``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._dburl import mask_url

__all__ = [
    "DEFAULT_DB",
    "DEFAULT_MODE",
    "DEFAULT_USER",
    "POOL_MODES",
    "Cluster",
    "ClusterEvent",
    "Connection",
    "Pool",
    "PoolSpec",
    "looks_like_uuid",
]

JsonDict = dict[str, Any]

#: PgBouncer modes DigitalOcean accepts (the OpenAPI schema has no enum; the prose lists these).
POOL_MODES = ("transaction", "session", "statement")
#: what a new pool gets when the request leaves a field out (an update keeps the pool's current value)
DEFAULT_MODE = "transaction"
DEFAULT_DB = "defaultdb"
DEFAULT_USER = "doadmin"


@dataclass(frozen=True)
class Connection:
    """One ``database_connection`` object. ``password`` is empty when the token cannot view credentials."""

    uri: str = field(repr=False)
    host: str
    port: int
    database: str
    user: str
    password: str = field(repr=False)
    ssl: bool = True

    @classmethod
    def from_api(cls, data: Mapping[str, Any] | None) -> Connection | None:
        if not data or not data.get("host"):
            return None
        return cls(
            uri=str(data.get("uri") or ""),
            host=str(data["host"]),
            port=int(data.get("port") or 0),
            database=str(data.get("database") or ""),
            user=str(data.get("user") or ""),
            password=str(data.get("password") or ""),
            ssl=bool(data.get("ssl", True)),
        )

    @property
    def has_password(self) -> bool:
        return bool(self.password) and bool(self.uri)

    @property
    def masked_uri(self) -> str:
        return mask_url(self.uri)

    def __repr__(self) -> str:
        return f"Connection(uri={self.masked_uri!r}, host={self.host!r}, port={self.port}, user={self.user!r})"


@dataclass(frozen=True)
class Cluster:
    """One ``database_cluster`` object (``engine`` ``pg`` is PostgreSQL); its connections mask their passwords."""

    id: str
    name: str
    engine: str
    status: str
    size: str
    num_nodes: int
    region: str = ""
    version: str = ""
    storage_size_mib: int | None = None
    connection: Connection | None = None
    private_connection: Connection | None = None
    maintenance_pending: bool = False
    maintenance_description: tuple[str, ...] = ()
    db_names: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @property
    def is_postgres(self) -> bool:
        return self.engine == "pg"

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Cluster:
        window = data.get("maintenance_window") or {}
        return cls(
            id=str(data["id"]),
            name=str(data.get("name") or ""),
            engine=str(data.get("engine") or ""),
            status=str(data.get("status") or "unknown"),
            size=str(data.get("size") or ""),
            num_nodes=int(data.get("num_nodes") or 1),
            region=str(data.get("region") or ""),
            version=str(data.get("version") or ""),
            storage_size_mib=data.get("storage_size_mib"),
            connection=Connection.from_api(data.get("connection")),
            private_connection=Connection.from_api(data.get("private_connection")),
            maintenance_pending=bool(window.get("pending", False)),
            maintenance_description=tuple(window.get("description") or ()),
            db_names=tuple(data.get("db_names") or ()),
            users=tuple(u.get("name", "") for u in data.get("users") or ()),
            tags=tuple(data.get("tags") or ()),
        )


@dataclass(frozen=True)
class ClusterEvent:
    """One entry of a cluster's events log (``GET /v2/databases/{uuid}/events``, schema ``events_logs``).

    ``event_type`` is one of ``cluster_maintenance_perform``, ``cluster_master_promotion``, ``cluster_create``,
    ``cluster_update``, ``cluster_delete``, ``cluster_poweron``, ``cluster_poweroff``; ``create_time`` is
    RFC 3339 text as DigitalOcean sends it. The schema marks no field required.
    """

    id: str
    event_type: str
    create_time: str = ""
    cluster_name: str = ""

    @property
    def key(self) -> str:
        """What tells two events apart: the id, or type and time when an answer carries no id."""
        return self.id or f"{self.event_type}@{self.create_time}"

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ClusterEvent:
        return cls(
            id=str(data.get("id") or ""),
            event_type=str(data.get("event_type") or ""),
            create_time=str(data.get("create_time") or ""),
            cluster_name=str(data.get("cluster_name") or ""),
        )


@dataclass(frozen=True)
class PoolSpec:
    """What a pool should be. ``user=None`` means the inbound user (clients' own credentials pass through)."""

    name: str
    size: int
    mode: str = DEFAULT_MODE
    db: str = DEFAULT_DB
    user: str | None = DEFAULT_USER

    def body(self) -> JsonDict:
        """The full request body for PUT (and, with ``name``, POST): user is omitted only for inbound-user pools."""
        out: JsonDict = {"mode": self.mode, "size": self.size, "db": self.db}
        if self.user is not None:
            out["user"] = self.user
        return out

    def as_dict(self) -> JsonDict:
        from ._jsonable import jsonable

        return dict(jsonable(self, only=("name", "mode", "size", "db", "user")))  # the documented order


@dataclass(frozen=True)
class Pool:
    """One ``connection_pool`` object as DigitalOcean serves it; ``user`` None: the inbound user's pool."""

    name: str
    mode: str
    size: int
    db: str
    user: str | None
    connection: Connection | None = None
    private_connection: Connection | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Pool:
        return cls(
            name=str(data["name"]),
            mode=str(data.get("mode") or ""),
            size=int(data.get("size") or 0),
            db=str(data.get("db") or ""),
            user=data.get("user") or None,
            connection=Connection.from_api(data.get("connection")),
            private_connection=Connection.from_api(data.get("private_connection")),
        )

    @property
    def spec(self) -> PoolSpec:
        return PoolSpec(name=self.name, size=self.size, mode=self.mode, db=self.db, user=self.user)


def looks_like_uuid(value: str) -> bool:
    """Whether ``value`` is a uuid (a cluster's or app's id) rather than a name: ids are looked up directly."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
