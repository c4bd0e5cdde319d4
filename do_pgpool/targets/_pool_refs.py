"""Does a secret target still point at a pool? Read the target's current value where it can be read.

- ``dotenv:PATH``: the file is read; the variable's URL points at the pool when its database is the pool's name
  and its host and port are the pool's (public or private) connection's.
- ``app:APP[/COMPONENT]``: a GENERAL (plain-text) value is read like a .env value; a bindable reference
  ``${<db>.<pool>.DATABASE_URL}`` names the pool; a SECRET comes back encrypted (``EV[...]``), so it is compared
  through the fingerprint variable ``DO_PGPOOL_<NAME>_SHA256`` that do-pgpool writes next to it
  (``_app.fingerprint`` of the pool's public or private connection string). A SECRET without that fingerprint
  cannot be known.
- ``github:...``: GitHub never returns secret values: cannot be known. ``stdout``: points at nothing.

The verdict is ``yes``, ``no`` or ``unknown`` with the reason; nothing is written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from .._exceptions import DoPgpoolError
from .._models import Pool
from ..api._ports import AppsAPI
from ._app import COMPONENT_KINDS, AppTarget, find_app, fingerprint, fingerprint_key
from ._parse import Target
from ._simple import DotenvTarget, GitHubTarget

__all__ = ["PoolReference", "Verdict", "references_to_pool"]

Verdict = Literal["yes", "no", "unknown"]


@dataclass(frozen=True)
class PoolReference:
    """Whether ``name`` at ``target`` points at the pool, and why it is known (or not)."""

    target: str
    name: str
    verdict: Verdict
    reason: str

    def describe(self) -> str:
        word = {"yes": "points at the pool", "no": "does not point at the pool", "unknown": "cannot be known"}
        return f"{self.target}: {self.name} {word[self.verdict]} ({self.reason})"

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "name": self.name, "verdict": self.verdict, "reason": self.reason}


def references_to_pool(
    targets: Iterable[Target], pool: Pool, names: Iterable[str], *, apps: AppsAPI | None = None
) -> list[PoolReference]:
    """One ``PoolReference`` per (target, name); an unreadable target is ``unknown`` with the reason."""
    out: list[PoolReference] = []
    names = tuple(names)
    for target in targets:
        for name in names:
            try:
                verdict, reason = _check(target, pool, name, apps)
            except DoPgpoolError as exc:
                verdict, reason = "unknown", f"could not be read: {exc}"
            out.append(PoolReference(target.label, name, verdict, reason))
    return out


def _check(target: Target, pool: Pool, name: str, apps: AppsAPI | None) -> tuple[Verdict, str]:
    if isinstance(target, DotenvTarget):
        return _dotenv(target.path, pool, name)
    if isinstance(target, AppTarget):
        return _app(target, pool, name, apps)
    if isinstance(target, GitHubTarget):
        return "unknown", "GitHub never returns a secret's value"
    return "no", "stdout holds nothing"


def _dotenv(path: str, pool: Pool, name: str) -> tuple[Verdict, str]:
    from dotenv import dotenv_values

    if not os.path.exists(path):
        return "no", "the file does not exist"
    try:
        values = dotenv_values(path)
    except OSError as exc:
        return "unknown", f"the file cannot be read ({exc.strerror})"
    value = values.get(name)
    if value is None:
        return "no", "the file has no such variable"
    return _url_verdict(value, pool)


def url_points_at(value: str, pool: Pool) -> bool:
    """A connection URL whose database is the pool's name at the pool's host and port (public or private)."""
    try:
        parts = urlsplit(value.strip())
        host, port, db = parts.hostname, parts.port, unquote(parts.path.lstrip("/"))
    except ValueError:
        return False
    ends = {(c.host.lower(), c.port) for c in (pool.connection, pool.private_connection) if c is not None}
    return db == pool.name and (host or "", port) in ends


def _url_verdict(value: str, pool: Pool) -> tuple[Verdict, str]:
    if url_points_at(value, pool):
        return "yes", f"its URL connects to database {pool.name!r} at the pool's host and port"
    return "no", "its value is not the pool's connection"


def _app(target: AppTarget, pool: Pool, name: str, apps: AppsAPI | None) -> tuple[Verdict, str]:
    client = apps or target.client
    if client is None:
        return "unknown", "no App Platform client"
    app = find_app(client, target.app)
    spec = app.get("spec") or {}
    lists: list[list[dict[str, Any]]] = []
    if target.component is None:
        lists.append(list(spec.get("envs") or []))
    for kind in COMPONENT_KINDS:
        for comp in spec.get(kind) or []:
            if target.component is None or comp.get("name") == target.component:
                lists.append(list(comp.get("envs") or []))
    verdicts = [_app_env(envs, str(app["id"]), pool, name) for envs in lists]
    for wanted in ("yes", "unknown", "no"):
        for verdict, reason in verdicts:
            if verdict == wanted:
                return verdict, reason
    return "no", "the app has no such variable"


def _app_env(envs: list[dict[str, Any]], app_id: str, pool: Pool, name: str) -> tuple[Verdict, str]:
    ours = [e for e in envs if e.get("key") == name]
    if not ours:
        return "no", "the app has no such variable"
    value = str(ours[0].get("value") or "")
    if re.search(rf"\$\{{[^.}}]+\.{re.escape(pool.name)}\.[A-Z_]+\}}", value):
        return "yes", f"it is bound to the pool ({value})"
    if not value.startswith("EV["):
        return _url_verdict(value, pool)
    marks = [str(e.get("value") or "") for e in envs if e.get("key") == fingerprint_key(name)]
    if not marks:
        return "unknown", f"the SECRET is encrypted and has no {fingerprint_key(name)} fingerprint to compare"
    from ._write import connection_string_for

    candidates = []
    for private in (False, True):
        try:
            candidates.append(fingerprint(app_id, name, connection_string_for(pool, private=private)))
        except DoPgpoolError:
            continue
    if not candidates:
        return "unknown", "the pool's connection carries no password, so its fingerprint cannot be computed"
    if marks[0] in candidates:
        return "yes", f"its {fingerprint_key(name)} fingerprint is the pool's connection string's"
    return "no", f"its {fingerprint_key(name)} fingerprint is not the pool's connection string's"
