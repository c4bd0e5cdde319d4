"""DigitalOcean managed PostgreSQL in memory: clusters, users, dbs, PgBouncer pools, resize, maintenance.

Every rule of the fake lives in the backends (this module, ``_apps_backend`` and ``_github_backend``);
``_responses`` only routes, parses and wraps. Method names are pydo's operation names, so
``fake.databases.add_connection_pool(uuid, body)`` does what ``client.databases.add_connection_pool`` asks for.
Where DigitalOcean's answer is undocumented the rule is a field of ``Assumptions`` (one place, with its
reason; a test can flip it) or, for minor choices, marked ASSUMPTION where it is made.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .._budget import MAX_POOLS, connection_limit, ram_gib_from_slug
from . import openapi
from ._apps_backend import AppsBackend, FakeApp, FakeDeployment
from ._assumptions import Assumptions
from ._clock import FakeClock, Progression, iso
from ._db_models import FakeCluster, FakePool, FakeUser
from ._errors import FakeAPIError, existing, invalid, not_found
from ._github_backend import FakeRepoSecrets, GitHubBackend
from ._ids import Ids, LifecycleOptions
from ._options import PG_OPTIONS, layout_sizes

__all__ = [
    "AppsBackend",
    "DatabasesBackend",
    "FakeApp",
    "FakeCluster",
    "FakeDeployment",
    "FakePool",
    "FakeRepoSecrets",
    "FakeUser",
    "GitHubBackend",
]

JsonDict = dict[str, Any]
POOL_MODES = ("session", "transaction", "statement")
#: The fake account's number, as it appears in every real host name (``<name>-do-user-<n>-0...``).
ACCOUNT_NUMBER = 19081923
_HOST_SHARDS = "bcdfgkm"


def default_host(name: str, index: int) -> str:
    """A host name shaped like DigitalOcean's: ``<name>-do-user-<account>-0.<letter>.db.ondigitalocean.com``."""
    return f"{name}-do-user-{ACCOUNT_NUMBER}-0.{_HOST_SHARDS[(index - 1) % len(_HOST_SHARDS)]}.db.ondigitalocean.com"


def _require(body: Mapping[str, Any], key: str, kind: type) -> Any:
    value = body.get(key)
    if value is None:
        raise invalid(f"{key} is required")
    if not isinstance(value, kind) or isinstance(value, bool):
        raise invalid(f"{key} must be a {'string' if kind is str else 'number'}")
    return value


