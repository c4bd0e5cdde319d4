"""Fault injection a test asks for, per fake: ``fake.faults.fail_next(...)`` and friends.

- ``fail_next(method, path_regex, status=500, times=1, message=None)``: matching requests fail before anything
  is applied (``message``: the error body's text, e.g. one that echoes a secret).
- ``fail_after_apply(operation, status=500, times=1, message=None)``: the operation is applied, then answers
  ``status`` (the Terraform #925 trap: the pool exists, the POST said 500, a retry gets 422 "pool name is not
  available").
- ``timeout_next(method, path_regex, after_apply=False)``: the request raises ``httpx.ReadTimeout`` (the
  loopback server drops the connection instead).
- ``rate_limit_burst(n, retry_after=1)``: the next ``n`` DigitalOcean requests answer 429 with ``retry-after``.
- ``malformed_json(method, path_regex)``: the next matching success answer has a truncated JSON body.
- ``latency(seconds, method=None, path_regex=None, times=None)``: matching requests advance the virtual
  clock by ``seconds`` (recorded in ``fake.clock``; nothing sleeps).
- ``maintenance(cluster)``/``end_maintenance(cluster)``: a resize answers 412 "cluster is undergoing maintenance".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._backend import DatabasesBackend, FakeCluster

__all__ = ["Faults"]


@dataclass
class _Rule:
    kind: str
    method: str | None
    path: re.Pattern[str] | None
    operation: str | None
    status: int
    times: int | None
    seconds: float = 0.0
    retry_after: int = 1
    message: str | None = None

    def matches(self, method: str, path: str, operation: str | None) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method is not None and self.method != method.upper():
            return False
        if self.path is not None and not self.path.search(path):
            return False
        return self.operation is None or self.operation == operation

    def spend(self) -> None:
        if self.times is not None:
            self.times -= 1


class Faults:
    def __init__(self, databases: DatabasesBackend) -> None:
        self._databases = databases
        self.rules: list[_Rule] = []

    def reset(self) -> None:
        self.rules.clear()

    def _add(self, kind: str, method: str | None, path: str | None, operation: str | None = None, *,
             status: int = 500, times: int | None = 1, seconds: float = 0.0, retry_after: int = 1,
             message: str | None = None) -> None:
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1 (or None for every request); got {times}")
        compiled = re.compile(path) if path is not None else None
        self.rules.append(
            _Rule(kind, method.upper() if method else None, compiled, operation, status, times, seconds, retry_after,
                  message)
        )

    def fail_next(
        self, method: str, path_regex: str, status: int = 500, times: int = 1, message: str | None = None
    ) -> None:
        self._add("fail", method, path_regex, status=status, times=times, message=message)

    def fail_after_apply(self, operation: str, status: int = 500, times: int = 1, message: str | None = None) -> None:
        self._add("fail_after", None, None, operation, status=status, times=times, message=message)

    def timeout_next(self, method: str, path_regex: str, *, after_apply: bool = False, times: int = 1) -> None:
        self._add("timeout_after" if after_apply else "timeout", method, path_regex, times=times)

    def rate_limit_burst(self, n: int, retry_after: int = 1) -> None:
        self._add("burst", None, r"^/v2/", times=n, status=429, retry_after=retry_after)

    def malformed_json(self, method: str, path_regex: str, times: int = 1) -> None:
        self._add("malformed", method, path_regex, times=times)

    def latency(
        self, seconds: float, method: str | None = None, path_regex: str | None = None, times: int | None = None
    ) -> None:
        self._add("latency", method, path_regex, times=times, seconds=seconds)

    def maintenance(self, cluster: FakeCluster | str) -> None:
        self._databases.cluster(cluster).under_maintenance = True

    def end_maintenance(self, cluster: FakeCluster | str) -> None:
        self._databases.cluster(cluster).under_maintenance = False

    def take(self, kind: str, method: str, path: str, operation: str | None = None) -> _Rule | None:
        """The first live rule of ``kind`` matching the request, spending one of its ``times``."""
        for rule in self.rules:
            if rule.kind == kind and rule.matches(method, path, operation):
                rule.spend()
                return rule
        return None
