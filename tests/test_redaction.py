"""One redactor for everything that leaves the process, tested with canary secrets that the fake echoes back in
its error bodies: the DO token in an App Platform error, the GitHub token in a GitHub error, a database password
quoted in free text by a DigitalOcean error."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from click.testing import CliRunner, Result

from do_pgpool import _redact
from do_pgpool._exceptions import APIError, ServerError
from do_pgpool.api._gateway import DigitalOcean
from do_pgpool.api._retry import RetryConfig
from do_pgpool.cli import main
from do_pgpool.testing import FakeDigitalOcean

TOKEN = "dop_v1_canary0do0token0" + "7" * 20
GH_TOKEN = "ghp_canary0github0token0" + "8" * 12
PASSWORD = "AVNS_canary+db/pass=word"  # characters that change when URL-encoded


@pytest.fixture(autouse=True)
def _fresh_redactor() -> Iterator[None]:
    # Each test must learn its secrets itself: a registry filled by an earlier test would hide a leak.
    _redact.forget_all()
    logger = logging.getLogger("do_pgpool")
    handlers, level = logger.handlers[:], logger.level
    yield
    logger.handlers[:], logger.level = handlers, level
    _redact.forget_all()


@pytest.fixture
def fake() -> Iterator[FakeDigitalOcean]:
    fake = FakeDigitalOcean()
    cluster = fake.add_cluster("app-db", size="db-s-1vcpu-1gb", password=PASSWORD)
    fake.add_pool(cluster, "app-pool", 10)
    fake.add_app("web-app")
    fake.github.add_repo("acme/web")
    yield fake


def run(fake: FakeDigitalOcean, *args: str) -> Result:
    with fake.serve() as url:
        env = {"DIGITALOCEAN_TOKEN": TOKEN, "DIGITALOCEAN_API_URL": url, "GITHUB_TOKEN": GH_TOKEN,
               "GITHUB_API_URL": url}  # fmt: skip
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def shown(result: Result) -> str:
    return result.stdout + result.stderr


def assert_hidden(text: str, *secrets: str) -> None:
    for secret in secrets:
        for form in (secret, quote(secret, safe="")):
            assert form not in text, f"{form!r} leaked"


# -- the redactor itself -----------------------------------------------------------------------------------


def test_a_remembered_secret_is_masked_in_its_encoded_forms_too() -> None:
    _redact.remember(PASSWORD)
    text = f"plain {PASSWORD}; url-encoded {'AVNS_canary%2Bdb%2Fpass%3Dword'}; form {'AVNS_canary%2Bdb%2Fpass%3Dword'}"
    assert _redact.redact(text) == "plain ***; url-encoded ***; form ***"
    assert _redact.redact(json.dumps({"m": 'x"' + PASSWORD})) == json.dumps({"m": 'x"***'})


def test_before_it_is_remembered_a_free_text_password_is_not_masked() -> None:
    # The control for every test below: masking depends on learning the secret.
    assert PASSWORD in _redact.redact(f"said {PASSWORD}")


@pytest.mark.parametrize("scheme", ["postgresql", "mysql", "rediss", "mongodb+srv", "https"])
def test_credentials_in_any_uri_are_masked_even_when_unknown(scheme: str) -> None:
    assert _redact.redact(f"at {scheme}://admin:Zq9-unknown@h.example:1/x") == f"at {scheme}://admin:***@h.example:1/x"


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_an_unknown_bearer_credential_is_masked_but_bearer_prose_is_not(scheme: str) -> None:
    unknown = "dop_v1_" + "0f" * 32  # never remembered: only its shape gives it away
    assert _redact.redact(f"Authorization: {scheme} {unknown}, next") == f"Authorization: {scheme} ***, next"
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl-_~+/=="
    assert _redact.redact(f"{scheme} {jwt}") == f"{scheme} ***"
    for prose in ("Accept only this bearer token (repeatable).", f"the {scheme} scheme", "Bearer tokens expire",
                  "a bearer authentication header"):  # fmt: skip
        assert _redact.redact(prose) == prose


def test_short_strings_are_not_masked_as_free_text() -> None:
    _redact.remember("pw", None, 12345)
    assert _redact.redact("pw is fine") == "pw is fine"


def test_a_revealed_value_passes_whole_and_the_rest_is_still_masked() -> None:
    uri = f"postgresql://doadmin:{PASSWORD}@h:25061/app-pool"
    _redact.remember(PASSWORD)
    _redact.reveal([uri])
    assert _redact.redact(f"{uri}\nerror: {PASSWORD}") == f"{uri}\nerror: ***"


def test_passwords_in_an_api_answer_are_learned_at_any_depth() -> None:
    answer = {"databases": [{"connection": {"password": PASSWORD}, "users": [{"password": "x" * 9}]}]}
    _redact.remember_passwords(answer)
    assert _redact.redact(f"{PASSWORD} {'x' * 9}") == "*** ***"


# -- exceptions ------------------------------------------------------------------------------------------------


def test_an_exception_str_and_repr_mask_a_secret_learned_after_it_was_raised() -> None:
    exc = ServerError(f"500 could not use password {PASSWORD}", status=500)
    _redact.remember(PASSWORD)
    assert PASSWORD not in str(exc) and PASSWORD not in repr(exc)
    assert "***" in str(exc)


def test_the_gateway_learns_passwords_from_answers_and_masks_them_in_a_later_error(fake: FakeDigitalOcean) -> None:
    gateway = DigitalOcean(TOKEN, http=httpx.Client(transport=fake.http_transport()),
                           retry=RetryConfig(max_attempts=1, sleep=lambda s: None))  # fmt: skip
    cluster = gateway.find_cluster("app-db")  # the answer carries the password
    fake.faults.fail_next("GET", r"/pools$", status=500, message=f"pgbouncer: auth failed for {PASSWORD}")
    with pytest.raises(APIError) as caught:
        gateway.list_connection_pools(cluster.id)
    assert PASSWORD not in str(caught.value) and "auth failed for ***" in str(caught.value)


# -- the CLI: stdout, stderr, logs, JSON ------------------------------------------------------------------------


def test_an_app_platform_error_echoing_the_token_is_masked_on_stdout_and_in_json(fake: FakeDigitalOcean) -> None:
    echo = f"invalid spec: request had Authorization: Bearer {TOKEN} and token={TOKEN}"
    fake.faults.fail_next("PUT", r"^/v2/apps/", status=400, message=echo)
    result = run(fake, "rewrite-secret", "--secret", "app:web-app")
    assert result.exit_code == 1
    assert "app:web-app: failed" in result.stdout and "token=***" in result.stdout
    assert_hidden(shown(result), TOKEN, PASSWORD)

    fake.faults.fail_next("PUT", r"^/v2/apps/", status=400, message=echo)
    result = run(fake, "rewrite-secret", "--secret", "app:web-app", "-o", "json")
    (secret,) = json.loads(result.stdout)["secrets"]
    assert secret["action"] == "failed" and "token=***" in secret["error"]
    assert_hidden(shown(result), TOKEN, PASSWORD)


def test_a_github_error_echoing_its_token_is_masked(fake: FakeDigitalOcean) -> None:
    fake.faults.fail_next("PUT", r"^/repos/acme/web/actions/secrets/", status=422,
                          message=f"bad credentials {GH_TOKEN}")  # fmt: skip
    for extra in ((), ("-o", "json")):
        fake.faults.fail_next("PUT", r"^/repos/acme/web/actions/secrets/", status=422,
                              message=f"bad credentials {GH_TOKEN}")  # fmt: skip
        result = run(fake, "rewrite-secret", "--secret", "github:acme/web", *extra)
        assert result.exit_code == 1
        assert "github:acme/web" in result.stdout and "***" in result.stdout
        assert_hidden(shown(result), GH_TOKEN, TOKEN, PASSWORD)


def test_a_do_error_quoting_the_database_password_is_masked_on_stderr_and_in_the_retry_log(
    fake: FakeDigitalOcean, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr("do_pgpool.api._gateway.RetryConfig", functools.partial(RetryConfig, sleep=slept.append))
    message = f"connection pool error: password {PASSWORD} rejected (encoded AVNS_canary%2Bdb%2Fpass%3Dword)"
    fake.faults.fail_next("GET", r"/pools$", status=500, times=3, message=message)
    result = run(fake, "-v", "rewrite-secret", "--secret", "app:web-app")
    assert result.exit_code == 0  # the fourth attempt succeeds
    assert len(slept) == 3 and result.stderr.count("retrying") == 3
    assert "password *** rejected" in result.stderr
    assert_hidden(shown(result), PASSWORD, TOKEN)


def test_the_stdout_target_still_prints_the_connection_string(fake: FakeDigitalOcean) -> None:
    from urllib.parse import urlsplit

    result = run(fake, "rewrite-secret", "--secret", "stdout")
    assert result.exit_code == 0, result.output
    assert urlsplit(result.stdout.strip()).password == quote(PASSWORD, safe="")  # the URI as the fake serves it
    json_result = run(fake, "rewrite-secret", "--secret", "stdout", "-o", "json")
    assert json.loads(json_result.stdout)["stdout"]["DATABASE_URL"] == result.stdout.strip()


def test_without_the_stdout_target_the_password_never_shows(fake: FakeDigitalOcean) -> None:
    result = run(fake, "-vv", "rewrite-secret", "--secret", "app:web-app", "-o", "json")
    assert result.exit_code == 0, result.output
    assert_hidden(shown(result), PASSWORD, TOKEN)


def test_the_stream_guard_masks_what_a_command_prints_directly(fake: FakeDigitalOcean, monkeypatch: Any) -> None:
    import click

    from do_pgpool.cli import _diagnose

    original = _diagnose.click.echo

    def leaky_echo(message: Any = None, **kwargs: Any) -> None:
        original(f"{message} (debug: {TOKEN})", **kwargs)

    monkeypatch.setattr(click, "echo", leaky_echo)
    result = run(fake, "status", "--no-advice")
    assert "(debug: ***)" in result.stdout
    assert_hidden(shown(result), TOKEN)
