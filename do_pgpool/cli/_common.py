"""What every command shares: API options, output format, error handling and exit codes.

Imports only click at module level: ``do-pgpool --help`` must not pay for pydo (about 0.3 s), nor for json
and logging (a few ms each), which the commands import when they run.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from .._exceptions import DoPgpoolError, Param, Step
    from .._gateway import DigitalOcean

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_PENDING = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C

INTERRUPTED_MESSAGE = (
    "Interrupted: anything already sent to DigitalOcean or GitHub may have been applied; "
    "run the same command again to finish (it is idempotent), or look with `do-pgpool status`."
)

EXIT_CODES_HELP = """\b
Exit codes:
    0  success, nothing to do, or --dry-run
    1  operational failure: API error, budget, conflict, timeout, a failed secret target
    2  usage: bad options or configuration, found before any request
    3  with --check only: changes are pending
  130  interrupted (Ctrl-C): anything already sent may have been applied; re-run to finish
"""


class OperationFailed(click.ClickException):
    """A library error on its way to the terminal: ``Error: <message>`` on stderr, exit 1."""

    exit_code = EXIT_FAILURE


class BadConfiguration(click.ClickException):
    """A ConfigError (bad input found before any request): exit 2, like click's own usage errors."""

    exit_code = EXIT_USAGE


#: Library parameter names whose flag is not ``--`` + the name with dashes.
_FLAGS = {"num_nodes": "--nodes", "storage_size_mib": "--storage-mib", "secrets": "--secret",
          "no_wait": "--no-wait", "api_url": "--api-url"}


def flag(param: Param | Step) -> str:
    """A library ``Param``/``Step`` in the words of the command line: ``--size 2``, ``do-pgpool resize ...``."""
    from .._exceptions import Step

    if isinstance(param, Step):
        return " ".join(["do-pgpool", param.name.replace("_", "-"), *map(flag, param.params)])
    name = _FLAGS.get(param.name, "--" + param.name.replace("_", "-"))
    return name if param.value is None or param.value is True else f"{name} {param.value}"


def error_text(exc: DoPgpoolError) -> str:
    """A library error as the CLI says it: flags instead of parameter names, secrets masked."""
    return redact(exc.render(flag))


class DoPgpoolGroup(click.Group):
    """Turns library errors, Ctrl-C and bugs into one-line messages and exit codes, in one place for every command.

    Never a traceback on the terminal unless ``-vv`` asked for one (then it is logged, secrets masked).
    """

    def invoke(self, ctx: click.Context) -> Any:
        from .._exceptions import ConfigError, DoPgpoolError

        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise BadConfiguration(error_text(exc)) from exc
        except DoPgpoolError as exc:
            raise OperationFailed(error_text(exc)) from exc
        except KeyboardInterrupt:
            click.echo(INTERRUPTED_MESSAGE, err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            import logging

            logging.getLogger("do_pgpool").debug("unexpected error", exc_info=True)
            detail = " ".join(redact(str(exc)).split())[:200]
            raise OperationFailed(
                f"unexpected {type(exc).__name__}{': ' + detail if detail else ''} "
                "(a do-pgpool bug: run with -vv for the traceback and report it)"
            ) from exc


def _remember_token(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value:
        _TOKENS.add(value.strip())
    return value


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
        callback=_remember_token,
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


class Seconds(click.FloatRange):
    """A finite number of seconds, at least ``min`` (click's FloatRange lets ``nan`` and ``inf`` through)."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number of seconds", param, ctx)
        return number


def dry_run_option(f: F) -> F:
    return click.option("--dry-run", is_flag=True, help="Show the plan; change nothing.")(f)


def open_gateway(token: str | None, api_url: str) -> DigitalOcean:
    from .._gateway import DigitalOcean

    return DigitalOcean(token or "", api_url=api_url)


def emit_json(data: Any) -> None:
    import json

    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def warn(message: str) -> None:
    click.secho(f"warning: {message}", fg="yellow", err=True)


# Environment variables whose values are secrets; their values are masked in every message and log line.
SECRET_ENV_VARS = ("DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN", "GITHUB_TOKEN", "GH_TOKEN")
_TOKENS: set[str] = set()  # tokens given as --token
_BEARER = re.compile(r"(?i)\b(bearer)(\s+)[^\s'\"]+")


def redact(text: str) -> str:
    """Mask URL passwords, bearer credentials and the values of the token variables (and --token) in ``text``."""
    from .._dburl import MASK, mask_secrets_in

    secrets = {v.strip() for v in (os.environ.get(name, "") for name in SECRET_ENV_VARS)} | _TOKENS
    for secret in sorted((s for s in secrets if len(s) >= 8), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return _BEARER.sub(lambda m: f"{m[1]}{m[2]}{MASK}", mask_secrets_in(text))


def configure_logging(verbose: int) -> None:
    import logging

    class _RedactingFormatter(logging.Formatter):
        """Every formatted record, traceback included, goes through ``redact``: a last line of defence."""

        def format(self, record: logging.LogRecord) -> str:
            return redact(super().format(record))

    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("%(levelname)s %(name)s: %(message)s" if verbose else "%(message)s"))
    root = logging.getLogger("do_pgpool")
    root.handlers[:] = [handler]
    root.setLevel(level)
