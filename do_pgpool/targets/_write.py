"""Write connection strings to every target: the function the CLI and ensure_pool call.

Each target runs independently: one failure does not stop the others, and its outcome carries the typed
exception. A value is never written without its password (``connection_string_for`` refuses), and no
exception that leaves here contains a value or a password.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

from .._exceptions import ConfigError, CredentialsMissingError, DoPgpoolError, Param, PlanError
from .._models import Cluster, Connection, Pool
from .._redact import remember
from ._app import AppsAPI, AppTarget
from ._base import SecretTarget, TargetOutcome, overall_action, validate_secret_name
from ._simple import GitHubTarget, Redeploy

if TYPE_CHECKING:
    from ..api._github import GitHub

__all__ = ["connection_string_for", "write_secrets"]

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


def _scrub(exc: DoPgpoolError, values: Mapping[str, str]) -> DoPgpoolError:
    """Remove any value or password that an error message might echo (an API repeating our request)."""
    secrets: set[str] = set()
    for value in values.values():
        secrets.add(value)
        try:
            pw = urlsplit(value).password
        except ValueError:
            pw = None
        if pw:
            secrets.update({pw, unquote(pw), quote(pw, safe="")})
    secrets.discard("")

    def clean(text: str) -> str:
        for s in sorted(secrets, key=len, reverse=True):
            text = text.replace(s, "***")
        return text

    exc.message = clean(exc.message)
    exc.args = tuple(clean(a) if isinstance(a, str) else a for a in exc.args)
    for attr in ("api_message",):
        current = getattr(exc, attr, None)
        if isinstance(current, str):
            setattr(exc, attr, clean(current))
    return exc


def write_secrets(
    targets: Sequence[SecretTarget],
    values: Mapping[str, str],
    *,
    dry_run: bool = False,
    github: GitHub | None = None,
    apps: AppsAPI | None = None,
    redeploy: Redeploy | None = None,
) -> list[TargetOutcome]:
    """Write ``values`` (secret name -> connection string) to each target; with ``dry_run`` only plan.

    ``github``/``apps`` are bound to targets that need them; ``redeploy`` dispatches a workflow after each
    GitHub target is written. Raises only for bad input (invalid names, a password-less value), before
    touching any target; every target's own failure is returned in its outcome.
    """
    _check_values(values)
    outcomes: list[TargetOutcome] = []
    for target in targets:
        bound: SecretTarget = target
        if isinstance(target, GitHubTarget):
            bound = target.bind(github=github, redeploy=redeploy)
        elif isinstance(target, AppTarget):
            bound = target.bind(apps=apps)
        try:
            if dry_run:
                changes = bound.plan(values)
                action = overall_action([c.action for c in changes], mixed="update")
                detail = ""
                if isinstance(bound, GitHubTarget) and bound.redeploy is not None:
                    detail = f"would dispatch workflow {bound.redeploy.workflow_file} on {bound.redeploy.ref}"
                outcomes.append(
                    TargetOutcome(bound.label, action, tuple((c.name, c.action) for c in changes), detail,
                                  dry_run=True, changes=tuple(changes))
                )
            else:
                outcome = bound.apply(values)
                if outcome.error is not None:
                    _scrub(outcome.error, values)
                outcomes.append(outcome)
        except DoPgpoolError as exc:
            _scrub(exc, values)
            logger.warning("secret target %s failed: %s", bound.label, exc)
            outcomes.append(TargetOutcome(bound.label, "failed", error=exc, dry_run=dry_run))
        except Exception as exc:  # one target's bug must not stop the targets after it
            logger.debug("secret target %s failed unexpectedly", bound.label, exc_info=True)
            error = _scrub(DoPgpoolError(f"unexpected {type(exc).__name__}: {exc} (a do-pgpool bug: run with -vv for "
                                         "the traceback and report it)"), values)
            outcomes.append(TargetOutcome(bound.label, "failed", error=error, dry_run=dry_run))
    return outcomes
