"""``mock_digitalocean()``: a fresh fake as a context manager or a test decorator. Nothing is patched:
code under test receives the fake through its transport (``fake.http_transport()``) or URL (``fake.serve()``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from ._fake import FakeDigitalOcean

__all__ = ["MockDigitalOcean", "mock_digitalocean"]

F = TypeVar("F", bound=Callable[..., Any])


class MockDigitalOcean:
    def __init__(self, arg_name: str, options: dict[str, Any]) -> None:
        self.arg_name = arg_name
        self.options = options
        self.fake: FakeDigitalOcean | None = None

    def __enter__(self) -> FakeDigitalOcean:
        self.fake = FakeDigitalOcean(**self.options)
        return self.fake

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        fake, self.fake = self.fake, None
        if exc_type is None and fake is not None and fake.strict:
            fake.assert_no_unmatched()

    def __call__(self, func: F) -> F:
        """Decorate a test: it receives the fake as the keyword argument named ``arg_name`` ("fake")."""
        signature = inspect.signature(func)
        wants_fake = self.arg_name in signature.parameters

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with MockDigitalOcean(self.arg_name, self.options) as fake:
                if wants_fake:
                    kwargs[self.arg_name] = fake
                return func(*args, **kwargs)

        # Hide the injected parameter from pytest, which would otherwise look for a fixture of that name.
        params = [p for name, p in signature.parameters.items() if name != self.arg_name]
        wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]


def mock_digitalocean(*, arg_name: str = "fake", **options: Any) -> MockDigitalOcean:
    """``with mock_digitalocean() as fake:`` or ``@mock_digitalocean()`` on a test taking ``fake``.

    ``options`` go to ``FakeDigitalOcean`` (``rate_limit_per_minute=...``, ``lifecycle=...``, ``strict=...``).
    In strict mode (the default) leaving the block fails when a request hit a route the fake lacks.
    """
    return MockDigitalOcean(arg_name, options)
