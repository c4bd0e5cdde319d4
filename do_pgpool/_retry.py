"""Retry policy for idempotent API calls, built from tenacity's small strategies.

- 429: wait ``retry-after`` (burst limit); without it (hourly quota) wait until ``ratelimit-reset``.
- 5xx and transport errors: exponential backoff with jitter.
- Bounded by attempts and by the total time spent waiting; a rate-limit wait longer than what is left
  of that budget is not started: the error surfaces at once with its reset time.
- ``sleep`` and ``clock`` are injectable, so tests never sleep.

POST is retried only after a 429 (refused before anything was applied); after any other failure a create may
have been applied, and ``_ensure.py`` reads before deciding.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base, wait_exponential, wait_random

from ._exceptions import ConfigError, InvalidResponseError, RateLimitedError, ServerError, TransportError
from ._inputs import check_number

__all__ = ["RetryConfig", "api_retrying"]

logger = logging.getLogger(__name__)

RETRYABLE = (RateLimitedError, ServerError, TransportError)


@dataclass(frozen=True)
class RetryConfig:
    """How hard to retry one idempotent request."""

    max_attempts: int = 5
    #: total seconds of waiting across retries of one request
    max_wait: float = 60.0
    initial: float = 0.5
    max_backoff: float = 20.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    #: wall clock (Unix time) for ``ratelimit-reset``
    clock: Callable[[], float] = field(default=time.time, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ConfigError(f"max_attempts must be a whole number of at least 1, not {self.max_attempts!r}")
        for label, value in (("max_wait", self.max_wait), ("initial", self.initial),
                             ("max_backoff", self.max_backoff)):  # fmt: skip
            check_number(value, label)


def _rate_limit_delay(exc: BaseException | None, clock: Callable[[], float]) -> float | None:
    if not isinstance(exc, RateLimitedError):
        return None
    if exc.retry_after is not None:
        return max(exc.retry_after, 0.0)
    if exc.reset_at is not None:
        return max(exc.reset_at - clock(), 0.0) + 1.0  # the reset second itself may still be limited
    return None


class wait_rate_limit_aware(wait_base):
    """DigitalOcean's own answer first (retry-after, else ratelimit-reset); otherwise the fallback."""

    def __init__(self, fallback: wait_base, clock: Callable[[], float]) -> None:
        self.fallback = fallback
        self.clock = clock

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        delay = _rate_limit_delay(outcome.exception() if outcome else None, self.clock)
        return self.fallback(retry_state) if delay is None else delay


class stop_when_wait_budget_spent(stop_base):
    """Stop once the time already slept plus the next wait would exceed ``max_wait``.

    Counts scheduled waits (``idle_for``), not wall time, so the bound holds with an injected sleep.
    """

    def __init__(self, max_wait: float, wait: wait_base) -> None:
        self.max_wait = max_wait
        self.wait = wait

    def __call__(self, retry_state: RetryCallState) -> bool:
        return retry_state.idle_for + self.wait(retry_state) > self.max_wait


def api_retrying(config: RetryConfig | None = None, *, only_rate_limits: bool = False) -> Retrying:
    """A tenacity ``Retrying`` for GET/PUT/DELETE. ``reraise=True``: callers see our errors, not RetryError.

    ``only_rate_limits`` is for POST: a 429 is refused before anything is applied, so it is the one failure a
    create may safely be sent again after.
    """
    cfg = config or RetryConfig()
    retryable: tuple[type[BaseException], ...] = (RateLimitedError,) if only_rate_limits else RETRYABLE
    wait = wait_rate_limit_aware(
        wait_exponential(multiplier=cfg.initial, max=cfg.max_backoff) + wait_random(0, cfg.initial),
        clock=cfg.clock,
    )
    return Retrying(
        retry=retry_if_exception_type(retryable) & retry_if_not_exception_type(InvalidResponseError),
        wait=wait,
        stop=stop_after_attempt(cfg.max_attempts) | stop_when_wait_budget_spent(cfg.max_wait, wait),
        sleep=cfg.sleep,
        before_sleep=_log_retry,
        reraise=True,
    )


def _log_retry(retry_state: RetryCallState) -> None:
    exc = retry_state.outcome.exception() if retry_state.outcome else None
    wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
    logger.warning("retrying in %.1fs after %s (attempt %d)", wait, exc, retry_state.attempt_number)
