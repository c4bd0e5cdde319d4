"""API base URLs that may carry a token: https anywhere, plain http only to loopback (a local fake). Pure."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from .._dburl import mask_url
from .._exceptions import ConfigError, Param
from .._inputs import check_text

__all__ = ["DEFAULT_API_URL", "DEFAULT_GITHUB_API_URL", "GITHUB", "check_api_url", "is_loopback"]

DEFAULT_API_URL = "https://api.digitalocean.com"
DEFAULT_GITHUB_API_URL = "https://api.github.com"


@dataclass(frozen=True)
class _Service:
    """How an API's base URL is named in messages (its parameter or variable) and what a good one looks like."""

    label: str | Param
    example: str
    https_hint: str


DIGITALOCEAN = _Service(Param("api_url"), DEFAULT_API_URL, "Use https, or http://127.0.0.1:PORT for a local fake")
GITHUB = _Service("GITHUB_API_URL", DEFAULT_GITHUB_API_URL, "Use https (GitHub Enterprise: https://HOST/api/v3)")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_api_url(api_url: str, service: _Service = DIGITALOCEAN) -> str:
    """The URL without a trailing slash, or a ConfigError that says why a token must not go there.

    The one check for every API base URL: DigitalOcean's (the default) and GitHub's (``service=GITHUB``)."""
    label, example, https_hint = service.label, service.example, service.https_hint
    check_text(api_url, label)
    try:
        parts = urlsplit(api_url)
        _ = parts.port  # raises ValueError for a port that is not a number from 0 to 65535
    except ValueError:
        parts = None
    shown = repr(mask_url(api_url))  # a URL with user:password@ must not echo the password
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError([label, f" {shown} is not an http(s) URL, e.g. {example}"])
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError([
            label, f" {shown} uses plain http to a non-loopback host; the token would travel in clear. {https_hint}.",
        ])
    if "@" in parts.netloc:
        # httpx would turn user:password@ into Basic auth in place of the bearer token, and the 401 that
        # follows would blame the token.
        raise ConfigError([
            label, f" {shown} carries credentials (user:password@); the API token is the only credential: "
            f"remove them, e.g. {example}",
        ])
    return api_url.rstrip("/")
