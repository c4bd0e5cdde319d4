""".env rewrites by real processes: concurrent writers of different keys, and writers killed with SIGKILL."""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from dotenv import dotenv_values

from do_pgpool.targets._dotenv import set_dotenv_keys, update_dotenv_text
from do_pgpool.targets._dotenv_io import _temp_pattern

ROOT = Path(__file__).resolve().parents[1]
WRITER = """
import sys
from do_pgpool.targets._dotenv import set_dotenv_keys
path, key = sys.argv[1], sys.argv[2]
for line in sys.stdin:
    set_dotenv_keys(path, {key: "postgresql://u:" + key + "-" + line.strip() + "@h/db"}, lock_timeout=20)
    print("ok", flush=True)
"""
LOOPER = """
import itertools, sys
from do_pgpool.targets._dotenv import set_dotenv_keys
path, values = sys.argv[1], sys.argv[2:]
for i in itertools.count():
    set_dotenv_keys(path, {"DATABASE_URL": values[i % len(values)]})
    print(i, flush=True)
"""
# Of different lengths, so that an in-place write has to truncate.
VALUES = [f"postgresql://doadmin:AVNS_canary{n}secret@db.example.com:25061/app-pool?sslmode=require"
          for n in ("A", "BBBBBB")]  # fmt: skip
ORIGINAL = "# settings\r\nexport LOG_LEVEL='info'\r\nDATABASE_URL=postgresql://doadmin:AVNS_old@db:25060/app\r\nX=1\r\n"


def python(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", script, *args], cwd=ROOT, text=True, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # fmt: skip


def close(proc: subprocess.Popen[str]) -> None:
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def test_two_processes_writing_different_keys_at_once_never_lose_an_update(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("# shared\nKEEP=me\n")
    writers = [python(WRITER, str(env), key) for key in ("A_URL", "B_URL")]
    try:
        for round_ in range(20):
            for w in writers:  # both released at once: they race for the same file every round
                assert w.stdin is not None
                w.stdin.write(f"{round_}\n")
                w.stdin.flush()
            for w in writers:
                assert w.stdout is not None
                assert w.stdout.readline() == "ok\n"
            values = dotenv_values(env)
            assert values == {"KEEP": "me", "A_URL": f"postgresql://u:A_URL-{round_}@h/db",
                              "B_URL": f"postgresql://u:B_URL-{round_}@h/db"}, f"round {round_}"  # fmt: skip
    finally:
        for w in writers:
            assert w.stdin is not None
            w.stdin.close()
            w.wait(timeout=20)
            close(w)
    assert [w.returncode for w in writers] == [0, 0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env"]


def is_mix(now: bytes, texts: set[bytes]) -> bool:
    """``now`` is text ``b`` written over text ``a`` part of the way (what an in-place write killed half-way leaves)."""
    for a in texts:
        for b in texts:
            done = len(os.path.commonprefix([now, b]))
            if now == b[:done] + a[done:]:
                return True
    return False


@pytest.mark.parametrize(("how", "iterations"), [("rename", 30), ("in place", 20)])
def test_a_writer_killed_at_any_moment_leaves_old_or_new_and_no_temporary_others_can_read(
    tmp_path: Path, how: str, iterations: int
) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    env = folder / ".env"
    env.write_bytes(ORIGINAL.encode())
    env.chmod(0o640)
    if how == "in place":
        os.link(env, tmp_path / "twin.env")  # a hard link: written in place, with a journal
    owner = (env.stat().st_uid, env.stat().st_gid)
    allowed = {ORIGINAL.encode()} | {update_dotenv_text(ORIGINAL, {"DATABASE_URL": v})[0].encode() for v in VALUES}
    assert len(allowed) == 3
    rng = random.Random(1414)
    temps = _temp_pattern(".env")
    seen = {"temporaries": 0, "journals": 0, "mixes": 0}
    for iteration in range(iterations):
        proc = python(LOOPER, str(env), *VALUES)
        assert proc.stdout is not None
        try:
            for _ in range(rng.randint(1, 4)):  # the writer keeps going while we read: the kill lands anywhere
                assert proc.stdout.readline()
        finally:
            proc.kill()  # SIGKILL
            proc.wait(timeout=20)
            close(proc)
        assert proc.returncode == -signal.SIGKILL
        leftovers = [p for p in folder.iterdir() if p.name != ".env"]
        journals = [p for p in leftovers if p.suffix == ".inplace"]
        now = env.read_bytes()
        if now not in allowed:  # only an in-place write killed half-way, which its journal lets the next run finish
            assert journals and is_mix(now, allowed), f"iteration {iteration}: torn file"
            seen["mixes"] += 1
        st = env.stat()
        assert stat.S_IMODE(st.st_mode) == 0o640 and (st.st_uid, st.st_gid) == owner
        if how == "in place":
            assert st.st_nlink == 2 and (tmp_path / "twin.env").read_bytes() == now
        for leftover in leftovers:
            assert temps.fullmatch(leftover.name), f"unexpected file {leftover.name}"
            mode = stat.S_IMODE(leftover.stat().st_mode)
            # 0600 while written; a temporary gets the .env's own mode only in the instant before its rename.
            assert mode == 0o600 or (mode == 0o640 and leftover.suffix == ".tmp"), oct(mode)
            seen["journals" if leftover in journals else "temporaries"] += 1
    stale = sorted(p.name for p in folder.iterdir() if p.name != ".env")
    result = set_dotenv_keys(env, {"DATABASE_URL": VALUES[0]})
    assert [n.split()[1].rstrip(",") for n in result.notes if n.startswith("removed ")] == stale
    assert sorted(p.name for p in folder.iterdir()) == [".env"]
    assert dotenv_values(env)["DATABASE_URL"] == VALUES[0] and env.read_bytes() in allowed
    print(f"{how}: after {iterations} kills: {seen}")
