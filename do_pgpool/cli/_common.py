"""What every command shares: API options, output format, error handling and exit codes.

Imports only click at module level: ``do-pgpool --help`` must not pay for pydo (about 0.3 s), nor for json
and logging (a few ms each), which the commands import when they run.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from .._deadline import Deadline
    from .._exceptions import DoPgpoolError, Param, Step
    from ..api._gateway import DigitalOcean

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_PENDING = 3
EXIT_HEADROOM = 4  # status --fail-at: the verdict reached the level a pipeline gates on
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: stdout's reader went away (`| head`), as shells report it

INTERRUPTED_MESSAGE = (
    "Interrupted: anything already sent to DigitalOcean or GitHub may have been applied; "
    "run the same command again to finish (it is idempotent), or look with `do-pgpool status`."
)

#: Ctrl-C during a run that changes nothing: a read-only command (``status``, ``list-pools``, ``probe``, ``advice``), or
#: any command with ``--dry-run`` / ``--check``
READ_ONLY_INTERRUPTED_MESSAGE = "Interrupted: {what} only reads; nothing was changed."

#: the root context's ``meta`` key for what to say on Ctrl-C during this run, set when the command starts
_INTERRUPTED_KEY = "do_pgpool.interrupted_message"
_READS_ONLY_KEY = "do_pgpool.reads_only"

EXIT_CODES_HELP = """\b
Exit codes:
    0  success, nothing to do, or --dry-run
    1  operational failure: API error, budget, conflict, timeout, a failed secret target
    2  usage: bad options or configuration, found before any request
    3  --check only (ensure-pool, ensure-config): changes are pending
    4  status --fail-at only: the verdict is at or beyond the given level
  130  interrupted (Ctrl-C): anything already sent may have been applied; re-run to finish
       (status, list-pools, probe, advice and any --dry-run or --check only read: nothing was changed)
"""


def exit_codes_help(command: click.Command, *, read_only: bool = False) -> str:
    """The exit-code epilog of one cluster command, from the options it really has (``--dry-run``, ``--check``,
    ``--secret``): the help never promises a flag the command does not take."""
    names = {param.name for param in command.params}
    success = "success, nothing to do, or --dry-run" if "dry_run" in names else "success"
    failure = "API error, budget, conflict, timeout"
    if "targets" in names:  # --secret TARGET
        failure += ", a failed secret target"
    lines = [
        "\b",
        "Exit codes:",
        f"    0  {success}",
        f"    1  operational failure: {failure}",
        "    2  usage: bad options or configuration, found before any request",
    ]
    if "check" in names:
        lines.append("    3  with --check: changes are pending")
    if "fail_at" in names:
        lines.append("    4  with --fail-at: the verdict is at or beyond the given level (a deploy gate)")
    if read_only and "temporary_access" in names:
        lines.append("  130  interrupted (Ctrl-C): nothing was changed (this command only reads; a --temporary-access "
                     "rule is removed)")  # fmt: skip
    elif read_only:
        lines.append("  130  interrupted (Ctrl-C): nothing was changed (this command only reads)")
    elif "dry_run" in names:
        lines.append("  130  interrupted (Ctrl-C): anything already sent may have been applied; re-run to finish "
                     "(nothing with --dry-run)")  # fmt: skip
    else:
        lines.append("  130  interrupted (Ctrl-C): anything already sent may have been applied; re-run to finish")
    return "\n".join(lines) + "\n"


class ReadOnlyAware(click.Command):
    """A command that says, on Ctrl-C, whether this run could have changed anything.

    ``read_only``: the command only reads (``status``, ``list-pools``, ``probe``, ``advice``; the probe's
    temporary objects end with its session). Any run with ``--dry-run``
    or ``--check`` changes nothing either. ``--temporary-access`` (without ``--dry-run``) writes a trusted
    source for the run, so such a run gets the ordinary message.
    """

    def __init__(self, *args: Any, read_only: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_only = read_only

    def interrupted_message(self, params: dict[str, Any]) -> str:
        """What Ctrl-C means for a run with these parameters."""
        for flag_name in ("dry_run", "check"):
            if params.get(flag_name):
                return READ_ONLY_INTERRUPTED_MESSAGE.format(what="--" + flag_name.replace("_", "-"))
        if self.read_only and not params.get("temporary_access"):
            return READ_ONLY_INTERRUPTED_MESSAGE.format(what=self.name)
        return INTERRUPTED_MESSAGE

    def remember(self, ctx: click.Context) -> None:
        """Note what this run may change, for the Ctrl-C message and for ``run_deadline()``'s wording."""
        message = self.interrupted_message(ctx.params)
        ctx.find_root().meta[_INTERRUPTED_KEY] = message
        ctx.find_root().meta[_READS_ONLY_KEY] = message != INTERRUPTED_MESSAGE

    def invoke(self, ctx: click.Context) -> Any:
        self.remember(ctx)
        return super().invoke(ctx)


