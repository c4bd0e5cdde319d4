"""How do-pgpool's own connections (status, terminate-idle, fix, delete-pool) authenticate the server.

Default: ``verify-full`` with the cluster's CA, read with ``GET /v2/databases/{uuid}/ca`` once per run. When
that read fails (a token without the scope for it, say) and no ``--sslmode`` was chosen, the run goes on with
``require`` (still encrypted) and a warning saying why and how to verify; an explicit ``--sslmode
verify-full`` (or ``verify-ca``) makes it an error instead. ``--ca-file PATH``: an existing file is used as
it is (no API call); a missing one is fetched and stored there (0644, atomic). Without ``--ca-file`` the CA
lives in a private temporary file removed when the run ends.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._exceptions import APIError, ConfigError, InvalidResponseError, Param, Step
from .._models import Cluster
from .._tls import TLS
from ..api._ports import DatabasesAPI
from ..postgres._connect import PgConnection
from ..targets._ca_file import write_ca_file

__all__ = ["TLSPolicy", "tls_connect"]


@dataclass
class TLSPolicy:
    """``sslmode`` None = the default (see the module). Call it with a cluster to get its :class:`TLS`.

    ``warn`` receives the fallback warning (default: ignored); its ``Param`` parts (``ca_file=PATH``) are
    worded by ``word`` (default: the library's words; the CLI passes its flag names). Use it as a context
    manager (or call :meth:`close`) so the temporary CA files are removed.
    """

    gateway: DatabasesAPI
    sslmode: str | None = None
    ca_file: str | None = None
    warn: Callable[[str], None] = lambda _message: None
    word: Callable[[Param | Step], str] = str
    _temp: Path | None = field(default=None, repr=False)
    _known: dict[str, TLS] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        TLS(self.sslmode or "verify-full", self.ca_file or "-")  # validates the mode before any request

    def __call__(self, cluster: Cluster) -> TLS:
        if cluster.id not in self._known:
            self._known[cluster.id] = self._resolve(cluster)
        return self._known[cluster.id]

    def _resolve(self, cluster: Cluster) -> TLS:
        mode = self.sslmode or "verify-full"
        if mode == "require":
            return TLS("require")
        if self.ca_file and Path(self.ca_file).is_file():
            return TLS(mode, self.ca_file)
        try:
            pem = self.gateway.get_ca(cluster.id)
        except (APIError, InvalidResponseError) as exc:
            why = f"cannot read the CA of cluster {cluster.name} (GET /v2/databases/{cluster.id}/ca: {exc})"
            if self.sslmode is not None:
                raise ConfigError([
                    f"{why}; ", Param("sslmode", mode), " needs it: give the CA certificate with ",
                    Param("ca_file", "PATH"), " (control panel: the cluster's Connection Details), or choose ",
                    Param("sslmode", "require"),
                ]) from exc
            self.warn(f"warning: {why}; connecting with sslmode=require (encrypted, server NOT authenticated). "
                      f"Pass {self.word(Param('ca_file', 'PATH'))} to verify, or "
                      f"{self.word(Param('sslmode', 'require'))} to say this is intended.")  # fmt: skip
            return TLS("require")
        path = Path(self.ca_file) if self.ca_file else self._temp_dir() / f"{cluster.id}-ca.crt"
        write_ca_file(path, pem)
        return TLS(mode, str(path))

    def _temp_dir(self) -> Path:
        if self._temp is None:
            self._temp = Path(tempfile.mkdtemp(prefix="do-pgpool-ca-"))
        return self._temp

    def close(self) -> None:
        """Remove the temporary CA files (a ``--ca-file`` stays)."""
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None

    def __enter__(self) -> TLSPolicy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def tls_connect(
    connect_fn: Callable[..., PgConnection], tls: Callable[[Cluster], TLS] | None, cluster: Cluster
) -> Callable[..., PgConnection]:
    """``connect_fn`` with the cluster's TLS settings bound (unchanged when ``tls`` is None)."""
    if tls is None:
        return connect_fn
    settings = tls(cluster)

    def bound(url: str, **kwargs: Any) -> PgConnection:
        return connect_fn(url, tls=settings, **kwargs)

    return bound

