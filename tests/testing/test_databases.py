"""Clusters, pools, users and dbs: envelopes, statuses and DigitalOcean's validation rules."""

from __future__ import annotations

import re

import httpx
import pytest

from do_pgpool.testing import FakeAPIError, FakeCluster, FakeDigitalOcean
from tests.testing.conftest import pool_body


def pools_url(cluster: FakeCluster, name: str = "") -> str:
    return f"/v2/databases/{cluster.id}/pools" + (f"/{name}" if name else "")


def test_list_clusters_wraps_them_in_databases_and_filters_by_tag(fake: FakeDigitalOcean, http: httpx.Client) -> None:
    prod = fake.add_cluster("app-db", tags=("production",))
    fake.add_cluster("staging-db", tags=("staging",))

    everything = http.get("/v2/databases").json()["databases"]
    tagged = http.get("/v2/databases", params={"tag_name": "production"}).json()["databases"]

    assert [c["name"] for c in everything] == ["app-db", "staging-db"]
    assert [c["id"] for c in tagged] == [prod.id]


def test_get_cluster_has_direct_and_private_connections(
    http: httpx.Client, fake: FakeDigitalOcean, cluster: FakeCluster
) -> None:
    response = http.get(f"/v2/databases/{cluster.id}")

    assert response.status_code == 200
    db = response.json()["database"]
    host = "app-db-do-user-19081923-0.b.db.ondigitalocean.com"
    assert db["connection"]["uri"] == f"postgresql://doadmin:fake-password-1@{host}:25060/defaultdb?sslmode=require"
    assert (db["connection"]["protocol"], db["connection"]["database"]) == ("postgresql", "defaultdb")
    assert db["private_connection"]["host"] == f"private-{host}"
    # the fields real answers carry beyond the OpenAPI examples (digitalocean-api.md §13)
    assert (db["semantic_version"], db["storage_size_mib"], db["tags"]) == ("16.10", 10240, ["production"])
    assert fake.add_cluster("untagged").to_api()["tags"] is None  # real answers: null, not []
    assert db["project_id"] == fake.databases.project_id
    assert "standby_connection" not in db
    assert db["users"] == [{"name": "doadmin", "role": "primary", "password": "fake-password-1"}]
    assert (db["status"], db["size"], db["num_nodes"], db["engine"]) == ("online", "db-s-1vcpu-1gb", 1, "pg")


def test_unknown_cluster_is_a_digitalocean_404(http: httpx.Client) -> None:
    response = http.get("/v2/databases/9cc10173-e9ea-4176-9dbc-a4cee4c4ff30")

    assert response.status_code == 404
    body = response.json()
    assert body["id"] == "not_found"
    assert body["request_id"] == response.headers["x-request-id"]


def test_create_pool_answers_201_with_the_pool_connection(http: httpx.Client, cluster: FakeCluster) -> None:
    response = http.post(pools_url(cluster), json=pool_body("web", 10))

    assert response.status_code == 201
    pool = response.json()["pool"]
    assert (pool["name"], pool["mode"], pool["size"], pool["db"], pool["user"]) == (
        "web",
        "transaction",
        10,
        "defaultdb",
        "doadmin",
    )
    conn = pool["connection"]
    assert (conn["database"], conn["port"], conn["user"], conn["password"]) == (
        "web",
        25061,
        "doadmin",
        "fake-password-1",
    )
    assert conn["uri"] == f"postgresql://doadmin:fake-password-1@{cluster.host}:25061/web?sslmode=require"
    assert pool["private_connection"]["host"] == f"private-{cluster.host}"


def test_hosts_are_shaped_like_digitaloceans_and_distinct(fake: FakeDigitalOcean) -> None:
    hosts = [fake.add_cluster(f"db-{i}").host for i in range(3)]
    assert len(set(hosts)) == 3
    for i, host in enumerate(hosts):
        assert re.fullmatch(rf"db-{i}-do-user-\d+-0\.[a-z]\.db\.ondigitalocean\.com", host)


def test_pools_of_multi_node_clusters_carry_standby_connections(http: httpx.Client, fake: FakeDigitalOcean) -> None:
    ha = fake.add_cluster("ha-db", size="db-s-2vcpu-4gb", num_nodes=2)
    single = fake.add_cluster("one-db")
    for cluster in (ha, single):
        fake.add_pool(cluster, "web-pool", 10)
    ha_pool = http.get(pools_url(ha, "web-pool")).json()["pool"]
    single_pool = http.get(pools_url(single, "web-pool")).json()["pool"]

    assert ha_pool["standby_connection"]["host"] == f"replica-{ha.host}"
    assert ha_pool["standby_private_connection"]["host"] == f"private-replica-{ha.host}"
    assert ha_pool["standby_connection"]["uri"].startswith("postgresql://doadmin:")
    assert (ha_pool["standby_connection"]["port"], ha_pool["standby_connection"]["database"]) == (25061, "web-pool")
    assert "standby_connection" not in single_pool and "standby_private_connection" not in single_pool


