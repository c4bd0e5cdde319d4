"""API tokens: refuse one that cannot travel in an HTTP header, without ever repeating it. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from ._exceptions import ConfigError, Part

__all__ = ["check_token"]


def check_token(token: str, *, what: str, hint: str | Sequence[Part]) -> str:
    """The token without surrounding whitespace, or a ConfigError naming the first bad character's position.

    A line break, a space or a non-ASCII character (a pasted second line, a smart quote) would otherwise
    surface as an HTTP library error that quotes the whole ``Authorization`` header, token included.
    """
    stripped = token.strip()
    for index, char in enumerate(stripped, start=1):
        if not ("!" <= char <= "~"):
            kind = "a line break" if char in "\r\n" else "a space" if char.isspace() else f"U+{ord(char):04X}"
            raise ConfigError([
                f"the {what} has {kind} at character {index} of {len(stripped)}; a token is one word of printable "
                "ASCII (a pasted second line or a typographic quote?). ",
                *((hint,) if isinstance(hint, str) else hint),
            ])
    return stripped
