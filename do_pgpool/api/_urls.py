"""API base URLs that may carry a token: https anywhere, plain http only to loopback (a local fake). Pure."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from .._dburl import mask_url
from .._exceptions import ConfigError, Param
from .._inputs import check_text

__all__ = ["check_api_url", "is_loopback"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_api_url(api_url: str, *, label: str | Param, example: str, https_hint: str = "Use https") -> str:
    """The URL without a trailing slash, or a ConfigError that says why a token must not go there."""
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
