"""The .env target: only our key changes, everything else stays byte-for-byte, and writes are atomic."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from dotenv import dotenv_values

from do_pgpool.targets import _dotenv_io
from do_pgpool.targets._dotenv import DotenvError, plan_dotenv, set_dotenv_keys, update_dotenv_text

PASSWORD = "AVNS_s3cr3tPassw0rd-xyz"
URL = f"postgresql://doadmin:{PASSWORD}@db-pg-fra1-1234.b.db.ondigitalocean.com:25061/app-pool?sslmode=require"
OLD = "postgresql://doadmin:AVNS_old@db-pg-fra1-1234.b.db.ondigitalocean.com:25060/defaultdb?sslmode=require"


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode())
    return path


def read(path: Path) -> str:
    return path.read_bytes().decode()


def test_missing_file_is_created_with_mode_0600(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    result = set_dotenv_keys(env, {"DATABASE_URL": URL})
    assert result.file_created and result.written
    assert result.keys == {"DATABASE_URL": "create"}
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert read(env) == f"DATABASE_URL={URL}\n"
    assert dotenv_values(env) == {"DATABASE_URL": URL}


def test_replaces_only_the_key_and_keeps_comments_order_and_other_lines(tmp_path: Path) -> None:
    before = (
        "# database settings\n"
        "SECRET_KEY='abc def'  # quoted, with a comment\n"
        "\n"
        f"DATABASE_URL={OLD} # the old direct URL\n"
        'GREETING="hello # not a comment"\n'
        "EMPTY=\n"
        "  INDENTED=1\n"
    )
    env = write(tmp_path / ".env", before)
    result = set_dotenv_keys(env, {"DATABASE_URL": URL})
    assert result.keys == {"DATABASE_URL": "update"}
    assert read(env) == before.replace(OLD, URL)
    assert dotenv_values(env)["DATABASE_URL"] == URL
    assert dotenv_values(env)["GREETING"] == "hello # not a comment"


def test_export_prefix_is_kept(tmp_path: Path) -> None:
    env = write(tmp_path / ".env", f"export DATABASE_URL={OLD}\nexport OTHER=1\n")
    set_dotenv_keys(env, {"DATABASE_URL": URL})
    assert read(env) == f"export DATABASE_URL={URL}\nexport OTHER=1\n"


def test_new_key_uses_export_when_every_existing_line_does(tmp_path: Path) -> None:
    env = write(tmp_path / ".env", "export A=1\nexport B=2")  # no final newline
    set_dotenv_keys(env, {"DATABASE_URL": URL})
    assert read(env) == f"export A=1\nexport B=2\nexport DATABASE_URL={URL}\n"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (f"DATABASE_URL='{OLD}'\n", f"DATABASE_URL='{URL}'\n"),
        (f'DATABASE_URL="{OLD}"   # keep me\n', f'DATABASE_URL="{URL}"   # keep me\n'),
        (f"DATABASE_URL = {OLD}\n", f"DATABASE_URL = {URL}\n"),
        ("DATABASE_URL=\n", f"DATABASE_URL={URL}\n"),
        ("DATABASE_URL\n", f"DATABASE_URL={URL}\n"),
        ("DATABASE_URL= # set me\n", f"DATABASE_URL= {URL} # set me\n"),
    ],
)
def test_quoting_style_is_kept(tmp_path: Path, line: str, expected: str) -> None:
    env = write(tmp_path / ".env", "A=1\n" + line + "B=2\n")
    set_dotenv_keys(env, {"DATABASE_URL": URL})
    assert read(env) == "A=1\n" + expected + "B=2\n"
    assert dotenv_values(env) == {"A": "1", "DATABASE_URL": URL, "B": "2"}


@pytest.mark.parametrize("value", ["has # hash", "two words", "it's \"quoted\" \\ back", "$HOME"])
def test_values_that_need_quotes_are_quoted_and_read_back(tmp_path: Path, value: str) -> None:
    env = write(tmp_path / ".env", "A=1\nDATABASE_URL=plain\n")
    set_dotenv_keys(env, {"DATABASE_URL": value, "NEW": value})
    assert dotenv_values(env, interpolate=False) == {"A": "1", "DATABASE_URL": value, "NEW": value}
    text = read(env)
    assert text.startswith("A=1\nDATABASE_URL=\"")  # the bare value needed quotes: double quotes


@pytest.mark.parametrize("quote", ["'", '"'])
def test_quoted_values_with_specials_keep_their_quote_style(tmp_path: Path, quote: str) -> None:
    env = write(tmp_path / ".env", f"DATABASE_URL={quote}old value{quote}\n")
    value = "a # b 'c' \"d\" \\e"
    set_dotenv_keys(env, {"DATABASE_URL": value})
    assert read(env).startswith(f"DATABASE_URL={quote}")
    assert dotenv_values(env) == {"DATABASE_URL": value}


def test_crlf_file_stays_crlf(tmp_path: Path) -> None:
    env = write(tmp_path / ".env", f"# win\r\nA=1\r\nDATABASE_URL={OLD}\r\n")
    set_dotenv_keys(env, {"DATABASE_URL": URL, "DIRECT_URL": OLD})
    assert read(env) == f"# win\r\nA=1\r\nDATABASE_URL={URL}\r\nDIRECT_URL={OLD}\r\n"


def test_bom_is_kept(tmp_path: Path) -> None:
    env = write(tmp_path / ".env", f"\ufeffA=1\nDATABASE_URL={OLD}\n")
    set_dotenv_keys(env, {"DATABASE_URL": URL})
    assert read(env) == f"\ufeffA=1\nDATABASE_URL={URL}\n"


def test_duplicate_keys_are_all_updated(tmp_path: Path) -> None:
    env = write(tmp_path / ".env", f"DATABASE_URL={OLD}\nA=1\nexport DATABASE_URL='{OLD}'\n")
    result = set_dotenv_keys(env, {"DATABASE_URL": URL})
    assert result.keys == {"DATABASE_URL": "update"}
    assert read(env) == f"DATABASE_URL={URL}\nA=1\nexport DATABASE_URL='{URL}'\n"


def test_symlink_target_is_written_and_link_kept(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    real = write(tmp_path / "shared" / "app.env", "A=1\n")
    link = tmp_path / ".env"
    link.symlink_to(real)
    set_dotenv_keys(link, {"DATABASE_URL": URL})
    assert link.is_symlink()
    assert os.readlink(link) == str(real)
    assert read(real) == f"A=1\nDATABASE_URL={URL}\n"
    assert sorted(p.name for p in (tmp_path / "shared").iterdir()) == ["app.env"]


def test_mode_is_kept(tmp_path: Path) -> None:
    env = write(tmp_path / ".env", "A=1\n")
    env.chmod(0o640)
    set_dotenv_keys(env, {"DATABASE_URL": URL})
    assert stat.S_IMODE(env.stat().st_mode) == 0o640


def test_unchanged_value_means_no_write(tmp_path: Path) -> None:
    env = write(tmp_path / ".env", f"A=1\nDATABASE_URL='{URL}'\n")
    os.utime(env, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    inode = env.stat().st_ino
    result = set_dotenv_keys(env, {"DATABASE_URL": URL})
    assert result.keys == {"DATABASE_URL": "unchanged"} and not result.written
    assert env.stat().st_mtime_ns == 1_000_000_000_000_000_000
    assert env.stat().st_ino == inode
    assert plan_dotenv(env, {"DATABASE_URL": URL}) == {"DATABASE_URL": "unchanged"}


def test_second_run_is_a_no_op(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    assert set_dotenv_keys(env, {"DATABASE_URL": "a b"}).written
    assert not set_dotenv_keys(env, {"DATABASE_URL": "a b"}).written


def test_crash_during_write_leaves_old_file_and_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = f"# keep\nDATABASE_URL={OLD}\n" + "PADDING=x\n" * 200
    env = write(tmp_path / ".env", before)

    def half_then_fail(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_dotenv_io, "_write_fully", half_then_fail)
    with pytest.raises(DotenvError) as info:
        set_dotenv_keys(env, {"DATABASE_URL": URL})
    assert "No space left on device" in str(info.value)
    assert "previous file" in str(info.value)
    assert PASSWORD not in str(info.value)
    assert read(env) == before
    assert [p.name for p in tmp_path.iterdir()] == [".env"]


def test_plan_on_missing_file_says_create(tmp_path: Path) -> None:
    assert plan_dotenv(tmp_path / "nope.env", {"DATABASE_URL": URL}) == {"DATABASE_URL": "create"}
    assert not (tmp_path / "nope.env").exists()


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DotenvError, match="cannot write") as info:
        set_dotenv_keys(tmp_path / "missing" / ".env", {"DATABASE_URL": URL})
    assert PASSWORD not in str(info.value)


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_bytes(b"A=\xff\xfe\n")
    with pytest.raises(DotenvError, match="not UTF-8"):
        set_dotenv_keys(env, {"DATABASE_URL": URL})
    assert env.read_bytes() == b"A=\xff\xfe\n"


def test_text_function_is_pure_and_reports_each_key() -> None:
    text, actions = update_dotenv_text("A=1\nB=2\n", {"A": "1", "B": "3", "C": "4"})
    assert text == "A=1\nB=3\nC=4\n"
    assert actions == {"A": "unchanged", "B": "update", "C": "create"}


def test_unparseable_lines_are_kept_untouched() -> None:
    text, _ = update_dotenv_text("A=1\n!!! not a binding\nB='unterminated\n", {"DATABASE_URL": URL})
    assert text == f"A=1\n!!! not a binding\nB='unterminated\nDATABASE_URL={URL}\n"


@pytest.mark.parametrize("before", ["\n", "\n\n# c\n", "   \n", "\r\n"])
def test_a_file_of_blank_lines_gets_the_key_appended_not_refused(before: str) -> None:
    # python-dotenv glues blank lines to the binding after them: the safety check must not mistake that for a change.
    text, actions = update_dotenv_text(before, {"DATABASE_URL": URL})
    assert text == before + f"DATABASE_URL={URL}" + ("\r\n" if "\r\n" in before else "\n")
    assert actions == {"DATABASE_URL": "create"}
