"""GitHub REST: write an Actions secret (repository or environment) and dispatch a workflow.

Flow (https://docs.github.com/rest/guides/encrypting-secrets-for-the-rest-api): GET the scope's public key
(an environment has its *own* key; the repository key does not work there), encrypt the value with a
libsodium sealed box, PUT ``{"encrypted_value", "key_id"}``: 201 created, 204 updated. GitHub never returns
a secret's value, so whether a write changes anything is unknowable; the PUT is an idempotent upsert.

GET and PUT are retried on transport errors, 5xx and rate limits (``_retry.api_retrying``); the workflow
dispatch POST only when GitHub certainly did not act on it (429, or no connection made).
The token never appears in repr, logs or errors.

Time, as for DigitalOcean's client (``_transport``): each request gets one overall deadline (``timeout``, cut to
what is left of the run's ``deadline``, the CLI's ``--timeout``), not a per-read timeout a trickling or silent
server could renew forever; no request is sent and no retry wait started past the run's deadline.
"""

from __future__ import annotations

import base64
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import httpx
from nacl.encoding import Base64Encoder
from nacl.public import PublicKey, SealedBox

from .._duration import format_seconds
from .._exceptions import (
    APIError,
    AuthenticationError,
    ConfigError,
    ConflictError,
    InvalidResponseError,
    NotFoundError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    TransportError,
    error_type,
)
from .._inputs import check_number
from ._client import HttpClientOwner
from ._headers import header_number
from ._retry import RetryConfig, api_retrying, unsent_retrying
from ._tokens import check_token
from ._transport import CONNECT_TIMEOUT, request_deadline, with_deadlines
from ._urls import DEFAULT_GITHUB_API_URL, GITHUB, check_api_url

if TYPE_CHECKING:
    from .._deadline import Deadline

__all__ = [
    "DEFAULT_GITHUB_API_URL",
    "GitHub",
    "PublicKeyInfo",
    "github_settings_from_env",
    "open_github",
    "seal",
]

API_VERSION = "2022-11-28"
_REPO = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")

_BUILTIN_TOKEN_NOTE = (
    "A workflow's built-in GITHUB_TOKEN cannot write secrets: use a personal access token or a GitHub App "
    "token (stored as a secret of its own) instead."
)


@dataclass(frozen=True)
class PublicKeyInfo:
    key_id: str
    key: str  # base64 Curve25519 public key


def _is_curve25519_key(key: str) -> bool:
    try:
        return len(base64.b64decode(key.encode("ascii"), validate=True)) == PublicKey.SIZE
    except (ValueError, UnicodeEncodeError):  # binascii.Error is a ValueError
        return False


def seal(public_key_b64: str, value: str) -> str:
    """Encrypt ``value`` for GitHub: libsodium sealed box to the scope's public key, base64."""
    box = SealedBox(PublicKey(public_key_b64.encode("ascii"), encoder=Base64Encoder))
    return base64.b64encode(box.encrypt(value.encode("utf-8"))).decode("ascii")


