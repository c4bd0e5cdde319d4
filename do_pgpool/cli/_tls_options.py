"""``--sslmode`` and ``--ca-file``: how do-pgpool's own connections authenticate the server, and the sslmode a
written secret carries. Handed to the command as one ``tls: TLSOptions`` argument."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ._common import warn

if TYPE_CHECKING:
    from .._tls import TLS
    from ..api._ports import DatabasesAPI
    from ..ops._tls import TLSPolicy

R = TypeVar("R")

SSLMODE_HELP = (
    "TLS towards the server: verify-full (the server's certificate must be signed by the cluster's CA and name "
    "its host), verify-ca, or require (encrypted, server not authenticated).  [default: verify-full with the "
    "cluster's CA, read from the API; require, with a warning, when the CA cannot be read]"
)
SECRET_SSLMODE_HELP = (
    " On a written secret, verify-full/verify-ca (with --ca-file) replace the URI's sslmode=require with "
    "sslmode=verify-full&sslrootcert=PATH; without --sslmode the secret is DigitalOcean's URI unchanged."
)
CA_FILE_HELP = (
    "The cluster's CA certificate (PEM). An existing file is used as is; a missing one is read from the API "
    "(GET /v2/databases/{uuid}/ca) and stored there (mode 0644, atomic). Put it next to a .env target so "
    "the application finds it at the same path."
)


@dataclass(frozen=True)
class TLSOptions:
    """--sslmode and --ca-file as given (None: not given)."""

    sslmode: str | None = None
    ca_file: str | None = None

    def policy(self, gateway: DatabasesAPI, *, store: bool = True) -> TLSPolicy:
        """For do-pgpool's own connections; ``store=False`` (a dry run) keeps a missing --ca-file unwritten."""
        from ..ops._tls import TLSPolicy
        from ._common import flag

        return TLSPolicy(gateway, self.sslmode, self.ca_file if store or self._exists() else None,
                         warn=lambda message: warn(message.removeprefix("warning: ")), word=flag)  # fmt: skip

    def secret_tls(self) -> TLS | None:
        """The TLS a written secret carries: None (DigitalOcean's URI unchanged) unless a verifying mode was chosen."""
        if self.sslmode in (None, "require"):
            return None
        from .._tls import TLS  # here: only a verifying secret needs it

        if not self.ca_file:
            raise click.UsageError(f"--sslmode {self.sslmode} on a secret needs --ca-file PATH (where the "
                                   "application reads the cluster's CA)")  # fmt: skip
        return TLS(self.sslmode, self.ca_file)

    def store_ca(self, gateway: DatabasesAPI, cluster_id: str, *, dry_run: bool) -> None:
        """A verifying secret's --ca-file that does not exist yet: read the cluster's CA and store it there
        (0644, atomic; not in a dry run), so the application finds it where the secret says."""
        if self.secret_tls() is None or self._exists() or dry_run:
            return
        from ..targets._ca_file import write_ca_file

        write_ca_file(str(self.ca_file), gateway.get_ca(cluster_id))
        click.echo(f"wrote the cluster's CA to {self.ca_file}", err=True)

    def _exists(self) -> bool:
        from pathlib import Path

        return bool(self.ca_file) and Path(str(self.ca_file)).is_file()


def secret_tls_options(f: Callable[..., R]) -> Callable[..., R]:
    """--sslmode and --ca-file on a command that only writes secrets (no connection of its own)."""
    return tls_options(secret=True, own=False)(f)


def tls_options(secret: bool = False, own: bool = True) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """--sslmode and --ca-file; ``secret``: the command also writes secrets (the help says what they do there)."""

    def decorate(f: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(f)
        def with_tls(*args: Any, sslmode: str | None, ca_file: str | None, **kwargs: Any) -> R:
            return f(*args, tls=TLSOptions(sslmode, ca_file), **kwargs)

        decorated: Callable[..., R] = click.option("--ca-file", metavar="PATH", help=CA_FILE_HELP)(with_tls)
        text = SSLMODE_HELP if own else "The sslmode of the written secrets."
        text += SECRET_SSLMODE_HELP if secret else ""
        return click.option("--sslmode", type=click.Choice(["verify-full", "verify-ca", "require"]),
                            help=text)(decorated)  # fmt: skip

    return decorate
