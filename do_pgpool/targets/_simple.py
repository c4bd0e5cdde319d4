"""The GitHub, dotenv and stdout targets: thin adapters over ``_github`` and ``_dotenv``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .._exceptions import ConfigError, DoPgpoolError
from ._base import SecretChange, TargetOutcome, overall_action, summarize_value

if TYPE_CHECKING:
    from ..api._github import GitHub

__all__ = ["DotenvTarget", "GitHubTarget", "Redeploy", "StdoutTarget"]

_UNKNOWABLE = "will be written (GitHub cannot tell whether it changed)"


@dataclass(frozen=True)
class Redeploy:
    """Dispatch ``workflow_file`` on ``ref`` after a GitHub secret is written (``on: workflow_dispatch``)."""

    workflow_file: str
    ref: str
    inputs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GitHubTarget:
    """``github:OWNER/REPO`` (repository secret) or ``github:OWNER/REPO@ENVIRONMENT`` (environment secret)."""

    owner: str
    repo: str
    environment: str | None = None
    text: str = field(default="", compare=False)
    client: GitHub | None = field(default=None, repr=False, compare=False)
    redeploy: Redeploy | None = field(default=None, compare=False)
    kind: str = field(default="github", init=False)

    @property
    def label(self) -> str:
        env = f"@{self.environment}" if self.environment else ""
        return f"github:{self.owner}/{self.repo}{env}"

    @property
    def full_repo(self) -> str:
        return f"{self.owner}/{self.repo}"

    def describe(self) -> str:
        scope = f"environment {self.environment!r} secret" if self.environment else "repository Actions secret"
        return f"GitHub {scope} in {self.full_repo}"

    def bind(self, *, github: GitHub | None = None, redeploy: Redeploy | None = None) -> GitHubTarget:
        return replace(self, client=github or self.client, redeploy=redeploy or self.redeploy)

    def _client(self) -> GitHub:
        if self.client is None:
            raise ConfigError(f"{self.label}: no GitHub client; set GITHUB_TOKEN (or GH_TOKEN)")
        return self.client

    def plan(self, values: Mapping[str, str]) -> list[SecretChange]:
        # Reading the public key checks that the repository (and environment) exist and the token reaches them.
        self._client().get_public_key(self.full_repo, self.environment)
        changes = [
            SecretChange(self.label, name, "unknown", _UNKNOWABLE, summarize_value(value))
            for name, value in values.items()
        ]
        return changes

    def apply(self, values: Mapping[str, str]) -> TargetOutcome:
        client = self._client()
        names: list[tuple[str, str]] = []
        detail = ""
        try:
            for name, value in values.items():
                names.append((name, client.put_secret(self.full_repo, name, value, self.environment)))
            if self.redeploy is not None:
                rd = self.redeploy
                client.dispatch_workflow(self.full_repo, rd.workflow_file, rd.ref, rd.inputs or None)
                detail = f"workflow {rd.workflow_file} dispatched on {rd.ref}"
        except DoPgpoolError as exc:
            done = f"{', '.join(n for n, _ in names)} written before the error" if names else "nothing written"
            return TargetOutcome(self.label, "failed", tuple(names), detail=done, error=exc)
        action = overall_action([a for _, a in names], mixed="updated")
        return TargetOutcome(self.label, action, tuple(names), detail=detail)


@dataclass(frozen=True)
class DotenvTarget:
    """``dotenv:PATH``: a .env file (a symlink has its target rewritten; a new file gets mode 0600).

    Only a regular file (or a symlink to one), or a missing file in an existing writable folder: ``check()``
    says what else it is, before anything is sent; ``plan``/``apply`` check again when they run.
    """

    path: str
    text: str = field(default="", compare=False)
    kind: str = field(default="dotenv", init=False)

    @property
    def label(self) -> str:
        return f"dotenv:{self.path}"

    def describe(self) -> str:
        real = os.path.realpath(self.path)
        via = f" (symlink to {real})" if real != os.path.abspath(self.path) else ""
        return f".env file {self.path}{via}"

    def check(self) -> None:
        """ConfigError when the path cannot be a .env file (a device, FIFO, socket, folder, /proc ...)."""
        from ._dotenv import dotenv_path_problem  # the .env code (python-dotenv, ~20 ms) only for dotenv: targets

        problem = dotenv_path_problem(self.path)
        if problem is not None:
            raise ConfigError(f"secret target {self.label}: {problem}. Nothing was sent or written")

    def plan(self, values: Mapping[str, str]) -> list[SecretChange]:
        from ._dotenv import plan_dotenv

        actions = plan_dotenv(self.path, values)
        return [SecretChange(self.label, n, actions[n], "", summarize_value(v)) for n, v in values.items()]

    def apply(self, values: Mapping[str, str]) -> TargetOutcome:
        from ._dotenv import set_dotenv_keys

        result = set_dotenv_keys(self.path, values)
        done = {"create": "created", "update": "updated", "unchanged": "unchanged"}
        names = tuple((n, done[result.keys[n]]) for n in values)
        if result.file_created:
            detail = "file created with mode 0600"
        elif not result.written:
            detail = "file not touched"
        elif result.in_place:
            detail = "mode kept"
        else:
            detail = "file replaced atomically, mode kept"
        detail = "; ".join((*result.notes, detail))
        return TargetOutcome(self.label, overall_action([a for _, a in names], mixed="updated"), names, detail)


@dataclass(frozen=True)
class StdoutTarget:
    """``stdout``: the CLI prints the value. The only target that ever shows a password."""

    text: str = field(default="stdout", compare=False)
    kind: str = field(default="stdout", init=False)

    @property
    def label(self) -> str:
        return "stdout"

    def describe(self) -> str:
        return "standard output (shows the password)"

    def plan(self, values: Mapping[str, str]) -> list[SecretChange]:
        return [
            SecretChange(self.label, n, "unknown", "will be printed", summarize_value(v)) for n, v in values.items()
        ]

    def apply(self, values: Mapping[str, str]) -> TargetOutcome:
        from .._redact import reveal

        reveal(values.values())  # printing them is this target's job: the redactor lets exactly these through
        names = tuple((n, "printed") for n in values)
        return TargetOutcome(self.label, "printed", names, output=dict(values))
