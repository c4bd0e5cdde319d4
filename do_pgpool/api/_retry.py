"""The one retry engine: every retry and every wait in do-pgpool is a tenacity ``Retrying`` built here or in
``_poll`` (whose ``poll_until`` is tenacity with ``retry_if_result``: a poller), configured by one shape,
``Pacing`` (the injectable ``clock`` and ``sleep``), which ``RetryConfig`` and ``_poll.WaitOptions`` extend.

- ``api_retrying``: idempotent API calls (GET/PUT/DELETE; POST only after a 429). The gateways call it through
  ``call_with_retries``, which sends the first try itself and builds the engine only after a retryable failure:
  tenacity is imported then, not on every run (~5 ms of a converged run's start-up).
  - 429: wait ``retry-after`` (burst limit); without it (hourly quota) wait until ``ratelimit-reset``.
  - 503 (any 5xx) with ``Retry-After``: wait that long, as on a 429. Other 5xx: exponential backoff with jitter.
  - Transport errors: backoff too, but a refused connection, a host that does not resolve and a request that
    got no complete answer within its overall deadline are tried twice, not five times: they fail in seconds
    with the URL and what to check, instead of minutes of hopeless retries.
  - Bounded by attempts, by the total time spent waiting (``max_wait``) and by the run's ``Deadline``: a wait
    that would end past either is not started. A rate-limit error that surfaces this way says when the limit
    resets (time of day and how long from now).
- ``unsent_retrying``: a request that must not run twice (GitHub's workflow dispatch): only what was certainly
  not acted on is sent again.
- ``wait_until``: local waits at a fixed interval (a file lock, sessions leaving PostgreSQL).

``sleep`` and ``clock`` are injectable, so tests never sleep. After a failed POST other than a 429 a create may
have been applied, and ``ops/_pool.py`` reads before deciding.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NoReturn, TypeVar

from .._exceptions import (
    ConfigError,
    ConnectionFailedError,
    InvalidResponseError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    TransportError,
)
from .._inputs import check_number
from ._headers import WaitRefused, when_text

if TYPE_CHECKING:
    from tenacity import RetryCallState, Retrying

    from .._deadline import Deadline

__all__ = ["Pacing", "RetryConfig", "api_retrying", "call_with_retries", "explain_rate_limit", "unsent_retrying",
           "wait_until"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRYABLE = (RateLimitedError, ServerError, TransportError)
#: failures never retried, although they are of a retryable type: a body that cannot be read will not change, and a
#: refused rate-limit wait says when to come back
_NEVER_RETRIED = (InvalidResponseError, WaitRefused)
#: failures that another try right away may fix, but a third will not
_TRIED_TWICE = (ConnectionFailedError, RequestTimeoutError)


@dataclass(frozen=True, kw_only=True)
class Pacing:
    """The one config shape of every retry and wait: where time comes from and how to pass it.

    ``RetryConfig`` (one request's retries) and ``WaitOptions`` (a poll until something is done) derive from it,
    so a test injects one fake ``clock`` and ``sleep`` the same way into both and nothing ever really sleeps.
    """

    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)


@dataclass(frozen=True)
class RetryConfig(Pacing):
    """How hard to retry one idempotent request."""

    max_attempts: int = 5
    #: total seconds of waiting across retries of one request
    max_wait: float = 60.0
    initial: float = 0.5
    max_backoff: float = 20.0
    #: wall clock (Unix time) for ``ratelimit-reset``
    clock: Callable[[], float] = field(default=time.time, compare=False, kw_only=True)

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ConfigError(f"max_attempts must be a whole number of at least 1, not {self.max_attempts!r}")
        for label, value in (("max_wait", self.max_wait), ("initial", self.initial),
                             ("max_backoff", self.max_backoff)):  # fmt: skip
            check_number(value, label)


def _server_delay(exc: BaseException | None, clock: Callable[[], float]) -> float | None:
    """The wait DigitalOcean asked for: ``retry-after`` (429 or 5xx), else a 429's ``ratelimit-reset``."""
    if isinstance(exc, (RateLimitedError, ServerError)) and exc.retry_after is not None:
        return max(exc.retry_after, 0.0)
    if isinstance(exc, RateLimitedError) and exc.reset_at is not None:
        return max(exc.reset_at - clock(), 0.0) + 1.0  # the reset second itself may still be limited
    return None


# The waits and stops below are plain callables, which tenacity takes as they are: this module imports tenacity
# only when a retry engine is built, so a run whose requests all succeed at once never loads it.


class wait_server_aware:
    """DigitalOcean's own answer first (retry-after, else ratelimit-reset); otherwise the fallback."""

    def __init__(self, fallback: Callable[[RetryCallState], float], clock: Callable[[], float]) -> None:
        self.fallback = fallback
        self.clock = clock

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        delay = _server_delay(outcome.exception() if outcome else None, self.clock)
        return self.fallback(retry_state) if delay is None else delay


class stop_when_wait_budget_spent:
    """Stop once the time already slept plus the next wait would exceed ``max_wait``, or pass the deadline.

    Counts scheduled waits (``idle_for``), not wall time, so the bound holds with an injected sleep.
    """

    def __init__(self, max_wait: float, wait: Callable[[RetryCallState], float], deadline: Deadline | None = None
                 ) -> None:
        self.max_wait = max_wait
        self.wait = wait
        self.deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        delay = self.wait(retry_state)
        if self.deadline is not None and delay >= self.deadline.remaining():
            return True
        return retry_state.idle_for + delay > self.max_wait


class stop_after_second_try_of:
    """Stop after two attempts when the last failure is one of ``kinds``."""

    def __init__(self, kinds: tuple[type[BaseException], ...]) -> None:
        self.kinds = kinds

    def __call__(self, retry_state: RetryCallState) -> bool:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        return isinstance(exc, self.kinds) and retry_state.attempt_number >= 2


def call_with_retries(
    fn: Callable[[], T], config: RetryConfig | None = None, *, only_rate_limits: bool = False,
    deadline: Deadline | None = None,
) -> T:
    """``fn()``, retried as ``api_retrying`` says. Its first try runs as is: only when it fails with a retryable
    error is the retry engine built (tenacity imported), and that failure becomes the engine's first attempt, so
    waits, attempts and messages are exactly the engine's. Most requests succeed at once and never pay for it."""
    try:
        return fn()
    except RETRYABLE as exc:
        if isinstance(exc, _NEVER_RETRIED) or (only_rate_limits and not isinstance(exc, RateLimitedError)):
            raise
        first: BaseException | None = exc

    def attempt() -> T:
        nonlocal first
        if first is not None:
            failed, first = first, None
            raise failed  # the try above, replayed as attempt 1
        return fn()

    result: T = api_retrying(config, only_rate_limits=only_rate_limits, deadline=deadline)(attempt)
    return result


def api_retrying(
    config: RetryConfig | None = None, *, only_rate_limits: bool = False, deadline: Deadline | None = None
) -> Retrying:
    """A tenacity ``Retrying`` for GET/PUT/DELETE. Callers see our errors, never tenacity's RetryError.

    ``only_rate_limits`` is for POST: a 429 is refused before anything is applied, so it is the one failure a
    create may safely be sent again after.
    """
    from tenacity import Retrying, retry_if_exception_type, retry_if_not_exception_type
    from tenacity.wait import wait_exponential, wait_random

    cfg = config or RetryConfig()
    retryable: tuple[type[BaseException], ...] = (RateLimitedError,) if only_rate_limits else RETRYABLE
    wait = wait_server_aware(
        wait_exponential(multiplier=cfg.initial, max=cfg.max_backoff) + wait_random(0, cfg.initial),
        clock=cfg.clock,
    )
    stops = (
        stop_after_second_try_of(_TRIED_TWICE),
        stop_when_wait_budget_spent(cfg.max_wait, wait, deadline),
    )

    def stop(retry_state: RetryCallState) -> bool:
        return retry_state.attempt_number >= cfg.max_attempts or any(s(retry_state) for s in stops)

    def give_up(retry_state: RetryCallState) -> NoReturn:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        assert exc is not None  # tenacity gives up only after a failed attempt
        if isinstance(exc, RateLimitedError):
            raise explain_rate_limit(exc, cfg.clock(), tries=retry_state.attempt_number) from exc
        if deadline is not None and wait(retry_state) >= deadline.remaining():
            raise deadline.exceeded(f"retrying ({exc})") from exc
        raise exc

    return Retrying(
        retry=retry_if_exception_type(retryable) & retry_if_not_exception_type(_NEVER_RETRIED),
        wait=wait,
        stop=stop,
        sleep=cfg.sleep,
        before_sleep=_log_retry,
        retry_error_callback=give_up,
        reraise=True,
    )


def unsent_retrying(config: RetryConfig, *, unsent: tuple[type[BaseException], ...]) -> Retrying:
    """A tenacity ``Retrying`` for a request that must not run twice (GitHub's workflow dispatch): only the
    ``unsent`` failures (refused before anything was done) are sent again, after ``retry-after`` or 1 s, at most
    ``max_attempts`` times; a longer wait than ``max_wait`` is not started. The last failure is raised as is."""
    from tenacity import Retrying, retry_if_exception_type

    def delay(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return exc.retry_after if isinstance(exc, RateLimitedError) and exc.retry_after else 1.0

    return Retrying(
        retry=retry_if_exception_type(unsent),
        wait=delay,
        stop=lambda state: state.attempt_number >= config.max_attempts or delay(state) > config.max_wait,
        sleep=config.sleep,
        reraise=True,
    )


def wait_until(
    attempt: Callable[[], bool],
    *,
    every: float,
    within: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Call ``attempt`` every ``every`` seconds until it returns True, for at most ``within`` seconds: whether it
    did. For local waits (a file lock, sessions leaving PostgreSQL); a tenacity poller like ``poll_until``.

    The first call is at once; once the deadline has passed, the last call decides (no sleep past it).
    """
    from tenacity import Retrying, retry_if_result
    from tenacity.wait import wait_fixed

    deadline = clock() + within
    done: bool = Retrying(
        retry=retry_if_result(lambda ok: not ok),
        wait=wait_fixed(every),
        stop=lambda state: clock() >= deadline,
        sleep=sleep,
        retry_error_callback=lambda state: False,
    )(attempt)
    return done


def explain_rate_limit(exc: RateLimitedError, now: float, *, tries: int = 1) -> RateLimitedError:
    """The 429 with, in its message, when the limit lifts: DigitalOcean's retry-after, else its reset time."""
    if exc.retry_after is not None:
        at, when = now + exc.retry_after, "Retry after"
    elif exc.reset_at is not None:
        at, when = exc.reset_at, "The hourly quota resets at"
    else:
        return exc
    if at - now > 1.0:
        return exc.extended(f" {when} {when_text(at, now)}: longer than this run may wait; run the same command "
                            "again then.")  # fmt: skip
    return exc.extended(f" {when} {when_text(at, now)}, but DigitalOcean still refused after {tries} tries; run "
                        "the same command again in a minute.")  # fmt: skip


def _log_retry(retry_state: RetryCallState) -> None:
    exc = retry_state.outcome.exception() if retry_state.outcome else None
    wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
    what = str(exc).split(". ", 1)[0]  # the problem, not the advice: that comes with the final error, if any
    logger.warning("retrying in %.1fs after %s (attempt %d)", wait, what, retry_state.attempt_number)
