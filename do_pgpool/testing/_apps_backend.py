"""App Platform in memory: apps with app- and component-level envs, SECRET values, deployments.

A SECRET sent in plain text is stored as a new ``EV[1:...:...]`` string (DigitalOcean encrypts on first
submission); an ``EV[...]`` value sent back unchanged stays exactly the same. Every update and every restart
starts a deployment that moves ``PENDING_DEPLOY`` -> ``DEPLOYING`` -> ``ACTIVE`` over reads (or virtual time).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._clock import FakeClock, Progression, iso
from ._errors import existing, invalid, not_found
from ._ids import Ids, LifecycleOptions

__all__ = ["AppsBackend", "FakeApp", "FakeDeployment"]

JsonDict = dict[str, Any]
COMPONENT_KINDS = ("services", "workers", "jobs", "static_sites", "functions")
TERMINAL_PHASES = frozenset({"ACTIVE", "SUPERSEDED", "ERROR", "CANCELED"})
_APP_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
_ENV_KEY = re.compile(r"^[_A-Za-z][_A-Za-z0-9]*$")


@dataclass
class FakeDeployment:
    id: str
    cause: str
    created_at: str
    spec: JsonDict = field(repr=False)
    progression: Progression = field(repr=False)
    phase: str = "PENDING_DEPLOY"
    updated_at: str = ""

    def to_api(self, view_credentials: bool = True) -> JsonDict:
        return {
            "id": self.id,
            "cause": self.cause,
            "phase": self.phase,
            "created_at": self.created_at,
            "updated_at": self.updated_at or self.created_at,
            "phase_last_updated_at": self.updated_at or self.created_at,
            "spec": copy.deepcopy(self.spec),
        }


@dataclass
class FakeApp:
    id: str
    spec: JsonDict = field(repr=False)
    created_at: str
    updated_at: str
    deployments: dict[str, FakeDeployment] = field(default_factory=dict, repr=False)
    active_deployment_id: str | None = None

    @property
    def name(self) -> str:
        return str(self.spec.get("name", ""))

    @property
    def pending_deployment(self) -> FakeDeployment | None:
        return next((d for d in reversed(self.deployments.values()) if d.phase not in TERMINAL_PHASES), None)

    def to_api(self, view_credentials: bool = True) -> JsonDict:
        out: JsonDict = {
            "id": self.id,
            "spec": copy.deepcopy(self.spec),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "default_ingress": f"https://{self.name}-{self.id[:5]}.ondigitalocean.app",
            "live_url": f"https://{self.name}-{self.id[:5]}.ondigitalocean.app",
        }
        if self.deployments:
            out["last_deployment_created_at"] = list(self.deployments.values())[-1].created_at
        if self.active_deployment_id:
            out["active_deployment"] = self.deployments[self.active_deployment_id].to_api()
        pending = self.pending_deployment
        if pending is not None:
            out["pending_deployment"] = pending.to_api()
            out["in_progress_deployment"] = pending.to_api()
        return out


def iter_envs(spec: Mapping[str, Any], component: str | None = None) -> Iterator[tuple[str | None, JsonDict]]:
    """(component name or None for app level, env entry) for every env var in a spec."""
    if component is None:
        for env in spec.get("envs") or ():
            yield None, env
    for kind in COMPONENT_KINDS:
        for comp in spec.get(kind) or ():
            if component is None or comp.get("name") == component:
                for env in comp.get("envs") or ():
                    yield comp.get("name"), env


def _page(items: list[Any], key: str, query: Mapping[str, str], base: str) -> JsonDict:
    try:
        page = max(int(query.get("page", 1)), 1)
        per_page = min(max(int(query.get("per_page", 20)), 1), 200)
    except ValueError as exc:
        raise invalid("page and per_page must be numbers") from exc
    start = (page - 1) * per_page
    pages: JsonDict = {}
    if start + per_page < len(items):
        pages["next"] = f"https://api.digitalocean.com{base}?page={page + 1}&per_page={per_page}"
        pages["last"] = f"https://api.digitalocean.com{base}?page={-(-len(items) // per_page)}&per_page={per_page}"
    if page > 1:
        pages["prev"] = f"https://api.digitalocean.com{base}?page={page - 1}&per_page={per_page}"
        pages["first"] = f"https://api.digitalocean.com{base}?page=1&per_page={per_page}"
    return {key: items[start : start + per_page], "links": {"pages": pages}, "meta": {"total": len(items)}}


class AppsBackend:
    def __init__(self, clock: FakeClock, ids: Ids, lifecycle: LifecycleOptions) -> None:
        self.clock = clock
        self.ids = ids
        self.lifecycle = lifecycle
        self.apps: dict[str, FakeApp] = {}
        #: every EV[...] string the fake issued -> the plaintext it stands for
        self.encrypted: dict[str, str] = {}

    # -- seeding and inspection ------------------------------------------------------------------------
    def create_app(self, spec: Mapping[str, Any]) -> FakeApp:
        spec = self._checked_spec({"spec": spec})
        now = iso(self.clock.now())
        app = FakeApp(id=self.ids.uuid("app", str(spec["name"])), spec=spec, created_at=now, updated_at=now)
        self.apps[app.id] = app
        deployment = self._deploy(app, "initial deployment")
        deployment.phase = "ACTIVE"
        app.active_deployment_id = deployment.id
        return app

    def app(self, ref: FakeApp | str) -> FakeApp:
        """An app by object, id or spec name (404 when unknown)."""
        if isinstance(ref, FakeApp):
            return ref
        found = self.apps.get(ref) or next((a for a in self.apps.values() if a.name == ref), None)
        if found is None:
            raise not_found("app")
        return found

    def env_value(self, app: FakeApp | str, key: str, component: str | None = None) -> str | None:
        """The plaintext of an env var (SECRETs decrypted), app level unless ``component`` is given."""
        for comp, env in iter_envs(self.app(app).spec, component):
            if env.get("key") == key and (component is None) == (comp is None):
                value = env.get("value")
                return self.encrypted.get(value, value) if isinstance(value, str) else None
        return None

    def encrypt(self, plaintext: str) -> str:
        n = self.ids.next("ev")
        nonce = hashlib.sha256(f"nonce:{n}".encode()).digest()[:24]
        sealed = hashlib.sha256(nonce + plaintext.encode()).digest()
        ev = f"EV[1:{base64.b64encode(nonce).decode()}:{base64.b64encode(sealed).decode()}]"
        self.encrypted[ev] = plaintext
        return ev

    # -- rules ---------------------------------------------------------------------------------------------
    def _checked_spec(self, body: Mapping[str, Any]) -> JsonDict:
        spec = body.get("spec")
        if not isinstance(spec, dict):
            raise invalid("spec is required")
        spec = copy.deepcopy(spec)
        name = spec.get("name")
        if not isinstance(name, str) or not _APP_NAME.match(name):
            raise invalid(f"spec.name must match {_APP_NAME.pattern}; got {name!r}")
        for _comp, env in iter_envs(spec):
            key = env.get("key")
            if not isinstance(key, str) or not _ENV_KEY.match(key):
                raise invalid(f"env key {key!r} must match {_ENV_KEY.pattern}")
            value = env.get("value")
            if env.get("type") != "SECRET" or not isinstance(value, str) or not value:
                continue
            if value.startswith("EV["):
                if value not in self.encrypted:
                    # ASSUMPTION: an encrypted value DigitalOcean never issued is refused.
                    raise invalid(f"env {key}: the encrypted value was not issued for this account")
            else:
                env["value"] = self.encrypt(value)
        return spec

    def _deploy(self, app: FakeApp, cause: str) -> FakeDeployment:
        now = self.clock.now()
        for old in app.deployments.values():
            if old.phase not in TERMINAL_PHASES:
                old.phase, old.updated_at = "SUPERSEDED", iso(now)  # ASSUMPTION: a newer deployment wins
        deployment = FakeDeployment(
            id=self.ids.uuid("deployment", app.id),
            cause=cause,
            created_at=iso(now),
            spec=copy.deepcopy(app.spec),
            progression=Progression(
                [("PENDING_DEPLOY", self.lifecycle.deploy_pending_reads),
                 ("DEPLOYING", self.lifecycle.deploy_running_reads)],
                "ACTIVE",
                started=now,
                seconds_per_read=self.lifecycle.seconds_per_read,
            ),
        )
        deployment.phase = deployment.progression.current(now)
        app.deployments[deployment.id] = deployment
        self._settle(app, deployment)
        return deployment

    def _advance(self, app: FakeApp, deployment: FakeDeployment, *, spend_read: bool) -> None:
        if deployment.phase in TERMINAL_PHASES:
            return
        now = self.clock.now()
        phase = deployment.progression.observe(now) if spend_read else deployment.progression.current(now)
        if phase != deployment.phase:
            deployment.phase, deployment.updated_at = phase, iso(now)
        self._settle(app, deployment)

    def _settle(self, app: FakeApp, deployment: FakeDeployment) -> None:
        if deployment.phase == "ACTIVE" and app.active_deployment_id != deployment.id:
            if app.active_deployment_id:
                previous = app.deployments[app.active_deployment_id]
                previous.phase, previous.updated_at = "SUPERSEDED", deployment.updated_at
            app.active_deployment_id = deployment.id

    def _read(self, app_id: str) -> FakeApp:
        app = existing(self.apps.get(app_id), "app")
        for deployment in list(app.deployments.values()):
            self._advance(app, deployment, spend_read=False)
        return app

    # -- operations (pydo's apps.* names) --------------------------------------------------------------------
    def list_apps(self, query: Mapping[str, str]) -> JsonDict:
        apps = [self._read(app_id) for app_id in self.apps]
        return _page(apps, "apps", query, "/v2/apps")

    def get_app(self, id: str) -> FakeApp:
        return self._read(id)

    def update_app(self, id: str, body: Mapping[str, Any]) -> FakeApp:
        app = self._read(id)
        app.spec = self._checked_spec(body)
        app.updated_at = iso(self.clock.now())
        self._deploy(app, "app spec updated")
        return app

    def restart(self, app_id: str, body: Mapping[str, Any] | None = None) -> FakeDeployment:
        app = self._read(app_id)
        components = (body or {}).get("components") or []
        known = {c.get("name") for kind in COMPONENT_KINDS for c in app.spec.get(kind) or ()}
        unknown = [c for c in components if c not in known]
        if unknown:
            raise invalid(f"unknown components: {', '.join(map(str, unknown))}")  # ASSUMPTION: status
        return self._deploy(app, "manual restart" + (f" of {', '.join(components)}" if components else ""))

    def get_deployment(self, app_id: str, deployment_id: str) -> FakeDeployment:
        app = self._read(app_id)
        deployment = existing(app.deployments.get(deployment_id), "deployment")
        self._advance(app, deployment, spend_read=True)
        return deployment

    def list_deployments(self, app_id: str, query: Mapping[str, str]) -> JsonDict:
        app = self._read(app_id)
        for deployment in app.deployments.values():
            self._advance(app, deployment, spend_read=True)
        newest_first = list(reversed(app.deployments.values()))
        return _page(newest_first, "deployments", query, f"/v2/apps/{app_id}/deployments")

    # pydo's names (defined last so they do not shadow builtins above)
    list = list_apps
    get = get_app
    update = update_app
