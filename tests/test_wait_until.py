"""api._retry.wait_until: the engine's local poller (file locks, sessions leaving), in virtual time."""

from __future__ import annotations

from do_pgpool.api._retry import wait_until


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_first_try_needs_no_sleep() -> None:
    clock = Clock()
    assert wait_until(lambda: True, every=0.05, within=1.0, clock=clock, sleep=clock.sleep) and clock.slept == []


def test_retries_every_interval_until_done() -> None:
    clock, answers = Clock(), iter([False, False, True])
    assert wait_until(lambda: next(answers), every=0.5, within=10.0, clock=clock, sleep=clock.sleep)
    assert clock.slept == [0.5, 0.5]


def test_gives_up_at_the_deadline_after_a_last_try() -> None:
    clock, calls = Clock(), []

    def never() -> bool:
        calls.append(clock.now)
        return False

    assert not wait_until(never, every=1.0, within=3.0, clock=clock, sleep=clock.sleep)
    assert calls == [100.0, 101.0, 102.0, 103.0] and sum(clock.slept) == 3.0  # bounded: nothing after 103
