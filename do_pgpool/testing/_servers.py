"""A real PostgreSQL and PgBouncer on loopback, shaped like a 1 GiB DigitalOcean cluster: the test suite's
fixtures, the benchmarks' servers and ``do-pgpool sandbox`` all start them through this one module.

PostgreSQL: 127.0.0.1 on a free port, ``max_connections=25``, ``superuser_reserved_connections=3``,
``ssl=on`` with a certificate for ``localhost``/127.0.0.1 issued by a test CA made for the run
(:attr:`RealServers.ca_file`, so ``sslmode=verify-full`` works), SCRAM over TCP, trust over its own unix
socket (for the superuser only). Roles: ``doadmin`` (NOT a superuser, as on DigitalOcean; CREATEDB,
member of ``pg_signal_backend`` and ``pg_read_all_stats``), owner of ``defaultdb``, and ``app``.

PgBouncer: 127.0.0.1 on a free port, no unix socket, client TLS required (``sslmode=require`` works, as
on DigitalOcean), SCRAM towards clients. Each pool is a database alias named like a DigitalOcean pool
(``defaultdb-pool = ... dbname=defaultdb pool_size=20 pool_mode=transaction``); ``set_pools`` rewrites
them and applies the change with the admin console's ``RELOAD`` before it returns.

A second PgBouncer, another binary (say, >= 1.21 with ``max_prepared_statements``, which Debian 12's 1.18 lacks:
:func:`find_new_pgbouncer` finds the one scripts/build-pgbouncer.sh builds), can serve the same PostgreSQL on
its own port: :meth:`RealServers.start_another_pgbouncer`.

``initdb``, ``postgres`` and ``pgbouncer`` refuse to run as root, so as root they run as the ``postgres``
OS user in a temporary folder owned by it. Every wait is bounded; stopping signals the servers by the
pids in their pidfiles, then removes the folder. Nothing here depends on (or collides with) a system
PostgreSQL or PgBouncer.

    with RealServers.start(pools={"defaultdb-pool": PoolAlias("defaultdb", 20)}) as servers:
        servers.direct_url("doadmin"), servers.pool_url("defaultdb-pool"), servers.superuser_conninfo()
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..api._retry import wait_until

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "APP_PASSWORD",
    "DOADMIN_PASSWORD",
    "INSTALL_HINT",
    "Binaries",
    "PoolAlias",
    "RealServers",
    "ServersUnavailable",
    "find_binaries",
    "find_new_pgbouncer",
    "free_port",
    "psycopg_connect",
]

HOST = "127.0.0.1"
DATABASE = "defaultdb"
MAX_CONNECTIONS = 25
SUPERUSER_RESERVED = 3
POOL_SIZE = 20
DOADMIN_PASSWORD = "doadmin-test-pw-7f3a9c"
APP_PASSWORD = "app-test-pw-52b1e8"
SUPERUSER = "postgres"
RUN_AS = "postgres"  # OS user when running as root
#: PgBouncer's admin console user: in PgBouncer's auth file only, never a PostgreSQL role
BOUNCER_ADMIN = "pgbouncer_admin"
START_DEADLINE = 30.0
STOP_DEADLINE = 15.0
INSTALL_HINT = "as root, `apt-get install postgresql pgbouncer` installs both (Debian, Ubuntu; `make servers` does it)"
#: Where scripts/build-pgbouncer.sh leaves the PgBouncer >= 1.21 it builds (a symlink to the versioned folder)
NEW_PGBOUNCER_CACHE = "do-pgpool/pgbouncer-new/bin/pgbouncer"
#: Environment variable naming another PgBouncer >= 1.21 binary to use instead of the built one
NEW_PGBOUNCER_ENV = "PGBOUNCER_NEW"
BUILD_HINT = ("as root, `make servers` (or `sh scripts/build-pgbouncer.sh`) builds it from Debian 13's source "
              f"package in about a minute; or set {NEW_PGBOUNCER_ENV} to a pgbouncer >= 1.21 binary")  # fmt: skip


class ServersUnavailable(RuntimeError):
    """PostgreSQL or PgBouncer binaries cannot be found (or cannot run) on this machine."""


@dataclass(frozen=True)
class Binaries:
    pg_bindir: Path
    pgbouncer: Path | None


@dataclass(frozen=True)
class PoolAlias:
    """One PgBouncer database alias: ``<name> = host=... dbname=<dbname> pool_size=<size> pool_mode=<mode>``.

    ``user``: every server connection logs in as this role (DigitalOcean's pool user); None lets each
    client's own credentials through (an inbound-user pool).
    """

    dbname: str = DATABASE
    size: int = POOL_SIZE
    mode: str = "transaction"
    user: str | None = None


def find_binaries() -> Binaries:
    """The newest ``/usr/lib/postgresql/*/bin`` with initdb (or ``$PG_BINDIR``) and ``pgbouncer``."""
    candidates = [os.environ["PG_BINDIR"]] if os.environ.get("PG_BINDIR") else []

    def version(path: str) -> tuple[int, ...]:
        name = Path(path).parent.name
        return tuple(int(p) for p in name.split(".") if p.isdigit()) or (0,)

    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    pg_bindir = next((Path(c) for c in candidates if (Path(c) / "initdb").is_file()), None)
    if pg_bindir is None:
        raise ServersUnavailable(
            "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb): install Debian's "
            f"`postgresql` package: {INSTALL_HINT}. Or set PG_BINDIR to a folder holding initdb and pg_ctl"
        )
    bouncer = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").is_file() else None)
    return Binaries(pg_bindir=pg_bindir, pgbouncer=Path(bouncer) if bouncer else None)


def find_new_pgbouncer() -> Path:
    """A PgBouncer >= 1.21 (prepared statements in transaction mode): ``$PGBOUNCER_NEW``, else the one
    scripts/build-pgbouncer.sh built into ``${XDG_CACHE_HOME:-~/.cache}/do-pgpool/``."""
    if os.environ.get(NEW_PGBOUNCER_ENV):
        path = Path(os.environ[NEW_PGBOUNCER_ENV])
    else:
        path = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / NEW_PGBOUNCER_CACHE
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ServersUnavailable(f"no PgBouncer >= 1.21 at {path}: {BUILD_HINT}")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as gone
    with contextlib.suppress(OSError, IndexError):
        with open(f"/proc/{pid}/stat") as f:
            if f.read().split(") ", 1)[1].startswith("Z"):
                return False
    return True


def _wait_for(predicate: Callable[[], bool], deadline: float, what: str) -> None:
    """Poll ``predicate()`` every 50 ms until true or until ``deadline`` seconds have passed (real processes only)."""
    if not wait_until(predicate, every=0.05, within=deadline):
        raise ServersUnavailable(f"timed out after {deadline:.0f} s waiting for {what}")


def _default_passwords() -> dict[str, str]:
    return {"doadmin": DOADMIN_PASSWORD, "app": APP_PASSWORD}


@dataclass
class RealServers:
    """Running servers. ``bouncer_port`` is None when PgBouncer was not started."""

    host: str
    pg_port: int
    socket_dir: str
    workdir: Path
    binaries: Binaries
    server_version_num: int = 0
    bouncer_port: int | None = None
    pools: dict[str, PoolAlias] = field(default_factory=dict)
    #: PgBouncer's ``max_prepared_statements`` (1.21+); None leaves it out of the config (1.18 knows no such key)
    max_prepared_statements: int | None = None
    #: the login roles and their passwords (``doadmin`` first)
    passwords: dict[str, str] = field(default_factory=_default_passwords, repr=False)
    database: str = DATABASE
    max_connections: int = MAX_CONNECTIONS
    superuser_reserved: int = SUPERUSER_RESERVED
    _as_user: list[str] = field(default_factory=list, repr=False)
    _admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)

    # --- URLs -------------------------------------------------------------------------------------------
    @property
    def password(self) -> str:
        """``doadmin``'s password."""
        return self.passwords["doadmin"]

    @property
    def app_password(self) -> str:
        return self.passwords["app"]

    def password_for(self, user: str) -> str:
        return self.passwords[user]

    def direct_url(self, user: str = "doadmin", *, database: str | None = None, sslmode: str = "require") -> str:
        """``postgresql://user:pw@127.0.0.1:<pg>/defaultdb?sslmode=require``: the cluster's direct connection."""
        pw = quote(self.password_for(user), safe="")
        return f"postgresql://{user}:{pw}@{self.host}:{self.pg_port}/{database or self.database}?sslmode={sslmode}"

    def pool_url(self, pool_name: str | None = None, user: str = "doadmin", *, sslmode: str = "require") -> str:
        """The connection string of a PgBouncer pool (the alias is the database name, as on DigitalOcean)."""
        if self.bouncer_port is None:
            raise RuntimeError("PgBouncer is not running")
        name = pool_name or next(iter(self.pools))
        if name not in self.pools:
            raise KeyError(f"no pool alias {name!r}; configured: {sorted(self.pools)}")
        pw = quote(self.password_for(user), safe="")
        return f"postgresql://{user}:{pw}@{self.host}:{self.bouncer_port}/{name}?sslmode={sslmode}"

    def superuser_conninfo(self, database: str | None = None) -> str:
        """libpq key/value conninfo for the ``postgres`` superuser over the unix socket (trust auth).

        It takes a connection slot (one of the reserved ones once the others are gone): close it while counting.
        """
        return f"host={self.socket_dir} port={self.pg_port} user={SUPERUSER} dbname={database or self.database}"

    def admin_conninfo(self) -> str:
        """PgBouncer's admin console (``SHOW POOLS``, ``RELOAD``), over TLS like every client."""
        return (f"host={self.host} port={self.bouncer_port} dbname=pgbouncer user={BOUNCER_ADMIN} "
                f"password={self._admin_password} sslmode=require")  # fmt: skip

    @property
    def pids(self) -> dict[str, int]:
        """The running servers' pids by name (``postgres``, ``pgbouncer``), read from their pidfiles."""
        found = {
            "postgres": _read_pid(self.workdir / "data" / "postmaster.pid"),
            "pgbouncer": _read_pid(self.workdir / "pgbouncer.pid"),
        }
        return {name: pid for name, pid in found.items() if pid is not None}

    # --- lifecycle ----------------------------------------------------------------------------------------
    @classmethod
    @contextlib.contextmanager
    def start(
        cls,
        *,
        pools: Mapping[str, PoolAlias] | None = None,
        with_bouncer: bool = True,
        passwords: Mapping[str, str] | None = None,
    ) -> Iterator[RealServers]:
        """Start PostgreSQL (and PgBouncer unless ``with_bouncer=False``); stop both and remove the folder."""
        servers = cls.start_postgres(passwords=passwords)
        try:
            if with_bouncer:
                servers.start_pgbouncer(pools if pools is not None else {f"{DATABASE}-pool": PoolAlias()})
            yield servers
        finally:
            servers.stop()

    @classmethod
    def start_postgres(cls, *, passwords: Mapping[str, str] | None = None) -> RealServers:
        binaries = find_binaries()
        as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(RUN_AS)
            except KeyError as exc:
                raise ServersUnavailable(f"running as root and there is no {RUN_AS!r} OS user") from exc
            runuser = shutil.which("runuser")
            if runuser is None:
                raise ServersUnavailable("running as root and `runuser` is not available")
            as_user = [runuser, "-u", RUN_AS, "--"]
        workdir = Path(tempfile.mkdtemp(prefix="do-pgpool-servers-"))
        servers = cls(
            host=HOST,
            pg_port=free_port(),
            socket_dir=str(workdir),
            workdir=workdir,
            binaries=binaries,
            passwords=dict(passwords) if passwords else _default_passwords(),
            _as_user=as_user,
        )
        try:
            servers._own(workdir)
            os.chmod(workdir, 0o700)
            servers._init_postgres()
        except BaseException:
            servers.stop()
            raise
        return servers

    def _own(self, path: Path) -> None:
        """As root, hand ``path`` to the OS user the servers run as."""
        if self._as_user:
            pw = pwd.getpwnam(RUN_AS)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def _run(self, argv: list[str], *, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [*self._as_user, *argv], capture_output=True, text=True, timeout=timeout, cwd=self.workdir, check=False
        )
        if proc.returncode != 0:
            raise ServersUnavailable(f"{Path(argv[0]).name} failed ({proc.returncode}): {proc.stderr or proc.stdout}")
        return proc

    def _write(self, name: str, text: str, mode: int = 0o600) -> Path:
        path = self.workdir / name
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text)
        os.chmod(tmp, mode)
        self._own(tmp)
        os.replace(tmp, path)  # a reload never reads a half-written file
        return path

    def _make_certificate(self) -> None:
        """A test CA made for the run, and the servers' certificate signed by it for ``localhost``/127.0.0.1.

        So ``sslmode=verify-full`` with :attr:`ca_file` succeeds, as with DigitalOcean's CA (served at ``/ca``).
        """
        openssl = shutil.which("openssl")
        if openssl is None:
            raise ServersUnavailable("the `openssl` command is needed to make the servers' certificate")
        w = self.workdir
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"]
        run = functools.partial(subprocess.run, capture_output=True, check=True, timeout=30)
        run([openssl, "req", "-x509", *ec, "-subj", "/CN=do-pgpool test CA", "-keyout", str(w / "ca.key"),
             "-out", str(w / "ca.crt"), "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"])  # fmt: skip
        run([openssl, "req", "-x509", *ec, "-subj", "/CN=localhost", "-CA", str(w / "ca.crt"),
             "-CAkey", str(w / "ca.key"), "-addext", f"subjectAltName=DNS:localhost,IP:{HOST}",
             "-addext", "basicConstraints=CA:FALSE", "-keyout", str(w / "server.key"),
             "-out", str(w / "server.crt")])  # fmt: skip
        (w / "ca.key").unlink()  # nothing else is ever signed with it
        for name in ("server.key", "server.crt"):
            path = w / name
            os.chmod(path, 0o600)
            self._own(path)
        os.chmod(w / "ca.crt", 0o644)

    @property
    def ca_file(self) -> Path:
        """The test CA that issued the servers' certificate (PEM): ``sslrootcert`` for ``verify-full``."""
        return self.workdir / "ca.crt"

    @property
    def ca_pem(self) -> str:
        return self.ca_file.read_text()

    def _init_postgres(self) -> None:
        bindir = self.binaries.pg_bindir
        data = self.workdir / "data"
        self._run([str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
                   "--locale=C", "--no-sync"], timeout=120)  # fmt: skip
        self._make_certificate()
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# do-pgpool's local server: the shape of a 1 GiB DigitalOcean cluster\n"
                f"listen_addresses = '{HOST}'\n"
                f"port = {self.pg_port}\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                f"max_connections = {self.max_connections}\n"
                f"superuser_reserved_connections = {self.superuser_reserved}\n"
                "ssl = on\n"
                f"ssl_cert_file = '{self.workdir / 'server.crt'}'\n"
                f"ssl_key_file = '{self.workdir / 'server.key'}'\n"
                "password_encryption = 'scram-sha-256'\n"
                "shared_buffers = 32MB\n"
                "fsync = off\n"
                "synchronous_commit = off\n"
                "full_page_writes = off\n"
                "max_wal_senders = 0\n"
                "wal_level = minimal\n"
                "log_min_messages = warning\n"
            )
        self._write("data/pg_hba.conf", f"local all {SUPERUSER} trust\nhost all all {HOST}/32 scram-sha-256\n")
        self._run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(self.workdir / "postgres.log"),
                   "-w", "-t", str(int(START_DEADLINE)), "start"], timeout=START_DEADLINE + 10)  # fmt: skip
        self._setup_roles()

    def _superuser_connect(self) -> psycopg.Connection[Any]:
        return psycopg_connect(self.superuser_conninfo("postgres"))

    def _setup_roles(self) -> None:
        from psycopg import sql

        with self._superuser_connect() as conn:
            row = conn.execute("SHOW server_version_num").fetchone()
            self.server_version_num = int(row[0]) if row else 0
            conn.execute(sql.SQL("CREATE ROLE doadmin LOGIN PASSWORD {} CREATEDB CREATEROLE").format(
                sql.Literal(self.password)))  # fmt: skip
            # DigitalOcean's doadmin may terminate other users' sessions and read their activity.
            conn.execute("GRANT pg_signal_backend, pg_read_all_stats TO doadmin")
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER doadmin").format(sql.Identifier(DATABASE)))
        for role, password in self.passwords.items():
            if role != "doadmin":
                self._create_role(role, password)

    def _create_role(self, role: str, password: str) -> None:
        """A login role like a DigitalOcean database user: may create tables in ``defaultdb``'s public schema."""
        from psycopg import sql

        with psycopg_connect(self.superuser_conninfo()) as conn:
            name = sql.Identifier(role)
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(name, sql.Literal(password)))
            conn.execute(sql.SQL("GRANT CREATE, USAGE ON SCHEMA public TO {}").format(name))

    def add_role(self, role: str, password: str) -> None:
        """A new database user, known to PgBouncer too (its auth file is rewritten and reloaded)."""
        self._create_role(role, password)
        self.passwords[role] = password
        if self.bouncer_port is not None:
            self._write_userlist()
            self._reload()

    # --- PgBouncer ------------------------------------------------------------------------------------------
    def start_another_pgbouncer(
        self, binary: Path, pools: Mapping[str, PoolAlias], *, max_prepared_statements: int | None = None
    ) -> RealServers:
        """Another PgBouncer (``binary``, e.g. another version) on its own port, in front of this PostgreSQL.

        Returns its own :class:`RealServers` (same PostgreSQL, roles and certificate; its own folder, port,
        pools and admin console): its ``stop()`` stops that PgBouncer only, as its folder holds no PostgreSQL.
        """
        workdir = Path(tempfile.mkdtemp(prefix="do-pgpool-pgbouncer-"))
        other = dataclasses.replace(
            self, workdir=workdir, binaries=Binaries(self.binaries.pg_bindir, binary), bouncer_port=None,
            pools={}, passwords=dict(self.passwords), max_prepared_statements=max_prepared_statements,
            _admin_password=secrets.token_urlsafe(18),
        )  # fmt: skip
        try:
            other._own(workdir)
            os.chmod(workdir, 0o700)
            for name in ("server.key", "server.crt", "ca.crt"):
                other._own(Path(shutil.copy2(self.workdir / name, workdir / name)))
            other.start_pgbouncer(pools)
        except BaseException:
            other.stop()
            raise
        return other

    def pgbouncer_version(self) -> tuple[int, ...]:
        """The running PgBouncer's version from its admin console (``SHOW VERSION``: ``PgBouncer 1.18.0``)."""
        with _admin_connect(self.admin_conninfo()) as conn:
            row = conn.execute("SHOW VERSION").fetchone()
        text = str(next(iter(row.values()))) if row else ""
        numbers = text.split()[-1] if text else ""
        return tuple(int(p) for p in numbers.split(".") if p.isdigit())

    def start_pgbouncer(self, pools: Mapping[str, PoolAlias]) -> None:
        if self.binaries.pgbouncer is None:
            raise ServersUnavailable(f"pgbouncer not found: install Debian's `pgbouncer` package: {INSTALL_HINT}")
        self.pools = dict(pools)
        self._write_userlist()
        self.bouncer_port = free_port()
        self._write_bouncer_ini()
        binary = self.binaries.pgbouncer
        if self._as_user and not _runnable_by_anyone(binary):  # say, a build in root's ~/.cache
            binary = Path(shutil.copy2(binary, self.workdir / "pgbouncer"))
            self._own(binary)
        try:
            self._run([str(binary), "-d", "-q", str(self.workdir / "pgbouncer.ini")], timeout=30)
        except ServersUnavailable as exc:  # -q: why it refused (say, an unknown setting) is in its log only
            log = self.workdir / "pgbouncer.log"
            tail = log.read_text()[-600:].strip() if log.is_file() else ""
            raise ServersUnavailable(f"{str(exc).rstrip()} {tail}".rstrip()) from exc
        port, pidfile = self.bouncer_port, self.workdir / "pgbouncer.pid"
        # the daemon writes its pidfile on its own time; stop() needs it, so it is part of being up
        _wait_for(lambda: _port_open(port) and _read_pid(pidfile) is not None, START_DEADLINE,
                  f"PgBouncer on {HOST}:{port}")  # fmt: skip

    def _write_userlist(self) -> None:
        # Plain passwords (PgBouncer hashes them for SCRAM): a pool with a forced ``user=`` must log in to
        # PostgreSQL itself, which a SCRAM verifier copied from pg_authid cannot do.
        users = {**self.passwords, BOUNCER_ADMIN: self._admin_password}
        self._write("userlist.txt", "".join(f'"{name}" "{password}"\n' for name, password in users.items()))

    def _reload(self) -> dict[str, dict[str, Any]]:
        """``RELOAD`` (synchronous: the new files are in effect when it answers); returns ``SHOW DATABASES``."""
        with _admin_connect(self.admin_conninfo()) as conn:
            conn.execute("RELOAD")
            return {row["name"]: row for row in conn.execute("SHOW DATABASES").fetchall()}

    def _write_bouncer_ini(self) -> None:
        aliases = "".join(
            f"{name} = host={HOST} port={self.pg_port} dbname={alias.dbname} pool_size={alias.size} "
            f"pool_mode={alias.mode}{f' user={alias.user}' if alias.user else ''}\n"
            for name, alias in self.pools.items()
        )
        self._write(
            "pgbouncer.ini",
            "[databases]\n"
            f"{aliases}"
            "\n[pgbouncer]\n"
            f"listen_addr = {HOST}\n"
            f"listen_port = {self.bouncer_port}\n"
            "unix_socket_dir =\n"
            "auth_type = scram-sha-256\n"
            f"auth_file = {self.workdir / 'userlist.txt'}\n"
            f"admin_users = {BOUNCER_ADMIN}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {POOL_SIZE}\n"
            "min_pool_size = 0\n"
            "reserve_pool_size = 0\n"
            "max_client_conn = 2000\n"
            "client_tls_sslmode = require\n"
            f"client_tls_key_file = {self.workdir / 'server.key'}\n"
            f"client_tls_cert_file = {self.workdir / 'server.crt'}\n"
            "server_tls_sslmode = prefer\n"
            "ignore_startup_parameters = extra_float_digits\n"
            f"logfile = {self.workdir / 'pgbouncer.log'}\n"
            f"pidfile = {self.workdir / 'pgbouncer.pid'}\n"
            "log_connections = 0\n"
            "log_disconnections = 0\n"
            + (f"max_prepared_statements = {self.max_prepared_statements}\n"
               if self.max_prepared_statements is not None else ""),
        )  # fmt: skip

    def set_pools(self, pools: Mapping[str, PoolAlias]) -> None:
        """Make PgBouncer serve exactly ``pools``: rewrite its config, ``RELOAD`` and check ``SHOW DATABASES``.

        Removed aliases stop taking new clients at once; their open server connections close as they go idle.
        """
        if self.bouncer_port is None:
            raise RuntimeError("PgBouncer is not running")
        self.pools = dict(pools)
        self._write_bouncer_ini()
        served = self._reload()
        wrong = sorted(
            name for name, alias in self.pools.items()
            if name not in served
            or (served[name]["pool_size"], served[name]["pool_mode"], served[name]["force_user"])
            != (alias.size, alias.mode, alias.user)
        )  # fmt: skip
        if wrong:
            log = self.workdir / "pgbouncer.log"
            raise ServersUnavailable(f"PgBouncer did not take pools {wrong} on RELOAD; see {log}")

    def add_pool(self, name: str, alias: PoolAlias | None = None) -> str:
        """Add a database alias to the running PgBouncer; return its connection string."""
        self.set_pools({**self.pools, name: alias or PoolAlias()})
        return self.pool_url(name)

    # --- stop ----------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop PgBouncer (TERM) and PostgreSQL (INT: fast shutdown) by their pidfiles' pids; remove the folder.

        Each waits at most ``STOP_DEADLINE`` seconds, then gets SIGKILL.
        """
        try:
            for pidfile, sig in (
                (self.workdir / "pgbouncer.pid", signal.SIGTERM),
                (self.workdir / "data" / "postmaster.pid", signal.SIGINT),
            ):
                pid = _read_pid(pidfile)
                if pid is None:
                    continue
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
                if not wait_until(functools.partial(_pid_gone, pid), every=0.05, within=STOP_DEADLINE):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _runnable_by_anyone(path: Path) -> bool:
    """Whether every OS user may run ``path``: the file, and each folder above it, has the x bit for others."""
    real = path.resolve()
    return all(p.stat().st_mode & stat.S_IXOTH for p in (real, *real.parents))


def _pid_gone(pid: int) -> bool:
    return not _pid_alive(pid)


def _read_pid(pidfile: Path) -> int | None:
    try:
        first = pidfile.read_text().splitlines()[0].strip()
    except (OSError, IndexError):
        return None
    return int(first) if first.isdigit() else None


def psycopg_connect(conninfo: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """psycopg.connect with autocommit and a short connect timeout."""
    import psycopg

    kwargs.setdefault("autocommit", True)
    kwargs.setdefault("connect_timeout", 10)
    return psycopg.connect(conninfo, **kwargs)


def _admin_connect(conninfo: str) -> psycopg.Connection[dict[str, Any]]:
    """PgBouncer's admin console speaks the simple query protocol only: a client-side-binding cursor."""
    import psycopg
    from psycopg.rows import dict_row

    return psycopg.connect(
        conninfo, autocommit=True, connect_timeout=10, cursor_factory=psycopg.ClientCursor, row_factory=dict_row
    )
