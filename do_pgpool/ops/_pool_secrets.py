"""A pool's secrets: where each cluster's connection strings go (``SecretsSpec``), written once its pool is confirmed.

Used by ``ensure-pool --secret`` on one cluster and by every cluster of a fleet (``_fleet.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .._exceptions import ConfigError, DoPgpoolError
from ..targets._secret_values import check_secret_user, inbound_needs_secret_user, secret_values

if TYPE_CHECKING:
    from ..api._gateway import DigitalOcean
    from ..api._github import GitHub
    from ..targets._base import TargetOutcome
    from ..targets._parse import Target
    from ..targets._simple import Redeploy
    from ._pool import EnsureResult

__all__ = ["SecretsSpec", "check_inbound_secrets", "cluster_secrets"]


@dataclass(frozen=True)
class SecretsSpec:
    """Where each cluster's connection strings go. Targets may hold ``{cluster}`` (the cluster's name)."""

    targets: tuple[Target, ...]
    name: str = "DATABASE_URL"
    #: also write the cluster's direct (port 25060) string under this name
    direct_name: str | None = None
    private: bool = False
    redeploy: Redeploy | None = None
    github: GitHub | None = field(default=None, repr=False, compare=False)
    #: the database user whose credentials go into an inbound-user pool's string (see ``_secret_values``)
    secret_user: str | None = None

    def __post_init__(self) -> None:
        check_secret_user(self.secret_user)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, self.direct_name) if self.direct_name else (self.name,)


def check_inbound_secrets(inbound_user: bool, secrets: SecretsSpec | None) -> None:
    """An inbound-user pool's connection has no credentials: its secrets need ``secret_user``. Refused up front."""
    if inbound_user and secrets is not None and secrets.targets and secrets.secret_user is None:
        raise ConfigError(inbound_needs_secret_user("an inbound-user pool"))


def cluster_secrets(
    gateway: DigitalOcean, result: EnsureResult, spec: SecretsSpec, *, dry_run: bool = False
) -> tuple[TargetOutcome, ...]:
    """Write (or plan) one cluster's secrets, only once its pool is confirmed. Never raises for a target."""
    from ..targets._base import TargetOutcome
    from ..targets._parse import format_target, has_placeholder
    from ..targets._write import write_secrets

    cluster = result.cluster
    if cluster is None and (spec.direct_name or any(has_placeholder(t.text) for t in spec.targets)):
        cluster = gateway.get_cluster(result.cluster_id)  # converged by uuid: read only when a value needs it
    targets = [format_target(t, cluster=cluster.name) for t in spec.targets] if cluster else list(spec.targets)
    if result.current is None:  # a dry run that would create the pool: no connection string exists yet
        names = tuple((name, "create") for name in spec.names)
        detail = "written once the pool is created (its connection string does not exist yet)"
        return tuple(TargetOutcome(t.label, "unknown", names, detail, dry_run=True) for t in targets)
    try:
        values = secret_values(gateway, result.cluster_id, result.current, name=spec.name, direct_name=spec.direct_name,
                               cluster=cluster, private=spec.private, secret_user=spec.secret_user)  # fmt: skip
        outcomes = write_secrets(
            targets, values, dry_run=dry_run, github=spec.github, apps=gateway, redeploy=spec.redeploy
        )
    except DoPgpoolError as exc:  # no password (token scope, inbound-user pool): nothing written
        return tuple(TargetOutcome(t.label, "failed", error=exc, dry_run=dry_run) for t in targets)
    return tuple(outcomes)
