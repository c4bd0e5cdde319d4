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
    │   └── InvalidResponseError     an answer that is not the JSON it should be (not retried)
    ├── BudgetError                  the pool does not fit the cluster's connection budget; nothing written
    ├── PlanError                    the desired state needs a flag or a different state (mode change, busy cluster)
    ├── CredentialsMissingError      the API returned no password; refuse to write a password-less URL
    ├── WaitTimeoutError             a long-running operation did not finish in time
    ├── DeploymentFailedError        an App Platform deployment ended in ERROR, CANCELED or SUPERSEDED
    ├── DotenvError                  a .env file could not be read, parsed or written (the old one is intact)
    └── DatabaseError                PostgreSQL refused or failed (see .saturated)

Messages name the problem, the numbers and the next step. They never contain a token, a password or a
credentialed URL: values that could carry one are masked before they reach an exception, and ``str()`` and
``repr()`` pass the message through the run's redactor (``_redact``), which also catches a secret that an API
error body echoes.
"""

from __future__ import annotations

from ._redact import redact

__all__ = [
    "APIError",
    "AuthenticationError",
    "BudgetError",
    "ConfigError",
    "ConflictError",
    "CredentialsMissingError",
    "DatabaseError",
    "DeploymentFailedError",
    "DotenvError",
    "DoPgpoolError",
    "InvalidResponseError",
    "NotFoundError",
    "PlanError",
    "PreconditionFailedError",
    "RateLimitedError",
    "ServerError",
    "TransportError",
    "WaitTimeoutError",
]


class DoPgpoolError(Exception):
    """Root of every error do-pgpool raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return redact(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact(self.message)!r})"


class ConfigError(DoPgpoolError):
    """Invalid input or configuration, detected before anything was sent."""


class APIError(DoPgpoolError):
    """An HTTP API answered with an error status.

    ``error_id``, ``api_message`` and ``request_id`` come from DigitalOcean's error body
    (``{"id", "message", "request_id"}``) or the ``x-request-id`` header.
    """

    def __init__(
        self,
        message: str,
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
        self.api_message = api_message
        self.request_id = request_id
        self.method = method
        self.path = path


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
        message: str,
        *,
        retry_after: float | None = None,
        reset_at: float | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after
        self.reset_at = reset_at


class ServerError(APIError):
    """5xx: DigitalOcean failed. The request may or may not have been applied."""


class TransportError(DoPgpoolError):
    """No usable answer: connection refused, timeout, protocol error or a body that is not JSON."""


class InvalidResponseError(TransportError):
    """The answer arrived but is not valid JSON or lacks its envelope. Retrying would not help."""


class BudgetError(DoPgpoolError):
    """The requested pool size does not fit the cluster's connection budget. Nothing was written."""

    def __init__(
        self, message: str, *, limit: int, used_by_others: int, requested: int
    ) -> None:
        super().__init__(message)
        self.limit = limit
        self.used_by_others = used_by_others
        self.requested = requested

    @property
    def available(self) -> int:
        return max(self.limit - self.used_by_others, 0)


class PlanError(DoPgpoolError):
    """The desired state cannot be reached as asked (e.g. a mode change without --replace)."""


class CredentialsMissingError(DoPgpoolError):
    """The API returned a connection without a password (token lacks database:view_credentials)."""


class WaitTimeoutError(DoPgpoolError):
    """A wait ran out of time. ``last_status`` is what was seen last."""

    def __init__(self, message: str, *, last_status: str | None, elapsed: float) -> None:
        super().__init__(message)
        self.last_status = last_status
        self.elapsed = elapsed


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
    (``remaining connection slots are reserved ...`` or ``too many clients``).
    """

    def __init__(self, message: str, *, saturated: bool = False) -> None:
        super().__init__(message)
        self.saturated = saturated
