"""``ensure-config``: the server-side settings that keep a cluster out of connection exhaustion.

DigitalOcean sets PostgreSQL and PgBouncer settings through ``GET/PATCH /v2/databases/{id}/config``
(``postgres_advanced_config``, with a nested ``pgbouncer`` object). This module:

- ``SETTINGS``: the keys it manages, with the types and ranges of DigitalOcean's schema (a test checks them
  against the vendored OpenAPI description); ``pgbouncer.*`` keys are dotted.
- ``PROFILES``: ``web``, a small opinionated default (see ``PROFILES`` for each value and why).
- ``parse_settings`` checks ``KEY=VALUE`` strings before anything is sent (``ConfigError``).
- ``plan_config(cluster, config, desired)`` is pure; ``prepare_config`` reads (cluster + config);
  ``apply_config`` sends exactly one PATCH with only the keys that change (none when converged);
  ``ensure_config`` does both.

``max_connections`` is reported, never written: changing it restarts the service and is a limited release.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .._changes import Action, Change, Plan, Result
from .._exceptions import ConfigError
from .._models import Cluster, JsonDict
from ..api._ports import DatabasesAPI

__all__ = [
    "PROFILES",
    "SETTINGS",
    "ConfigPlan",
    "ConfigResult",
    "Setting",
    "apply_config",
    "config_values",
    "ensure_config",
    "parse_settings",
    "plan_config",
    "prepare_config",
]

Value = int | bool


@dataclass(frozen=True)
class Setting:
    """One managed key: its type and range as DigitalOcean's schema declares them, and what it does."""

    key: str
    kind: type[int] | type[bool]
    minimum: int | None
    maximum: int | None
    unit: str
    meaning: str

    def check(self, value: Any) -> Value:
        """``value`` (a string from the command line, or a Python value) as this key's type, in range."""
        if isinstance(value, str):
            value = _from_text(self, value)
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ConfigError(f"{self.key} must be true or false, not {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{self.key} must be a whole number ({self.unit}), not {value!r}")
        if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
            raise ConfigError(
                f"{self.key}={value} is out of range: DigitalOcean accepts {self.minimum}..{self.maximum} "
                f"({self.unit}). Nothing was sent."
            )
        return value


def _from_text(setting: Setting, text: str) -> Value:
    if setting.kind is bool:
        lowered = text.strip().lower()
        if lowered in ("true", "on", "yes", "1"):
            return True
        if lowered in ("false", "off", "no", "0"):
            return False
        raise ConfigError(f"{setting.key} must be true or false, not {text!r}")
    try:
        return int(text.strip())
    except ValueError:
        raise ConfigError(f"{setting.key} must be a whole number ({setting.unit}), not {text!r}") from None


#: The keys ensure-config manages; types and ranges are DigitalOcean's (postgres_advanced_config).
SETTINGS: dict[str, Setting] = {s.key: s for s in (
    Setting("idle_in_transaction_session_timeout", int, 0, 604800000, "milliseconds, 0 = off",
            "ends sessions that sit inside an open transaction longer than this"),
    Setting("pgbouncer.server_idle_timeout", int, 0, 86400, "seconds, 0 = off",
            "PgBouncer closes server connections idle longer than this (PgBouncer's default: 600)"),
    Setting("pgbouncer.server_lifetime", int, 60, 86400, "seconds",
            "PgBouncer closes an unused server connection connected longer than this (default: 3600)"),
    Setting("pgbouncer.min_pool_size", int, 0, 10000, "connections",
            "server connections PgBouncer keeps open per pool even when idle (capped at the pool size)"),
    Setting("pgbouncer.server_reset_query_always", bool, None, None, "true/false",
            "run DISCARD ALL after every transaction, in every pool mode"),
)}  # fmt: skip

#: Reported, never written (a limited-release setting whose change restarts the service).
READ_ONLY = ("max_connections",)

#: ``web``: for web applications behind transaction pools. Each value, and why:
PROFILES: dict[str, dict[str, Value]] = {
    "web": {
        # A web request never needs a transaction open for a minute; one that is, leaked it (an exception
        # path without rollback) and holds a connection until the process dies. 60 s ends it.
        "idle_in_transaction_session_timeout": 60_000,
        # Give idle server connections back after 5 minutes instead of PgBouncer's 10, so a burst's
        # connections return to the budget sooner; short enough to matter, long enough not to churn.
        "pgbouncer.server_idle_timeout": 300,
        # Recycle server connections hourly (PgBouncer's own default, made explicit): bounds memory growth
        # of long-lived backends.
        "pgbouncer.server_lifetime": 3600,
        # Keep no warm connections pinned: an idle pool then holds no slots at all.
        "pgbouncer.min_pool_size": 0,
    },
}


