"""The pool options ``ensure-pool`` and ``fix`` share, declared once and handed to the command as one value.

``@pool_options`` adds ``--size --name --mode --db --user --inbound-user --replace`` and calls the command with
``pool=PoolOptions(request, replace)``: the library's ``PoolRequest`` (validated before any request; a bad name,
mode or user is a ConfigError, exit 2) whose size may be a share of the cluster's budget (``--size 50%``). The
same object goes to ``ensure_pool``, ``ensure_fleet`` and ``fix``, which resolve the size per cluster.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .._models import DEFAULT_DB, DEFAULT_MODE, DEFAULT_USER, POOL_MODES
from ._common import error_text

if TYPE_CHECKING:
    from ..ops._pool_plan import PoolRequest, PoolSize

    _ParamType = click.ParamType[PoolSize, Any]
else:  # click < 8.2 has no generic ParamType
    _ParamType = click.ParamType

R = TypeVar("R")



class SizeType(_ParamType):
    """``--size 20`` (server connections) or ``--size 50%`` (of the cluster's connection budget).

    ASCII digits only: ``２０`` (full-width) or ``²`` (superscript) are refused rather than guessed at, so what
    runs is exactly what a reader of the command line sees. Every refusal is one sentence, exit 2.
    """

    name = "N|P%"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> PoolSize:
        from .._exceptions import ConfigError
        from ..ops._pool_plan import SHARE, PoolSize

        if isinstance(value, PoolSize):
            return value
        text = str(value).strip()
        if _WHOLE.match(text) and int(text) < 1:
            raise click.UsageError(
                f"--size {int(text)} is too small: a pool needs at least 1 server connection, e.g. --size 20 "
                "(or a share of the cluster's connection budget, e.g. --size 50%).", ctx
            )
        if text.isascii() and not (_WHOLE.match(text) or SHARE.match(text)):
            raise click.UsageError(
                f"--size {text!r} is neither a whole number nor a percentage: give server connections "
                "(--size 20) or a share of the cluster's connection budget (--size 50%).", ctx
            )
        try:
            return PoolSize.parse(text)
        except ConfigError as exc:
            raise click.UsageError(f"{error_text(exc)}.".replace("..", "."), ctx) from None


_WHOLE = re.compile(r"^-?[0-9]+$")


@dataclass(frozen=True)
class PoolOptions:
    """The pool asked for on the command line, and whether a mode change may delete + create it."""

    request: PoolRequest
    replace: bool = False


_OPTIONS = (
    click.option(
        "--size", type=SizeType(), required=True,
        help="Server connections the pool may hold, or a share of the cluster's connection budget "
             "(25 per GiB of RAM - 3): 20, 50%.",
    ),  # fmt: skip
    click.option("--name", metavar="NAME", help="Pool name (3-60 characters).  [default: <db>-pool]"),
    click.option(
        "--mode", type=click.Choice(POOL_MODES),
        help=f"PgBouncer pool mode.  [default: {DEFAULT_MODE}; kept on update]",
    ),  # fmt: skip
    click.option("--db", metavar="DB", help=f"Database the pool serves.  [default: {DEFAULT_DB}; kept on update]"),
    click.option(
        "--user", metavar="USER", help=f"User the pool connects as.  [default: {DEFAULT_USER}; kept on update]"
    ),
    click.option("--inbound-user", is_flag=True, help="No pool user: clients' own credentials pass through."),
    click.option("--replace", is_flag=True, help="Allow a mode change by delete + create (drops live connections)."),
)


def pool_options(f: Callable[..., R]) -> Callable[..., R]:
    """Declare the pool options; the command receives them as one ``pool: PoolOptions`` argument."""

    @functools.wraps(f)
    def with_pool(
        *args: Any,
        size: PoolSize,
        name: str | None,
        mode: str | None,
        db: str | None,
        user: str | None,
        inbound_user: bool,
        replace: bool,
        **kwargs: Any,
    ) -> R:
        from ..ops._pool_plan import PoolRequest

        request = PoolRequest(size, name=name, mode=mode, db=db, user=user, inbound_user=inbound_user)
        return f(*args, pool=PoolOptions(request, replace), **kwargs)

    decorated: Callable[..., R] = with_pool
    for option in reversed(_OPTIONS):
        decorated = option(decorated)
    return decorated
