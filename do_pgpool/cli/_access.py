"""``--my-ip`` and ``--temporary-access``: reaching a cluster that accepts only trusted sources.

Given ``--my-ip``, a command reads the cluster's trusted sources before it connects to PostgreSQL (one request:
the cluster it found is passed on to the command). Without it nothing is read; a connection that times out then
says how to check. Not covered: it says so (with the rule that would allow it) instead of timing out. With
``--temporary-access`` it adds an ``ip_addr`` rule for ``--my-ip`` for the run and removes exactly that rule
afterwards (``ops/_access.py``). The address is never looked up on a third-party service: only the user knows
this machine's public address for sure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .._trusted_sources import MY_IP_ENV
from ._common import flag, warn

if TYPE_CHECKING:
    from .._exceptions import Part
    from .._models import Cluster
    from ..api._gateway import DigitalOcean

F = TypeVar("F", bound=Callable[..., Any])


def access_options(f: F) -> F:
    f = click.option(
        "--temporary-access", is_flag=True,
        help="Add an ip_addr trusted source for --my-ip for this run only, wait until it applies, and remove "
             "exactly that rule afterwards (also on failure and Ctrl-C). Open clusters and clusters that "
             "already trust the address are left alone.",
    )(f)  # fmt: skip
    return click.option(
        "--my-ip", metavar="ADDR", envvar=MY_IP_ENV, show_envvar=True,
        help="This machine's public IPv4 address, to check it against the cluster's trusted sources before "
             "connecting: one more request (GET .../firewall); without it they are not read. Never looked up on "
             "a third-party service.",
    )(f)  # fmt: skip


@contextmanager
def reachable(
    gateway: DigitalOcean, cluster: str | None, my_ip: str | None, temporary: bool, *, dry_run: bool = False,
    refuse: bool = True, remover: Callable[[], AbstractContextManager[DigitalOcean]] | None = None,
) -> Iterator[Cluster | None]:
    """Check (and with ``temporary``, open for the block) the way to ``cluster``'s PostgreSQL from ``my_ip``.

    Yields the cluster it read (the command goes on with it: no second lookup), or None when there was nothing
    to check: without ``my_ip`` and ``temporary`` it sends no request at all (the connection's own failure
    then says how to check). An address known not to be trusted raises ``DatabaseError`` (``refuse``) or is
    warned about (``fix``, whose pool and secret steps need no connection); an unknown one is warned about.
    ``remover``: the client that removes a temporary rule (``temporary_access``); "removed" is said whenever it
    was, also when the block failed or was interrupted."""
    from .._exceptions import AccessLeftError, ConfigError, DatabaseError, Param
    from .._trusted_sources import check_address, judge_access
    from ..ops._access import temporary_access

    address = check_address(my_ip) if my_ip else None
    if temporary and address is None:
        raise ConfigError([Param("temporary_access"), " needs this machine's public IPv4 address: pass ",
                           Param("my_ip"), f" ADDR or set {MY_IP_ENV}"])  # fmt: skip
    if address is None:
        yield None
        return
    found = gateway.find_cluster(cluster)
    rules = gateway.list_firewall_rules(found.id)
    verdict = judge_access(rules, address)
    if temporary and not dry_run and verdict.allowed is not True:
        added = False
        try:
            with temporary_access(gateway, found.id, address, remover=remover) as grant:
                if grant.rule is not None:
                    added = True
                    click.echo(f"added trusted source ip_addr {address} (uuid {grant.rule.get('uuid')}) for this "
                               "run", err=True)  # fmt: skip
                yield found
        except AccessLeftError:
            added = False
            raise
        finally:
            if added:
                click.echo(f"removed trusted source ip_addr {address}", err=True)
        return
    if temporary and dry_run and verdict.allowed is not True:
        click.echo(f"dry run: would add trusted source ip_addr {address} for this run (and remove it after)",
                   err=True)  # fmt: skip
    if verdict.allowed is False and refuse:
        raise DatabaseError([f"cluster {found.name}: ", *verdict.parts()], unreachable=True)
    if verdict.allowed is not True:
        warn(f"cluster {found.name}: {render(verdict.parts())}")
    yield found


def render(parts: Sequence[Part]) -> str:
    """Library message parts in the command line's words (flags)."""
    return "".join(p if isinstance(p, str) else flag(p) for p in parts)
