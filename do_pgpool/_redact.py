"""One redactor for every string that leaves the process: the run's secrets and URL credentials become ``***``.

The redactor learns the secrets of the run as it meets them: each token when it is checked
(``_tokens.check_token``), each database password when an API answer is read (``remember_passwords``), and
anything a caller hands to ``remember``. Each secret is masked in its plain, URL-encoded and JSON-escaped
forms. ``scheme://user:password@`` credentials are masked even when the password was never seen.

Exceptions' ``str()``, log lines and the CLI's stdout and stderr all pass through ``redact``. The one way
through is ``reveal``: the stdout target, whose job is to print a connection string.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any

from ._dburl import MASK, mask_secrets_in

__all__ = ["MASK", "MIN_LENGTH", "redact", "remember", "remember_passwords", "reveal"]

#: shorter strings are not masked as free text: "abc" would blank out unrelated words. (A short password in
#: a ``scheme://user:pw@`` credential is masked all the same.)
MIN_LENGTH = 8

#: an ``Authorization: Bearer`` credential never seen before: the scheme, then a token-shaped value (RFC 6750's
#: b64token characters, at least 16 of them: real tokens are 40+). Prose such as "bearer token" is left alone.
_BEARER = re.compile(r"\b(Bearer|bearer|BEARER)([ \t]+)[A-Za-z0-9\-._~+/=]{16,}")

_lock = threading.Lock()
_secrets: set[str] = set()
_revealed: set[str] = set()
_pattern: re.Pattern[str] | None = None


#: characters that URL quoting, unquoting and JSON escaping all leave as they are (tokens are made of them)
_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _forms(secret: str) -> set[str]:
    if _PLAIN.issuperset(secret):
        return {secret}  # every encoded form is the same string: no need to load urllib.parse and json for it
    import json
    from urllib.parse import quote, quote_plus, unquote

    return {secret, quote(secret, safe=""), quote_plus(secret), unquote(secret), json.dumps(secret)[1:-1]}


def remember(*secrets: object) -> None:
    """Mask these strings (and their encoded forms) in everything redacted from now on. Non-strings are ignored."""
    global _pattern
    new: set[str] = set()
    for secret in secrets:
        if isinstance(secret, str) and len(secret.strip()) >= MIN_LENGTH:
            new |= {form for form in _forms(secret.strip()) if len(form) >= MIN_LENGTH}
    with _lock:
        if new <= _secrets:
            return
        _secrets.update(new)
        ordered = sorted(_secrets, key=len, reverse=True)  # longest first: a secret containing another
        _pattern = re.compile("|".join(re.escape(s) for s in ordered))


def remember_passwords(data: Any) -> None:
    """Remember every string under a ``password`` key anywhere in a JSON answer (clusters, pools, users)."""
    found: list[str] = []
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(value, str) and isinstance(key, str) and "password" in key.lower():
                    found.append(value)
                elif isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    if found:
        remember(*found)


def reveal(values: Iterable[str]) -> None:
    """Let exactly these strings through: values the user asked to see (``--secret stdout``)."""
    with _lock:
        _revealed.update(v for v in values if v)


def redact(text: str) -> str:
    """``text`` with every known secret, URL password and bearer credential replaced by ``***``."""
    if not text:
        return text
    revealed = [v for v in _revealed if v in text]
    if revealed:
        # Keep the revealed values whole; redact what lies between them.
        splitter = re.compile("(" + "|".join(re.escape(v) for v in sorted(revealed, key=len, reverse=True)) + ")")
        return "".join(part if i % 2 else _mask(part) for i, part in enumerate(splitter.split(text)))
    return _mask(text)


def _mask(text: str) -> str:
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    return _BEARER.sub(lambda m: f"{m[1]}{m[2]}{MASK}", mask_secrets_in(text))


def forget_all() -> None:
    """Tests only: start from an empty registry."""
    global _pattern
    with _lock:
        _secrets.clear()
        _revealed.clear()
        _pattern = None
