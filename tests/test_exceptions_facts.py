"""Errors carry their facts as attributes set at raise time; one status -> error type table for every API."""

from __future__ import annotations

import socket

import pytest

from do_pgpool._exceptions import (
    APIError,
    AuthenticationError,
    ConflictError,
    DoPgpoolError,
    NotFoundError,
    PlanError,
    PreconditionFailedError,
    RateLimitedError,
    ServerError,
    error_type,
)


def test_state_left_is_a_fact_set_on_a_copy_never_on_the_raised_error() -> None:
    original = ConflictError("POST /pools: 422 name taken", status=422, error_id="unprocessable_entity")
    left = original.with_state_left("the pool does not exist; nothing was changed.", " Re-run to retry.")
    assert left.state_left == "the pool does not exist; nothing was changed."
    assert str(left) == ("POST /pools: 422 name taken\nState left: the pool does not exist; nothing was changed."
                         " Re-run to retry.")  # fmt: skip
    assert type(left) is ConflictError and left.status == 422 and left.error_id == "unprocessable_entity"
    assert original.state_left is None and str(original) == "POST /pools: 422 name taken"


def test_state_left_at_raise_time_and_unknown_by_default() -> None:
    assert PlanError("busy", state_left="nothing was changed").state_left == "nothing was changed"
    assert DoPgpoolError("x").state_left is None
    assert str(PlanError("busy", state_left="nothing was changed")) == "busy"  # the fact, not more text


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, AuthenticationError), (403, AuthenticationError), (404, NotFoundError), (409, ConflictError),
     (412, PreconditionFailedError), (422, ConflictError), (429, RateLimitedError), (500, ServerError),
     (503, ServerError), (400, APIError), (418, APIError)],
)  # fmt: skip
def test_one_status_table(status: int, kind: type[APIError]) -> None:
    assert error_type(status) is kind


def _raised(outer: Exception, inner: BaseException) -> Exception:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except Exception as caught:
        return caught


@pytest.mark.parametrize(
    ("inner", "why"),
    [(socket.gaierror(-2, "x"), "the host name does not resolve"),
     (ConnectionRefusedError(111, "x"), "connection refused")],  # fmt: skip
)
def test_a_connect_failure_is_told_by_the_socket_error_behind_it_not_its_text(inner: BaseException, why: str) -> None:
    import httpx

    from do_pgpool.api._gateway import _connect_failure

    cause = _raised(httpx.ConnectError("all attempts failed"), inner)
    text = "".join(map(str, _connect_failure("GET", "/v2/databases", "https://api.example", cause)))
    assert f"(GET /v2/databases): {why}. Check api_url" in text
