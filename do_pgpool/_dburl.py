"""Connection strings: mask them for display. Pure; never logs a value."""

from __future__ import annotations

import re

__all__ = ["mask_url", "mask_secrets_in"]

MASK = "***"

# user:password@ inside any URL-looking text
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:@/\s]*):(?P<pw>[^@/\s]+)@")


def mask_url(url: str) -> str:
    """``postgres://u:secret@h:25061/db?sslmode=require`` -> ``postgres://u:***@h:25061/db?sslmode=require``.

    Query parameters named ``password`` are masked too. Text that is not a URL is returned unchanged.
    """
    if not url:
        return url
    if "://" not in url:  # a keyword/value connection string (host=... password=...), or not a URL at all
        return mask_secrets_in(url)
    from urllib.parse import urlsplit, urlunsplit  # here: `do-pgpool --help` redacts its text, with no URL to parse

    try:
        parts = urlsplit(url)
    except ValueError:
        return mask_secrets_in(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, sep, _pw = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hostport}" if sep else f"{user}@{hostport}"
    query = re.sub(r"(?i)(^|&)(password)=[^&]*", rf"\1\2={MASK}", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


# password=VALUE in a keyword/value connection string (``host=h password='p w' dbname=d``) or a URL's query
_KEYWORD = re.compile(r"(?i)(?<![\w.])(?P<key>password\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*'?|[^\s&'][^\s&]*)")


def mask_secrets_in(text: str) -> str:
    """Mask every ``scheme://user:password@`` and ``password=...`` found in free text (error messages from
    drivers, a keyword/value connection string given where a URL was expected)."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    return _KEYWORD.sub(lambda m: f"{m['key']}{MASK}", text)
