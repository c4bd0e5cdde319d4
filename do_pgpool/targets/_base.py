"""What every secret target shares: the plan/outcome types, the protocol, name checks and value summaries.

A target never holds, returns or describes a value, except the ``stdout`` target's ``output`` (which the CLI
prints, and which is left out of ``repr`` and ``as_dict``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

from .._dburl import mask_url
from .._exceptions import ConfigError, DoPgpoolError

__all__ = [
    "PlanAction",
    "SecretChange",
    "SecretTarget",
    "TargetOutcome",
    "overall_action",
    "printed_values",
    "rerun_advice",
    "summarize_value",
    "validate_secret_name",
]

#: create / update: knowable from the target; unchanged: nothing would be written; unknown: the target
#: cannot tell (GitHub never returns secret values, stdout always prints).
PlanAction = Literal["create", "update", "unchanged", "unknown"]
#: what ``apply`` did per secret name; "written" when the target cannot tell created from updated
DoneAction = Literal["created", "updated", "unchanged", "written", "printed"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SYMBOL = {"create": "+", "update": "~", "unchanged": "=", "unknown": "?"}


def validate_secret_name(name: str) -> str:
    """A name every target accepts: letters, digits and underscores, not starting with a digit."""
    if not isinstance(name, str):
        raise ConfigError(f"a secret name must be a string (str), not {type(name).__name__}")
    if not _NAME.match(name):
        raise ConfigError(
            f"secret name {name!r} is not valid: use letters, digits and underscores, not starting with a digit, "
            "e.g. DATABASE_URL"
        )
    if name.upper().startswith("GITHUB_"):
        raise ConfigError(f"secret name {name!r} is not valid: GitHub reserves names starting with GITHUB_")
    return name


def summarize_value(value: str) -> str:
    """A connection string without its password (host/port/db/user stay), or just its length."""
    try:
        parts = urlsplit(value)
        if parts.scheme and parts.hostname:
            return mask_url(value)
    except ValueError:
        pass
    return f"<{len(value)} characters>"


@dataclass(frozen=True)
class SecretChange:
    """One secret name at one target, as planned. Carries no value."""

    target: str
    name: str
    action: PlanAction
    detail: str = ""
    #: the value with its password masked (summarize_value)
    shown: str = ""

    def describe(self) -> str:
        detail = f" ({self.detail})" if self.detail else ""
        shown = f" = {self.shown}" if self.shown else ""
        return f"{_SYMBOL[self.action]} {self.target}: {self.name}{shown}: {self.action}{detail}"

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "name": self.name, "action": self.action, "detail": self.detail,
                "value": self.shown}


@dataclass(frozen=True)
class TargetOutcome:
    """What one target did (or, with ``dry_run``, would do). ``error`` is the typed exception if it failed."""

    target: str
    action: str  # created | updated | unchanged | written | printed | failed; plan actions when dry_run
    names: tuple[tuple[str, str], ...] = ()  # (secret name, action) in the order written
    detail: str = ""
    error: DoPgpoolError | None = None
    dry_run: bool = False
    deployment_id: str | None = None
    changes: tuple[SecretChange, ...] = ()
    #: stdout target only: name -> value, for the CLI to print. Never in repr or as_dict.
    output: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    def describe(self) -> str:
        names = ", ".join(f"{n} {a}" for n, a in self.names)
        text = f"{self.target}: {self.action}"
        if names:
            text += f" ({names})"
        if self.detail:
            text += f"; {self.detail}"
        if self.error is not None:
            text += f"; error: {self.error}"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "action": self.action,
            "ok": self.ok,
            "dry_run": self.dry_run,
            "names": {n: a for n, a in self.names},
            "detail": self.detail,
            "deployment_id": self.deployment_id,
            "error": str(self.error) if self.error is not None else None,
            "error_type": type(self.error).__name__ if self.error is not None else None,
        }


@runtime_checkable
class SecretTarget(Protocol):
    """One place a secret can be written. ``values`` maps secret names to connection strings."""

    @property
    def kind(self) -> str: ...

    @property
    def label(self) -> str: ...

    def describe(self) -> str: ...

    def plan(self, values: Mapping[str, str]) -> list[SecretChange]: ...

    def apply(self, values: Mapping[str, str]) -> TargetOutcome: ...


def printed_values(outcomes: Iterable[TargetOutcome]) -> dict[str, str]:
    """secret name -> value from the ``stdout`` targets' outcomes: the only values ever handed back."""
    return {name: value for o in outcomes for name, value in o.output.items()}


def rerun_advice(outcomes: list[TargetOutcome]) -> str:
    """What to tell a user whose targets failed: a plain re-run only helps when every failure was transient."""
    from .._exceptions import InvalidResponseError, RateLimitedError, ServerError, TransportError

    failed = [o.error for o in outcomes if o.error is not None]
    transient = all(
        isinstance(e, (ServerError, TransportError, RateLimitedError)) and not isinstance(e, InvalidResponseError)
        for e in failed
    )
    if transient:
        return "re-run to finish (every target is idempotent)"
    return "fix what each error names, then re-run (every target is idempotent; a plain re-run would fail the same way)"


def overall_action(actions: list[str], *, mixed: str) -> str:
    """One word for a target: the common action, ignoring "unchanged" names; ``mixed`` when they differ."""
    distinct = list(dict.fromkeys(actions))
    if len(distinct) == 1:
        return distinct[0]
    changed = [a for a in distinct if a != "unchanged"]
    if len(changed) == 1:
        return changed[0]
    return mixed
