"""Deterministic identities: uuid5 from per-fake counters, ``fake-password-<n>``, request ids.

Two fakes seeded the same way hold the same ids and passwords, so tests and recorded output are stable.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from dataclasses import dataclass

__all__ = ["Ids", "LifecycleOptions"]

NAMESPACE = uuid.UUID("6f1c1f0e-3b5e-4c39-9a7a-0d0d0d0d0d0d")


class Ids:
    def __init__(self) -> None:
        self._counters: Counter[str] = Counter()
        self._lock = threading.Lock()

    def next(self, kind: str) -> int:
        with self._lock:
            self._counters[kind] += 1
            return self._counters[kind]

    def uuid(self, kind: str, name: str = "") -> str:
        return str(uuid.uuid5(NAMESPACE, f"{kind}:{self.next(kind)}:{name}"))

    def password(self) -> str:
        return f"fake-password-{self.next('password')}"

    def request_id(self) -> str:
        return self.uuid("request")


@dataclass(kw_only=True)
class LifecycleOptions:
    """How long asynchronous operations take, in reads (and virtual seconds per read).

    A resize stays ``online`` at the old size for ``resize_online_reads`` reads (doctl PR #1936), then is
    ``resizing`` for ``resize_busy_reads`` reads, then ``online`` at the new size. ``install_update`` is busy
    for ``update_busy_reads`` reads. An app deployment is ``PENDING_DEPLOY`` for ``deploy_pending_reads``,
    ``DEPLOYING`` for ``deploy_running_reads``, then ``ACTIVE``. Each ``seconds_per_read`` of virtual time
    counts as one read, so ``fake.clock.advance()`` moves things on too.
    """

    resize_online_reads: int = 2
    resize_busy_reads: int = 2
    update_busy_reads: int = 2
    deploy_pending_reads: int = 1
    deploy_running_reads: int = 1
    seconds_per_read: float = 10.0
