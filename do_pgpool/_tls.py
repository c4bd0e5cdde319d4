"""TLS towards PostgreSQL: which ``sslmode`` and CA a connection uses, and the URI a secret carries.

DigitalOcean's URIs say ``sslmode=require`` (encrypted, server not authenticated). ``verify-full`` also checks
that the server's certificate is signed by the cluster's CA (``GET /v2/databases/{uuid}/ca``) and issued for
the host name connected to. Pure: no I/O here (the CA is read by the gateway and written by targets/_ca_file).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ._exceptions import ConfigError, InvalidResponseError, Param

__all__ = ["SSLMODES", "TLS", "ca_pem_from_api", "verify_full_uri"]

#: libpq's modes that still encrypt; weaker ones are not offered (DigitalOcean requires TLS)
SSLMODES = ("require", "verify-ca", "verify-full")


@dataclass(frozen=True)
class TLS:
    """``sslmode`` (one of :data:`SSLMODES`) and, for the verifying modes, the CA file (PEM)."""

    sslmode: str = "verify-full"
    ca_file: str | None = None

    def __post_init__(self) -> None:
        if self.sslmode not in SSLMODES:
            raise ConfigError([Param("sslmode", repr(self.sslmode)), f" is not one of {', '.join(SSLMODES)}"])
        if self.sslmode != "require" and not self.ca_file:
            raise ConfigError([Param("sslmode", self.sslmode), " needs the cluster's CA: pass ",
                               Param("ca_file", "PATH")])  # fmt: skip

    def conninfo(self) -> dict[str, str]:
        """The libpq parameters that override a URI's own ``sslmode``."""
        return {"sslmode": self.sslmode, **({"sslrootcert": self.ca_file} if self.ca_file else {})}


def verify_full_uri(uri: str, ca_file: str, sslmode: str = "verify-full") -> str:
    """DigitalOcean's URI with ``sslmode=require`` replaced by ``sslmode=verify-full&sslrootcert=PATH``.

    Every other part (and query parameter, in its order) is kept as given.
    """
    TLS(sslmode, ca_file)  # validates
    parts = urlsplit(uri)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("sslmode", "sslrootcert")]
    query += [("sslmode", sslmode), ("sslrootcert", ca_file)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="/")))


def ca_pem_from_api(body: object) -> str:
    """``{"ca": {"certificate": "<base64 of the PEM>"}}`` (the OpenAPI ``ca`` response) -> the PEM text."""
    cert = body.get("ca", {}).get("certificate") if isinstance(body, dict) else None
    if not isinstance(cert, str) or not cert:
        raise InvalidResponseError("DigitalOcean's /ca answer has no ca.certificate")
    try:
        pem = base64.b64decode(cert, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidResponseError("DigitalOcean's ca.certificate is not base64 of a PEM certificate") from exc
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise InvalidResponseError("DigitalOcean's ca.certificate does not decode to a PEM certificate")
    return pem