def parse_settings(pairs: Iterable[str], *, profile: str | None = None) -> dict[str, Value]:
    """The desired settings: ``profile``'s values, then each ``KEY=VALUE`` (dotted ``pgbouncer.*`` keys) over
    them, every one checked against ``SETTINGS`` before anything is sent. Raises ``ConfigError``."""
    desired: dict[str, Value] = {}
    if profile is not None:
        if profile not in PROFILES:
            raise ConfigError(f"unknown profile {profile!r}: choose one of {', '.join(sorted(PROFILES))}")
        desired.update(PROFILES[profile])
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep:
            raise ConfigError(f"{pair!r} is not KEY=VALUE (e.g. pgbouncer.server_idle_timeout=300)")
        if key in READ_ONLY:
            raise ConfigError(f"{key} is reported, not set, by do-pgpool: changing it restarts the cluster and "
                              "is a limited release; use the DigitalOcean control panel")  # fmt: skip
        setting = SETTINGS.get(key)
        if setting is None:
            raise ConfigError(f"unknown setting {key!r}: do-pgpool sets {', '.join(SETTINGS)}")
        desired[key] = setting.check(text)
    for key, value in desired.items():  # a profile's values are checked too
        SETTINGS[key].check(value)
    return desired


def config_values(config: Mapping[str, Any]) -> dict[str, Any]:
    """The values that matter from a ``GET .../config`` body, dotted (``pgbouncer.server_idle_timeout``);
    keys the API did not return are absent (DigitalOcean's default applies)."""
    out: dict[str, Any] = {}
    bouncer = config.get("pgbouncer")
    for key in (*SETTINGS, *READ_ONLY):
        top, _, sub = key.partition(".")
        if sub:
            if isinstance(bouncer, Mapping) and sub in bouncer:
                out[key] = bouncer[sub]
        elif key in config:
            out[key] = config[key]
    return out


@dataclass(frozen=True)
class ConfigPlan(Plan):
    """One ``Change`` per key that differs (``before`` None: not set, DigitalOcean's default applies)."""

    cluster: Cluster
    current: dict[str, Any]
    desired: dict[str, Value]
    changes: tuple[Change[Any], ...]
    warnings: tuple[str, ...] = ()

    @property
    def max_connections(self) -> int | None:
        value = self.current.get("max_connections")
        return value if isinstance(value, int) else None

    def body(self) -> JsonDict:
        """The PATCH's ``config``: only the changed keys, ``pgbouncer.*`` nested under ``pgbouncer``."""
        out: JsonDict = {}
        for change in self.changes:
            top, _, sub = change.subject.partition(".")
            if sub:
                out.setdefault(top, {})[sub] = change.after
            else:
                out[top] = change.after
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster.name,
            "current": self.current,
            "desired": self.desired,
            "changes": [{"key": c.subject, "before": c.before, "after": c.after} for c in self.changes],
            "max_connections": self.max_connections,
        }


def plan_config(cluster: Cluster, config: Mapping[str, Any], desired: Mapping[str, Value]) -> ConfigPlan:
    """Pure: compare the ``GET .../config`` body with ``desired`` (checked values, dotted keys)."""
    current = config_values(config)
    changes = tuple(
        Change(Action.UPDATE, key, current.get(key), value, detail=f"{current.get(key, 'default')} -> {value}")
        for key, value in desired.items()
        if current.get(key) != value or type(current.get(key)) is not type(value)
    )
    return ConfigPlan(cluster, current, dict(desired), changes)


@dataclass(frozen=True)
class ConfigResult(Result):
    """What ``ensure_config`` did (``dry_run``: would do)."""

    action: Action
    plan: ConfigPlan
    requests: int
    dry_run: bool = False
    waited: bool = field(default=True)

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.outcome, **self.plan.as_dict(), "requests": self.requests}


def prepare_config(gateway: DatabasesAPI, desired: Mapping[str, Value], *, cluster: str | None = None) -> ConfigPlan:
    """Read the cluster and its config and plan. Nothing is written."""
    target = gateway.find_cluster(cluster)
    return plan_config(target, gateway.get_config(target.id), desired)


def apply_config(gateway: DatabasesAPI, plan: ConfigPlan, *, dry_run: bool = False) -> ConfigResult:
    """One PATCH with only the changed keys; nothing when converged or ``dry_run``."""
    start = gateway.request_count
    if plan and not dry_run:
        gateway.update_config(plan.cluster.id, plan.body())
    return ConfigResult(plan.action, plan, gateway.request_count - start, dry_run=dry_run and bool(plan))


def ensure_config(
    gateway: DatabasesAPI, desired: Mapping[str, Value], *, cluster: str | None = None, dry_run: bool = False
) -> ConfigResult:
    """Make the cluster's settings match ``desired`` (from ``parse_settings``): reads only when they already
    do, else exactly one ``PATCH`` carrying only the keys that differ."""
    start = gateway.request_count
    plan = prepare_config(gateway, desired, cluster=cluster)
    done = apply_config(gateway, plan, dry_run=dry_run)
    return replace(done, requests=gateway.request_count - start)
