"""The error a fake backend raises; the dispatcher turns it into the service's error body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["ERROR_IDS", "FakeAPIError", "Reply", "existing", "invalid", "not_found"]

_T = TypeVar("_T")

#: DigitalOcean's ``id`` for each status (digitalocean-api.md §8); 412/501 follow the same naming.
ERROR_IDS: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    412: "precondition_failed",
    422: "unprocessable_entity",
    429: "too_many_requests",
    500: "server_error",
    501: "not_implemented",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}

DEFAULT_MESSAGES: dict[int, str] = {
    400: "error parsing request body",
    401: "Unable to authenticate you.",
    403: "You do not have permission to perform this action.",
    404: "The resource you requested could not be found.",
    409: "The request could not be completed due to a conflict.",
    422: "request payload validation failed",
    429: "API rate limit exceeded.",
    500: "Unexpected server-side error",
}


class FakeAPIError(Exception):
    """An API error answer: ``status``, DigitalOcean's error ``id`` and a ``message``.

    Backends raise it; the fake answers ``{"id", "message", "request_id"}`` (or GitHub's body for GitHub).
    """

    def __init__(self, status: int, message: str | None = None, *, error_id: str | None = None) -> None:
        self.status = status
        self.error_id = error_id or ERROR_IDS.get(status, "server_error" if status >= 500 else "bad_request")
        self.message = message or DEFAULT_MESSAGES.get(status, self.error_id.replace("_", " "))
        super().__init__(f"{status} {self.error_id}: {self.message}")


def not_found(what: str) -> FakeAPIError:
    return FakeAPIError(404, f"{what} could not be found.")


def existing(value: _T | None, what: str) -> _T:
    """``value``, or the 404 a lookup that found nothing answers."""
    if value is None:
        raise not_found(what)
    return value


def invalid(message: str) -> FakeAPIError:
    # ASSUMPTION: the status of a refused request. The operations declare no 4xx besides 401/404;
    # 422 unprocessable_entity is what the field has seen (tf #925).
    return FakeAPIError(422, message)


@dataclass(frozen=True)
class Reply:
    """A backend result whose status is decided by the backend (GitHub's 201 create / 204 update)."""

    status: int
    body: Any = None
