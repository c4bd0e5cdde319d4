"""API tokens: refuse one that cannot travel in an HTTP header, without ever repeating it. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from .._exceptions import ConfigError, Part
from .._redact import remember

__all__ = ["MAX_TOKEN_LENGTH", "check_token"]

#: DigitalOcean tokens are 71 characters, GitHub's at most a few hundred; past this it is not a token (a file
#: pasted by mistake?), and a server would answer "431 header too large" instead of naming the problem.
MAX_TOKEN_LENGTH = 4096


def check_token(token: object, *, what: str, hint: str | Sequence[Part]) -> str:
    """The token without surrounding whitespace, or a ConfigError naming the first bad character's position.

    A line break, a space or a non-ASCII character (a pasted second line, a smart quote) would otherwise
    surface as an HTTP library error that quotes the whole ``Authorization`` header, token included.
    """
    hints = (hint,) if isinstance(hint, str) else tuple(hint)
    if not isinstance(token, str):
        raise ConfigError([f"the {what} must be a string (str), not {type(token).__name__}. ", *hints])
    stripped = token.strip()
    if len(stripped) > MAX_TOKEN_LENGTH:
        raise ConfigError([
            f"the {what} is {len(stripped)} characters long; a token is at most {MAX_TOKEN_LENGTH} (a file pasted "
            "instead of the token?). ",
            *hints,
        ])
    remember(stripped)  # masked in every message from now on, even if an API error echoes it
    for index, char in enumerate(stripped, start=1):
        if not ("!" <= char <= "~"):
            kind = "a line break" if char in "\r\n" else "a space" if char.isspace() else f"U+{ord(char):04X}"
            raise ConfigError([
                f"the {what} has {kind} at character {index} of {len(stripped)}; a token is one word of printable "
                "ASCII (a pasted second line or a typographic quote?). ",
                *hints,
            ])
    return stripped
