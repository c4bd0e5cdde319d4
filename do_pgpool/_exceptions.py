"""The exception tree. Library code raises these; only the CLI turns them into messages and exit codes.

    DoPgpoolError                    root: the CLI catches only this
    ├── ConfigError                  bad input found before any request (exit 2)
    ├── APIError                     DigitalOcean (or GitHub) answered with an error
    │   ├── AuthenticationError      401 / 403
    │   ├── NotFoundError            404, including pydo's *returned* {"id": "not_found"} body
    │   ├── ConflictError            409 / 422 (name taken, validation)
    │   ├── PreconditionFailedError  412 (maintenance in progress)
    │   ├── RateLimitedError         429 (retryable)
    │   └── ServerError              5xx (retryable)
    ├── TransportError               no usable HTTP answer: connect/read errors, timeouts (retryable)
    │   ├── ConnectionFailedError    refused, unresolvable host, no TCP connection (retried once)
    │   ├── RequestTimeoutError      no complete answer within the request's overall deadline (retried once)
    │   └── InvalidResponseError     an answer that is not the JSON it should be (not retried)
    ├── DeadlineExceededError        the run's overall time limit (--timeout) ran out
    ├── BudgetError                  the pool does not fit the cluster's connection budget; nothing written
    ├── PlanError                    the desired state needs a flag or a different state (mode change, busy cluster)
    ├── CredentialsMissingError      the API returned no password; refuse to write a password-less URL
    ├── WaitTimeoutError             a long-running operation did not finish in time
    ├── DeploymentFailedError        an App Platform deployment ended in ERROR, CANCELED or SUPERSEDED
    ├── DotenvError                  a .env file could not be read, parsed or written (the old one is intact)
    └── DatabaseError                PostgreSQL refused or failed (see .saturated)

Messages name the problem, the numbers and the next step. They never contain a token, a password or a
credentialed URL: values that could carry one are masked before they reach an exception, and ``str()``,
``repr()`` and ``render()`` pass the message through the run's redactor (``_redact``), which also catches a
secret that an API error body echoes.

Messages speak library: a parameter is named as a ``Param`` (``size=2``) and an operation as a ``Step``
(``resize(connections=N)``), kept as structured parts of the message so that the CLI words them its own way
(``--size 2``, ``do-pgpool resize --connections N``) through ``render()``; ``str()`` is the library wording.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from . import _log  # noqa: F401  (every library module imports this one: its loggers are quiet from the start)
from ._redact import redact

__all__ = [
    "APIError",
    "AccessLeftError",
    "AuthenticationError",
    "BudgetError",
    "CommandError",
    "ConfigError",
    "ConflictError",
    "ConnectionFailedError",
    "CredentialsMissingError",
    "DatabaseError",
    "DeadlineExceededError",
    "DeploymentFailedError",
    "DotenvError",
    "HeadroomError",
    "DoPgpoolError",
    "InvalidResponseError",
    "Param",
    "Part",
    "NotFoundError",
    "PlanError",
    "PreconditionFailedError",
    "RateLimitedError",
    "RequestTimeoutError",
    "ServerError",
    "Step",
    "TransportError",
    "WaitTimeoutError",
    "error_type",
]


@dataclass(frozen=True)
class Param:
    """A parameter named in a message: ``size=2`` (or ``size`` alone when ``value`` is None) to library callers."""

    name: str
    value: object = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}={self.value}"


@dataclass(frozen=True)
class Step:
    """An operation suggested in a message: ``resize(connections=N)`` to library callers."""

    name: str
    params: tuple[Param, ...] = ()

    def __str__(self) -> str:
        return f"{self.name}({', '.join(map(str, self.params))})"


Part = str | Param | Step
_E = TypeVar("_E", bound="DoPgpoolError")


class DoPgpoolError(Exception):
    """Root of every error do-pgpool raises on purpose.

    ``message`` is a string or a sequence of parts (strings, ``Param``, ``Step``); ``str()`` joins them in
    the library's words and ``render(word)`` lets a front end word the ``Param``/``Step`` parts itself.
    """

    #: what the failure left behind ("the pool does not exist; nothing was changed"), when the raiser knows it;
    #: set at raise time (``state_left=`` or ``with_state_left``), never parsed back out of the message
    state_left: str | None = None

    def __init__(self, message: str | Sequence[Part], *, state_left: str | None = None) -> None:
        self.parts: tuple[Part, ...] = (message,) if isinstance(message, str) else tuple(message)
        self._message = "".join(map(str, self.parts))
        if state_left is not None:
            self.state_left = state_left
        super().__init__(self._message)

    @property
    def message(self) -> str:
        return self._message

    def extended(self: _E, *parts: Part) -> _E:
        """A copy of this error (same type and facts) whose message goes on with ``parts``: a note on what to
        do, added where that is known. Raise it ``from`` the original; the original is never changed."""
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.parts = self.parts + parts
        new._message = "".join(map(str, new.parts))
        new.args = (new._message,)
        return new

    def with_state_left(self: _E, state: str, *advice: Part) -> _E:
        """A copy that says what state the failure left: the fact in ``state_left``, and in the message
        ``State left: <state>`` followed by ``advice`` (e.g. " Re-run to retry.")."""
        new = self.extended("\nState left: ", state, *advice)
        new.state_left = state
        return new

    def render(self, word: Callable[[Param | Step], str]) -> str:
        """The message with each ``Param``/``Step`` worded by ``word`` (the CLI passes its flag names)."""
        return redact("".join(part if isinstance(part, str) else word(part) for part in self.parts))

    def __str__(self) -> str:
        return redact(self._message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact(self._message)!r})"


class ConfigError(DoPgpoolError):
    """Invalid input or configuration, detected before anything was sent."""


class CommandError(ConfigError):
    """The command to run cannot be started: ``exit_status`` 127 when it is not found, 126 when it is found but
    cannot be executed (the codes shells, ``env`` and ``timeout`` use). Found before any request."""

    def __init__(self, message: str | Sequence[Part], *, exit_status: int) -> None:
        super().__init__(message)
        self.exit_status = exit_status


class APIError(DoPgpoolError):
    """An HTTP API answered with an error status.

    ``error_id``, ``api_message`` and ``request_id`` come from DigitalOcean's error body
    (``{"id", "message", "request_id"}``) or the ``x-request-id`` header.
    """

    def __init__(
        self,
        message: str | Sequence[Part],
        *,
        status: int,
        error_id: str | None = None,
        api_message: str | None = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id
        self._api_message = api_message
        self.request_id = request_id
        self.method = method
        self.path = path

    @property
    def api_message(self) -> str | None:
        """The API's own words, through the run's redactor (an API may echo a value we sent)."""
        return None if self._api_message is None else redact(self._api_message)


class AuthenticationError(APIError):
    """401 (bad or expired token) or 403 (token lacks a scope or permission)."""


class NotFoundError(APIError):
    """404: the cluster, pool, app or repository does not exist for this token."""


class ConflictError(APIError):
    """409 / 422: the request was understood but refused (name taken, validation failed)."""


class PreconditionFailedError(APIError):
    """412: the resource is busy, e.g. the cluster is undergoing maintenance."""


class RateLimitedError(APIError):
    """429: the token's rate limit was hit.

    ``retry_after`` (seconds) is sent for the per-minute burst limit only; an exhausted hourly quota only
    says when its oldest request expires (``reset_at``, Unix time).
    """

    def __init__(
        self,
        message: str | Sequence[Part],
        *,
        retry_after: float | None = None,
        reset_at: float | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after
        self.reset_at = reset_at


class ServerError(APIError):
    """5xx: DigitalOcean failed. The request may or may not have been applied.

    ``retry_after`` (seconds) when the answer said when to come back (a 503 with ``Retry-After``).
    """

    def __init__(self, message: str | Sequence[Part], *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


_BY_STATUS: dict[int, type[APIError]] = {
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    412: PreconditionFailedError,
    422: ConflictError,
    429: RateLimitedError,
}


def error_type(status: int) -> type[APIError]:
    """The one HTTP status -> error type table, for DigitalOcean and GitHub alike (each words its own message)."""
    return ServerError if status >= 500 else _BY_STATUS.get(status, APIError)


class TransportError(DoPgpoolError):
    """No usable answer: connection refused, timeout, protocol error or a body that is not JSON."""


class ConnectionFailedError(TransportError):
    """No connection at all: refused, a host name that does not resolve, no TCP answer. The URL is wrong, the
    host is down or the network (proxy, DNS, firewall) is in the way: retrying for long would not help."""


class RequestTimeoutError(TransportError):
    """A request got no complete answer within its overall deadline (the server hung, or trickled)."""


class DeadlineExceededError(DoPgpoolError):
    """The run's overall time limit (``--timeout``) ran out before the work was done. Never retried."""


