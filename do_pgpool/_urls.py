"""API base URLs that may carry a token: https anywhere, plain http only to loopback (a local fake). Pure."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from ._exceptions import ConfigError

__all__ = ["check_api_url", "is_loopback"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_api_url(api_url: str, *, label: str, example: str, https_hint: str = "Use https") -> str:
    """The URL without a trailing slash, or a ConfigError that says why a token must not go there."""
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{label} {api_url!r} is not an http(s) URL, e.g. {example}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            f"{label} {api_url!r} uses plain http to a non-loopback host; the token would travel in clear. "
            f"{https_hint}."
        )
    return api_url.rstrip("/")