def test_pools_list_and_get_use_their_envelopes(
    http: httpx.Client, fake: FakeDigitalOcean, cluster: FakeCluster
) -> None:
    fake.add_pool(cluster, "web", 10)

    assert [p["name"] for p in http.get(pools_url(cluster)).json()["pools"]] == ["web"]
    assert http.get(pools_url(cluster, "web")).json()["pool"]["size"] == 10
    assert http.get(pools_url(cluster, "nope")).json()["id"] == "not_found"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (pool_body("ab"), "between 3 and 60"),
        (pool_body("x" * 61), "between 3 and 60"),
        (pool_body(mode="fast"), "mode must be one of"),
        (pool_body(size=0), "at least 1"),
        (pool_body(size="10"), "size must be a number"),
        (pool_body(db="missing"), "database 'missing' does not exist"),
        (pool_body(user="ghost"), "user 'ghost' does not exist"),
        ({"name": "web", "mode": "transaction", "size": 5}, "db is required"),
        (pool_body(size=23), "exceeds the connections available"),
    ],
)
def test_invalid_pool_bodies_are_422(
    http: httpx.Client, cluster: FakeCluster, body: dict[str, object], message: str
) -> None:
    response = http.post(pools_url(cluster), json=body)

    assert response.status_code == 422
    assert response.json()["id"] == "unprocessable_entity"
    assert message in response.json()["message"]
    assert cluster.pools == {}


def test_the_whole_budget_can_be_used_but_not_one_more(
    http: httpx.Client, fake: FakeDigitalOcean, cluster: FakeCluster
) -> None:
    fake.add_pool(cluster, "web", 20)

    refused = http.post(pools_url(cluster), json=pool_body("jobs", 3))
    accepted = http.post(pools_url(cluster), json=pool_body("jobs", 2))

    assert refused.status_code == 422
    assert "2 of 22 (other pools hold 20)" in refused.json()["message"]
    assert accepted.status_code == 201


def test_duplicate_pool_name_is_not_available(http: httpx.Client, fake: FakeDigitalOcean, cluster: FakeCluster) -> None:
    fake.add_pool(cluster, "web", 5)

    response = http.post(pools_url(cluster), json=pool_body("web", 5))

    assert (response.status_code, response.json()["message"]) == (422, "pool name is not available")


def test_a_22nd_pool_is_refused(http: httpx.Client, fake: FakeDigitalOcean) -> None:
    big = fake.add_cluster("big-db", size="db-s-4vcpu-8gb")  # budget 197
    for i in range(21):
        fake.add_pool(big, f"pool-{i:02}", 1)

    response = http.post(pools_url(big), json=pool_body("pool-21", 1))

    assert response.status_code == 422
    assert "maximum of 21" in response.json()["message"]


def test_update_is_a_full_replacement_answering_204(
    http: httpx.Client, fake: FakeDigitalOcean, cluster: FakeCluster
) -> None:
    fake.add_pool(cluster, "web", 10)

    response = http.put(pools_url(cluster, "web"), json={"mode": "transaction", "size": 15, "db": "defaultdb"})

    assert (response.status_code, response.content) == (204, b"")
    pool = cluster.pools["web"]
    assert (pool.size, pool.user) == (15, None)  # no "user": the pool fell back to the inbound user (doctl #1553)


def test_update_budget_leaves_out_the_pool_being_changed(
    http: httpx.Client, fake: FakeDigitalOcean, cluster: FakeCluster
) -> None:
    fake.add_pool(cluster, "web", 20)

    assert http.put(pools_url(cluster, "web"), json=pool_body(size=22, name=None)).status_code == 204
    assert http.put(pools_url(cluster, "web"), json=pool_body(size=23, name=None)).status_code == 422


def test_update_refuses_a_mode_change(http: httpx.Client, fake: FakeDigitalOcean, cluster: FakeCluster) -> None:
    fake.add_pool(cluster, "web", 10)

    response = http.put(
        pools_url(cluster, "web"), json={"mode": "session", "size": 10, "db": "defaultdb", "user": "doadmin"}
    )

    assert response.status_code == 422
    assert cluster.pools["web"].mode == "transaction"


def test_update_and_delete_of_a_missing_pool_are_404(http: httpx.Client, cluster: FakeCluster) -> None:
    assert http.put(pools_url(cluster, "nope"), json=pool_body(name=None)).status_code == 404
    assert http.delete(pools_url(cluster, "nope")).status_code == 404


