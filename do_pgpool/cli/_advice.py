"""``do-pgpool advice``: the settings an application needs behind a transaction pool (what status and fix show).

No token and no request: the advice depends on the stack (named, or detected from the app's repository) and on
what a saved probe measured on the pool (``--probe FILE``; without it, the settings safe on any transaction pool).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._stacks import STACKS as _KNOWN
from ._common import ReadOnlyAware, emit_json, error_text, output_option, warn

if TYPE_CHECKING:
    from .._pool_behaviour import PoolBehaviour
    from .._stacks import Detections

STACKS = [s.key for s in _KNOWN]
#: The keys of a saved ``do-pgpool probe -o json`` under which the pool's measurements may sit.
PROBE_KEYS = ("pool", "behaviour")


ADVICE_EXIT_CODES = """\b
Exit codes:
    0  the advice was printed
    2  usage: an unknown --stack (the closest names are suggested), a --probe file that is not a probe's JSON,
       an --app-dir that is not a folder or where no stack is found
  130  interrupted (Ctrl-C): nothing was changed (this command only reads)
"""


@click.command("advice", cls=ReadOnlyAware, read_only=True, epilog=ADVICE_EXIT_CODES)
@click.option("--stack", "stacks", multiple=True, metavar="NAME", callback=lambda ctx, param, value: _stacks(
              ctx, param, value), help=f"Only this stack's settings (repeatable); overrides detection. One of: "
              f"{', '.join(STACKS)} (any case; common names such as psycopg3, pg, pgjdbc, good_job are understood).")
@click.option("--app-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Detect the stacks from this app repository's manifests.  [default: the current directory; "
                   "nothing found there: every stack]")  # fmt: skip
@click.option("--probe", "probe_file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              metavar="FILE", help="A saved `do-pgpool probe -o json` (- reads standard input): settings decided by "
                                   "the pool's measurements.  "
                   "[default: not measured, the settings safe on any transaction pool]")  # fmt: skip
@click.option("--pool-env", default="DATABASE_URL", show_default=True, metavar="NAME", callback=lambda ctx, param,
              value: _env_name(ctx, param, value),
              help="Environment variable holding the pool's connection string.")  # fmt: skip
@click.option("--direct-env", default="DIRECT_DATABASE_URL", show_default=True, metavar="NAME", callback=lambda ctx,
              param, value: _env_name(ctx, param, value),
              help="Environment variable holding the cluster's direct connection string (migrations).")  # fmt: skip
@output_option
def advice_command(stacks: tuple[str, ...], app_dir: Path | None, probe_file: Path | None, pool_env: str,
                   direct_env: str, output: str) -> None:
    """The settings an application needs behind a transaction pool (no token, no request).

    \b
    Which stacks: --stack NAME, else those detected in --app-dir (default: the current directory; each found
    stack is printed with the file and line that gave it away), else every stack (with a warning).
    What to write: the settings safe on any transaction pool, or, with --probe FILE, the settings this pool
    needs as measured by `do-pgpool probe` (prepared statements that work through the pool stay on; session
    features it keeps need no workaround). `status` and `fix` point here.
    \b
    Examples:
      do-pgpool advice                                    # the stacks of the app in the current directory
      do-pgpool advice --app-dir ../shop
      do-pgpool probe -o json > probe.json && do-pgpool advice --stack rails --probe probe.json
      do-pgpool probe -o json | do-pgpool advice --probe -
      do-pgpool advice --stack django --pool-env POOL_URL -o json
    """
    from .._advice import advice_dict, render_text

    behaviour = read_probe(probe_file) if probe_file is not None else None
    detections = None
    chosen: list[str] | None = list(stacks) or None
    if chosen is None:
        detections, chosen = _detect(app_dir)
    if output == "json":
        data = advice_dict(pool_env=pool_env, direct_env=direct_env, behaviour=behaviour, stacks=chosen)
        emit_json({**data, "detected": detections.as_dict() if detections is not None else None})
        return
    if detections is not None and detections.found:
        click.echo(f"Detected in {detections.app_dir}:")
        for d in detections.found:
            click.echo(f"  - {d.describe()}")
        click.echo("")
    click.echo(render_text(pool_env=pool_env, direct_env=direct_env, behaviour=behaviour, stacks=chosen))


def _stacks(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    """--stack as typed (``Django``, ``good_job``, a typo: the closest keys suggested) -> stack keys."""
    from .._exceptions import ConfigError
    from .._stacks import stack_key

    try:
        return tuple(dict.fromkeys(stack_key(v) for v in value))
    except ConfigError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def _env_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """An environment variable's name, as the advice prints it in shell and code lines."""
    import re

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise click.BadParameter(f"{value!r} is not an environment variable's name (letters, digits and _, not "
                                 "starting with a digit), e.g. DATABASE_URL", ctx, param)  # fmt: skip
    return value


