"""Set keys in a ``.env`` file without disturbing anything else, and write it atomically.

Lines are found with python-dotenv's own parser (``dotenv.parser.parse_stream``): its ``Binding.original``
strings concatenate back to the file exactly, so every line we do not own is written back untouched
(comments, blank lines, order, ``export`` prefixes, other keys' quoting, CRLF line endings, a BOM).

Only the value part of a matching binding is replaced; its quoting style is kept ('single', "double" or
bare; a bare value that needs quoting gets double quotes). Duplicate keys: every occurrence is updated,
because dotenv readers do not agree on which duplicate wins (python-dotenv takes the last; a loader that
never overrides an already-set variable keeps the first), so leaving a stale copy anywhere would be a trap.

The file side (``_dotenv_io``): only a regular file (or a symlink to one) is a .env -- a device, FIFO or
socket is refused before anything is opened; writers of one file take turns (an advisory lock beside it);
the write is atomic (a 0600 temporary file, fsync, the old owner and mode, ``os.replace``, fsync of the
folder), or in place with a journal when a rename cannot work (bind mount) or would split hard links;
leftovers of a killed run are cleaned up by the next. A failure leaves the old file intact. A symlinked
``.env`` has its *target* rewritten; the link stays a link. An unchanged value means no write at all.

Values never appear in exceptions or results.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from dotenv.parser import Binding, Reader, parse_stream, parse_value

from .._exceptions import ConfigError, DotenvError
from ._dotenv_io import (
    LOCK_TIMEOUT,
    NEW_FILE_MODE,
    dotenv_path_problem,
    locked,
    read_regular,
    recover_leftovers,
    write_file,
)

__all__ = ["NEW_FILE_MODE", "DotenvError", "DotenvResult", "dotenv_path_problem", "plan_dotenv", "set_dotenv_keys",
           "update_dotenv_text"]  # fmt: skip

KeyAction = Literal["create", "update", "unchanged"]

_BOM = "\ufeff"
# Characters that make a bare value ambiguous for python-dotenv, docker compose or a shell `source`.
_NEEDS_QUOTES = re.compile(r"""[\s#'"\\`$;&|<>(){}]""")
_EXPORTED = re.compile(r"\s*export[^\S\r\n]")
# `  export KEY  =  ` (the key may be single-quoted, as python-dotenv allows).
_PREFIX = re.compile(
    r"(?P<lead>\s*)(?P<export>export[^\S\r\n]+)?(?P<key>'[^']+'|[^=#\s]+)(?P<eq>[^\S\r\n]*=[^\S\r\n]*)?"
)


@dataclass(frozen=True)
class DotenvResult:
    """What happened to one file. ``keys`` maps each key to create/update/unchanged."""

    path: str
    keys: Mapping[str, KeyAction]
    file_created: bool
    written: bool
    #: written in place (a bind-mounted or hard-linked file), not replaced by a rename
    in_place: bool = False
    #: what else was done, e.g. a stale temporary file of an interrupted run removed
    notes: tuple[str, ...] = ()


def _newline_of(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _quote(value: str, style: str) -> str:
    if style == "'":
        # python-dotenv's single-quoted parser decodes only \\ and \'.
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if style == '"':
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def _style_for(value: str, existing: str | None) -> str:
    """Keep the existing quote style; a bare (or new) value gets double quotes only when it needs them."""
    if existing in ("'", '"'):
        return existing
    if value == "" or _NEEDS_QUOTES.search(value) or "\n" in value or "\r" in value:
        return '"'
    return ""


def _bindings(text: str) -> list[Binding]:
    return list(parse_stream(io.StringIO(text)))


def _rewrite_binding(original: str, key: str, value: str) -> str:
    """Replace the value inside one binding's original text; keep everything around it."""
    m = _PREFIX.match(original)
    if m is None:  # pragma: no cover - the parser matched this key, so the prefix is there
        raise DotenvError(f"could not locate key {key} in its line; the file was not changed")
    head = original[: m.end()]
    rest = original[m.end() :]
    if m["eq"] is None:
        # `KEY` with no `=`: python-dotenv reads it as unset. Give it a value, keep the line ending.
        body = rest.rstrip("\r\n")
        eol = rest[len(body) :] or ""
        return f"{head}={_quote(value, _style_for(value, None))}{body}{eol}"
    if len(m["eq"].lstrip()) > 1 and rest.startswith("#"):
        # `KEY= # comment`: empty value followed by a comment (the parser's rule).
        return f"{head}{_quote(value, _style_for(value, None))} {rest}"
    reader = Reader(io.StringIO(rest))
    first = rest[:1]
    old_value = parse_value(reader)
    consumed = reader.position.chars
    if first in ("'", '"'):
        token_len = consumed
        style: str | None = first
    else:
        # A bare value: the parser consumed the whole line (value + inline comment); the value is a prefix.
        token_len = len(old_value)
        style = None
    tail = rest[token_len:]  # inline comment and line ending, kept as they were
    return head + _quote(value, _style_for(value, style)) + tail


def update_dotenv_text(text: str, values: Mapping[str, str]) -> tuple[str, dict[str, KeyAction]]:
    """Pure: return the new text and, per key, whether it is created, updated or unchanged.

    Raises DotenvError when the file has lines python-dotenv cannot parse that touch one of our keys, or when
    the result would not read back as intended (a safety check: nothing is written then).
    """
    bom = _BOM if text.startswith(_BOM) else ""
    body = text[len(bom) :]
    newline = _newline_of(body)
    bindings = _bindings(body)
    actions: dict[str, KeyAction] = {}
    out: list[str] = []
    for b in bindings:
        key = b.key
        # Every occurrence of a duplicate key is updated: readers disagree on which one wins (python-dotenv
        # takes the last), so a stale copy must not survive anywhere in the file.
        if key is not None and key in values and not b.error:
            new_value = values[key]
            if b.value == new_value:
                out.append(b.original.string)
                actions.setdefault(key, "unchanged")
            else:
                out.append(_rewrite_binding(b.original.string, key, new_value))
                actions[key] = "update"
        else:
            out.append(b.original.string)
    new_text = "".join(out)
    missing = [k for k in values if k not in actions]
    if missing:
        keyed = [b for b in bindings if b.key is not None and not b.error]
        export = "export " if keyed and all(_EXPORTED.match(b.original.string) for b in keyed) else ""
        if new_text and not new_text.endswith(("\n", "\r")):
            new_text += newline
        for key in missing:
            value = values[key]
            new_text += f"{export}{key}={_quote(value, _style_for(value, None))}{newline}"
            actions[key] = "create"
    _check_round_trip(body, new_text, values)
    return bom + new_text, actions


def _check_round_trip(old: str, new: str, values: Mapping[str, str]) -> None:
    """Every key of ours reads back as the new value; every other binding reads back exactly as before."""
    def others(text: str) -> list[tuple[str | None, str | None, bool]]:
        # Blank and comment lines are left out: the parser glues blank lines to the binding after them.
        return [(b.key, b.value, b.error) for b in _bindings(text) if b.key not in values and (b.key or b.error)]

    wrong = sorted({k for b in _bindings(new) if (k := b.key) is not None and k in values and b.value != values[k]})
    if wrong:
        raise DotenvError(f"refusing to write: {', '.join(wrong)} would not read back as written (unusual quoting?)")
    if others(old) != others(new):
        raise DotenvError("refusing to write: the update would change other lines of the file")


def _decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DotenvError(f"{path} is not UTF-8 text; the file was not changed") from exc


def _checked_real_path(path: str | os.PathLike[str]) -> str:
    """The file to write -- a symlink's final target (the link stays a link) -- or DotenvError saying why not."""
    problem = dotenv_path_problem(path)
    if problem is not None:
        raise DotenvError(f"cannot write {os.fspath(path)}: {problem}; nothing was written")
    return os.path.realpath(os.fspath(path))


def _check_inputs(path: object, values: object) -> None:
    """Wrong types are a ConfigError with a sentence, not a TypeError from deep inside."""
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"the .env path must be a str or os.PathLike, not {type(path).__name__}")
    if not isinstance(values, Mapping):
        raise ConfigError(f"the .env values must map keys to strings, not {type(values).__name__}")
    for key, value in values.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ConfigError(
                f"the .env values must map str keys to str values; got {type(key).__name__} -> {type(value).__name__}"
            )


def plan_dotenv(path: str | os.PathLike[str], values: Mapping[str, str]) -> dict[str, KeyAction]:
    """What set_dotenv_keys() would do, without writing."""
    _check_inputs(path, values)
    real = _checked_real_path(path)
    old = read_regular(real)
    if old is None:
        return dict.fromkeys(values, "create")
    return update_dotenv_text(_decode(old[0], real), values)[1]


def set_dotenv_keys(
    path: str | os.PathLike[str], values: Mapping[str, str], *, lock_timeout: float = LOCK_TIMEOUT
) -> DotenvResult:
    """Set every key in ``values`` in the .env file at ``path`` (created 0600 if missing). No write if unchanged.

    Another do-pgpool run writing the same file is waited for, at most ``lock_timeout`` seconds.
    """
    _check_inputs(path, values)
    real = _checked_real_path(path)
    with locked(real, lock_timeout):
        notes = recover_leftovers(real)
        old = read_regular(real)
        text = None if old is None else _decode(old[0], real)
        new_text, actions = update_dotenv_text(text or "", values)
        if text is not None and new_text == text:
            return DotenvResult(os.fspath(path), actions, file_created=False, written=False, notes=tuple(notes))
        try:
            report = write_file(real, new_text.encode("utf-8"), old)
        except OSError as exc:
            raise DotenvError(
                f"cannot write {real}: {exc.strerror or exc}; the previous file (if any) is unchanged"
            ) from exc
    return DotenvResult(os.fspath(path), actions, file_created=old is None, written=True,
                        in_place=report.in_place, notes=tuple(notes) + report.notes)  # fmt: skip
