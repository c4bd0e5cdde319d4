"""``app:APP`` / ``app:APP/COMPONENT``: an App Platform environment variable, set through the whole app spec.

The API has one write: ``PUT /v2/apps/{id}`` with the complete spec, and every such update starts a
deployment. So:

- the spec is read, deep-copied, and only our entries change; every other value, in particular the
  ``EV[...]`` ciphertexts of other secrets, goes back exactly as received;
- our variable is ``type: SECRET`` (its existing ``scope`` is kept, ``RUN_TIME`` when new);
- "unchanged" must be known *without* the plaintext, because a SECRET comes back as ``EV[...]``. Next to
  each variable we keep a GENERAL variable ``DO_PGPOOL_<NAME>_SHA256`` holding a fingerprint of the value we
  wrote: ``v1:`` + the first 32 hex digits of SHA-256 over (app id, name, value). When the variable is still
  a SECRET and the fingerprint matches, nothing is sent and no deployment starts. See docs/secret-targets.md for why
  the fingerprint does not leak the password, and for its one blind spot (a hand edit of the secret that
  leaves the fingerprint in place).
- ``app:APP`` sets the app-level variable (``spec.envs``, available to all components) *and* updates any
  component that defines the same name, because which one wins is not documented; ``app:APP/COMPONENT``
  sets only that component's variable.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .._exceptions import (
    ConfigError,
    DoPgpoolError,
    InvalidResponseError,
    ServerError,
    TransportError,
)
from ..api._apps import find_app as _find_app
from ..api._ports import AppsAPI
from ._base import PlanAction, SecretChange, TargetOutcome, overall_action, summarize_value

__all__ = ["COMPONENT_KINDS", "AppTarget", "AppsAPI", "EnvEdit", "edit_app_spec", "find_app", "fingerprint"]

JsonDict = dict[str, Any]

#: spec keys holding components that can carry envs (singular names for messages)
COMPONENT_KINDS = {"services": "service", "workers": "worker", "jobs": "job", "static_sites": "static site",
                   "functions": "functions"}
FINGERPRINT_VERSION = "v1"


def fingerprint(app_id: str, name: str, value: str) -> str:
    """``v1:<32 hex>``: SHA-256 over app id, name and value (NUL-separated), truncated to 128 bits.

    The app id salts it: the same connection string in two apps gives unrelated fingerprints.
    """
    digest = hashlib.sha256("\0".join(("do-pgpool", FINGERPRINT_VERSION, app_id, name, value)).encode()).hexdigest()
    return f"{FINGERPRINT_VERSION}:{digest[:32]}"


def fingerprint_key(name: str) -> str:
    return f"DO_PGPOOL_{name}_SHA256"


def find_app(api: AppsAPI, ref: str) -> JsonDict:
    """The app for an id or a spec name, read fresh (its spec is PUT back): ``api._apps.find_app``."""
    hint = ". Use app:NAME or app:APP_ID (a token with app:read and app:update scopes)."
    return _find_app(api, ref, hint=hint, id_form="app:APP_ID")


def _component(spec: JsonDict, name: str) -> JsonDict:
    found: list[JsonDict] = []
    available: list[str] = []
    for kind, singular in COMPONENT_KINDS.items():
        for comp in spec.get(kind) or []:
            available.append(f"{singular} {comp.get('name')}")
            if comp.get("name") == name:
                found.append(comp)
    if len(found) != 1:
        listed = ", ".join(available) or "none that take environment variables"
        what = "no component" if not found else "several components"
        raise ConfigError(f"app {spec.get('name')!r} has {what} named {name!r}; its components: {listed}")
    return found[0]


@dataclass(frozen=True)
class EnvEdit:
    """The result of editing a spec: the new spec and, per name, what changes and where."""

    spec: JsonDict = field(repr=False)
    actions: Mapping[str, PlanAction]
    places: Mapping[str, tuple[str, ...]]  # name -> ("app", "service web", ...)
    reasons: Mapping[str, str]

    @property
    def changed(self) -> bool:
        return any(a != "unchanged" for a in self.actions.values())


def _set_in(envs: list[JsonDict], name: str, value: str, fp: str) -> tuple[PlanAction, str]:
    """Set ``name`` (SECRET) and its fingerprint (GENERAL) in one envs list, in place."""
    fkey = fingerprint_key(name)
    ours = [e for e in envs if e.get("key") == name]
    marks = [e for e in envs if e.get("key") == fkey]
    if ours and all(e.get("type") == "SECRET" for e in ours) and marks and all(m.get("value") == fp for m in marks):
        if all(str(e.get("value", "")).startswith("EV[") or e.get("value") == value for e in ours):
            return "unchanged", "fingerprint matches"
    if not ours:
        envs.append({"key": name, "value": value, "scope": "RUN_TIME", "type": "SECRET"})
        action: PlanAction = "create"
        reason = "new variable"
    else:
        action = "update"
        if any(e.get("type") != "SECRET" for e in ours):
            reason = "stored as plain text; will be stored as SECRET"
        elif not marks:
            reason = f"no {fkey} fingerprint, so the encrypted value cannot be compared"
        else:
            reason = "fingerprint differs"
        for e in ours:
            e["value"] = value
            e["type"] = "SECRET"
            e.setdefault("scope", "RUN_TIME")
    if marks:
        for m in marks:
            m["value"] = fp
            m["type"] = "GENERAL"
    else:
        scope = ours[0].get("scope", "RUN_TIME") if ours else "RUN_TIME"
        envs.append({"key": fkey, "value": fp, "scope": scope, "type": "GENERAL"})
    return action, reason


def edit_app_spec(spec: JsonDict, app_id: str, component: str | None, values: Mapping[str, str]) -> EnvEdit:
    """Pure: a deep copy of ``spec`` with ``values`` set as SECRET variables; everything else untouched."""
    new = copy.deepcopy(spec)
    places: list[tuple[str, list[JsonDict]]] = []
    if component is not None:
        comp = _component(new, component)
        places.append((f"component {component}", comp.setdefault("envs", [])))
    else:
        places.append(("app", new.setdefault("envs", [])))
    order: dict[str, int] = {"unchanged": 0, "update": 1, "create": 2}
    actions: dict[str, PlanAction] = {}
    where: dict[str, list[str]] = {}
    reasons: dict[str, str] = {}
    for name, value in values.items():
        fp = fingerprint(app_id, name, value)
        lists = list(places)
        if component is None:
            # Components that define the same name too: which definition wins is undocumented, so set both.
            for kind, singular in COMPONENT_KINDS.items():
                for comp in new.get(kind) or []:
                    if any(e.get("key") == name for e in comp.get("envs") or []):
                        lists.append((f"{singular} {comp.get('name')}", comp["envs"]))
        for place, envs in lists:
            action, reason = _set_in(envs, name, value, fp)
            where.setdefault(name, []).append(place)
            if name not in actions or order[action] > order[actions[name]]:
                actions[name] = action
                reasons[name] = reason
    return EnvEdit(
        spec=new, actions=actions, places={k: tuple(v) for k, v in where.items()}, reasons=reasons
    )


@dataclass(frozen=True)
class AppTarget:
    """``app:APP`` (app-level variable) or ``app:APP/COMPONENT`` (that component's variable)."""

    app: str
    component: str | None = None
    text: str = field(default="", compare=False)
    client: AppsAPI | None = field(default=None, repr=False, compare=False)
    kind: str = field(default="app", init=False)

    @property
    def label(self) -> str:
        return f"app:{self.app}/{self.component}" if self.component else f"app:{self.app}"

    def describe(self) -> str:
        where = f"component {self.component!r}" if self.component else "app level"
        return f"App Platform app {self.app!r}, {where} (SECRET env var; an update starts a deployment)"

    def bind(self, *, apps: AppsAPI | None = None) -> AppTarget:
        return replace(self, client=apps or self.client)

    def _edit(self, values: Mapping[str, str]) -> tuple[AppsAPI, JsonDict, EnvEdit]:
        if self.client is None:
            raise ConfigError(f"{self.label}: no DigitalOcean client for App Platform")
        app = find_app(self.client, self.app)
        spec = app.get("spec")
        if not isinstance(spec, dict):
            raise DoPgpoolError(f"{self.label}: the app object has no spec; nothing was changed")
        return self.client, app, edit_app_spec(spec, str(app["id"]), self.component, values)

    def plan(self, values: Mapping[str, str]) -> list[SecretChange]:
        _, _, edit = self._edit(values)
        out = []
        for name, value in values.items():
            action = edit.actions[name]
            places = ", ".join(edit.places[name])
            detail = f"{edit.reasons[name]}; in {places}"
            if action != "unchanged":
                detail += "; starts a deployment"
            out.append(SecretChange(self.label, name, action, detail, summarize_value(value)))
        return out

    def apply(self, values: Mapping[str, str]) -> TargetOutcome:
        api, app, edit = self._edit(values)
        done = {"create": "created", "update": "updated", "unchanged": "unchanged"}
        names = tuple((n, done[edit.actions[n]]) for n in values)
        action = overall_action([a for _, a in names], mixed="updated")
        if not edit.changed:
            return TargetOutcome(self.label, action, names, "fingerprints match; no deployment started")
        updated, note = _put_reconciled(api, str(app["id"]), self.component, values, edit.spec)
        deployment = (updated.get("pending_deployment") or {}).get("id")
        if deployment:
            detail = f"deployment {deployment} started"
        else:
            detail = "spec updated; DigitalOcean reported no pending deployment"
        if note:
            detail += f"; {note}"
        extra = sorted({p for n in values for p in edit.places[n] if p != "app" and self.component is None})
        if extra:
            detail += f"; also set in {', '.join(extra)} (they define the same name)"
        return TargetOutcome(self.label, action, names, detail, deployment_id=str(deployment) if deployment else None)


#: PUTs per apply at most: the first, and one more after a re-read showed the first was not applied
_MAX_PUTS = 2


def _put_reconciled(
    api: AppsAPI, app_id: str, component: str | None, values: Mapping[str, str], spec: JsonDict
) -> tuple[JsonDict, str | None]:
    """PUT the spec; after an ambiguous failure, read the app before deciding (never PUT again blindly).

    Every PUT starts a deployment, and DigitalOcean may apply one and still answer 5xx or drop the connection:
    sent again, it would start a second deployment. So after such a failure the app is read again; if our
    values are there (the fingerprints match) the update is done, otherwise the spec is rebuilt from what was
    read and sent once more. Returns the app as last seen and a note when a failure was reconciled.
    """
    for attempt in range(1, _MAX_PUTS + 1):
        try:
            return api.update_app(app_id, spec), None if attempt == 1 else "sent again after a failed update"
        except (ServerError, TransportError) as exc:
            if isinstance(exc, InvalidResponseError):
                raise
            failure = exc
        try:
            app = api.get_app(app_id)
            current = app.get("spec")
            if not isinstance(current, dict):
                raise failure
            again = edit_app_spec(current, app_id, component, values)
        except DoPgpoolError:
            raise failure.with_state_left("unknown (the app could not be read back)",
                                          "; re-run to check and finish.") from failure  # fmt: skip
        if not again.changed:
            return app, f"the update answered {_short(failure)} but was applied (no second deployment)"
        spec = again.spec
    raise failure.with_state_left("the app was not changed (read back after each failure)", "; re-run to retry.")


def _short(exc: DoPgpoolError) -> str:
    status = getattr(exc, "status", None)
    return str(status) if status else type(exc).__name__
