"""``--secret TARGET`` text -> a typed target. Pure; malformed text -> ConfigError with an example.

Forms: ``github:OWNER/REPO``, ``github:OWNER/REPO@ENVIRONMENT``, ``app:APP``, ``app:APP/COMPONENT``,
``dotenv:PATH``, ``stdout``. The text may contain ``{cluster}`` (fleet mode): ``format_target(t, cluster=name)``
(or ``t.format(cluster=name)`` via that function) substitutes it and parses again.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TypeAlias

from .._exceptions import ConfigError
from .._inputs import check_text
from ._app import AppTarget
from ._simple import DotenvTarget, GitHubTarget, StdoutTarget

__all__ = ["TARGET_FORMS", "Target", "check_targets", "format_target", "has_placeholder", "parse_target"]

Target: TypeAlias = GitHubTarget | AppTarget | DotenvTarget | StdoutTarget

TARGET_FORMS = (
    "github:OWNER/REPO (repository secret), github:OWNER/REPO@ENVIRONMENT (environment secret), "
    "app:APP or app:APP/COMPONENT (App Platform), dotenv:PATH (.env file), stdout"
)
PLACEHOLDER = "{cluster}"
_SAMPLE = "cluster"  # stands in for {cluster} while validating

_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})"
_REPO = r"[A-Za-z0-9._-]{1,100}"
_GITHUB = re.compile(rf"^(?P<owner>{_OWNER})/(?P<repo>{_REPO})(?:@(?P<env>[^/@]{{1,255}}))?$")
# App names are 2-32 chars of [a-z0-9-]; an id is a uuid; components follow the name rule.
_APP = re.compile(r"^(?P<app>[A-Za-z0-9][A-Za-z0-9-]{0,63})(?:/(?P<component>[A-Za-z0-9][A-Za-z0-9-]{0,63}))?$")


def has_placeholder(text: str) -> bool:
    return PLACEHOLDER in text


def _check_braces(text: str) -> None:
    rest = text.replace(PLACEHOLDER, "")
    if "{" in rest or "}" in rest:
        raise ConfigError(
            f"secret target {text!r}: the only placeholder is {{cluster}}, e.g. dotenv:/srv/{{cluster}}/.env"
        )


def parse_target(text: str) -> Target:
    """Parse one ``--secret`` value. ``{cluster}`` may appear anywhere; format_target() fills it in."""
    raw = check_text(text, "a --secret target").strip()
    _check_braces(raw)
    if has_placeholder(raw):
        parsed = _parse(raw.replace(PLACEHOLDER, _SAMPLE))  # validates the shape
        return _with_fields_from(parsed, raw)
    return _parse(raw)


def _with_fields_from(sample: Target, raw: str) -> Target:
    """Keep the placeholder in the fields, so a describe() before formatting shows it."""
    kind, _, rest = raw.partition(":")
    if isinstance(sample, GitHubTarget):
        repo, _, env = rest.partition("@")
        owner, _, name = repo.partition("/")
        return replace(sample, owner=owner, repo=name, environment=env or None, text=raw)
    if isinstance(sample, AppTarget):
        app, _, comp = rest.partition("/")
        return replace(sample, app=app, component=comp or None, text=raw)
    if isinstance(sample, DotenvTarget):
        return replace(sample, path=rest, text=raw)
    return sample


def _parse(raw: str) -> Target:
    if raw in ("stdout", "-"):
        return StdoutTarget(text=raw)
    kind, sep, rest = raw.partition(":")
    if not sep:
        raise ConfigError(f"{raw!r} is not a secret target; expected one of: {TARGET_FORMS}")
    if kind == "github":
        m = _GITHUB.match(rest)
        if not m:
            raise ConfigError(
                f"secret target {raw!r}: expected github:OWNER/REPO or github:OWNER/REPO@ENVIRONMENT, "
                "e.g. github:octo-org/web-app or github:octo-org/web-app@production"
            )
        return GitHubTarget(m["owner"], m["repo"], m["env"], text=raw)
    if kind == "app":
        m = _APP.match(rest)
        if not m:
            raise ConfigError(
                f"secret target {raw!r}: expected app:APP or app:APP/COMPONENT (app name or id), "
                "e.g. app:web-shop or app:web-shop/api"
            )
        return AppTarget(m["app"], m["component"], text=raw)
    if kind == "dotenv":
        if not rest or rest.endswith(("/", os.sep)):
            raise ConfigError(f"secret target {raw!r}: expected dotenv:PATH to a file, e.g. dotenv:/srv/app/.env")
        return DotenvTarget(os.path.expanduser(rest), text=raw)
    raise ConfigError(f"secret target {raw!r}: unknown target kind {kind!r}; expected one of: {TARGET_FORMS}")


def format_target(target: Target, *, cluster: str) -> Target:
    """Fill in ``{cluster}`` and parse again (bound clients and redeploy settings are kept)."""
    if not has_placeholder(target.text):
        return target
    fresh = _parse(target.text.replace(PLACEHOLDER, cluster))
    if isinstance(fresh, GitHubTarget) and isinstance(target, GitHubTarget):
        return fresh.bind(github=target.client, redeploy=target.redeploy)
    if isinstance(fresh, AppTarget) and isinstance(target, AppTarget):
        return fresh.bind(apps=target.client)
    return fresh


def check_targets(targets: Sequence[Target], *, cluster: str | None = None) -> None:
    """Preflight before anything is sent: ConfigError if a ``dotenv:`` path cannot be a .env file.

    Reads the file system (nothing is opened). A path with ``{cluster}`` is checked once ``cluster`` is known.
    """
    for target in targets:
        if isinstance(target, DotenvTarget):
            if has_placeholder(target.text):
                if cluster is None:
                    continue
                formatted = format_target(target, cluster=cluster)
                assert isinstance(formatted, DotenvTarget)
                target = formatted
            target.check()
