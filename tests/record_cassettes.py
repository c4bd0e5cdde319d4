"""Record mode: refresh the core cassettes against the real DigitalOcean API. Never run in CI.

    DIGITALOCEAN_TOKEN=... .venv/bin/python -m tests.record_cassettes --cluster my-test-db

It creates a throwaway pool (``--pool``, default ``do-pgpool-rec``, size 20 then 10 then 20) on the named
cluster, records the ``create``, ``update_size`` and ``converged`` scenarios, and deletes the pool again.
Recordings are scrubbed and normalised before they are written: the Authorization header is never stored,
passwords (every ``*password*`` field, the credentials in URIs of any scheme - postgresql, mysql, rediss,
mongodb+srv - and each password seen wherever it appears again) become ``scrubbed``, and the cluster's id,
name and host and the pool's name become the fixed values the tests expect, so a refreshed cassette replays
exactly like the one it replaces.
Failure scenarios (5xx after create, 429, ...) cannot be provoked on demand and stay hand-built from
DigitalOcean's OpenAPI examples.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus

import httpx

from do_pgpool.api._gateway import DigitalOcean
from do_pgpool.ops._pool import ensure_pool
from do_pgpool.ops._pool_plan import PoolRequest
from tests.cassette import CASSETTES

CLUSTER_ID = "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30"
HOST = "backend-do-user-19081923-0.b.db.ondigitalocean.com"
KEEP_HEADERS = ("content-type", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "retry-after",
                "x-request-id")


class Recorder(httpx.BaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.log: list[tuple[httpx.Request, httpx.Response]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        self.log.append((request, response))
        return response


# "password", "private_password", ... : "<value>" in JSON text
_PASSWORD_FIELD = re.compile(r'("[A-Za-z_]*password[A-Za-z_]*"\s*:\s*)"((?:[^"\\]|\\.)*)"', re.IGNORECASE)
# user:password@ in a URI of any scheme (postgresql, mysql, rediss, mongodb+srv, ...)
_URI_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^:@/\s\"]*):[^@/\s\"]+@")


def scrub(text: str, replacements: dict[str, str]) -> str:
    """JSON text with every password gone: password fields, URI credentials of any scheme, and each password
    value seen in a field wherever else it appears (an error message quoting it, a URI-encoded copy)."""
    seen = {m[2] for m in _PASSWORD_FIELD.finditer(text) if len(m[2]) >= 4 and m[2] != "scrubbed"}
    text = _PASSWORD_FIELD.sub(r'\1"scrubbed"', text)
    text = _URI_CREDENTIALS.sub(r"\1:scrubbed@", text)
    for password in sorted(seen, key=len, reverse=True):
        for form in {password, quote(password, safe=""), quote_plus(password)}:
            text = text.replace(form, "scrubbed")
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text


def to_interactions(log: list[tuple[httpx.Request, httpx.Response]], replacements: dict[str, str]) -> list[Any]:
    out = []
    for request, response in log:
        headers = {k: v for k, v in response.headers.items() if k.lower() in KEEP_HEADERS}
        entry = {
            "request": {
                "method": request.method,
                "path": request.url.path,
                "query": dict(parse_qsl(request.url.query.decode())),
                "body": json.loads(request.content) if request.content else None,
            },
            "response": {"status": response.status_code, "headers": headers,
                         "body": response.json() if response.content else None},
        }
        out.append(json.loads(scrub(json.dumps(entry), replacements)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cluster", required=True, help="a test cluster's name (not production)")
    parser.add_argument("--pool", default="do-pgpool-rec")
    args = parser.parse_args()
    token = os.environ.get("DIGITALOCEAN_TOKEN") or os.environ.get("DIGITALOCEAN_ACCESS_TOKEN") or ""

    def run(size: int, by: str) -> Recorder:
        recorder = Recorder()
        with DigitalOcean(token, http=httpx.Client(transport=recorder)) as do:
            ensure_pool(do, PoolRequest(size=size, name=args.pool), cluster=by)
        return recorder

    with DigitalOcean(token) as do:
        cluster = do.find_cluster(args.cluster)
    host = cluster.connection.host if cluster.connection else HOST
    replacements = {cluster.id: CLUSTER_ID, host: HOST, args.pool: "defaultdb-pool",
                    f'"name": "{cluster.name}"': '"name": "backend"'}
    scenarios = {"create": run(20, cluster.name)}
    run(10, cluster.name)
    scenarios["update_size"] = run(20, cluster.id)
    scenarios["converged"] = run(20, cluster.name)
    with DigitalOcean(token) as do:
        do.delete_connection_pool(cluster.id, args.pool)
    for name, recorder in scenarios.items():
        data = {"description": f"recorded against the real API ({name})", "source": "tests/record_cassettes.py",
                "interactions": to_interactions(recorder.log, replacements)}
        (CASSETTES / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
        print(f"wrote cassettes/{name}.json ({len(recorder.log)} interactions)")


if __name__ == "__main__":
    main()