class ClusterCommand(ReadOnlyAware):
    """A command that talks to DigitalOcean: its exit-code epilog is written from its own options, and its
    run's ``--timeout`` is in scope while it runs (``current_deadline()``: PostgreSQL connections end within it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.epilog is None:
            self.epilog = exit_codes_help(self, read_only=self.read_only)

    def invoke(self, ctx: click.Context) -> Any:
        self.remember(ctx)  # before the deadline is made: it words running out by whether the run only reads
        with run_deadline().scope():
            return super().invoke(ctx)


class OperationFailed(click.ClickException):
    """A library error on its way to the terminal: ``Error: <message>`` on stderr, exit 1."""

    exit_code = EXIT_FAILURE


class BadConfiguration(click.ClickException):
    """A ConfigError (bad input found before any request): exit 2, like click's own usage errors."""

    exit_code = EXIT_USAGE


#: Library parameter names whose flag is not ``--`` + the name with dashes.
_FLAGS = {"num_nodes": "--nodes", "storage_size_mib": "--storage-mib", "secrets": "--secret",
          "no_wait": "--no-wait", "api_url": "--api-url", "behaviour": "--probe"}


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


def help_width(max_width: int | None) -> int:
    """The width click's help formatter would choose, from the same sources: ``COLUMNS``, else the terminal of
    ``sys.__stdout__``, else 80 columns (``shutil.get_terminal_size``'s rules), at most ``max_width`` (80 if None).

    Given to click as ``terminal_width``: its own way imports shutil, and with it zlib, bz2 and lzma (~2 ms of
    a ``--help``) only to read the terminal's size."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):  # no stdout (None), a closed one, or not a terminal
            columns = 0
        columns = columns or 80
    return max(min(columns, max_width or 80) - 2, 50)


class DoPgpoolGroup(click.Group):
    """Turns library errors, Ctrl-C and bugs into one-line messages and exit codes, in one place for every command.

    Never a traceback on the terminal unless ``-vv`` asked for one (then it is logged, secrets masked).
    Everything written to stdout and stderr while it runs passes the redactor (``RedactingStream``).
    """

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        if parent is None:  # the root: every command's context inherits its width
            extra.setdefault("terminal_width", help_width(extra.get("max_content_width")
                                                          or self.context_settings.get("max_content_width")))
        return super().make_context(info_name, args, parent, **extra)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        streams = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = RedactingStream(sys.stdout), RedactingStream(sys.stderr)
        try:
            return super().main(*args, **kwargs)
        finally:
            sys.stdout, sys.stderr = streams

    def invoke(self, ctx: click.Context) -> Any:
        from .._console import settle

        try:
            return self._invoke(ctx)
        finally:
            settle()  # the outcome is decided: a Ctrl-C from now on must not turn it into a crash

    def _invoke(self, ctx: click.Context) -> Any:
        from .._exceptions import ConfigError, DoPgpoolError

        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise BadConfiguration(error_text(exc)) from exc
        except DoPgpoolError as exc:
            raise OperationFailed(error_text(exc)) from exc
        except KeyboardInterrupt:
            click.echo(ctx.meta.get(_INTERRUPTED_KEY, INTERRUPTED_MESSAGE), err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BrokenPipeError:  # `do-pgpool advice | head`: the reader has what it wanted; not a bug
            try:  # what is still buffered for stdout goes nowhere, not into a second BrokenPipeError at exit
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.__stdout__.fileno())  # type: ignore[union-attr]
            except (AttributeError, ValueError, OSError):
                pass
            raise click.exceptions.Exit(EXIT_BROKEN_PIPE) from None
        except Exception as exc:
            import logging

            logging.getLogger("do_pgpool").debug("unexpected error", exc_info=True)
            detail = " ".join(redact(str(exc)).split())[:200]
            raise OperationFailed(
                f"unexpected {type(exc).__name__}{': ' + detail if detail else ''} "
                "(a do-pgpool bug: run with -vv for the traceback and report it)"
            ) from exc


def _remember_token(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from .._redact import remember

    remember(value)
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
        help="DigitalOcean API base URL (http:// only to a loopback host, e.g. `do-pgpool fake-api`; no "
             "user:password@, the token is the credential).",
    )(f)
    f = click.option(
        "--token",
        envvar=["DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN"],
        show_envvar=True,
        metavar="TOKEN",
        help="DigitalOcean API token (printable ASCII, at most 4096 characters); prefer the environment variable "
             "(flags show up in `ps`).",
        callback=_remember_token,
    )(f)
    return f


def command(name: str, *, read_only: bool = False) -> Callable[[Callable[..., Any]], click.Command]:
    """A cluster command: ``click.command`` with the exit-code epilog, ``--token``/``--api-url`` and ``--cluster``.

    Put it where ``@click.command`` goes; the command's own options follow these in ``--help``. ``read_only``:
    the command changes nothing (Ctrl-C then says so, and so does ``--help``).
    """

    def decorate(f: Callable[..., Any]) -> click.Command:
        return click.command(name, cls=ClusterCommand, read_only=read_only)(api_options(cluster_option(
            timeout_option(DEFAULT_RUN_TIMEOUT)(f))))

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


if TYPE_CHECKING:
    _ParamType = click.ParamType[float, Any]
else:  # click < 8.2 has no generic ParamType
    _ParamType = click.ParamType


class Duration(_ParamType):
    """Every duration option: seconds (``90``, ``2.5``) or ``90s``, ``30m``, ``1h``, ``1h30m``; finite, at least
    ``min`` (``positive``: above 0). ``nan``, ``inf`` and the rest are usage errors, the same for every option."""

    name = "duration"

    def __init__(self, *, min: float = 0.0, positive: bool = False) -> None:  # noqa: A002 (click's own word)
        self.min = min
        self.positive = positive

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        from .._duration import check_seconds, parse_duration
        from .._exceptions import ConfigError

        try:  # click names the option ("Invalid value for '--timeout': ..."): the sentence need not
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return check_seconds(value, what="", minimum=self.min, positive=self.positive)
            return parse_duration(str(value), what="", minimum=self.min, positive=self.positive)
        except ConfigError as exc:
            self.fail(str(exc), param, ctx)


#: the whole run's time limit (``--timeout``) of the API commands that do not wait for an operation
DEFAULT_RUN_TIMEOUT = "5m"
_TIMEOUT_KEY = "do_pgpool.timeout"


def _remember_timeout(ctx: click.Context, param: click.Parameter, value: float) -> float:
    ctx.meta[_TIMEOUT_KEY] = value
    return value


def timeout_option(default: str, *, expose_value: bool = False, help: str | None = None) -> Callable[[F], F]:  # noqa: A002
    """``--timeout``: the whole run's time limit (every request, retry, rate-limit wait and wait for DigitalOcean)."""
    return click.option(
        "--timeout",
        type=Duration(positive=True),
        default=default,
        show_default=True,
        expose_value=expose_value,
        callback=_remember_timeout,
        help=help or "Give up after this long, whatever is happening (90s, 5m, 1h, or seconds); a re-run finishes "
        "the job. Each request also gives up after 30s without a complete answer.",
    )


