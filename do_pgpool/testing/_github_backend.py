"""GitHub Actions secrets in memory, with real Curve25519 key pairs so tests can decrypt what was PUT.

Each repository and each of its environments holds its own key pair (environment secrets must be sealed
with the environment's key: cli/cli #3831). Keys derive from the repository/environment name, so they are
deterministic across fakes. ``secret_value()`` opens the sealed box and returns the plaintext.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox

from ._clock import FakeClock, iso
from ._errors import FakeAPIError, Reply

__all__ = ["FakeRepoSecrets", "FakeSecretScope", "GitHubBackend", "StoredSecret"]

JsonDict = dict[str, Any]
_SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class StoredSecret:
    encrypted_value: str = field(repr=False)
    key_id: str
    created_at: str
    updated_at: str


@dataclass
class FakeSecretScope:
    """One public key and the secrets sealed with it (a repository or one of its environments)."""

    label: str
    key: PrivateKey = field(repr=False)
    key_id: str
    secrets: dict[str, StoredSecret] = field(default_factory=dict)

    @classmethod
    def derive(cls, label: str) -> FakeSecretScope:
        seed = hashlib.sha256(f"do-pgpool fake github key:{label}".encode()).digest()
        key_id = str(int.from_bytes(seed[:8], "big") % 10**18)
        return cls(label=label, key=PrivateKey(seed), key_id=key_id)

    def public_key(self) -> JsonDict:
        return {"key_id": self.key_id, "key": base64.b64encode(bytes(self.key.public_key)).decode()}


@dataclass
class FakeRepoSecrets:
    full_name: str
    repo: FakeSecretScope
    environments: dict[str, FakeSecretScope] = field(default_factory=dict)
    #: None accepts any workflow id; otherwise dispatching an unknown one answers 404
    workflows: frozenset[str] | None = None
    dispatches: list[JsonDict] = field(default_factory=list)


def _not_found() -> FakeAPIError:
    return FakeAPIError(404, "Not Found")


class GitHubBackend:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.repos: dict[str, FakeRepoSecrets] = {}

    # -- seeding and inspection ------------------------------------------------------------------------
    def add_repo(
        self, full_name: str, *, environments: Iterable[str] = (), workflows: Iterable[str] | None = None
    ) -> FakeRepoSecrets:
        if full_name.count("/") != 1:
            raise ValueError(f"a repository is 'owner/name'; got {full_name!r}")
        repo = FakeRepoSecrets(
            full_name=full_name,
            repo=FakeSecretScope.derive(full_name),
            environments={env: FakeSecretScope.derive(f"{full_name}:{env}") for env in environments},
            workflows=None if workflows is None else frozenset(workflows),
        )
        self.repos[full_name.lower()] = repo
        return repo

    def repo(self, full_name: str) -> FakeRepoSecrets:
        found = self.repos.get(full_name.lower())
        if found is None:
            raise _not_found()
        return found

    def scope(self, full_name: str, environment: str | None = None) -> FakeSecretScope:
        repo = self.repo(full_name)
        if environment is None:
            return repo.repo
        env = repo.environments.get(environment)
        if env is None:
            raise _not_found()
        return env

    def decrypt(self, encrypted_value: str, repo: str, environment: str | None = None) -> str:
        """Open a base64 sealed box with the repository's (or environment's) private key."""
        scope = self.scope(repo, environment)
        return SealedBox(scope.key).decrypt(base64.b64decode(encrypted_value)).decode()

    def secret_value(self, repo: str, name: str, environment: str | None = None) -> str:
        """The plaintext of a secret that was PUT (KeyError when it was never written)."""
        stored = self.scope(repo, environment).secrets[name]
        return self.decrypt(stored.encrypted_value, repo, environment)

    # -- operations (GitHub REST operation names) ------------------------------------------------------
    def get_repo_public_key(self, owner: str, repo: str) -> JsonDict:
        return self.scope(f"{owner}/{repo}").public_key()

    def get_environment_public_key(self, owner: str, repo: str, environment_name: str) -> JsonDict:
        return self.scope(f"{owner}/{repo}", environment_name).public_key()

    def list_repo_secrets(self, owner: str, repo: str) -> JsonDict:
        secrets = self.scope(f"{owner}/{repo}").secrets
        items = [{"name": n, "created_at": s.created_at, "updated_at": s.updated_at} for n, s in secrets.items()]
        return {"total_count": len(items), "secrets": items}

    def create_or_update_repo_secret(self, owner: str, repo: str, secret_name: str, body: Mapping[str, Any]) -> Reply:
        return self._put(self.scope(f"{owner}/{repo}"), secret_name, body)

    def create_or_update_environment_secret(
        self, owner: str, repo: str, environment_name: str, secret_name: str, body: Mapping[str, Any]
    ) -> Reply:
        return self._put(self.scope(f"{owner}/{repo}", environment_name), secret_name, body)

    def _put(self, scope: FakeSecretScope, name: str, body: Mapping[str, Any]) -> Reply:
        if not _SECRET_NAME.match(name) or name.upper().startswith("GITHUB_"):
            raise FakeAPIError(422, f"Invalid secret name {name!r}")
        value, key_id = body.get("encrypted_value"), body.get("key_id")
        if not isinstance(value, str) or not isinstance(key_id, str):
            raise FakeAPIError(422, "Invalid request: encrypted_value and key_id are required")
        if key_id != scope.key_id:
            # ASSUMPTION: GitHub's exact answer to a foreign key id is undocumented; a 422 makes the
            # "environment secret sealed with the repository key" bug (cli/cli #3831) fail loudly.
            raise FakeAPIError(422, f"key_id {key_id} is not the current public key of {scope.label}")
        try:
            SealedBox(scope.key).decrypt(base64.b64decode(value))
        except (CryptoError, ValueError) as exc:
            raise FakeAPIError(422, f"encrypted_value cannot be opened with the key of {scope.label}") from exc
        now = iso(self.clock.now())
        existing = scope.secrets.get(name)
        created = existing.created_at if existing else now
        scope.secrets[name] = StoredSecret(value, key_id, created, now)
        return Reply(204) if existing else Reply(201, {})

    def create_workflow_dispatch(self, owner: str, repo: str, workflow_id: str, body: Mapping[str, Any]) -> None:
        found = self.repo(f"{owner}/{repo}")
        if found.workflows is not None and workflow_id not in found.workflows:
            raise _not_found()
        ref = body.get("ref")
        if not isinstance(ref, str) or not ref:
            raise FakeAPIError(422, "Invalid request: ref is required")
        inputs = body.get("inputs") or {}
        if not isinstance(inputs, dict) or len(inputs) > 10:
            raise FakeAPIError(422, "Invalid request: inputs must be an object with at most 10 keys")
        found.dispatches.append({"workflow_id": workflow_id, "ref": ref, "inputs": dict(inputs)})
