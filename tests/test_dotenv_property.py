"""Property: a .env rewrite changes only the keys it owns; every other line stays byte-identical."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import Binding, parse_stream
from hypothesis import given, settings
from hypothesis import strategies as st

from do_pgpool.targets._dotenv import set_dotenv_keys, update_dotenv_text

OWNED = ("DATABASE_URL", "DIRECT_URL")
KEYS = st.sampled_from([*OWNED, "LOG_LEVEL", "SECRET_KEY", "database_url", "DATABASE_URL_2"]) | st.from_regex(
    r"[A-Za-z_][A-Za-z0-9_.]{0,6}", fullmatch=True
).filter(lambda key: key != "export")
BARE = st.from_regex(r"[A-Za-z0-9:/@._?=%+-]{0,20}", fullmatch=True)
SINGLE = st.text(st.characters(codec="utf-8", exclude_characters="'\\\r\n"), max_size=15)
DOUBLE = st.text(st.characters(codec="utf-8", exclude_characters='"\\\r\n'), max_size=15)
SPACE = st.sampled_from(["", " ", "  ", "\t"])
COMMENT = st.sampled_from(["", " # note", "  #x", " # DATABASE_URL=postgresql://u:p@h/db"])


@st.composite
def binding_line(draw: st.DrawFn) -> tuple[str, str]:
    """A line that python-dotenv reads as a binding, and its key."""
    export = draw(st.sampled_from(["", "export ", "export  "]))
    key = draw(KEYS)
    style = draw(st.sampled_from(["bare", "single", "double", "empty", "novalue"]))
    if style == "novalue":
        return f"{draw(SPACE)}{export}{key}", key
    if style == "bare":
        value = draw(BARE)
    elif style == "single":
        value = f"'{draw(SINGLE)}'"
    elif style == "double":
        value = f'"{draw(DOUBLE)}"'
    else:
        value = ""
    comment = draw(COMMENT) if style != "bare" or value else ""
    return f"{draw(SPACE)}{export}{key}{draw(SPACE)}={draw(SPACE)}{value}{comment}", key


OTHER_LINE = st.sampled_from(["", "# a comment", "#DATABASE_URL=old", "   ", "!!! not a binding"])
LINE = binding_line() | OTHER_LINE.map(lambda line: (line, ""))


@st.composite
def dotenv_text(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]]]:
    """A .env text (LF or CRLF, maybe a BOM, maybe no final line ending), and its lines with their keys."""
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = draw(st.lists(LINE, max_size=12))
    last_eol = bool(lines) and draw(st.booleans())
    tagged = [(line + (newline if i < len(lines) - 1 or last_eol else ""), key) for i, (line, key) in enumerate(lines)]
    bom = "\ufeff" if draw(st.booleans()) else ""
    return bom + "".join(line for line, _ in tagged), tagged


# Values as DigitalOcean gives them, and worse: quotes, backslashes, $, #, spaces, newlines.
VALUE = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from("\n'\"\\$#= "),
                max_size=40) | st.builds("postgresql://doadmin:{}@db.example.com:25061/app-pool?sslmode=require".format,
                                         st.from_regex(r"[A-Za-z0-9_-]{8,24}", fullmatch=True))  # fmt: skip


def first_binding(text: str) -> Binding:
    return next(iter(parse_stream(io.StringIO(text))))


@settings(max_examples=200, deadline=None, database=None)
@given(given_text=dotenv_text(), values=st.dictionaries(st.sampled_from(OWNED), VALUE, min_size=1))
def test_a_rewrite_changes_only_the_keys_it_owns(given_text: tuple[str, list[tuple[str, str]]],
                                                 values: dict[str, str]) -> None:  # fmt: skip
    text, lines = given_text
    new, actions = update_dotenv_text(text, values)
    created = [k for k, a in actions.items() if a == "create"]
    assert created == [k for k in values if k not in {key for _, key in lines}]
    # Walk the new text line by line: every line we do not own is there, byte-identical and in order;
    # each line we own now reads back as the new value.
    pos = 1 if text.startswith("\ufeff") else 0
    assert new[:pos] == text[:pos]
    for i, (line, key) in enumerate(lines):
        if key in values:
            b = first_binding(new[pos:])
            assert (b.key, b.value) == (key, values[key])
            pos += len(b.original.string)
        else:
            if created and i == len(lines) - 1 and text.strip("\ufeff") and not text.endswith(("\n", "\r")):
                line += "\r\n" if "\r\n" in text else "\n"  # the last line gets its line ending
            assert new[pos : pos + len(line)] == line
            pos += len(line)
    rest = list(parse_stream(io.StringIO(new[pos:])))
    assert [(b.key, b.value) for b in rest] == [(k, values[k]) for k in created]
    if "\r\n" in text:
        assert all(b.original.string.endswith("\r\n") for b in rest)
    # What a reader sees: our keys read back as written, every other key as before.
    read_old, read_new = dotenv_values(stream=io.StringIO(text)), dotenv_values(stream=io.StringIO(new))
    assert {k: v for k, v in read_new.items() if k not in values} == {
        k: v for k, v in read_old.items() if k not in values
    }
    assert {k: read_new[k] for k in values} == values


@settings(max_examples=40, deadline=None, database=None)
@given(given_text=dotenv_text(), values=st.dictionaries(st.sampled_from(OWNED), VALUE, min_size=1))
def test_the_file_gets_exactly_that_text_and_a_second_run_changes_nothing(
    given_text: tuple[str, list[tuple[str, str]]], values: dict[str, str]
) -> None:
    text, _ = given_text
    new, _ = update_dotenv_text(text, values)
    with tempfile.TemporaryDirectory() as folder:
        env = Path(folder) / ".env"
        env.write_bytes(text.encode())
        first = set_dotenv_keys(env, values)
        assert env.read_bytes() == new.encode()
        assert first.written == (new != text)
        assert not set_dotenv_keys(env, values).written
