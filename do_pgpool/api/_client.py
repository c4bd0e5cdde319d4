"""What every API client (``DigitalOcean``, ``GitHub``) shares: an ``httpx.Client`` that is either injected
(tests pass one over the fake; its owner closes it) or made here and then closed by ``close()`` / ``with``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import httpx

__all__ = ["HttpClientOwner"]

_C = TypeVar("_C", bound="HttpClientOwner")


class HttpClientOwner:
    _http: httpx.Client
    _owns_http: bool

    def _adopt(self, http: httpx.Client | None, make: Callable[[], httpx.Client]) -> None:
        self._owns_http = http is None
        self._http = http if http is not None else make()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()
