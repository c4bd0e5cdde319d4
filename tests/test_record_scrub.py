"""Record mode's scrubbing, checked without the network: no password, token or real identifier survives."""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx

from tests.record_cassettes import CLUSTER_ID, to_interactions


def test_recorded_interactions_are_scrubbed_and_normalised() -> None:
    real_id, password = "11111111-2222-4333-8444-555555555555", "AVNS_s3cr3t"
    real_host = "mydb-do-user-1-0.db.ondigitalocean.com"
    request = httpx.Request(
        "POST",
        f"https://api.digitalocean.com/v2/databases/{real_id}/pools",
        headers={"Authorization": "Bearer dop_v1_abc"},
        json={"name": "do-pgpool-rec", "size": 20},
    )
    body = {
        "pool": {
            "name": "do-pgpool-rec",
            "connection": {
                "uri": f"postgres://doadmin:{password}@{real_host}:25061/do-pgpool-rec",
                "password": password,
                "host": real_host,
            },
        }
    }
    response = httpx.Response(201, json=body, headers={"x-request-id": "r", "set-cookie": "s=1"})
    (entry,) = to_interactions(
        [(request, response)], {real_id: CLUSTER_ID, real_host: "h", "do-pgpool-rec": "defaultdb-pool"}
    )
    text = json.dumps(entry)
    assert password not in text and "dop_v1_abc" not in text and real_id not in text and real_host not in text
    assert "set-cookie" not in text and "authorization" not in text.lower()
    assert (
        entry["response"]["body"]["pool"]["connection"]["uri"] == "postgres://doadmin:scrubbed@h:25061/defaultdb-pool"
    )


def test_credentials_in_uris_of_every_engine_in_the_cluster_list_are_scrubbed() -> None:
    """The cluster list holds MySQL, Valkey/Redis and MongoDB clusters too: their passwords must not survive."""
    secrets = {"pg": "AVNS_pg-Secret1", "mysql": "AVNS_my+Secret/2", "redis": "AVNS_redisSecret3",
               "mongo": "mongoSecret4", "private": "AVNS_privSecret5"}  # fmt: skip
    databases = [
        {"engine": "pg", "connection": {"uri": f"postgresql://doadmin:{secrets['pg']}@pg.h:25060/defaultdb",
                                        "password": secrets["pg"]}},
        {"engine": "mysql", "connection": {"uri": f"mysql://doadmin:{quote(secrets['mysql'], safe='')}@my.h:25060/d",
                                           "password": secrets["mysql"]}},
        {"engine": "valkey", "connection": {"uri": f"rediss://default:{secrets['redis']}@r.h:25061"}},
        {"engine": "mongodb", "connection": {"uri": f"mongodb+srv://doadmin:{secrets['mongo']}@m.h/admin?tls=true"}},
        {"engine": "pg", "private_connection": {"private_password": secrets["private"]},
         "maintenance_message": f"rotated the password {secrets['private']} of doadmin"},
    ]
    request = httpx.Request("GET", "https://api.digitalocean.com/v2/databases")
    (entry,) = to_interactions([(request, httpx.Response(200, json={"databases": databases}))], {})
    text = json.dumps(entry)
    for secret in secrets.values():
        assert secret not in text and quote(secret, safe="") not in text, secret
    listed = entry["response"]["body"]["databases"]
    assert listed[1]["connection"]["uri"] == "mysql://doadmin:scrubbed@my.h:25060/d"
    assert listed[2]["connection"]["uri"] == "rediss://default:scrubbed@r.h:25061"
    assert listed[3]["connection"]["uri"] == "mongodb+srv://doadmin:scrubbed@m.h/admin?tls=true"
    assert listed[4]["maintenance_message"] == "rotated the password scrubbed of doadmin"
