"""``rewrite_secret``: write an existing pool's connection string to where the application reads it.

The whole ``rewrite-secret`` command's work: find the cluster and the pool, make the values, write each target
(``targets._write.write_secrets``). Nothing here prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._exceptions import ConfigError, DoPgpoolError, NotFoundError, Param, Part, Step
from .._jsonable import jsonable
from .._models import Cluster, Pool
from ..api._ports import DatabasesAPI, DigitalOceanAPI
from ..targets._base import printed_values
from ..targets._parse import check_targets
from ..targets._spec import SecretsSpec
from ..targets._write import write_secrets
from ._pool_plan import check_pool_name

if TYPE_CHECKING:
    from ..targets._base import TargetOutcome

__all__ = ["RewriteResult", "rewrite_secret"]


@dataclass(frozen=True)
class RewriteResult:
    """Each target's outcome (``ok`` False if any failed: re-run to finish, every target is idempotent)."""

    cluster: Cluster
    pool: Pool
    outcomes: tuple[TargetOutcome, ...]
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    @property
    def printed(self) -> dict[str, str]:
        """Values for the ``stdout`` target: the only place a password is ever returned."""
        return printed_values(self.outcomes)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, without any password (the stdout target's values are left to the caller)."""
        return {"cluster": jsonable(self.cluster, only=("id", "name")), "pool": self.pool.name,
                "secrets": [o.as_dict() for o in self.outcomes]}  # fmt: skip


def rewrite_secret(
    gateway: DigitalOceanAPI,
    secrets: SecretsSpec,
    *,
    cluster: str | None = None,
    pool: str | None = None,
    dry_run: bool = False,
) -> RewriteResult:
    """Write pool ``pool``'s connection string (None: the cluster's only pool) to every target of ``secrets``.

    ``cluster`` is a name or uuid (None: the account's only PostgreSQL cluster). Raises before any write for
    bad input (a ``dotenv:`` path that cannot be a .env file: before any request), an unknown cluster or
    pool, or a value without a password (``CredentialsMissingError``); each target's own failure is in its
    outcome (``result.ok`` False), the others are written all the same.
    """
    if not secrets.targets:
        raise ConfigError(["give at least one secret target, e.g. ", Param("secret", "github:OWNER/REPO")])
    if pool is not None:
        check_pool_name(pool)
    check_targets(secrets.targets)  # a dotenv: path that cannot be a .env file: refused before any request
    found = gateway.find_cluster(cluster)
    secrets.check_user(gateway, found)
    chosen = _find_pool(gateway, found.id, pool)
    values = secrets.values(gateway, found.id, chosen, found)
    outcomes = write_secrets(secrets, values, dry_run=dry_run, apps=gateway, cluster=found.name)
    return RewriteResult(found, chosen, tuple(outcomes), dry_run)


def _find_pool(gateway: DatabasesAPI, cluster_id: str, name: str | None) -> Pool:
    """Pool ``name`` of the cluster (None: its only pool). A pool that is not there: the error names the pools
    there are (NotFoundError for a named one, ConfigError when the choice is the user's to make)."""
    if name:
        try:
            return gateway.get_connection_pool(cluster_id, name)
        except NotFoundError as exc:
            try:
                pools = gateway.list_connection_pools(cluster_id)
            except DoPgpoolError:
                raise exc from None  # the 404 as it came: listing is only for a better message
            if any(p.name == name for p in pools):
                raise
            there = ", ".join(p.name for p in pools)
            hint: list[Part] = ([f"; its pools: {there}; name one with ", Param("pool", "NAME")] if pools else
                                ["; it has no pool yet: create one with ",
                                 Step("ensure_pool", (Param("name", name), Param("size", "N")))])  # fmt: skip
            raise NotFoundError([f"this cluster has no pool named {name!r}", *hint], status=exc.status,
                                error_id=exc.error_id, request_id=exc.request_id, method=exc.method,
                                path=exc.path) from None
    pools = gateway.list_connection_pools(cluster_id)
    if len(pools) == 1:
        return pools[0]
    if not pools:
        raise ConfigError(["this cluster has no connection pool yet: create one with ",
                           Step("ensure_pool", (Param("size", "N"),)), " (or ", Step("fix"), "), then run this again"])
    listed = ", ".join(p.name for p in pools)
    raise ConfigError([f"this cluster has {len(pools)} pools ({listed}): say which with ", Param("pool", "NAME")])
