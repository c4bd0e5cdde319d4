"""Bounded polling with backoff, and the options every wait shares; the clock and sleep are injectable.

``poll_until`` is the one poller (tenacity's ``Retrying`` with ``retry_if_result``, see ``_retry``). It reads,
asks whether the reading means done, reports progress through a callback, and sleeps a growing delay (5 s, x1.5,
capped at 30 s by default: about 24 reads in 10 minutes, not a fixed hammer) until done or until the deadline,
where it raises ``WaitTimeoutError`` with what it saw last. While waiting:

- 412 (maintenance in progress) means "busy": back off and read again.
- 429 that escaped the gateway's own retries means "busy" too, with a longer delay (``retry-after``, else a
  whole burst window), never a crash.
- 5xx and transport errors that escaped the gateway's retries are tolerated a few times in a row, then raised;
  a 5xx with ``retry-after`` waits at least that long before the next read.
- The run's deadline (``DeadlineExceededError`` from a read) ends the wait like its own timeout: the message
  says what was seen last.
- Anything else (401, 403, 404, a malformed answer) is raised at once.

``retry_while_busy`` re-sends a state-setting PUT refused with 412 (tenacity too). ``WaitOptions`` (a ``Pacing``)
carries how to wait (the deadline, clock, sleep, backoff, progress callback) through every wait in one value;
``Stopwatch`` gives an operation that waits several times one deadline for all of them, and counts its time
and requests.
What is waited for (a cluster, a maintenance, a deployment) lives in ``_wait``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Generic, NoReturn, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, retry_if_result

from .._exceptions import (
    DeadlineExceededError,
    DoPgpoolError,
    InvalidResponseError,
    Param,
    PreconditionFailedError,
    RateLimitedError,
    ServerError,
    TransportError,
    WaitTimeoutError,
)
from ._ports import Counted
from ._retry import Pacing

__all__ = [
    "DEFAULT_TIMEOUT",
    "Backoff",
    "Observation",
    "Progress",
    "ProgressCallback",
    "Stopwatch",
    "WaitOptions",
    "format_duration",
    "poll_until",
    "retry_while_busy",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Default deadline of every wait: 30 minutes.
DEFAULT_TIMEOUT = 30 * 60.0


@dataclass(frozen=True)
class Backoff:
    """Delay between reads: ``initial`` seconds, times ``factor`` after each read, at most ``maximum``."""

    initial: float = 5.0
    factor: float = 1.5
    maximum: float = 30.0
    #: after a 429 without ``retry-after`` that escaped the gateway's retries: one whole burst window
    rate_limited: float = 60.0
    #: 5xx / transport errors in a row (each already retried by the gateway) before giving up
    max_consecutive_errors: int = 5

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.factor < 1 or self.maximum < self.initial or self.rate_limited <= 0:
            raise ValueError(f"invalid backoff {self!r}: need 0 < initial <= maximum, factor >= 1")
        if self.max_consecutive_errors < 1:
            raise ValueError("max_consecutive_errors must be at least 1")

    def delay(self, attempt: int) -> float:
        """The delay after read number ``attempt`` (0-based)."""
        return min(self.initial * self.factor ** min(attempt, 64), self.maximum)


@dataclass(frozen=True)
class Progress:
    """What a wait reports after each read (and before each retry of a refused write)."""

    what: str
    status: str
    detail: str
    elapsed: float
    polls: int
    #: seconds until the next read; None once done
    next_in: float | None = None
    done: bool = False

    @property
    def key(self) -> tuple[str, str]:
        """Changes only when the state does, not with the clock: one line per change on a non-terminal."""
        return (self.status, self.detail)


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class WaitOptions(Pacing):
    """How to wait: the deadline, the time source (``clock``, ``sleep``: see ``Pacing``), the delays and who
    hears about progress.

    One value instead of the same six keywords on every function that waits. Tests pass a fake ``clock`` and
    ``sleep`` (no real sleeps); the CLI passes its progress renderer as ``on_progress`` and ``sleep``.
    """

    #: seconds until ``WaitTimeoutError``; an operation that waits several times shares one deadline
    timeout: float = DEFAULT_TIMEOUT
    backoff: Backoff = field(default_factory=Backoff)
    on_progress: ProgressCallback | None = None

    def __post_init__(self) -> None:
        from .._duration import check_seconds

        check_seconds(self.timeout, what="timeout")  # nan and inf too: a wait that can never end is refused

    def report(
        self, what: str, status: str, detail: str, elapsed: float, polls: int, next_in: float | None, *,
        done: bool = False,
    ) -> None:
        if self.on_progress is not None:
            self.on_progress(Progress(what, status, detail, elapsed, polls, next_in, done))


class Stopwatch:
    """One operation's elapsed time, requests sent, and the one deadline shared by all its waits.

    An operation may wait for a busy cluster, then retry a refused PUT, then wait for the change; ``timeout``
    covers all of it, so each wait gets ``waiting()``: the options with the timeout cut to what is left.
    """

    def __init__(self, gateway: Counted, waiting: WaitOptions | None = None) -> None:
        waiting = waiting or WaitOptions()
        self._gateway = gateway
        self._options = waiting
        self._start_count = gateway.request_count
        self._start = waiting.clock()
        self._deadline = self._start + waiting.timeout

    def elapsed(self) -> float:
        return self._options.clock() - self._start

    def requests(self) -> int:
        return self._gateway.request_count - self._start_count

    def waiting(self) -> WaitOptions:
        return replace(self._options, timeout=max(self._deadline - self._options.clock(), 0.0))


@dataclass(frozen=True)
class Observation(Generic[T]):
    """One reading, judged: the value, a short ``status`` and ``detail`` for people, and whether it is done."""

    value: T
    status: str
    detail: str = ""
    done: bool = False


def format_duration(seconds: float) -> str:
    """``95`` -> ``1m35s``; ``3600`` -> ``1h0m0s``; ``12.5`` -> ``12s``."""
    total = max(int(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def poll_until(
    observe: Callable[[], Observation[T]],
    *,
    what: str | Callable[[], str],
    waiting: WaitOptions | None = None,
    expectation: str = "",
) -> T:
    """Call ``observe`` until it says done; raise ``WaitTimeoutError`` at ``waiting.timeout`` seconds.

    Reads happen at 0, then after each backoff delay; the last sleep is shortened to end at the deadline, where
    one final read decides. ``what`` names the thing (a callable: a name learned by the first read);
    ``expectation`` (e.g. "online with size db-s-2vcpu-4gb") goes into the timeout message.

    A tenacity poller: each attempt is one judged read (``_Reading``), retried while it is not done.
    """

    def name() -> str:
        return what() if callable(what) else what

    opts = waiting or WaitOptions()
    clock, policy = opts.clock, opts.backoff
    start = clock()
    deadline = start + opts.timeout
    errors_in_a_row = 0
    last: _Reading[T] | None = None

    def read() -> _Reading[T]:
        nonlocal errors_in_a_row, last
        polls = 1 if last is None else last.polls + 1
        delay = policy.delay(polls - 1)
        try:
            seen = observe()
        except DeadlineExceededError as exc:  # the run's --timeout ran out at this read: say what was seen last
            raise _timed_out(name(), clock() - start, polls, last, expectation) from exc
        except PreconditionFailedError:
            last = _Reading(polls, "busy (412)", "maintenance in progress; backing off", delay)
        except RateLimitedError as exc:
            delay = max(exc.retry_after if exc.retry_after is not None else policy.rate_limited, delay)
            last = _Reading(polls, "rate limited (429)", f"DigitalOcean's rate limit; next read in {delay:.0f}s", delay)
        except InvalidResponseError:
            raise
        except (ServerError, TransportError) as exc:
            errors_in_a_row += 1
            if errors_in_a_row >= policy.max_consecutive_errors:
                raise
            if isinstance(exc, ServerError) and exc.retry_after is not None:  # a 503 that says when: as a 429
                delay = max(exc.retry_after, delay)
            last = _Reading(polls, "API error", _short_error(exc), delay)
        else:
            errors_in_a_row = 0
            last = _Reading(polls, seen.status, seen.detail, delay, seen.done, seen.value)
        return last

    def pause(state: RetryCallState) -> float:  # the reading's delay, cut to end at the deadline
        return min(_reading(state).delay, deadline - clock())

    def report(state: RetryCallState) -> None:
        seen, next_in = _reading(state), state.upcoming_sleep
        opts.report(name(), seen.status, seen.detail, clock() - start, seen.polls, next_in)
        logger.debug("%s: %s (%s); next read in %.1fs", name(), seen.status, seen.detail, next_in)

    def give_up(state: RetryCallState) -> NoReturn:
        raise _timed_out(name(), clock() - start, _reading(state).polls, last, expectation)

    done: _Reading[T] = Retrying(
        retry=retry_if_result(lambda seen: not seen.done),
        wait=pause,
        stop=lambda state: deadline - clock() <= 0,
        sleep=opts.sleep,
        before_sleep=report,
        retry_error_callback=give_up,
    )(read)
    opts.report(name(), done.status, done.detail, clock() - start, done.polls, None, done=True)
    return done.value  # type: ignore[return-value]  # a done reading carries the observed value


@dataclass(frozen=True)
class _Reading(Generic[T]):
    """One attempt of a poll: what was seen (or what error was tolerated) and the delay it asks for."""

    polls: int
    status: str
    detail: str
    delay: float
    done: bool = False
    value: T | None = None


def _reading(state: RetryCallState) -> _Reading[Any]:
    assert state.outcome is not None  # tenacity asks only after an attempt
    seen: _Reading[Any] = state.outcome.result()
    return seen


def _timed_out(
    name: str, elapsed: float, polls: int, last: _Reading[Any] | None, expectation: str
) -> WaitTimeoutError:
    last_status, last_detail = (last.status, last.detail) if last is not None else (None, "")
    wanted = f"; waiting for {expectation}" if expectation else ""
    seen_text = f"{last_status or 'nothing yet'}" + (f" ({last_detail})" if last_detail else "")
    return WaitTimeoutError(
        [f"{name} was not ready after {format_duration(elapsed)} ({polls} reads): last seen {seen_text}"
         f"{wanted}. The operation goes on at DigitalOcean; check again later or run again with a longer ",
         Param("timeout"), "."],
        last_status=last_status,
        elapsed=elapsed,
    )


def retry_while_busy(send: Callable[[], T], *, what: str, action: str, wait: bool, waiting: WaitOptions) -> T:
    """Send a state-setting PUT; on 412 (maintenance in progress) back off and send it again until the timeout.

    Only for writes that are safe to repeat (PUT /resize, PUT /install_update). With ``wait=False`` the 412 is
    raised at once, its message saying that nothing changed.
    """
    clock, policy = waiting.clock, waiting.backoff
    start = clock()
    if not wait:
        try:
            return send()
        except PreconditionFailedError as exc:
            raise exc.extended(
                "\nNothing was changed. Run again once the maintenance is over, or without ",
                Param("no_wait", True), " to keep retrying until the ", Param("timeout"), ".",
            ) from exc

    def pause(state: RetryCallState) -> float:
        return min(policy.delay(state.attempt_number - 1), max(waiting.timeout - (clock() - start), 0.0))

    def report(state: RetryCallState) -> None:
        delay = state.upcoming_sleep
        detail = f"maintenance in progress; {action} not accepted yet, sending it again in {delay:.0f}s"
        waiting.report(what, "busy (412)", detail, clock() - start, state.attempt_number, delay)

    def give_up(state: RetryCallState) -> NoReturn:
        assert state.outcome is not None
        elapsed = clock() - start
        raise WaitTimeoutError(
            [f"{what} refused the {action} with 412 (maintenance in progress) for "
             f"{format_duration(elapsed)} ({state.attempt_number} attempts); nothing was changed. Run again later "
             "or with a longer ", Param("timeout"), "."],
            last_status="busy (412)",
            elapsed=elapsed,
        ) from state.outcome.exception()

    result: T = Retrying(
        retry=retry_if_exception_type(PreconditionFailedError),
        wait=pause,
        stop=lambda state: pause(state) <= 0,
        sleep=waiting.sleep,
        before_sleep=report,
        retry_error_callback=give_up,
    )(send)
    return result


def _short_error(exc: DoPgpoolError) -> str:
    status = getattr(exc, "status", None)
    return f"{type(exc).__name__} {status}" if status else type(exc).__name__
