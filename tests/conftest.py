from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

pytest_plugins = ["tests.conftest_servers", "pytester"]

_SECRET_ENV_PREFIXES = ("DIGITALOCEAN_", "DO_PGPOOL_", "GITHUB_")


@pytest.fixture(autouse=True)
def _no_real_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's or CI's real token can never reach a test."""
    for name in list(os.environ):
        if name.startswith(_SECRET_ENV_PREFIXES) or name == "GH_TOKEN":
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _fresh_redactor() -> Iterator[None]:
    """The redactor remembers every secret of a process; a test's secrets must not mask another test's output."""
    from do_pgpool import _redact

    _redact.forget_all()
    yield
    _redact.forget_all()