class InvalidResponseError(TransportError):
    """The answer arrived but is not valid JSON or lacks its envelope. Retrying would not help."""


class BudgetError(DoPgpoolError):
    """The requested pool size does not fit the cluster's connection budget. Nothing was written."""

    def __init__(
        self, message: str | Sequence[Part], *, limit: int, used_by_others: int, requested: int
    ) -> None:
        super().__init__(message)
        self.limit = limit
        self.used_by_others = used_by_others
        self.requested = requested

    @property
    def available(self) -> int:
        return max(self.limit - self.used_by_others, 0)


class PlanError(DoPgpoolError):
    """The desired state cannot be reached as asked (e.g. a mode change without ``replace=True``)."""


class CredentialsMissingError(DoPgpoolError):
    """The API returned a connection without a password (token lacks database:view_credentials)."""


class WaitTimeoutError(DoPgpoolError):
    """A wait ran out of time. ``last_status`` is what was seen last."""

    def __init__(self, message: str | Sequence[Part], *, last_status: str | None, elapsed: float) -> None:
        super().__init__(message)
        self.last_status = last_status
        self.elapsed = elapsed


class HeadroomError(DoPgpoolError):
    """Not enough free connection slots to start a command, after waiting ``waited`` seconds: ``used`` of
    ``limit`` non-superuser slots taken (``reserved`` more are for superusers), ``needed`` free wanted.
    ``saturated``: the server was full, so it could not even be read."""

    def __init__(
        self, message: str | Sequence[Part], *, used: int, limit: int, reserved: int, needed: int, waited: float,
        saturated: bool = False,
    ) -> None:
        super().__init__(message, state_left="the command did not run; nothing was changed")
        self.used = used
        self.limit = limit
        self.reserved = reserved
        self.needed = needed
        self.waited = waited
        self.saturated = saturated

    @property
    def free(self) -> int:
        return max(self.limit - self.used, 0)


