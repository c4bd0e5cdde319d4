"""Record mode's scrubbing, checked without the network: no password, token or real identifier survives."""

from __future__ import annotations

import json

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
