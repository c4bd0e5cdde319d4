"""The faces of the DigitalOcean gateway that the layers above depend on; ``DigitalOcean`` provides them all.

Deliberately few: ``DatabasesAPI`` (clusters, pools, users, events) and ``AppsAPI`` (App Platform), both
``Counted`` (requests sent, for results that report them), and ``DigitalOceanAPI``, the two together (writing a
pool's secrets reads a database user and edits apps). A module above api/ takes one of these (or the
concrete ``DigitalOcean``) rather than declaring its own slice of the gateway; a test double implements the face
it needs. ``RequestLimiter`` (in ``_gateway``) and the targets' ``SecretTarget`` are plug points, not faces.
"""

from __future__ import annotations

from typing import Protocol

from .._models import Cluster, ClusterEvent, JsonDict, Pool, PoolSpec

__all__ = ["AppsAPI", "Counted", "DatabasesAPI", "DigitalOceanAPI"]


class Counted(Protocol):
    @property
    def request_count(self) -> int:
        """HTTP requests sent so far (retries included)."""
        ...


class DatabasesAPI(Counted, Protocol):
    def list_clusters(self, *, tag_name: str | None = None) -> list[Cluster]: ...

    def get_cluster(self, cluster_id: str) -> Cluster: ...

    def find_cluster(self, name_or_id: str | None) -> Cluster: ...

    def list_options(self) -> JsonDict: ...

    def list_users(self, cluster_id: str) -> list[JsonDict]: ...

    def get_ca(self, cluster_id: str) -> str: ...

    def get_user(self, cluster_id: str, name: str) -> JsonDict: ...

    def update_cluster_size(
        self, cluster_id: str, *, size: str, num_nodes: int, storage_size_mib: int | None = None
    ) -> None: ...

    def install_update(self, cluster_id: str) -> None: ...

    def get_config(self, cluster_id: str) -> JsonDict: ...

    def update_config(self, cluster_id: str, config: JsonDict) -> None: ...

    def list_events(self, cluster_id: str) -> list[ClusterEvent]: ...

    def list_connection_pools(self, cluster_id: str) -> list[Pool]: ...

    def get_connection_pool(self, cluster_id: str, name: str) -> Pool: ...

    def add_connection_pool(self, cluster_id: str, spec: PoolSpec) -> Pool: ...

    def update_connection_pool(self, cluster_id: str, spec: PoolSpec) -> None: ...

    def delete_connection_pool(self, cluster_id: str, name: str) -> None: ...


class AppsAPI(Counted, Protocol):
    def list_apps(self) -> list[JsonDict]: ...

    def get_app(self, app_id: str) -> JsonDict: ...

    def update_app(self, app_id: str, spec: JsonDict) -> JsonDict: ...

    def get_deployment(self, app_id: str, deployment_id: str) -> JsonDict: ...

    def restart_app(self, app_id: str, components: list[str] | None = None) -> JsonDict: ...


class DigitalOceanAPI(DatabasesAPI, AppsAPI, Protocol):
    """Both faces: what an operation that reads databases and writes App Platform secrets takes."""
