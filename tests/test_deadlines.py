"""Time is bounded: each request has an overall deadline, each run one too, and a dead URL fails in seconds.

Against real loopback servers that misbehave on purpose: one accepts and never answers, one trickles its
answer a byte at a time (each read well inside any per-read timeout), and a port nobody listens on. Deadlines
here are fractions of a second, so each test takes real time of about a second at most; retry waits go through
an injected sleep.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from do_pgpool import _exceptions as errors
from do_pgpool._deadline import Deadline
from do_pgpool.api._gateway import DigitalOcean
from do_pgpool.api._retry import RetryConfig
from do_pgpool.api._transport import http_client
from do_pgpool.testing import FakeDigitalOcean

TOKEN = "dop_v1_" + "0" * 8 + "not-a-real-token"
BODY = b'{"databases": []}' + b" " * 1007  # a 1 KB answer


def serve(handle: Callable[[socket.socket], None]) -> Iterator[str]:
    """A loopback TCP server running ``handle`` on each connection; yields its base URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    conns: list[socket.socket] = []

    def loop() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            conns.append(conn)
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        for conn in conns:
            conn.close()
        listener.close()


def silent(conn: socket.socket) -> None:
    """Accept, read the request, never answer."""
    conn.recv(65536)


def trickle(conn: socket.socket, *, headers_too: bool = False) -> None:
    """Answer 200 with a 1 KB body, one byte every 0.05 s (a per-read timeout never trips)."""
    conn.recv(65536)
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(BODY)
    data = head + BODY
    if not headers_too:
        conn.sendall(head)
        data = BODY
    try:
        for i in range(len(data)):
            conn.sendall(data[i : i + 1])
            time.sleep(0.05)
    except OSError:
        return  # the client gave up and closed: what we want


@pytest.fixture
def silent_url() -> Iterator[str]:
    yield from serve(silent)


@pytest.fixture(params=[False, True], ids=["body", "headers"])
def trickle_url(request: pytest.FixtureRequest) -> Iterator[str]:
    yield from serve(lambda conn: trickle(conn, headers_too=request.param))


@pytest.fixture
def closed_url() -> str:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more: connection refused


def gateway(url: str, sleeps: list[float], **kwargs: object) -> DigitalOcean:
    retry = RetryConfig(sleep=sleeps.append, clock=lambda: 0.0)
    return DigitalOcean(TOKEN, api_url=url, retry=retry, **kwargs)  # type: ignore[arg-type]


def timed(call: Callable[[], object]) -> tuple[BaseException, float]:
    started = time.monotonic()
    with pytest.raises(errors.DoPgpoolError) as info:
        call()
    return info.value, time.monotonic() - started


def test_a_server_that_never_answers_costs_two_request_deadlines_not_five_read_timeouts(silent_url: str) -> None:
    sleeps: list[float] = []
    with gateway(silent_url, sleeps, timeout=0.4) as do:
        error, elapsed = timed(do.list_clusters)
        assert do.request_count == 2  # tried twice: a third wait would not help
    assert isinstance(error, errors.RequestTimeoutError)
    assert "GET /v2/databases: no complete answer within 0.4s" in str(error) and silent_url in str(error)
    assert 0.8 <= elapsed < 1.5 and len(sleeps) == 1


def test_a_trickled_answer_is_cut_at_the_request_deadline(trickle_url: str) -> None:
    # 1 KB at a byte every 0.05 s would take 51 s: each read is quick, only the overall deadline stops it
    sleeps: list[float] = []
    with gateway(trickle_url, sleeps, timeout=0.5) as do:
        error, elapsed = timed(do.list_clusters)
    assert isinstance(error, errors.RequestTimeoutError), error
    assert "no complete answer within 0.5s" in str(error)
    assert elapsed < 1.5


