"""verify-full against the real local PostgreSQL and PgBouncer: the right CA passes, a wrong one fails clearly."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest

from do_pgpool._exceptions import ConfigError, DatabaseError, InvalidResponseError
from do_pgpool._tls import TLS, ca_pem_from_api, verify_full_uri
from do_pgpool.postgres._connect import connect
from do_pgpool.testing._servers import RealServers


@pytest.fixture(scope="module")
def wrong_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA that issued nothing the servers present."""
    folder = tmp_path_factory.mktemp("wrong-ca")
    openssl = shutil.which("openssl")
    assert openssl, "openssl is installed by `make test`"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=someone else", "-keyout", str(folder / "k.pem"),
                    "-out", str(folder / "ca.crt")], check=True, capture_output=True, timeout=30)  # fmt: skip
    return folder / "ca.crt"


def _server_ssl(url: str, tls: TLS) -> tuple[bool, str]:
    with connect(url, tls=tls) as conn:
        return conn.info.pgconn.ssl_in_use, conn.info.host


def test_verify_full_with_the_clusters_ca_passes(pg_server: RealServers) -> None:
    in_use, host = _server_ssl(pg_server.direct_url(), TLS("verify-full", str(pg_server.ca_file)))
    assert in_use and host == "127.0.0.1"
    in_use, host = _server_ssl(pg_server.direct_url().replace("127.0.0.1", "localhost"),
                               TLS("verify-full", str(pg_server.ca_file)))  # fmt: skip
    assert in_use and host == "localhost"


def test_verify_full_through_pgbouncer_passes(pgbouncer_server: RealServers) -> None:
    in_use, _ = _server_ssl(pgbouncer_server.pool_url(), TLS("verify-full", str(pgbouncer_server.ca_file)))
    assert in_use


def test_verify_full_with_a_wrong_ca_fails_clearly(pg_server: RealServers, wrong_ca: Path) -> None:
    with pytest.raises(DatabaseError) as caught:
        connect(pg_server.direct_url(), tls=TLS("verify-full", str(wrong_ca)))
    text = str(caught.value)
    assert caught.value.tls_failed and not caught.value.unreachable
    assert "unknown CA" in text and f"127.0.0.1 port {pg_server.pg_port}" in text and "--ca-file" in text
    assert pg_server.password not in text


def test_verify_full_names_a_hostname_mismatch(pg_server: RealServers) -> None:
    # 127.0.0.2 reaches the same listener only if bound there; the cert is for localhost/127.0.0.1 only,
    # so connect by a name that resolves to 127.0.0.1 but is not in the certificate: hostaddr keeps the route.
    url = pg_server.direct_url().replace("@127.0.0.1:", "@not-in-cert.invalid:") + "&hostaddr=127.0.0.1"
    with pytest.raises(DatabaseError) as caught:
        connect(url, tls=TLS("verify-full", str(pg_server.ca_file)))
    assert caught.value.tls_failed and "hostname mismatch" in str(caught.value)
    assert "not-in-cert.invalid" in str(caught.value)


def test_require_ignores_the_ca(pg_server: RealServers, wrong_ca: Path) -> None:
    in_use, _ = _server_ssl(pg_server.direct_url(), TLS("require"))
    assert in_use


def test_tls_needs_a_ca_for_verifying_modes() -> None:
    with pytest.raises(ConfigError, match="ca_file"):
        TLS("verify-full")
    with pytest.raises(ConfigError, match="'disable'"):
        TLS("disable", "/x")


def test_verify_full_uri_replaces_only_the_sslmode() -> None:
    uri = "postgresql://app:p%40ss@db-x.ondigitalocean.com:25061/app-pool?sslmode=require&target_session_attrs=any"
    assert verify_full_uri(uri, "/etc/ssl/do-ca.crt") == (
        "postgresql://app:p%40ss@db-x.ondigitalocean.com:25061/app-pool"
        "?target_session_attrs=any&sslmode=verify-full&sslrootcert=/etc/ssl/do-ca.crt"
    )
    assert verify_full_uri(verify_full_uri(uri, "/a"), "/a") == verify_full_uri(uri, "/a")  # idempotent


def test_ca_pem_from_the_api_shape(pg_server: RealServers) -> None:
    pem = pg_server.ca_pem
    assert ca_pem_from_api({"ca": {"certificate": base64.b64encode(pem.encode()).decode()}}) == pem
    for bad in ({}, {"ca": {}}, {"ca": {"certificate": "%%%"}}, {"ca": {"certificate": "aGVsbG8="}}):
        with pytest.raises(InvalidResponseError):
            ca_pem_from_api(bad)


def test_the_fake_serves_the_ca_and_the_gateway_decodes_it(tmp_path: Path) -> None:
    import httpx

    from do_pgpool.api._gateway import DigitalOcean
    from do_pgpool.api._retry import RetryConfig
    from do_pgpool.targets._ca_file import write_ca_file
    from do_pgpool.testing import FakeDigitalOcean

    fake = FakeDigitalOcean()
    cluster = fake.add_cluster("db-tls")
    cluster.ca_pem = "-----BEGIN CERTIFICATE-----\nTUlJQ0ZBS0U=\n-----END CERTIFICATE-----\n"
    with DigitalOcean("dop_v1_ca-token", http=httpx.Client(transport=fake.http_transport()),
                      retry=RetryConfig(sleep=lambda _s: None)) as gateway:  # fmt: skip
        pem = gateway.get_ca(cluster.id)
    assert pem == cluster.ca_pem
    target = tmp_path / "do-ca.crt"
    assert write_ca_file(target, pem) is True
    assert target.read_text() == pem and (target.stat().st_mode & 0o777) == 0o644
    before = target.stat().st_mtime_ns
    assert write_ca_file(target, pem) is False and target.stat().st_mtime_ns == before  # idempotent
    assert [p.name for p in tmp_path.iterdir()] == ["do-ca.crt"]  # no temp file left
