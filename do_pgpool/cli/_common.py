"""What every command shares: API options, output format, error handling and exit codes.

Imports only click at module level: ``do-pgpool --help`` must not pay for pydo (about 0.3 s).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from .._gateway import DigitalOcean

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_PENDING = 3

EXIT_CODES_HELP = """\b
Exit codes:
  0  success, nothing to do, or --dry-run
  1  operational failure: API error, budget, conflict, timeout, a failed secret target
  2  usage: bad options or configuration, found before any request
  3  with --check only: changes are pending
"""


class OperationFailed(click.ClickException):
    """A library error on its way to the terminal: ``Error: <message>`` on stderr, exit 1."""

    exit_code = EXIT_FAILURE


class BadConfiguration(click.ClickException):
    """A ConfigError (bad input found before any request): exit 2, like click's own usage errors."""

    exit_code = EXIT_USAGE


class DoPgpoolGroup(click.Group):
    """Turns library errors into messages and exit codes, in one place for every command."""

    def invoke(self, ctx: click.Context) -> Any:
        from .._exceptions import ConfigError, DoPgpoolError

        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise BadConfiguration(str(exc)) from exc
        except DoPgpoolError as exc:
            raise OperationFailed(str(exc)) from exc


def api_options(f: F) -> F:
    """``--token`` and ``--api-url``: how to reach DigitalOcean."""
    f = click.option(
        "--api-url",
        envvar="DIGITALOCEAN_API_URL",
        show_envvar=True,
        default="https://api.digitalocean.com",
        show_default=True,
        metavar="URL",
        help="DigitalOcean API base URL (http:// only to a loopback host, e.g. `do-pgpool fake-api`).",
    )(f)
    f = click.option(
        "--token",
        envvar=["DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN"],
        show_envvar=True,
        metavar="TOKEN",
        help="DigitalOcean API token; prefer the environment variable (flags show up in `ps`).",
    )(f)
    return f


def command(name: str) -> Callable[[Callable[..., Any]], click.Command]:
    """A cluster command: ``click.command`` with the exit-code epilog, ``--token``/``--api-url`` and ``--cluster``.

    Put it where ``@click.command`` goes; the command's own options follow these in ``--help``.
    """

    def decorate(f: Callable[..., Any]) -> click.Command:
        return click.command(name, epilog=EXIT_CODES_HELP)(api_options(cluster_option(f)))

    return decorate


def cluster_option(f: F) -> F:
    return click.option(
        "--cluster",
        envvar="DO_PGPOOL_CLUSTER",
        show_envvar=True,
        metavar="NAME_OR_UUID",
        help="Database cluster, by name or uuid. Default: the account's only PostgreSQL cluster.",
    )(f)


def output_option(f: F) -> F:
    return click.option(
        "-o",
        "--output",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="text for people; json for scripts (one JSON object on stdout).",
    )(f)


def dry_run_option(f: F) -> F:
    return click.option("--dry-run", is_flag=True, help="Show the plan; change nothing.")(f)


def open_gateway(token: str | None, api_url: str) -> DigitalOcean:
    from .._gateway import DigitalOcean

    return DigitalOcean(token or "", api_url=api_url)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def warn(message: str) -> None:
    click.secho(f"warning: {message}", fg="yellow", err=True)


def configure_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s" if verbose else "%(message)s"))
    root = logging.getLogger("do_pgpool")
    root.handlers[:] = [handler]
    root.setLevel(level)