class AccessLeftError(DoPgpoolError):
    """The rule this run added could not be removed: ``rule`` is still on ``cluster_id``; the message says how
    to remove it by hand."""

    def __init__(self, message: str, *, cluster_id: str, rule: dict[str, Any]) -> None:
        super().__init__(message, state_left=f"trusted source ip_addr {rule.get('value')} is still on the cluster")
        self.cluster_id = cluster_id
        self.rule = rule


class DeploymentFailedError(DoPgpoolError):
    """An App Platform deployment ended in ERROR, CANCELED or SUPERSEDED. ``phase`` says which."""

    def __init__(self, message: str, *, phase: str, deployment_id: str) -> None:
        super().__init__(message)
        self.phase = phase
        self.deployment_id = deployment_id


class DotenvError(DoPgpoolError):
    """The .env file could not be read, parsed or written. The old file, if any, is left as it was."""


class DatabaseError(DoPgpoolError):
    """PostgreSQL refused the connection or a query failed.

    ``saturated`` is true when the server refused because every non-reserved slot is taken
    (``remaining connection slots are reserved ...`` or ``too many clients``); ``unreachable`` when no
    server answered at all (the host does not resolve, the connection is refused or times out);
    ``login_retry`` when PgBouncer found no server connection in time or its server login is failing (it then
    waits ``server_login_retry``, 15 s by default, before it tries again); ``tls_failed`` when the server's
    certificate did not verify (``sslmode=verify-full``: unknown CA or hostname mismatch).
    """

    def __init__(
        self, message: str | Sequence[Part], *, saturated: bool = False, unreachable: bool = False,
        login_retry: bool = False, tls_failed: bool = False,
    ) -> None:
        super().__init__(message)
        self.tls_failed = tls_failed
        self.saturated = saturated
        self.unreachable = unreachable
        self.login_retry = login_retry