def github_settings_from_env(environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """``(token, api_url)`` from GITHUB_TOKEN (else GH_TOKEN) and GITHUB_API_URL (as GitHub Actions sets it)."""
    env = os.environ if environ is None else environ
    token = (env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or "").strip()
    if not token:
        raise ConfigError(
            "github: targets need a GitHub token: set GITHUB_TOKEN (or GH_TOKEN) to a token that can write "
            "Actions secrets (classic PAT: `repo` scope; fine-grained: Secrets read and write). "
            + _BUILTIN_TOKEN_NOTE
        )
    api_url = (env.get("GITHUB_API_URL") or DEFAULT_GITHUB_API_URL).strip()
    return token, api_url


def open_github(
    environ: Mapping[str, str] | None = None,
    *,
    http: httpx.Client | None = None,
    retry: RetryConfig | None = None,
    deadline: Deadline | None = None,
) -> GitHub:
    """A GitHub client configured from the environment (the CLI's entry point), bound by ``deadline``."""
    token, api_url = github_settings_from_env(environ)
    return GitHub(token, api_url=api_url, http=http, retry=retry, deadline=deadline)


def check_repo(repo: str) -> tuple[str, str]:
    """``OWNER/REPO`` -> (owner, repo), or ConfigError."""
    if not _REPO.match(repo):
        raise ConfigError(f"{repo!r} is not a GitHub repository; expected OWNER/REPO, e.g. octo-org/web-app")
    owner, _, name = repo.partition("/")
    return owner, name


class GitHub(HttpClientOwner):
    """The few GitHub REST calls do-pgpool needs, over an (injectable) httpx.Client.

    ``timeout`` is each request's overall deadline (connect, send and the whole answer); ``deadline`` the run's:
    no request is sent, and no retry waited for, past it.
    """

    def __init__(
        self,
        token: str,
        *,
        api_url: str = DEFAULT_GITHUB_API_URL,
        http: httpx.Client | None = None,
        timeout: float = 30.0,
        retry: RetryConfig | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        if not token or (isinstance(token, str) and not token.strip()):
            raise ConfigError("no GitHub token: set GITHUB_TOKEN or GH_TOKEN")
        self._token = check_token(token, what="GitHub token", hint="Check GITHUB_TOKEN (or GH_TOKEN).")
        self.api_url = check_api_url(api_url, GITHUB)
        self._timeout = check_number(timeout, "timeout", minimum=0.001)
        self._adopt(http, lambda: with_deadlines(httpx.Client(timeout=self._timeout)))
        self._retry = retry or RetryConfig()
        self._deadline = deadline
        self.request_count = 0

    def __repr__(self) -> str:
        return f"GitHub(api_url={self.api_url!r})"

    # -- secrets -------------------------------------------------------------------------------------

    def get_public_key(self, repo: str, environment: str | None = None) -> PublicKeyInfo:
        """The public key of the repository, or of ``environment`` (which has its own key)."""
        path = f"{_secrets_base(repo, environment)}/public-key"
        body = self._call("GET", path, repo=repo, environment=environment, retry=True)
        if not isinstance(body, dict) or not body.get("key") or not body.get("key_id"):
            raise InvalidResponseError(f"GET {path}: GitHub's answer has no key/key_id")
        key = str(body["key"])
        if not _is_curve25519_key(key):
            raise InvalidResponseError(
                f"GET {path}: GitHub's public key (key_id {str(body['key_id'])[:40]!r}) is not a base64 Curve25519 "
                f"key ({len(key)} characters), so no secret can be encrypted for it; nothing was written. "
                "Check GITHUB_API_URL points at a GitHub API."
            )
        return PublicKeyInfo(key_id=str(body["key_id"]), key=key)

    def put_secret(
        self, repo: str, name: str, value: str, environment: str | None = None
    ) -> Literal["created", "updated"]:
        """Encrypt and upsert one secret; 201 -> "created", 204 -> "updated"."""
        key = self.get_public_key(repo, environment)
        body = {"encrypted_value": seal(key.key, value), "key_id": key.key_id}
        path = f"{_secrets_base(repo, environment)}/{quote(name, safe='')}"
        status = self._status("PUT", path, body, repo=repo, environment=environment, retry=True)
        return "created" if status == 201 else "updated"

    def dispatch_workflow(
        self, repo: str, workflow_file: str, ref: str, inputs: Mapping[str, str] | None = None
    ) -> None:
        """POST .../actions/workflows/{file}/dispatches (the workflow needs ``on: workflow_dispatch``)."""
        owner, name = check_repo(repo)
        path = f"/repos/{owner}/{name}/actions/workflows/{quote(workflow_file, safe='')}/dispatches"
        body: dict[str, Any] = {"ref": ref}
        if inputs:
            body["inputs"] = dict(inputs)
        self._status("POST", path, body, repo=repo, environment=None, retry=False, workflow=workflow_file)

    # -- plumbing ------------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "Authorization": f"Bearer {self._token}",
            "User-Agent": "do-pgpool",
        }

    def _send(self, method: str, path: str, body: Any, **ctx: Any) -> httpx.Response:
        budget = self._timeout
        if self._deadline is not None:
            self._deadline.check(f"sending {method} {path} to GitHub")
            budget = self._deadline.cap(budget)
        self.request_count += 1
        started = time.monotonic()
        try:
            with request_deadline(budget):
                response = self._http.request(method, self.api_url + path, json=body, headers=self._headers(),
                                              timeout=httpx.Timeout(budget, connect=min(CONNECT_TIMEOUT, budget)))
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise _NotSent(f"{method} {path}: cannot connect to GitHub ({type(exc).__name__})") from exc
        except httpx.TimeoutException as exc:
            if time.monotonic() - started < budget * 0.99:
                raise TransportError(f"{method} {path}: no answer from GitHub ({type(exc).__name__})") from exc
            if self._deadline is not None and budget < self._timeout:  # the run's limit, not the request's, cut it
                raise self._deadline.exceeded(f"waiting for GitHub's answer to {method} {path}") from exc
            raise RequestTimeoutError(f"{method} {path}: no complete answer from GitHub within "
                                      f"{format_seconds(budget)} (the limit for one request)") from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"{method} {path}: no answer from GitHub ({type(exc).__name__})") from exc
        if response.status_code >= 400:
            raise _api_error(response, method, path, **ctx)
        return response

    def _call(self, method: str, path: str, *, retry: bool, **ctx: Any) -> Any:
        response = self._run(lambda: self._send(method, path, None, **ctx), retry=retry)
        try:
            return response.json()
        except ValueError as exc:
            raise TransportError(f"{method} {path}: GitHub's answer is not JSON") from exc

    def _status(self, method: str, path: str, body: Any, *, retry: bool, **ctx: Any) -> int:
        return self._run(lambda: self._send(method, path, body, **ctx), retry=retry).status_code

    def _run(self, once: Any, *, retry: bool) -> httpx.Response:
        if retry:
            response: httpx.Response = api_retrying(self._retry, deadline=self._deadline)(once)
            return response
        # Not idempotent (a dispatch starts a run): retry only what GitHub certainly did not act on.
        return unsent_retrying(self._retry, unsent=(RateLimitedError, _NotSent))(once)  # type: ignore[no-any-return]