def run_deadline() -> Deadline:
    """The run's ``Deadline`` (from ``--timeout``), one per command invocation; on the wait clock (fake in tests)."""
    from .._deadline import Deadline

    # a test's WaitClock is a _progress object: not loaded, there is none, and the clock is the default
    progress = sys.modules.get(f"{__package__}._progress")
    clock = progress.wait_clock().clock if progress is not None else time.monotonic
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return Deadline(None)
    root = ctx.find_root()
    found = root.meta.get("do_pgpool.deadline")
    if found is None:
        found = Deadline(ctx.meta.get(_TIMEOUT_KEY), clock=clock, reads_only=root.meta.get(_READS_ONLY_KEY, False))
        root.meta["do_pgpool.deadline"] = found
    return found


def dry_run_option(f: F) -> F:
    return click.option("--dry-run", is_flag=True, help="Show the plan; change nothing.")(f)


def open_gateway(token: str | None, api_url: str) -> DigitalOcean:
    """A gateway bound by the run's ``--timeout``."""
    from ..api._gateway import DigitalOcean

    return DigitalOcean(token or "", api_url=api_url, deadline=run_deadline())


def emit_json(data: Any) -> None:
    import json

    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def warn(message: str) -> None:
    click.secho(f"warning: {message}", fg="yellow", err=True)


# Environment variables whose values are secrets; their values are masked in every message and log line.
SECRET_ENV_VARS = ("DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN", "GITHUB_TOKEN", "GH_TOKEN")


def redact(text: str) -> str:
    """The run's one redactor (``do_pgpool._redact``), after learning the token variables of the environment."""
    from .._redact import redact as redact_text
    from .._redact import remember

    remember(*(os.environ.get(name) for name in SECRET_ENV_VARS))
    return redact_text(text)


class RedactingStream:
    """A text stream whose every write passes the redactor: the last line of defence for stdout and stderr.

    ``buffer`` is deliberately not offered, so nothing (click included) can write around the redactor.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def write(self, text: Any) -> Any:
        return self._inner.write(redact(text) if isinstance(text, str) else text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        if name == "buffer":
            raise AttributeError(name)
        return getattr(self._inner, name)


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
