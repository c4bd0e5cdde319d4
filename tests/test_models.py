"""Secrets are masked inside the types, not by their callers."""

from __future__ import annotations

import pytest

from do_pgpool._dburl import mask_secrets_in, mask_url
from do_pgpool._models import Cluster, Connection, Pool

PASSWORD = "AVNS_pAsSw0rd-that-must-not-show"
URI = f"postgres://doadmin:{PASSWORD}@db.example.com:25061/app-pool?sslmode=require"
CONN = {"uri": URI, "host": "db.example.com", "port": 25061, "database": "app-pool", "user": "doadmin",
        "password": PASSWORD, "ssl": True}


def test_repr_and_str_of_everything_holding_a_connection_mask_the_password() -> None:
    conn = Connection.from_api(CONN)
    pool = Pool.from_api({"name": "app-pool", "mode": "transaction", "size": 5, "db": "defaultdb",
                          "user": "doadmin", "connection": CONN, "private_connection": CONN})
    cluster = Cluster.from_api({"id": "c", "name": "n", "engine": "pg", "status": "online",
                                "size": "db-s-1vcpu-1gb", "num_nodes": 1, "connection": CONN})
    for thing in (conn, pool, cluster):
        assert PASSWORD not in repr(thing) and PASSWORD not in str(thing)
    assert conn is not None and conn.password == PASSWORD and conn.uri == URI  # reachable only on purpose
    assert conn.masked_uri == "postgres://doadmin:***@db.example.com:25061/app-pool?sslmode=require"


def test_a_connection_without_password_is_recognised() -> None:
    conn = Connection.from_api({**CONN, "password": "", "uri": "postgres://doadmin@db.example.com:25061/p"})
    assert conn is not None and not conn.has_password


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (URI, "postgres://doadmin:***@db.example.com:25061/app-pool?sslmode=require"),
        ("postgres://u@h/db", "postgres://u@h/db"),
        ("postgres://h/db?user=u&password=x", "postgres://h/db?user=u&password=***"),
        ("", ""),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_mask_secrets_in_free_text() -> None:
    text = f'connection to "{URI}" failed: FATAL'
    assert PASSWORD not in mask_secrets_in(text)
    assert "doadmin:***@db.example.com" in mask_secrets_in(text)
