"""Secret targets: where a connection string goes (GitHub, App Platform, .env, stdout).

``parse_target()`` turns ``--secret`` text into a target; ``write_secrets()`` writes (or plans) one value per
secret name to each target independently; ``connection_string_for()`` picks the URI and refuses a password-less one.
"""

from __future__ import annotations

from ._app import AppsAPI, AppTarget, EnvEdit, edit_app_spec, find_app, fingerprint, fingerprint_key
from ._base import SecretChange, SecretTarget, TargetOutcome, summarize_value, validate_secret_name
from ._parse import TARGET_FORMS, Target, check_targets, format_target, has_placeholder, parse_target
from ._simple import DotenvTarget, GitHubTarget, Redeploy, StdoutTarget
from ._write import connection_string_for, write_secrets

__all__ = [
    "TARGET_FORMS",
    "AppTarget",
    "AppsAPI",
    "DotenvTarget",
    "EnvEdit",
    "GitHubTarget",
    "Redeploy",
    "SecretChange",
    "SecretTarget",
    "StdoutTarget",
    "Target",
    "TargetOutcome",
    "check_targets",
    "connection_string_for",
    "edit_app_spec",
    "find_app",
    "fingerprint",
    "fingerprint_key",
    "format_target",
    "has_placeholder",
    "parse_target",
    "summarize_value",
    "validate_secret_name",
    "write_secrets",
]