class DatabasesBackend:
    """Managed PostgreSQL clusters keyed by uuid."""

    def __init__(
        self, clock: FakeClock, ids: Ids, lifecycle: LifecycleOptions, assumptions: Assumptions | None = None
    ) -> None:
        self.clock = clock
        self.ids = ids
        self.lifecycle = lifecycle
        self.assumptions = assumptions or Assumptions()
        self.clusters: dict[str, FakeCluster] = {}
        #: every cluster of the fake account sits in its default project
        self.project_id = ids.uuid("project", "default")
        #: called with the cluster after every pool create, update and delete and every user create (``do-pgpool
        #: sandbox`` mirrors them into a real PostgreSQL and PgBouncer); a FakeAPIError it raises is the answer
        self.listeners: list[Callable[[FakeCluster], None]] = []

    # -- seeding ---------------------------------------------------------------------------------------
    def create_cluster(
        self,
        name: str,
        *,
        size: str = "db-s-1vcpu-1gb",
        engine: str = "pg",
        status: str = "online",
        num_nodes: int = 1,
        region: str = "nyc3",
        version: str = "16",
        tags: Iterable[str] = (),
        host: str | None = None,
        port: int = 25060,
        pool_port: int = 25061,
        password: str | None = None,
        users: Iterable[str] = ("doadmin",),
        db_names: Iterable[str] = ("defaultdb",),
        maintenance_pending: bool = False,
        config: Mapping[str, Any] | None = None,
    ) -> FakeCluster:
        number = self.ids.next("cluster-host")
        cluster = FakeCluster(
            id=self.ids.uuid("cluster", name),
            name=name,
            size=size,
            num_nodes=num_nodes,
            region=region,
            version=version,
            host=host or default_host(name, number),
            port=port,
            pool_port=pool_port,
            created_at=iso(self.clock.now()),
            engine=engine,
            status=status,
            project_id=self.project_id,
            tags=list(tags),
            db_names=list(db_names),
            maintenance_pending=maintenance_pending,
            maintenance_description=["Update to the latest minor version"] if maintenance_pending else [],
            config=dict(config or {"autovacuum_naptime": 60, "backup_hour": 3, "backup_minute": 0}),
        )
        self._log(cluster, "cluster_create")
        for i, user in enumerate(users):
            pw = password if (i == 0 and password is not None) else self.ids.password()
            cluster.users[user] = FakeUser(user, pw, "primary" if i == 0 else "normal")
        self.clusters[cluster.id] = cluster
        return cluster

    def cluster(self, ref: FakeCluster | str) -> FakeCluster:
        """A cluster by object, uuid or name (404 when unknown). Brings its status up to date (no read)."""
        if isinstance(ref, FakeCluster):
            found: FakeCluster | None = ref
        else:
            found = self.clusters.get(ref) or next((c for c in self.clusters.values() if c.name == ref), None)
        if found is None or found.id not in self.clusters:
            raise not_found("database cluster")
        self._advance(found, spend_read=False)
        return found

    # -- lifecycles ----------------------------------------------------------------------------------------
    def _advance(self, cluster: FakeCluster, *, spend_read: bool) -> None:
        now = self.clock.now()
        if cluster.resize is not None:
            stage = cluster.resize.observe(now) if spend_read else cluster.resize.current(now)
            if stage == "done" and cluster.resize_target is not None:
                cluster.size, cluster.num_nodes, storage = cluster.resize_target
                if storage is not None:
                    cluster.storage_size_mib = storage
                cluster.resize = cluster.resize_target = None
                cluster.status = "online"
                self._log(cluster, "cluster_update")  # ASSUMPTION: a resize logs cluster_update when done
            else:
                cluster.status = stage
        if cluster.update is not None:
            stage = cluster.update.observe(now) if spend_read else cluster.update.current(now)
            if stage == "done":
                cluster.update = None
                cluster.status = "online"
                cluster.maintenance_pending = False
                cluster.maintenance_description = []
                if self.assumptions.maintenance_event_logged == "completion":
                    self._log(cluster, "cluster_maintenance_perform")
            else:
                cluster.status = stage

    def _log(self, cluster: FakeCluster, event_type: str) -> None:
        """Add an event to the cluster's log, stamped with the fake's clock when the fake applies the change
        (lifecycles are applied when the cluster is next looked at)."""
        cluster.events.append({
            "id": f"pe{self.ids.next('event'):06x}",
            "cluster_name": cluster.name,
            "event_type": event_type,
            "create_time": iso(self.clock.now()),
        })

    def _read(self, database_cluster_uuid: str) -> FakeCluster:
        """The cluster, its lifecycle moved on by one read (a GET of the cluster itself)."""
        return self._get(database_cluster_uuid, spend_read=True)

    def _get(self, database_cluster_uuid: str, *, spend_read: bool = False) -> FakeCluster:
        cluster = existing(self.clusters.get(database_cluster_uuid), "database cluster")
        self._advance(cluster, spend_read=spend_read)
        return cluster

    # -- clusters --------------------------------------------------------------------------------------
    def list_clusters(self, tag_name: str | None = None) -> list[FakeCluster]:
        out = []
        for cluster in self.clusters.values():
            self._advance(cluster, spend_read=True)
            if tag_name is None or tag_name in cluster.tags:
                out.append(cluster)
        return out

    def get_cluster(self, database_cluster_uuid: str) -> FakeCluster:
        return self._read(database_cluster_uuid)

    def list_options(self) -> JsonDict:
        return PG_OPTIONS

    def get_config(self, database_cluster_uuid: str) -> JsonDict:
        return dict(self._get(database_cluster_uuid).config)

    def patch_config(self, database_cluster_uuid: str, body: Mapping[str, Any]) -> None:
        cluster = self._get(database_cluster_uuid)
        config = body.get("config")
        if not isinstance(config, dict):
            raise invalid("config is required and must be an object")
        schema = openapi.load()["components"]["schemas"]
        _check_config(config, schema["postgres_advanced_config"], schema, "config")
        for key, value in config.items():
            # ASSUMPTION (Assumptions.config_merge_nested): the nested pgbouncer object is merged key by key
            # like the top level; the spec says only that PATCH changes the keys sent.
            old = cluster.config.get(key)
            if self.assumptions.config_merge_nested and isinstance(value, dict) and isinstance(old, dict):
                cluster.config[key] = {**old, **value}
            else:
                cluster.config[key] = value

    def list_events_logs(self, database_cluster_uuid: str) -> list[JsonDict]:
        """The events log, oldest first (ASSUMPTION: the order is undocumented), unpaginated."""
        return [dict(e) for e in self._get(database_cluster_uuid).events]

    # -- users and databases -------------------------------------------------------------------------
    def list_users(self, database_cluster_uuid: str) -> list[FakeUser]:
        return list(self._get(database_cluster_uuid).users.values())

    def get_user(self, database_cluster_uuid: str, username: str) -> FakeUser:
        return existing(self._get(database_cluster_uuid).users.get(username), "database user")

    def add_user(self, database_cluster_uuid: str, body: Mapping[str, Any]) -> FakeUser:
        cluster = self._get(database_cluster_uuid)
        name = _require(body, "name", str)
        if name in cluster.users:
            raise invalid(f"user {name!r} already exists")  # ASSUMPTION: status undocumented
        cluster.users[name] = FakeUser(name, self.ids.password())
        self._changed(cluster)
        return cluster.users[name]

    def list_dbs(self, database_cluster_uuid: str) -> list[JsonDict]:
        return [{"name": name} for name in self._get(database_cluster_uuid).db_names]

    def add_db(self, database_cluster_uuid: str, body: Mapping[str, Any]) -> JsonDict:
        cluster = self._get(database_cluster_uuid)
        name = _require(body, "name", str)
        if name in cluster.db_names:
            raise invalid(f"database {name!r} already exists")  # ASSUMPTION: status undocumented
        cluster.db_names.append(name)
        return {"name": name}

    # -- pools -------------------------------------------------------------------------------------------
    def list_connection_pools(self, database_cluster_uuid: str) -> list[FakePool]:
        return list(self._get(database_cluster_uuid).pools.values())

    def get_connection_pool(self, database_cluster_uuid: str, pool_name: str) -> FakePool:
        return existing(self._get(database_cluster_uuid).pools.get(pool_name), "connection pool")

    def _check_pool(self, cluster: FakeCluster, name: str, body: Mapping[str, Any]) -> tuple[str, int, str, str | None]:
        if cluster.engine != "pg":
            raise invalid("connection pools are available for PostgreSQL clusters only")
        mode = _require(body, "mode", str)
        size = _require(body, "size", int)
        db = _require(body, "db", str)
        user = body.get("user") or None
        if mode not in POOL_MODES:
            raise invalid(f"mode must be one of {', '.join(POOL_MODES)}; got {mode!r}")
        if size < 1:
            raise invalid(f"size must be at least 1; got {size}")
        if db not in cluster.db_names:
            raise invalid(f"database {db!r} does not exist on cluster {cluster.name}")
        if user is not None and (not isinstance(user, str) or user not in cluster.users):
            raise invalid(f"user {user!r} does not exist on cluster {cluster.name}")
        limit = connection_limit(cluster.size)
        if limit is not None and self.assumptions.refuse_over_budget_pool:
            others = sum(p.size for p in cluster.pools.values() if p.name != name)
            if others + size > limit:
                raise invalid(
                    f"pool size {size} exceeds the connections available to pools on {cluster.size}: "
                    f"{max(limit - others, 0)} of {limit} (other pools hold {others})"
                )
        return mode, size, db, user

    def add_connection_pool(self, database_cluster_uuid: str, body: Mapping[str, Any]) -> FakePool:
        cluster = self._get(database_cluster_uuid)
        name = _require(body, "name", str)
        if not 3 <= len(name) <= 60:
            raise invalid(f"name must be between 3 and 60 characters; got {len(name)}")
        if "/" in name or name != name.strip():
            raise invalid(f"invalid pool name {name!r}")  # ASSUMPTION (§12.11): character set undocumented
        if name in cluster.pools:
            raise invalid("pool name is not available")  # as seen in the field (tf #925)
        if name in cluster.db_names and self.assumptions.refuse_pool_named_like_database:
            raise invalid("pool name is not available")
        if len(cluster.pools) >= MAX_POOLS and self.assumptions.refuse_pool_beyond_limit:
            raise invalid(f"cluster {cluster.name} already has the maximum of {MAX_POOLS} connection pools")
        mode, size, db, user = self._check_pool(cluster, name, body)
        pool = FakePool(name, mode, size, db, user, cluster)
        cluster.pools[name] = pool
        self._changed(cluster)
        return pool

    def update_connection_pool(self, database_cluster_uuid: str, pool_name: str, body: Mapping[str, Any]) -> None:
        cluster = self._get(database_cluster_uuid)
        pool = existing(cluster.pools.get(pool_name), "connection pool")
        mode, size, db, user = self._check_pool(cluster, pool_name, body)
        if mode != pool.mode and self.assumptions.refuse_mode_change:
            raise invalid(f"the mode of pool {pool_name} cannot be changed after creation ({pool.mode})")
        # A full replacement: a PUT without "user" turns the pool into an inbound-user pool (doctl #1553).
        pool.mode, pool.size, pool.db, pool.user = mode, size, db, user
        self._changed(cluster)

    def delete_connection_pool(self, database_cluster_uuid: str, pool_name: str) -> None:
        cluster = self._get(database_cluster_uuid)
        if cluster.pools.pop(pool_name, None) is None:
            raise not_found("connection pool")
        self._changed(cluster)

    def _changed(self, cluster: FakeCluster) -> None:
        for listener in self.listeners:
            listener(cluster)

    # -- resize and maintenance ------------------------------------------------------------------------
    def update_cluster_size(self, database_cluster_uuid: str, body: Mapping[str, Any]) -> None:
        cluster = self._get(database_cluster_uuid)
        size = _require(body, "size", str)
        num_nodes = _require(body, "num_nodes", int)
        storage = body.get("storage_size_mib")
        if storage is not None and (not isinstance(storage, int) or isinstance(storage, bool) or storage < 0):
            raise invalid("storage_size_mib must be a positive number")
        if cluster.under_maintenance:
            raise FakeAPIError(412, "cluster is undergoing maintenance")  # tf PR #1103
        if cluster.status != "online" and self.assumptions.refuse_busy_resize:
            raise invalid(f"cluster {cluster.name} is {cluster.status}; resize it once it is online")
        if not 1 <= num_nodes <= 3:
            raise invalid(f"num_nodes must be between 1 and 3; got {num_nodes}")
        if size not in layout_sizes(num_nodes):
            raise invalid(f"size {size} is not available with {num_nodes} node(s); see GET /v2/databases/options")
        old_ram, new_ram = ram_gib_from_slug(cluster.size), ram_gib_from_slug(size)
        if old_ram is not None and new_ram is not None and new_ram < old_ram:
            raise invalid("Database nodes cannot be resized to smaller sizes")  # ASSUMPTION: status
        if (size, num_nodes, storage) == (cluster.size, cluster.num_nodes, None):
            return  # ASSUMPTION: resizing to the current size is accepted and changes nothing
        cluster.resize_target = (size, num_nodes, storage)
        cluster.resize = Progression(
            [("online", self.lifecycle.resize_online_reads), ("resizing", self.lifecycle.resize_busy_reads)],
            "done",
            started=self.clock.now(),
            seconds_per_read=self.lifecycle.seconds_per_read,
        )

    def install_update(self, database_cluster_uuid: str) -> None:
        cluster = self._get(database_cluster_uuid)
        if cluster.status != "online":
            raise invalid(f"cluster {cluster.name} is {cluster.status}")  # ASSUMPTION (§12.8)
        if not cluster.maintenance_pending:
            return  # ASSUMPTION (§12.4): nothing pending answers 204 and does nothing
        cluster.update = Progression(
            [(self.assumptions.update_busy_status, self.lifecycle.update_busy_reads)],
            "done",
            started=self.clock.now(),
            seconds_per_read=self.lifecycle.seconds_per_read,
        )
        if self.assumptions.update_pending_clears == "start":
            cluster.maintenance_pending = False
            cluster.maintenance_description = []
        if self.assumptions.maintenance_event_logged == "start":
            self._log(cluster, "cluster_maintenance_perform")
        self._advance(cluster, spend_read=False)

    def update_maintenance_window(self, database_cluster_uuid: str, body: Mapping[str, Any]) -> None:
        cluster = self._get(database_cluster_uuid)
        cluster.maintenance_day = _require(body, "day", str).lower()
        cluster.maintenance_hour = _require(body, "hour", str)

    def get_ca(self, database_cluster_uuid: str) -> JsonDict:
        """``{"certificate": base64 of the PEM}`` (the OpenAPI ``ca`` response, inside its ``ca`` envelope)."""
        pem = self._get(database_cluster_uuid).ca_pem
        return {"certificate": base64.b64encode(pem.encode()).decode("ascii")}

    # -- storage autoscaling (read by Terraform's cluster resource and data source) ------------------------
    def get_autoscale(self, database_cluster_uuid: str) -> JsonDict:
        return {"storage": dict(self._get(database_cluster_uuid).autoscale_storage)}

    def update_autoscale(self, database_cluster_uuid: str, body: Mapping[str, Any]) -> None:
        cluster = self._get(database_cluster_uuid)
        storage = body.get("storage")
        if not isinstance(storage, dict) or not isinstance(storage.get("enabled"), bool):
            raise invalid("storage.enabled is required and must be a boolean")
        # The schema's ranges (database_storage_autoscale_params).
        for key, low, high in (("threshold_percent", 15, 95), ("increment_gib", 10, 500)):
            value = storage.get(key)
            whole = isinstance(value, int) and not isinstance(value, bool)
            if value is not None and not (whole and low <= value <= high):
                raise invalid(f"storage.{key} must be a whole number from {low} to {high}")
        cluster.autoscale_storage = {k: storage[k] for k in ("enabled", "threshold_percent", "increment_gib")
                                     if k in storage}

    # pydo's names for the dbs operations (defined last so ``list`` does not shadow the builtin above)
    list = list_dbs
    add = add_db


def _check_config(value: Any, schema: Mapping[str, Any], schemas: Mapping[str, Any], where: str) -> None:
    """422 unless ``value`` fits ``schema`` (the vendored spec's types, ranges, enums; unknown keys refused)."""
    if "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            raise invalid(f"{where} must be an object")
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key not in properties:
                raise invalid(f"{where}.{key} is not a known setting")
            _check_config(item, properties[key], schemas, f"{where}.{key}")
        return
    types: dict[str, type | tuple[type, ...]] = {
        "integer": int, "number": (int, float), "boolean": bool, "string": str, "array": list,
    }
    expected = types.get(str(kind))
    if expected is not None and (not isinstance(value, expected) or (kind != "boolean" and isinstance(value, bool))):
        raise invalid(f"{where} must be of type {kind}")
    if "enum" in schema and value not in schema["enum"]:
        raise invalid(f"{where} must be one of {schema['enum']}")
    if kind in ("integer", "number"):
        if "minimum" in schema and value < schema["minimum"]:
            raise invalid(f"{where} must be at least {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise invalid(f"{where} must be at most {schema['maximum']}")