def test_the_runs_deadline_cuts_every_request_and_retry_short(silent_url: str) -> None:
    sleeps: list[float] = []
    started = time.monotonic()
    with gateway(silent_url, sleeps, timeout=30.0, deadline=Deadline(0.6)) as do:
        error, _ = timed(do.list_clusters)
        assert do.request_count == 1  # the request got what was left of 0.6 s; no retry fits after it
    assert isinstance(error, errors.DeadlineExceededError)
    assert "time limit (timeout=0.6s): it ran out while retrying (GET /v2/databases: no complete answer" in str(error)
    assert time.monotonic() - started < 1.2 and sleeps == []


def test_a_request_after_the_deadline_is_not_sent() -> None:
    clock = [0.0]
    deadline = Deadline(5.0, clock=lambda: clock[0])
    sent: list[httpx.Request] = []
    http = httpx.Client(transport=httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200, json={})))
    with DigitalOcean(TOKEN, http=http, deadline=deadline) as do:
        do.list_clusters()
        clock[0] = 5.0
        with pytest.raises(errors.DeadlineExceededError, match=r"timeout=5s\): it ran out while sending GET"):
            do.list_clusters()
    assert len(sent) == 1


def test_connection_refused_fails_in_well_under_two_seconds_with_the_url_and_what_to_check(closed_url: str) -> None:
    sleeps: list[float] = []
    with gateway(closed_url, sleeps) as do:
        error, elapsed = timed(do.list_clusters)
        assert do.request_count == 2
    assert isinstance(error, errors.ConnectionFailedError)
    text = str(error)
    assert f"cannot connect to {closed_url} (GET /v2/databases): connection refused" in text
    assert "Check api_url (DIGITALOCEAN_API_URL" in text  # the CLI says --api-url
    assert elapsed < 1.0 and sum(sleeps) < 1.0  # one short wait, then the answer


def test_a_host_that_does_not_resolve_says_so() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known")

    sleeps: list[float] = []
    http = httpx.Client(transport=httpx.MockTransport(handler))
    with DigitalOcean(TOKEN, api_url="https://api.digitalocean.invalid", http=http,
                      retry=RetryConfig(sleep=sleeps.append)) as do:  # fmt: skip
        with pytest.raises(errors.ConnectionFailedError, match="the host name does not resolve") as info:
            do.list_clusters()
        assert do.request_count == 2
    assert "https://api.digitalocean.invalid" in str(info.value) and "DNS" in str(info.value)


def test_the_deadline_hook_is_in_place_on_the_client_the_gateway_builds() -> None:
    # httpx has no public hook for the network backend; this fails if a new httpx/httpcore renames it
    from do_pgpool.api._transport import _DeadlineBackend

    for url in ("http://127.0.0.1:1", "https://api.digitalocean.com"):
        with http_client(url, timeout=30.0) as http:
            assert isinstance(http._transport._pool._network_backend, _DeadlineBackend)  # type: ignore[attr-defined]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 0.0, -1.0])
def test_request_timeouts_and_deadlines_must_be_finite_and_positive(bad: float) -> None:
    with pytest.raises(errors.ConfigError):
        DigitalOcean(TOKEN, timeout=bad)
    with pytest.raises(errors.ConfigError):
        Deadline(bad)


# -- PostgreSQL and GitHub get what is left of the run too ---------------------------------------------------


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_a_postgres_server_that_never_answers_gets_only_what_is_left_of_the_run(silent_url: str) -> None:
    from do_pgpool.postgres._connect import connect

    url = f"postgresql://doadmin:pg-secret-pw@127.0.0.1:{_port(silent_url)}/defaultdb?sslmode=disable"
    started = time.monotonic()
    with Deadline(1.0).scope(), pytest.raises(errors.DatabaseError) as info:
        connect(url)  # connect_timeout 10 s without the run's deadline
    elapsed = time.monotonic() - started
    assert elapsed < 3.0  # libpq counts whole seconds, at least 2
    assert info.value.unreachable
    text = str(info.value)
    assert f"127.0.0.1 port {_port(silent_url)} did not answer" in text
    assert "It was given 1s: what was left of the run's time limit (timeout)." in text
    assert "pg-secret-pw" not in text


