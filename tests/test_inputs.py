"""Inputs are checked where they enter: derived values like given ones, credentials in URLs, absurd tokens,
non-ASCII digits, and the library's public functions called with the wrong types. Each is refused with a
sentence before any request; none surfaces as a raw TypeError, ValueError or OverflowError."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

import do_pgpool as lib
from do_pgpool.cli import main
from do_pgpool.testing import FakeDigitalOcean

TOKEN = "dop_v1_inputs-token-00000"


@pytest.fixture
def served() -> Iterator[tuple[FakeDigitalOcean, str]]:
    fake = FakeDigitalOcean()
    cluster = fake.add_cluster("app-db", size="db-s-1vcpu-1gb")
    fake.add_pool(cluster, "app-pool", 10)
    with fake.serve() as url:
        yield fake, url


def run(url: str, *args: str, token: str = TOKEN, api_url: str | None = None) -> Result:
    env = {"DIGITALOCEAN_TOKEN": token, "DIGITALOCEAN_API_URL": api_url or url}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def refused_before_any_request(fake: FakeDigitalOcean, result: Result, *phrases: str) -> None:
    assert result.exit_code == 2, result.output
    assert fake.calls == [], fake.calls
    assert "Traceback" not in result.output and "do-pgpool bug" not in result.output
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


# -- derived and given values, at the command line ----------------------------------------------------------


def test_a_default_pool_name_over_the_limit_is_refused_before_any_request(
    served: tuple[FakeDigitalOcean, str],
) -> None:
    fake, url = served
    result = run(url, "ensure-pool", "--size", "5", "--db", "d" * 58)
    refused_before_any_request(fake, result, "the default pool name (<db>-pool)", "--name")
    assert "re-run" not in result.stderr.lower()


@pytest.mark.parametrize("pool", ["a b/../x", "../../v2/account", "x", "p" * 61, "pool%2F"])
def test_rewrite_secret_pool_is_validated_before_any_request(served: tuple[FakeDigitalOcean, str], pool: str) -> None:
    fake, url = served
    result = run(url, "rewrite-secret", "--pool", pool, "--secret", "stdout")
    refused_before_any_request(fake, result, "--pool")


def test_an_api_url_with_credentials_is_refused_without_echoing_the_password(
    served: tuple[FakeDigitalOcean, str],
) -> None:
    fake, url = served
    with_credentials = url.replace("http://", "http://admin:Url-Secret-9@")
    result = run(url, "status", api_url=with_credentials)
    refused_before_any_request(fake, result, "carries credentials")
    assert "Url-Secret-9" not in result.output


@pytest.mark.parametrize("token", ["dop_v1_" + "a" * 100_000, "dop_v1_abc\x7fdef", "dop_v1_abc\x1bdef"])
def test_absurd_tokens_are_refused_up_front_without_echoing(served: tuple[FakeDigitalOcean, str], token: str) -> None:
    fake, url = served
    result = run(url, "status", token=token)
    refused_before_any_request(fake, result, "DigitalOcean API token")
    assert "dop_v1_a" not in result.output and "abc" not in result.output


@pytest.mark.parametrize(
    ("size", "phrase"),
    [
        ("\u00b2", "characters other than the digits 0-9"),  # superscript two
        ("\uff12\uff10", "characters other than the digits 0-9"),  # full-width 20: refused, not guessed at
        ("\u0662\u0660", "characters other than the digits 0-9"),  # Arabic-Indic 20
        ("0", "--size 0 is too small: a pool needs at least 1 server connection"),
        ("-3", "--size -3 is too small"),
        ("abc", "--size 'abc' is neither a whole number nor a percentage: give server connections (--size 20)"),
        ("20.5", "is neither a whole number nor a percentage"),
        ("150%", "use 1% to 100%"),
    ],
)
def test_size_refusals_are_one_sentence_and_exit_2(
    served: tuple[FakeDigitalOcean, str], size: str, phrase: str
) -> None:
    fake, url = served
    result = run(url, "ensure-pool", "--size", size)
    refused_before_any_request(fake, result, phrase)
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1 and not re.search(r"[.;] +[A-Z]", error_lines[0]), error_lines  # one sentence


def test_a_create_refused_as_asked_gets_no_rerun_advice(served: tuple[FakeDigitalOcean, str]) -> None:
    fake, url = served
    fake.faults.fail_next("POST", r"/pools$", status=422, message="pool name is reserved")
    result = run(url, "ensure-pool", "--size", "5", "--name", "new-pool")
    assert result.exit_code == 1
    assert "sending it again cannot help" in result.stderr
    assert "Re-run to retry" not in result.stderr


# -- the library ----------------------------------------------------------------------------------------------


def _gateway() -> lib.DigitalOcean:
    fake = FakeDigitalOcean()
    return lib.DigitalOcean(TOKEN, http=httpx.Client(transport=fake.http_transport()))


WRONG: dict[str, Callable[[], Any]] = {
    "bytes token": lambda: lib.DigitalOcean(b"dop_v1_bytes-token"),  # type: ignore[arg-type]
    "int token": lambda: lib.GitHub(12345678),  # type: ignore[arg-type]
    "api_url not a string": lambda: lib.DigitalOcean(TOKEN, api_url=443),  # type: ignore[arg-type]
    "api_url with credentials": lambda: lib.DigitalOcean(TOKEN, api_url="https://u:p@api.digitalocean.com"),
    "timeout nan": lambda: lib.DigitalOcean(TOKEN, timeout=math.nan),
    "timeout inf": lambda: lib.GitHub("ghp_inputs-token", timeout=math.inf),
    "name=123": lambda: lib.PoolRequest(10, name=123),  # type: ignore[arg-type]
    "db=123": lambda: lib.PoolRequest(10, db=123),  # type: ignore[arg-type]
    "user=b''": lambda: lib.PoolRequest(10, user=b"app"),  # type: ignore[arg-type]
    "size nan": lambda: lib.PoolRequest(math.nan),  # type: ignore[arg-type]
    "size inf": lambda: lib.PoolRequest(math.inf),  # type: ignore[arg-type]
    "derived name too long": lambda: lib.PoolRequest(10, db="d" * 58),
    "None pool request": lambda: lib.ensure_pool(_gateway(), None),  # type: ignore[arg-type]
    "cluster=123": lambda: lib.ensure_pool(_gateway(), lib.PoolRequest(5), cluster=123),  # type: ignore[arg-type]
    "cluster_status cluster=123": lambda: lib.cluster_status(_gateway(), 123),  # type: ignore[arg-type]
    "PoolSize nan": lambda: lib.PoolSize(math.nan),
    "PoolSize inf": lambda: lib.PoolSize(math.inf),
    "PoolSize superscript": lambda: lib.PoolSize.parse("\u00b2"),
    "PoolSize full-width": lambda: lib.PoolSize.parse("\uff12\uff10"),
    "PoolSize bytes": lambda: lib.PoolSize.parse(b"20"),  # type: ignore[arg-type]
    "PoolRequest float size": lambda: lib.PoolRequest(math.inf),  # type: ignore[arg-type]
    "non-string secret value": lambda: lib.write_secrets([lib.StdoutTarget()], {"DATABASE_URL": 5}),  # type: ignore[dict-item]
    "non-string secret name": lambda: lib.write_secrets([lib.StdoutTarget()], {5: "x"}),  # type: ignore[dict-item]
    "values None": lambda: lib.write_secrets([lib.StdoutTarget()], None),  # type: ignore[arg-type]
    "parse_target int": lambda: lib.parse_target(7),  # type: ignore[arg-type]
    "connection_string_for None": lambda: lib.connection_string_for(None),  # type: ignore[arg-type]
    "ResizeRequest nan connections": lambda: lib.ResizeRequest(connections=math.nan),  # type: ignore[arg-type]
    "WaitOptions nan": lambda: lib.WaitOptions(timeout=math.nan),
    "RetryConfig inf": lambda: lib.RetryConfig(max_wait=math.inf),
    "non-string .env value": lambda: lib.set_dotenv_keys("/nonexistent-dir/.env", {"DATABASE_URL": 5}),  # type: ignore[dict-item]
    "non-string .env key": lambda: lib.set_dotenv_keys("/nonexistent-dir/.env", {5: "x"}),  # type: ignore[dict-item]
    ".env path int": lambda: lib.set_dotenv_keys(3, {"A": "x"}),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("call", list(WRONG.values()), ids=list(WRONG))
def test_wrong_types_and_impossible_numbers_are_config_errors_with_a_sentence(call: Callable[[], Any]) -> None:
    with pytest.raises(lib.ConfigError) as caught:
        call()
    message = str(caught.value)
    assert len(message) > 20 and " " in message