def _detect(app_dir: Path | None) -> tuple[Detections, list[str] | None]:
    """The detected stacks; none: every stack when the directory was the default, a usage error when named."""
    from .._exceptions import ConfigError
    from .._stacks import detect_stacks

    where = app_dir if app_dir is not None else Path(".")
    try:
        found = detect_stacks(where)
    except NotADirectoryError:
        what = "not a directory" if where.exists() else "no such directory"
        raise ConfigError(f"--app-dir {where}: {what}; give the app repository's folder (the one with its "
                          "requirements.txt, package.json, Gemfile, go.mod, ...), or name the stack with "
                          "--stack NAME") from None
    for problem in found.problems:
        warn(f"could not read {problem.describe()}; fix it, or name the stack with --stack NAME")
    if found.stacks:
        return found, list(found.stacks)
    if app_dir is not None:
        raise ConfigError(found.nothing_found())
    warn(f"{error_text(ConfigError(found.nothing_found()))}; showing every stack")
    return found, None


def read_probe(path: Path, option: str = "--probe") -> PoolBehaviour:
    """The pool's measurements from a saved ``do-pgpool probe -o json`` (``-``: standard input): its ``pool`` (or
    ``behaviour``) object, or a bare ``PoolBehaviour.as_dict()``. Raises ConfigError naming the file, the
    measurement and what is wrong."""
    import json
    import sys

    from .._exceptions import ConfigError
    from .._pool_behaviour import Behaviour, Feature, PoolBehaviour

    where = f"{option} {'- (standard input)' if str(path) == '-' else path}"
    expected = ("expected the output of `do-pgpool probe -o json` (the pool's measurements, as "
                "{\"protocol_prepared_statements\": {\"behaviour\": \"works\", ...}, ...}, bare or under \"pool\")")
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
        data: Any = json.loads(text)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read it ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not text (not UTF-8); {expected}") from None
    except json.JSONDecodeError as exc:
        what = "empty" if not exc.doc.strip() else f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        raise ConfigError(f"{where}: {what}; {expected}") from None
    if isinstance(data, dict):
        for key in PROBE_KEYS:
            if isinstance(data.get(key), dict):
                data = data[key]
                break
    features = {f.value for f in Feature}
    if not isinstance(data, dict) or not features & set(data):
        raise ConfigError(f"{where}: no pool measurements in it; {expected}")
    verdicts = ", ".join(b.value for b in Behaviour)
    for name, entry in data.items():
        if name not in features:
            continue  # a newer probe's feature: ignored, as PoolBehaviour.from_dict does
        got = entry.get("behaviour") if isinstance(entry, dict) else entry
        if not isinstance(entry, dict) or got not in {b.value for b in Behaviour}:
            raise ConfigError(f"{where}: the measurement {name!r} is {json.dumps(got)[:60]}; expected "
                              f"{{\"behaviour\": one of {verdicts}, \"detail\": \"...\"}} (re-run "
                              "`do-pgpool probe -o json` rather than editing it)")  # fmt: skip
    return PoolBehaviour.from_dict(data)
