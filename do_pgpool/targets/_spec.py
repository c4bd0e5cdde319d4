"""``SecretsSpec``: the one form of "which connection strings go where", from the CLI's options to the writer.

ensure-pool (one cluster or a fleet), fix and rewrite-secret all take it. It holds the targets (which may
contain ``{cluster}``), the secret names, which connection (public or VPC), the database user for an
inbound-user pool, the GitHub client and the workflow to dispatch after a GitHub write. A context manager:
leaving it closes the GitHub client. Importing it loads no target code (a pool-only run builds an empty one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .._exceptions import ConfigError, Param, Step
from .._models import Cluster, Pool
from .._tls import TLS, verify_full_uri
from ..api._ports import DatabasesAPI
from ._base import validate_secret_name
from ._secret_values import check_secret_user, check_secret_user_exists, inbound_needs_secret_user, secret_values

if TYPE_CHECKING:
    from .._pool_behaviour import PoolBehaviour
    from ..api._github import GitHub
    from ._parse import Target
    from ._simple import Redeploy

__all__ = ["SecretsSpec"]


@dataclass(frozen=True)
class SecretsSpec:
    """Where a pool's connection strings go. Targets may hold ``{cluster}`` (the cluster's name)."""

    targets: tuple[Target, ...] = ()
    name: str = "DATABASE_URL"
    #: also write the cluster's direct (port 25060) string under this name
    direct_name: str | None = None
    #: write the VPC (``private_connection``) strings instead of the public ones
    private: bool = False
    #: dispatch this workflow after each github: target is written
    redeploy: Redeploy | None = None
    github: GitHub | None = field(default=None, repr=False, compare=False)
    #: the database user whose credentials go into an inbound-user pool's string (see ``_secret_values``)
    secret_user: str | None = None
    #: a verifying sslmode and its CA file: the strings carry ``sslmode=verify-full&sslrootcert=PATH`` instead of
    #: DigitalOcean's ``sslmode=require`` (None or ``require``: DigitalOcean's strings unchanged)
    tls: TLS | None = None
    #: shape the pool's string for this stack (``prisma``, ``rails``, ``pgx5``, ``pgx4``, ``lib-pq``): its
    #: parameters added to the query (None: DigitalOcean's string unchanged); the direct string is never shaped
    url_for: str | None = None
    #: what the probe measured on the pool (``do-pgpool probe -o json``): ``url_for`` follows it (Prisma's
    #: ``pgbouncer=true``, Rails' ``prepared_statements``, pgx's exec mode only where the pool needs them);
    #: None: not measured, the parameters safe on any transaction pool
    behaviour: PoolBehaviour | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        check_secret_user(self.secret_user)
        if self.behaviour is not None and self.url_for is None:
            raise ConfigError([Param("behaviour"), " shapes the URL written for a stack: it goes with ",
                               Param("url_for")])
        if self.url_for is not None:
            from .._advice import URL_STACKS

            if self.url_for not in URL_STACKS:
                raise ConfigError([Param("url_for", self.url_for), " is not a stack whose settings are URL "
                                   f"parameters; one of: {', '.join(URL_STACKS)}"])
        validate_secret_name(self.name)
        if self.direct_name is not None:
            validate_secret_name(self.direct_name)
            if self.direct_name == self.name:
                raise ConfigError([Param("direct_secret_name"), " must differ from ", Param("secret_name")])

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, self.direct_name) if self.direct_name else (self.name,)

    @property
    def needs_cluster(self) -> bool:
        """Whether the values or the targets need the cluster object (its direct string, a ``{cluster}``)."""
        from ._parse import has_placeholder  # here: a run without targets loads no target code
        return bool(self.direct_name) or any(has_placeholder(t.text) for t in self.targets)

    def check_inbound(self, inbound_user: bool) -> None:
        """An inbound-user pool's connection has no credentials: its secrets need ``secret_user``."""
        if inbound_user and self.targets and self.secret_user is None:
            raise ConfigError(inbound_needs_secret_user("an inbound-user pool"))

    def check_user(self, users: DatabasesAPI, cluster: Cluster) -> None:
        """A ``secret_user`` that the cluster does not have: refused (ConfigError) before any write. Only when
        there are targets; no request when the cluster object lists its users."""
        if self.targets:
            check_secret_user_exists(users, cluster, self.secret_user)

    def values(
        self, users: DatabasesAPI, cluster_id: str, pool: Pool, cluster: Cluster | None = None
    ) -> dict[str, str]:
        """secret name -> connection string for ``pool`` (``direct_name`` needs ``cluster``). Writes nothing.

        Raises CredentialsMissingError / PlanError when there is no password to write (see ``secret_values``).
        With ``url_for``, the pool's string carries that stack's parameters, as ``behaviour`` measured the pool
        (not measured: the safe ones; Prisma's ``connection_limit`` is the pool's size).
        """
        self.check_probe(pool)
        values = secret_values(users, cluster_id, pool, name=self.name, direct_name=self.direct_name,
                               cluster=cluster, private=self.private, secret_user=self.secret_user)  # fmt: skip
        tls = self.tls
        if tls is not None and tls.sslmode != "require" and tls.ca_file is not None:
            values = {name: verify_full_uri(uri, tls.ca_file, tls.sslmode) for name, uri in values.items()}
        if self.url_for is not None:
            from .._advice import stack_uri

            values[self.name] = stack_uri(values[self.name], self.url_for, self.behaviour, pool_size=pool.size)
        return values

    def check_probe(self, pool: Pool) -> None:
        """Refuse measurements that cannot be this pool's: a transaction pool never keeps session state, so a probe
        where it held was of a session pool or a direct connection, and would drop the safe parameters."""
        if self.behaviour is None or pool.mode != "transaction":
            return
        from .._pool_behaviour import Feature

        held = [f.value for f in (Feature.SET, Feature.ADVISORY_LOCK, Feature.LISTEN, Feature.TEMP_TABLE)
                if self.behaviour.works(f)]
        if held:
            raise ConfigError([
                Param("behaviour"), f": these measurements kept session state ({', '.join(held)} worked), which no "
                "transaction pool does: they are of a session-mode pool or a direct connection, not of pool "
                f"{pool.name} (transaction mode). Probe that pool: ",
                Step("probe", (Param("pool", pool.name), Param("output", "json"))), " > probe.json"])

    def close(self) -> None:
        if self.github is not None:
            self.github.close()

    def __enter__(self) -> SecretsSpec:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