def test_delete_answers_204_and_a_second_delete_404(
    http: httpx.Client, fake: FakeDigitalOcean, cluster: FakeCluster
) -> None:
    fake.add_pool(cluster, "web", 10)

    assert http.delete(pools_url(cluster, "web")).status_code == 204
    assert http.delete(pools_url(cluster, "web")).status_code == 404


def test_inbound_user_pool_has_no_credentials_in_its_connection(
    http: httpx.Client, fake: FakeDigitalOcean, cluster: FakeCluster
) -> None:
    fake.add_pool(cluster, "shared", 5, user=None)

    pool = http.get(pools_url(cluster, "shared")).json()["pool"]

    assert "user" not in pool
    assert (pool["connection"]["user"], pool["connection"]["password"]) == ("", "")
    assert pool["connection"]["uri"] == f"postgresql://{cluster.host}:25061/shared?sslmode=require"


def test_loopback_hosts_stay_themselves_in_private_connections(http: httpx.Client, fake: FakeDigitalOcean) -> None:
    local = fake.add_cluster("local-db", host="127.0.0.1", port=54321, pool_port=64321, password="s3cret")
    fake.add_pool(local, "web", 5)

    pool = http.get(pools_url(local, "web")).json()["pool"]

    assert pool["connection"]["uri"] == "postgresql://doadmin:s3cret@127.0.0.1:64321/web?sslmode=require"
    assert pool["private_connection"]["uri"] == pool["connection"]["uri"]


def test_a_token_without_view_credentials_sees_no_passwords(fake: FakeDigitalOcean, cluster: FakeCluster) -> None:
    fake.add_pool(cluster, "web", 5)
    fake.add_token("ro-token", view_credentials=False)

    with fake.http_client(token="ro-token") as ro:
        db = ro.get(f"/v2/databases/{cluster.id}").json()["database"]
        pool = ro.get(pools_url(cluster, "web")).json()["pool"]

    assert db["connection"]["password"] == "" and db["users"][0]["password"] == ""
    assert pool["connection"]["password"] == ""
    assert pool["connection"]["uri"] == f"postgresql://doadmin@{cluster.host}:25061/web?sslmode=require"
    assert "fake-password" not in repr(db) + repr(pool)


def test_users_and_dbs_can_be_listed_and_added(http: httpx.Client, cluster: FakeCluster) -> None:
    user = http.post(f"/v2/databases/{cluster.id}/users", json={"name": "app"})
    db = http.post(f"/v2/databases/{cluster.id}/dbs", json={"name": "appdb"})

    assert (user.status_code, user.json()["user"]["name"], user.json()["user"]["role"]) == (201, "app", "normal")
    assert (db.status_code, db.json()) == (201, {"db": {"name": "appdb"}})
    assert [u["name"] for u in http.get(f"/v2/databases/{cluster.id}/users").json()["users"]] == ["doadmin", "app"]
    assert http.get(f"/v2/databases/{cluster.id}/users/app").json()["user"]["password"] == "fake-password-2"
    assert http.get(f"/v2/databases/{cluster.id}/dbs").json() == {"dbs": [{"name": "defaultdb"}, {"name": "appdb"}]}
    assert http.post(f"/v2/databases/{cluster.id}/dbs", json={"name": "appdb"}).status_code == 422


def test_options_and_config(http: httpx.Client, cluster: FakeCluster) -> None:
    options = http.get("/v2/databases/options").json()
    layouts = {layout["num_nodes"]: layout["sizes"] for layout in options["options"]["pg"]["layouts"]}

    assert "db-s-1vcpu-1gb" in layouts[1] and "db-s-1vcpu-1gb" not in layouts[2]
    assert http.patch(f"/v2/databases/{cluster.id}/config", json={"config": {"jit": False}}).status_code == 200
    assert http.get(f"/v2/databases/{cluster.id}/config").json()["config"]["jit"] is False


def test_unparsable_bodies_are_400(http: httpx.Client, cluster: FakeCluster) -> None:
    response = http.post(pools_url(cluster), content=b"{not json", headers={"content-type": "application/json"})

    assert (response.status_code, response.json()["id"]) == (400, "bad_request")


def test_seeding_validates_unless_told_not_to(fake: FakeDigitalOcean, cluster: FakeCluster) -> None:
    with pytest.raises(FakeAPIError, match="exceeds"):
        fake.add_pool(cluster, "web", 30)

    fake.add_pool(cluster, "web", 30, validate=False)  # an over-budget state the API would refuse

    assert cluster.pools["web"].size == 30


def test_ids_and_passwords_are_deterministic() -> None:
    one, two = FakeDigitalOcean(), FakeDigitalOcean()

    a, b = one.add_cluster("app-db"), two.add_cluster("app-db")

    assert a.id == b.id
    assert a.users["doadmin"].password == b.users["doadmin"].password == "fake-password-1"
    assert "fake-password" not in repr(a)
