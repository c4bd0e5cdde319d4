from __future__ import annotations

import os

import pytest

pytest_plugins = ["tests.conftest_servers", "pytester"]

_SECRET_ENV_PREFIXES = ("DIGITALOCEAN_", "DO_PGPOOL_", "GITHUB_")


@pytest.fixture(autouse=True)
def _no_real_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's or CI's real token can never reach a test."""
    for name in list(os.environ):
        if name.startswith(_SECRET_ENV_PREFIXES) or name == "GH_TOKEN":
            monkeypatch.delenv(name, raising=False)
