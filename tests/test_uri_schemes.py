"""DigitalOcean's examples say ``postgres://``, its real answers ``postgresql://``: both are accepted, and the
secret carries exactly what the API gave, through the same code path."""

from __future__ import annotations

import pytest

from do_pgpool._dburl import mask_url
from do_pgpool._exceptions import CredentialsMissingError
from do_pgpool._models import Connection
from do_pgpool.targets._write import connection_string_for

HOST = "app-db-do-user-19081923-0.b.db.ondigitalocean.com"


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_either_scheme_is_written_as_given_and_masked_alike(scheme: str) -> None:
    uri = f"{scheme}://doadmin:AVNS_pw@{HOST}:25061/web-pool?sslmode=require"
    conn = Connection.from_api({"protocol": "postgresql", "uri": uri, "database": "web-pool", "host": HOST,
                                "port": 25061, "user": "doadmin", "password": "AVNS_pw", "ssl": True})
    assert conn is not None
    assert connection_string_for(conn) == uri
    assert mask_url(uri) == f"{scheme}://doadmin:***@{HOST}:25061/web-pool?sslmode=require"


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_either_scheme_without_a_password_is_refused(scheme: str) -> None:
    conn = Connection.from_api({"uri": f"{scheme}://doadmin@{HOST}:25061/web-pool?sslmode=require", "host": HOST,
                                "port": 25061, "user": "doadmin", "password": ""})
    assert conn is not None
    with pytest.raises(CredentialsMissingError):
        connection_string_for(conn)
