"""Running ``do-pgpool`` in-process (click's runner) against a loopback fake API, and checking nothing leaked."""

from __future__ import annotations

from click.testing import CliRunner, Result

from do_pgpool.cli import main


def invoke(api_url: str, command: str, *args: str, token: str) -> Result:
    """``do-pgpool COMMAND --api-url API_URL ARGS...`` with ``DIGITALOCEAN_TOKEN=token``; exceptions propagate.

    A test module binds its own token: ``run = functools.partial(invoke, token=TOKEN)``.
    """
    return CliRunner().invoke(main, [command, "--api-url", api_url, *args], env={"DIGITALOCEAN_TOKEN": token},
                              catch_exceptions=False)  # fmt: skip


def assert_none_shown(result: Result, *secrets: str) -> None:
    """No token or password in stdout or stderr."""
    text = result.stdout + result.stderr
    for secret in secrets:
        assert secret not in text
