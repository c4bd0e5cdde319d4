"""Write connection strings to every target: the one writer ensure-pool, the fleet, fix and rewrite_secret use.

Each target runs independently: one failure does not stop the others, and its outcome carries the typed
exception. A value is never written without its password (``connection_string_for`` refuses), and no
exception that leaves here shows a password: each is handed to the run's redactor before any target runs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .._exceptions import ConfigError, CredentialsMissingError, DoPgpoolError, Param, PlanError
from .._models import Cluster, Connection, Pool
from .._redact import remember
from ..api._ports import DigitalOceanAPI
from ._app import AppsAPI, AppTarget
from ._base import SecretTarget, TargetOutcome, overall_action, validate_secret_name
from ._parse import Target, format_target
from ._simple import GitHubTarget, Redeploy
from ._spec import SecretsSpec

if TYPE_CHECKING:
    from ..api._github import GitHub

__all__ = ["connection_string_for", "write_pool_secrets", "write_secrets"]

logger = logging.getLogger(__name__)

_MISSING = (
    "DigitalOcean returned the {what} connection without a password: the API token lacks the "
    "`database:view_credentials` scope. Nothing was written (a password-less DATABASE_URL would break the app). "
    "Create a token with database:view_credentials (custom scopes) or full access, and run again."
)


def connection_string_for(source: Pool | Cluster | Connection, private: bool = False) -> str:
    """The URI exactly as DigitalOcean gives it (a pool: port 25061, the pool name as database, sslmode kept).

    ``private`` picks the VPC (``private_connection``) string. Raises CredentialsMissingError when the
    password is empty, and PlanError when there is no such connection at all.
    """
    if not isinstance(source, (Pool, Cluster, Connection)):
        raise ConfigError(f"connection_string_for needs a Pool, Cluster or Connection, not {type(source).__name__}")
    what = "pool" if isinstance(source, Pool) else "cluster" if isinstance(source, Cluster) else "database"
    if isinstance(source, Connection):
        conn: Connection | None = source
    else:
        conn = source.private_connection if private else source.connection
    kind = "private (VPC)" if private else "public"
    if conn is None:
        raise PlanError([
            f"the {what} has no {kind} connection in DigitalOcean's answer",
            *(("; ask without ", Param("private", True), " to use the public one") if private else ()),
        ])
    if not conn.password or not conn.uri or not _uri_has_password(conn.uri):
        raise CredentialsMissingError(_MISSING.format(what=f"{what}'s {kind}"))
    return conn.uri


def _uri_has_password(uri: str) -> bool:
    try:
        return bool(urlsplit(uri).password)
    except ValueError:
        return False


def _check_values(values: Mapping[str, str]) -> None:
    if not isinstance(values, Mapping):
        raise ConfigError(f"values must map secret names to connection strings, not {type(values).__name__}")
    for name, value in values.items():
        validate_secret_name(name)
        if not isinstance(value, str):
            raise ConfigError(f"the value of secret {name} must be a string (str), not {type(value).__name__}")
        try:
            parts = urlsplit(value)
        except ValueError:
            continue
        remember(parts.password)  # masked in every message, whatever a target's API echoes
        if parts.scheme.startswith("postgres") and not parts.password:
            raise CredentialsMissingError(_MISSING.format(what=f"{name}"))


def write_secrets(
    targets: Sequence[SecretTarget] | SecretsSpec,
    values: Mapping[str, str],
    *,
    dry_run: bool = False,
    github: GitHub | None = None,
    apps: AppsAPI | None = None,
    redeploy: Redeploy | None = None,
    cluster: str | None = None,
) -> list[TargetOutcome]:
    """Write ``values`` (secret name -> connection string) to each target; with ``dry_run`` only plan.

    ``targets`` is a ``SecretsSpec`` (its targets get ``{cluster}`` filled in with ``cluster``, its GitHub
    client and redeploy are used) or plain targets with ``github``/``redeploy`` given here. ``apps`` is
    bound to app: targets. Raises only for bad input (invalid names, a password-less value), before
    touching any target; every target's own failure is returned in its outcome.
    """
    if isinstance(targets, SecretsSpec):
        github, redeploy = targets.github, targets.redeploy
        targets = [format_target(t, cluster=cluster) if cluster else t for t in targets.targets]
    _check_values(values)  # remembers every password: the redactor masks it in any error's text
    outcomes: list[TargetOutcome] = []
    for target in targets:
        bound: SecretTarget = target
        if isinstance(target, GitHubTarget):
            bound = target.bind(github=github, redeploy=redeploy)
        elif isinstance(target, AppTarget):
            bound = target.bind(apps=apps)
        try:
            outcomes.append(_plan(bound, values) if dry_run else bound.apply(values))
        except DoPgpoolError as exc:
            logger.warning("secret target %s failed: %s", bound.label, exc)
            outcomes.append(TargetOutcome(bound.label, "failed", error=exc, dry_run=dry_run))
        except Exception as exc:  # one target's bug must not stop the targets after it
            logger.debug("secret target %s failed unexpectedly", bound.label, exc_info=True)
            error = DoPgpoolError(f"unexpected {type(exc).__name__}: {exc} (a do-pgpool bug: run with -vv for the "
                                  "traceback and report it)")  # fmt: skip
            outcomes.append(TargetOutcome(bound.label, "failed", error=error, dry_run=dry_run))
    return outcomes


def _plan(target: SecretTarget, values: Mapping[str, str]) -> TargetOutcome:
    changes = target.plan(values)
    action = overall_action([c.action for c in changes], mixed="update")
    detail = ""
    if isinstance(target, GitHubTarget) and target.redeploy is not None:
        detail = f"would dispatch workflow {target.redeploy.workflow_file} on {target.redeploy.ref}"
    return TargetOutcome(target.label, action, tuple((c.name, c.action) for c in changes), detail, dry_run=True,
                         changes=tuple(changes))  # fmt: skip


def write_pool_secrets(
    spec: SecretsSpec,
    gateway: DigitalOceanAPI,
    cluster_id: str,
    pool: Pool | None,
    *,
    cluster: Cluster | None = None,
    dry_run: bool = False,
) -> tuple[TargetOutcome, ...]:
    """The whole secrets job for one confirmed pool: its values, then ``write_secrets``. Never raises.

    ``pool`` None: a dry run that would create the pool (no connection string exists yet), every target
    planned as "unknown". The cluster is read only when a value or a ``{cluster}`` target needs it and
    ``cluster`` is not given. A value that cannot be made (no password) fails every target, writing nothing.
    """
    try:
        if cluster is None and spec.needs_cluster:
            cluster = gateway.get_cluster(cluster_id)
        name = cluster.name if cluster is not None else None
        if pool is None:
            names = tuple((n, "create") for n in spec.names)
            detail = "written once the pool is created (its connection string does not exist yet)"
            return tuple(TargetOutcome(t.label, "unknown", names, detail, dry_run=True)
                         for t in _formatted(spec, name))  # fmt: skip
        values = spec.values(gateway, cluster_id, pool, cluster)
    except DoPgpoolError as exc:  # no password (token scope, inbound-user pool), the cluster read failed
        return tuple(TargetOutcome(t.label, "failed", error=exc, dry_run=dry_run) for t in _formatted(spec, None))
    return tuple(write_secrets(spec, values, dry_run=dry_run, apps=gateway, cluster=name))


def _formatted(spec: SecretsSpec, cluster: str | None) -> list[Target]:
    return [format_target(t, cluster=cluster) if cluster else t for t in spec.targets]