class _NotSent(TransportError):
    """The connection failed before the request reached GitHub: safe to retry even a POST."""


def _secrets_base(repo: str, environment: str | None) -> str:
    owner, name = check_repo(repo)
    if environment:
        return f"/repos/{owner}/{name}/environments/{quote(environment, safe='')}/secrets"
    return f"/repos/{owner}/{name}/actions/secrets"


def _permission_hint(repo: str, environment: str | None, workflow: str | None) -> str:
    if workflow:
        return (
            f"the token needs to run workflows in {repo}: classic PAT `repo` scope, fine-grained "
            "\"Actions: read and write\", GitHub App `actions: write`; and the workflow needs `on: workflow_dispatch`."
        )
    where = f"{repo} environment {environment!r}" if environment else repo
    env_note = " and access to that environment" if environment else ""
    return (
        f"the token needs to write Actions secrets in {where}: classic PAT `repo` scope (`public_repo` for a "
        f"public repository), fine-grained \"Secrets: read and write\" on the repository{env_note}, GitHub App "
        f"`secrets: write`. {_BUILTIN_TOKEN_NOTE}"
    )


def _api_error(
    response: httpx.Response,
    method: str,
    path: str,
    *,
    repo: str,
    environment: str | None,
    workflow: str | None = None,
) -> APIError:
    status = response.status_code
    api_message: str | None = None
    try:
        data = response.json()
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            api_message = data["message"]
    except ValueError:
        pass
    request_id = response.headers.get("x-github-request-id")
    kw: dict[str, Any] = {
        "status": status,
        "api_message": api_message,
        "request_id": request_id,
        "method": method,
        "path": path,
    }
    said = f" (GitHub: {api_message})" if api_message else ""
    head = f"{method} {path}: {status}{said}"
    retry_after = header_number(response.headers, "retry-after")
    reset_at = header_number(response.headers, "x-ratelimit-reset")
    rate_limited = status == 429 or (
        status == 403 and (retry_after is not None or response.headers.get("x-ratelimit-remaining") == "0")
    )
    kind = RateLimitedError if rate_limited else error_type(status)
    if kind is RateLimitedError:
        return RateLimitedError(f"{head}: GitHub rate limit hit", retry_after=retry_after, reset_at=reset_at, **kw)
    if kind is AuthenticationError and status == 401:
        return AuthenticationError(
            f"{head}: the GitHub token is invalid or expired; create a new one and set GITHUB_TOKEN", **kw
        )
    if kind is AuthenticationError:
        return AuthenticationError(f"{head}: permission denied; {_permission_hint(repo, environment, workflow)}", **kw)
    if kind is NotFoundError:
        if workflow:
            what = f"repository {repo} or workflow {workflow!r} (on the default branch)"
        elif environment:
            what = f"repository {repo} or its environment {environment!r}"
        else:
            what = f"repository {repo}"
        hint = _permission_hint(repo, environment, workflow)
        return NotFoundError(
            f"{head}: {what} not found, or the token cannot see it (GitHub answers 404 rather than 403 "
            f"for missing access); check the name, then the permissions: {hint}",
            **kw,
        )
    if kind is ConflictError:
        if workflow:
            return ConflictError(
                f"{head}: GitHub refused to dispatch {workflow!r}: it needs an `on: workflow_dispatch` trigger, "
                "the ref must exist and every input must be declared by the workflow",
                **kw,
            )
        return ConflictError(f"{head}: GitHub refused the request", **kw)
    if kind is ServerError:
        return ServerError(f"{head}: GitHub failed; retry later", **kw)
    return kind(f"{head}: unexpected answer from GitHub", **kw)
