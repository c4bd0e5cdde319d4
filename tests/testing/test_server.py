"""The loopback server face, state files and the ``do-pgpool fake-api`` command."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from do_pgpool.cli._fake import fake_api_command
from do_pgpool.testing import FakeDigitalOcean, seed_demo
from tests.testing.conftest import pool_body


def test_serve_answers_real_http_on_a_free_loopback_port(fake: FakeDigitalOcean) -> None:
    cluster = fake.add_cluster("app-db")

    with fake.serve() as url, httpx.Client(base_url=url, headers={"authorization": "Bearer t"}) as http:
        created = http.post(f"/v2/databases/{cluster.id}/pools", json=pool_body("web", 5))
        listed = http.get("/v2/databases")

    assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
    assert created.status_code == 201 and created.json()["pool"]["name"] == "web"
    assert listed.headers["ratelimit-limit"] == "5000"
    assert fake.calls[-1] == ("GET", "/v2/databases", 200)


def test_the_server_drops_the_connection_on_an_injected_timeout(fake: FakeDigitalOcean) -> None:
    fake.faults.timeout_next("GET", r"^/v2/databases$")

    with fake.serve() as url, httpx.Client(base_url=url, headers={"authorization": "Bearer t"}) as http:
        with pytest.raises(httpx.TransportError):
            http.get("/v2/databases")
        assert http.get("/v2/databases").status_code == 200


def test_serve_refuses_non_loopback_hosts(fake: FakeDigitalOcean) -> None:
    with pytest.raises(ValueError, match="loopback"), fake.serve(host="0.0.0.0"):
        pass  # pragma: no cover


def test_state_round_trips_through_a_file(tmp_path: Path) -> None:
    fake = FakeDigitalOcean()
    seed_demo(fake)
    fake.add_pool("app-db", "web", 10)
    fake.github.add_repo("acme/api", environments=("staging",))
    fake.cluster("app-db").autoscale_storage = {"enabled": True, "threshold_percent": 80, "increment_gib": 10}
    path = tmp_path / "state.json"

    fake.save_state(path)
    loaded = FakeDigitalOcean()
    loaded.load_state(path)

    assert os.stat(path).st_mode & 0o777 == 0o600
    original, copy = fake.cluster("app-db"), loaded.cluster("app-db")
    assert (copy.id, copy.pools["web"].size, copy.users["doadmin"].password) == (
        original.id,
        10,
        original.users["doadmin"].password,
    )
    assert loaded.apps.env_value("web-app", "DATABASE_URL", "web") == fake.apps.env_value(
        "web-app", "DATABASE_URL", "web"
    )
    assert loaded.github.repo("acme/web").repo.key_id == fake.github.repo("acme/web").repo.key_id
    assert copy.to_api() == original.to_api()  # hosts, tags, project, storage: the cluster answers the same
    assert copy.autoscale_storage == original.autoscale_storage


def test_cli_refuses_a_non_loopback_host() -> None:
    result = CliRunner().invoke(fake_api_command, ["--host", "192.0.2.1"])

    assert result.exit_code == 2
    assert "loopback" in result.output


def test_cli_serves_the_demo_seed_and_saves_state_on_sigterm(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    code = "from do_pgpool.cli._fake import fake_api_command; fake_api_command()"
    with subprocess.Popen(
        [sys.executable, "-c", code, "--seed", "demo", "--state", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip()  # the first line is the base URL
            with httpx.Client(base_url=url, headers={"authorization": "Bearer t"}, timeout=5) as http:
                cluster = http.get("/v2/databases").json()["databases"][0]
                created = http.post(f"/v2/databases/{cluster['id']}/pools", json=pool_body("web", 20))
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    assert (cluster["name"], cluster["size"], created.status_code) == ("app-db", "db-s-1vcpu-1gb", 201)
    saved = json.loads(state.read_text())
    assert saved["clusters"][0]["pools"] == [
        {"name": "web", "mode": "transaction", "size": 20, "db": "defaultdb", "user": "doadmin"}
    ]


def test_cli_refuses_a_state_file_it_did_not_write(tmp_path: Path) -> None:
    bad = tmp_path / "state.json"
    bad.write_text("not json")
    result = CliRunner().invoke(fake_api_command, ["--state", str(bad)])
    assert result.exit_code == 2
    assert "is not a state file this command wrote" in result.output
    assert "Traceback" not in result.output


def test_server_sockets_disable_nagle(fake: FakeDigitalOcean, monkeypatch: pytest.MonkeyPatch) -> None:
    """TCP_NODELAY on every accepted socket: otherwise each kept-alive request after the first waits ~40 ms
    for a delayed ACK (measured: 44 ms before, 0.6 ms after)."""
    import socket

    from do_pgpool.testing import _server

    seen: list[int] = []
    serve = _server._Handler._serve

    def recording(self: _server._Handler) -> None:
        seen.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        serve(self)

    monkeypatch.setattr(_server._Handler, "do_GET", recording)
    with fake.serve() as url, httpx.Client(base_url=url, headers={"authorization": "Bearer t"}) as http:
        for _ in range(2):
            assert http.get("/v2/databases").status_code == 200
    assert len(seen) == 2 and all(seen)


def test_fake_api_help_lists_every_digitalocean_route_it_serves() -> None:
    from do_pgpool.testing._routes import ROUTES

    text = CliRunner().invoke(fake_api_command, ["--help"]).output
    for route in ROUTES:
        if route.service == "digitalocean":
            literal = re.sub(r"\(\?P<\w+>\[\^/\]\+\)", "*", route.pattern).strip("^$")
            last = [part for part in literal.split("/") if part != "*"][-1]
            assert f"/{last}" in text, route.pattern
    assert "404 not_found" in text and "were not run" in text  # the claim about doctl/Terraform is narrow