def test_no_postgres_connection_is_tried_once_the_run_is_out_of_time() -> None:
    from do_pgpool.postgres._connect import connect

    clock = [0.0]
    deadline = Deadline(5.0, clock=lambda: clock[0])
    clock[0] = 5.0
    with deadline.scope(), pytest.raises(errors.DeadlineExceededError, match="connecting to PostgreSQL at 127.0.0.1"):
        connect("postgresql://u:p@127.0.0.1:1/db")


def test_status_against_a_postgres_that_never_answers_ends_within_its_timeout(silent_url: str) -> None:
    from tests.cli_runner import invoke

    fake = FakeDigitalOcean()
    fake.add_cluster("app-db", size="db-s-1vcpu-1gb", host="127.0.0.1", port=_port(silent_url), password="pg-pw-7")
    started = time.monotonic()
    with fake.serve() as api:
        result = invoke(api, "status", "--timeout", "2", "--sslmode", "require", "--no-advice", token=TOKEN)
    assert time.monotonic() - started < 4.0  # was 10 s (connect_timeout) whatever --timeout said
    assert result.exit_code == 1
    assert "live: unavailable: cannot reach PostgreSQL" in result.stdout
    assert "what was left of the run's time limit (--timeout)" in result.stderr
    assert "pg-pw-7" not in result.output


def test_github_requests_end_at_the_runs_deadline(silent_url: str) -> None:
    from do_pgpool.api._github import GitHub

    sleeps: list[float] = []
    github = GitHub("ghp_deadline", api_url=silent_url, retry=RetryConfig(sleep=sleeps.append),
                    deadline=Deadline(0.6))  # fmt: skip
    error, elapsed = timed(lambda: github.put_secret("acme/web", "DATABASE_URL", "postgresql://x"))
    assert isinstance(error, errors.DeadlineExceededError), error
    assert "it ran out while waiting for GitHub's answer to GET /repos/acme/web/actions/secrets/public-key" in str(
        error)  # fmt: skip
    assert elapsed < 1.2 and github.request_count == 1 and sleeps == []


def test_a_trickling_github_is_cut_at_the_request_deadline(trickle_url: str) -> None:
    from do_pgpool.api._github import GitHub

    sleeps: list[float] = []
    github = GitHub("ghp_deadline", api_url=trickle_url, timeout=0.4, retry=RetryConfig(sleep=sleeps.append))
    error, elapsed = timed(lambda: github.get_public_key("acme/web"))
    assert isinstance(error, errors.RequestTimeoutError), error
    assert "no complete answer from GitHub within 0.4s" in str(error)
    assert github.request_count == 2 and elapsed < 1.5  # tried twice, as DigitalOcean's requests are


def test_rewrite_secret_to_a_github_that_never_answers_ends_within_its_timeout(silent_url: str) -> None:
    from click.testing import CliRunner

    from do_pgpool.cli import main

    fake = FakeDigitalOcean()
    fake.add_pool(fake.add_cluster("app-db", size="db-s-1vcpu-1gb"), "app-pool", 10)
    started = time.monotonic()
    with fake.serve() as api:
        result = CliRunner().invoke(
            main, ["rewrite-secret", "--api-url", api, "--pool", "app-pool", "--secret", "github:acme/web",
                   "--timeout", "1"],
            env={"DIGITALOCEAN_TOKEN": TOKEN, "GITHUB_TOKEN": "ghp_deadline", "GITHUB_API_URL": silent_url},
            catch_exceptions=False,
        )  # fmt: skip
    assert time.monotonic() - started < 2.5  # was 30 s per read, retried
    assert result.exit_code == 1
    assert "github:acme/web: failed; nothing written; error: gave up after the run's time limit" in result.output
    assert "GitHub's answer to GET /repos/acme/web/actions/secrets/public-key" in " ".join(result.output.split())
