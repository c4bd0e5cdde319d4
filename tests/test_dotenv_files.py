"""What a ``.env`` target may be, and how it is written, with real files: devices, FIFOs, sockets, folders,
/proc, bind mounts, hard links, leftovers of killed runs and the writers' lock."""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import stat
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from do_pgpool._exceptions import ConfigError
from do_pgpool.cli import main
from do_pgpool.targets import _dotenv_io
from do_pgpool.targets._dotenv import DotenvError, dotenv_path_problem, plan_dotenv, set_dotenv_keys
from do_pgpool.targets._parse import check_targets, parse_target
from do_pgpool.targets._simple import DotenvTarget
from do_pgpool.testing import FakeDigitalOcean

PASSWORD = "AVNS_canary-Pw0rd-91x"
URL = f"postgresql://doadmin:{PASSWORD}@db.example.com:25061/app-pool?sslmode=require"
OLD_TEXT = "# app settings\nexport LOG_LEVEL=info\nDATABASE_URL='postgresql://doadmin:AVNS_old@db:25061/app'\n"
NEW_TEXT = f"# app settings\nexport LOG_LEVEL=info\nDATABASE_URL='{URL}'\n"
TOKEN = "dop_v1_" + "f" * 8 + "dotenv-files-token"
NOT_ROOT = os.geteuid() != 0


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def finishes(fn: Callable[[], object], seconds: float = 10) -> BaseException | None:
    """Run ``fn`` in a thread; fail the test if it does not return in time (a FIFO that blocks would hang)."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            fn()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"did not return within {seconds} s"
    return outcome[0]


# -- what a .env may be ------------------------------------------------------------------------------------


@pytest.mark.skipif(NOT_ROOT, reason="mknod of a device node needs root")
@pytest.mark.parametrize(("minor", "what"), [(3, "null"), (7, "full")])
def test_a_device_node_is_refused_and_left_alone(tmp_path: Path, minor: int, what: str) -> None:
    node = tmp_path / what
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, minor))  # a private /dev/null or /dev/full
    link = tmp_path / ".env"
    link.symlink_to(node)
    for path in (node, link):
        with pytest.raises(DotenvError, match="is a character device, not a regular file") as info:
            set_dotenv_keys(path, {"DATABASE_URL": URL})
        assert PASSWORD not in str(info.value)
        with pytest.raises(DotenvError, match="character device"):
            plan_dotenv(path, {"DATABASE_URL": URL})
    assert f"(a symlink to {node})" in (dotenv_path_problem(link) or "")
    st = os.lstat(node)
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, minor)
    assert names(tmp_path) == [".env", what]


def test_a_fifo_is_refused_without_ever_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / ".env"
    os.mkfifo(fifo)
    error = finishes(lambda: set_dotenv_keys(fifo, {"DATABASE_URL": URL}))
    assert isinstance(error, DotenvError) and "is a FIFO (named pipe)" in str(error)
    # Swapped in after the check: the read opens it O_NONBLOCK and refuses it by fstat.
    error = finishes(lambda: _dotenv_io.read_regular(str(fifo)))
    assert isinstance(error, DotenvError) and "is a FIFO" in str(error)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and names(tmp_path) == [".env"]


def test_a_socket_and_a_folder_are_refused(tmp_path: Path) -> None:
    sock_path = tmp_path / "s.env"
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(sock_path))
        assert "is a socket" in (dotenv_path_problem(sock_path) or "")
    finally:
        sock.close()
    (tmp_path / "d.env").mkdir()
    with pytest.raises(DotenvError, match="is a directory"):
        set_dotenv_keys(tmp_path / "d.env", {"DATABASE_URL": URL})


def test_accepted_paths_a_file_a_link_to_one_and_a_new_file(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text("A=1\n")
    (tmp_path / "link.env").symlink_to(tmp_path / "a.env")
    for path in ("a.env", "link.env", "new.env"):
        assert dotenv_path_problem(tmp_path / path) is None
    assert dotenv_path_problem(tmp_path / "missing" / ".env") == f"the folder {tmp_path / 'missing'} does not exist"
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    assert "symlink loop" in (dotenv_path_problem(tmp_path / "loop") or "")


@pytest.mark.parametrize(("path", "fs"), [("/proc/self/environ", "proc"), ("/proc/self/.env", "proc"),
                                          ("/sys/kernel/.env", "sysfs")])  # fmt: skip
def test_proc_and_sys_paths_say_the_real_reason(path: str, fs: str) -> None:
    with pytest.raises(DotenvError) as info:
        set_dotenv_keys(path, {"DATABASE_URL": URL})
    assert f"is on {fs}, a kernel pseudo-file system" in str(info.value)
    assert "No such file" not in str(info.value)


@pytest.mark.skipif(NOT_ROOT, reason="root ignores permissions; tested through the read-only mount instead")
def test_a_read_only_folder_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    with bind_mount(folder, folder, read_only=True):
        assert dotenv_path_problem(folder / ".env") == (
            f"cannot create files in the folder {folder}: it is on a read-only file system"
        )


# -- refused before anything is sent ---------------------------------------------------------------------


def test_check_targets_refuses_before_anything_and_fills_the_placeholder(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(ConfigError, match=r"secret target dotenv:.*pipe: .* is a FIFO"):
        check_targets([parse_target(f"dotenv:{tmp_path}/pipe")])
    fleet = [parse_target(f"dotenv:{tmp_path}/{{cluster}}")]
    check_targets(fleet)  # unknown until the cluster is known
    check_targets(fleet, cluster="fine.env")
    with pytest.raises(ConfigError, match="FIFO"):
        check_targets(fleet, cluster="pipe")
    with pytest.raises(ConfigError, match="FIFO"):
        DotenvTarget(str(tmp_path / "pipe")).check()


@pytest.fixture
def fake() -> Iterator[tuple[FakeDigitalOcean, str]]:
    fake = FakeDigitalOcean()
    cluster = fake.add_cluster("app-db", size="db-s-1vcpu-1gb")
    fake.add_pool(cluster, "app-pool", 10)
    fake.add_cluster("new-db", size="db-s-1vcpu-1gb")
    with fake.serve() as url:
        yield fake, url


@pytest.mark.parametrize("command", [["rewrite-secret", "--cluster", "app-db"],
                                     ["ensure-pool", "--cluster", "new-db", "--size", "5"]])  # fmt: skip
def test_the_cli_refuses_a_fifo_target_with_exit_2_and_no_request(
    fake: tuple[FakeDigitalOcean, str], tmp_path: Path, command: list[str]
) -> None:
    server, url = fake
    os.mkfifo(tmp_path / ".env")
    env = {"DIGITALOCEAN_TOKEN": TOKEN, "DIGITALOCEAN_API_URL": url}
    result = CliRunner().invoke(main, [*command, "--secret", f"dotenv:{tmp_path}/.env"], env=env,
                                catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "is a FIFO (named pipe), not a regular file" in result.output
    assert server.calls == [] and not server.cluster("new-db").pools


# -- the temporary file ----------------------------------------------------------------------------------


def test_the_temporary_file_is_0600_until_just_before_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:  # fmt: skip
    env = tmp_path / ".env"
    env.write_text(OLD_TEXT)
    env.chmod(0o640)
    seen: dict[str, int] = {}
    real_write, real_replace = _dotenv_io._write_fully, _dotenv_io._replace

    def write(fd: int, data: bytes, offset: int | None = None) -> None:
        seen["while written"] = stat.S_IMODE(os.fstat(fd).st_mode)
        real_write(fd, data, offset)

    def replace(src: str, dst: str) -> None:
        seen["at rename"] = stat.S_IMODE(os.stat(src).st_mode)
        seen["name"] = 1 if _dotenv_io._temp_pattern(".env").fullmatch(os.path.basename(src)) else 0
        real_replace(src, dst)

    monkeypatch.setattr(_dotenv_io, "_write_fully", write)
    monkeypatch.setattr(_dotenv_io, "_replace", replace)
    set_dotenv_keys(env, {"DATABASE_URL": URL})
    assert seen == {"while written": 0o600, "at rename": 0o640, "name": 1}
    assert stat.S_IMODE(env.stat().st_mode) == 0o640 and env.read_text() == NEW_TEXT


def test_stale_temporaries_of_ours_are_removed_and_said_so_user_files_kept(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(NEW_TEXT)
    stale = tmp_path / "..env.do-pgpool-a1B2c3_d.tmp"
    stale.write_text(NEW_TEXT)
    legacy = tmp_path / "..env.k2j3h4g5.tmp"  # what versions before this one named their temporaries
    legacy.write_text(NEW_TEXT)
    user_files = [".env.backup.tmp", "..env.do-pgpool-too-long-1.tmp", "env.do-pgpool-a1B2c3_d.tmp", ".env.tmp"]
    for name in user_files:
        (tmp_path / name).write_text("mine\n")
    result = set_dotenv_keys(env, {"DATABASE_URL": URL})  # unchanged: cleaned up all the same
    assert not result.written
    assert result.notes == (
        "removed ..env.do-pgpool-a1B2c3_d.tmp, a temporary file left by an interrupted run",
        "found ..env.k2j3h4g5.tmp, which looks like a temporary file of an older do-pgpool: check and delete it "
        "(it may hold a password)",
    )
    assert names(tmp_path) == sorted([".env", legacy.name, *user_files])
    outcome = DotenvTarget(str(env)).apply({"DATABASE_URL": URL})
    assert outcome.detail == f"{result.notes[1]}; file not touched"  # said until someone looks at it
    legacy.unlink()
    assert DotenvTarget(str(env)).apply({"DATABASE_URL": URL}).detail == "file not touched"
    stale.write_text(NEW_TEXT)
    assert "removed ..env.do-pgpool-a1B2c3_d.tmp" in DotenvTarget(str(env)).apply({"DATABASE_URL": URL}).detail


def test_a_rename_that_fails_otherwise_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / ".env"
    env.write_text(OLD_TEXT)

    def refuse(src: str, dst: str) -> None:
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(_dotenv_io, "_replace", refuse)
    with pytest.raises(DotenvError, match="Permission denied; the previous file") as info:
        set_dotenv_keys(env, {"DATABASE_URL": URL})
    assert PASSWORD not in str(info.value)
    assert env.read_text() == OLD_TEXT and names(tmp_path) == [".env"]


# -- bind mounts and hard links: written in place --------------------------------------------------------


class bind_mount:  # noqa: N801 - used as a context manager
    """``mount --bind`` (root only; where mounting is not permitted, the test fails saying so)."""

    def __init__(self, source: Path, target: Path, *, read_only: bool = False) -> None:
        self.source, self.target, self.read_only = source, target, read_only

    def __enter__(self) -> None:
        done = subprocess.run(["mount", "--bind", str(self.source), str(self.target)], capture_output=True,
                              text=True, timeout=10)  # fmt: skip
        if done.returncode != 0:
            pytest.fail(f"mount --bind was refused ({done.stderr.strip()}): these tests need root with the right to "
                        "mount (CAP_SYS_ADMIN; in a container, one started with it)", pytrace=False)
        if self.read_only:
            subprocess.run(["mount", "-o", "remount,ro,bind", str(self.target)], check=True, timeout=10)

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["umount", str(self.target)], check=True, timeout=10)


@pytest.mark.parametrize("code", [errno.EBUSY, errno.EXDEV])
def test_a_file_that_cannot_be_renamed_over_is_written_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    env = tmp_path / ".env"
    env.write_text(OLD_TEXT)
    env.chmod(0o640)
    inode = env.stat().st_ino
    attempts: list[str] = []

    def mount_point(src: str, dst: str) -> None:
        attempts.append(dst)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(_dotenv_io, "_replace", mount_point)
    result = set_dotenv_keys(env, {"DATABASE_URL": URL})
    assert attempts == [str(env)]
    assert result.written and result.in_place
    assert result.notes == ("written in place: the file is a mount point (a single-file bind mount?), "
                            "which a rename cannot replace",)  # fmt: skip
    assert env.read_text() == NEW_TEXT and env.stat().st_ino == inode
    assert stat.S_IMODE(env.stat().st_mode) == 0o640 and names(tmp_path) == [".env"]


@pytest.mark.skipif(NOT_ROOT, reason="mount --bind needs root")
def test_a_real_single_file_bind_mount_is_written_in_place(tmp_path: Path) -> None:
    host = tmp_path / "host.env"
    host.write_text(OLD_TEXT)
    host.chmod(0o640)
    app = tmp_path / "app"
    app.mkdir()
    (app / ".env").touch()
    with bind_mount(host, app / ".env"):
        result = set_dotenv_keys(app / ".env", {"DATABASE_URL": URL})
        assert result.in_place and "mount point" in result.notes[0]
        assert (app / ".env").read_text() == NEW_TEXT
        assert names(app) == [".env"]  # no temporary, no journal left in the container's folder
        again = set_dotenv_keys(app / ".env", {"DATABASE_URL": URL})
        assert not again.written
    assert host.read_text() == NEW_TEXT and stat.S_IMODE(host.stat().st_mode) == 0o640


def test_a_hard_linked_file_is_written_in_place_so_every_name_gets_the_new_value(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(OLD_TEXT)
    other = tmp_path / "deploy" / "app.env"
    other.parent.mkdir()
    os.link(env, other)
    result = set_dotenv_keys(env, {"DATABASE_URL": URL})
    assert result.in_place
    assert result.notes == ("written in place: the file has 2 hard links, which a rename would split",)
    assert env.read_text() == other.read_text() == NEW_TEXT
    assert env.stat().st_ino == other.stat().st_ino and env.stat().st_nlink == 2
    assert names(tmp_path) == [".env", "deploy"]


def test_an_in_place_write_that_fails_puts_the_old_text_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:  # fmt: skip
    env = tmp_path / ".env"
    env.write_text(OLD_TEXT)
    os.link(env, tmp_path / "twin")
    real = _dotenv_io._write_in_place
    calls: list[bytes] = []

    def half_then_full_disk(path: str, data: bytes) -> None:
        calls.append(data)
        if len(calls) == 1:
            with open(path, "r+b") as fh:
                fh.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data)

    monkeypatch.setattr(_dotenv_io, "_write_in_place", half_then_full_disk)
    with pytest.raises(DotenvError, match="No space left on device"):
        set_dotenv_keys(env, {"DATABASE_URL": URL})
    assert env.read_text() == OLD_TEXT and calls == [NEW_TEXT.encode(), OLD_TEXT.encode()]
    assert names(tmp_path) == [".env", "twin"]


def journal(old: str, new: str) -> bytes:
    return b"do-pgpool in-place journal v1 %d %d\n" % (len(old), len(new)) + old.encode() + new.encode()


LONG_OLD = OLD_TEXT + "".join(f"KEY_{i}=value-{i}\n" for i in range(40))
LONG_NEW = LONG_OLD.replace("AVNS_old@db:25061/app", "AVNS_n@db:25061/a")  # shorter: the truncate matters


@pytest.mark.parametrize(
    ("old", "new", "cut"),
    [
        (LONG_OLD, LONG_NEW, len(LONG_NEW)),  # a shorter text written, the truncate not done
        (LONG_OLD, LONG_NEW, 200),  # written half-way
        (OLD_TEXT, NEW_TEXT, 90),  # a longer text written half-way
    ],
)
def test_the_next_run_completes_an_in_place_write_killed_half_way(tmp_path: Path, old: str, new: str, cut: int
                                                                  ) -> None:  # fmt: skip
    left = new[:cut] + old[cut:]
    env = tmp_path / ".env"
    env.write_text(left)
    assert left not in (old, new)
    (tmp_path / "..env.do-pgpool-Zz09_abc.inplace").write_bytes(journal(old, new))
    result = set_dotenv_keys(env, {"LOG_LEVEL": "info"})  # already so: only the recovery writes
    assert env.read_text() == new and not result.written
    assert result.notes == ("completed an in-place write that an interrupted run had left half done",
                            "removed ..env.do-pgpool-Zz09_abc.inplace, a temporary file left by an interrupted run")
    assert names(tmp_path) == [".env"]


@pytest.mark.parametrize(
    ("left", "note"),
    [
        (OLD_TEXT, ()),  # killed before the write began: the file is the old one, this run rewrites it
        (NEW_TEXT, ()),  # killed after the write, before the journal was removed
        ("EDITED=by hand\n", ("an interrupted in-place write left a journal, but the file was changed since: "
                               "left as it is",)),  # fmt: skip
    ],
)
def test_a_journal_never_overrides_a_file_that_is_not_a_mix_of_its_texts(
    tmp_path: Path, left: str, note: tuple[str, ...]
) -> None:
    env = tmp_path / ".env"
    env.write_text(left)
    (tmp_path / "..env.do-pgpool-Zz09_abc.inplace").write_bytes(journal(OLD_TEXT, NEW_TEXT))
    result = set_dotenv_keys(env, {"EDITED": "by hand"} if "EDITED" in left else {"LOG_LEVEL": "info"})
    assert env.read_text() == left
    assert result.notes == (*note, "removed ..env.do-pgpool-Zz09_abc.inplace, a temporary file left by an "
                                   "interrupted run")  # fmt: skip


def test_a_leftover_that_is_not_our_journal_is_only_removed(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(OLD_TEXT + "tail\n")
    (tmp_path / "..env.do-pgpool-Zz09_abc.inplace").write_text(OLD_TEXT)  # no header: not trusted
    result = set_dotenv_keys(env, {"LOG_LEVEL": "info"})
    assert env.read_text() == OLD_TEXT + "tail\n"
    assert result.notes == ("removed ..env.do-pgpool-Zz09_abc.inplace, a temporary file left by an interrupted run",)


def test_an_in_place_write_keeps_a_0600_journal_of_both_texts_until_it_is_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / ".env"
    env.write_text(OLD_TEXT)
    env.chmod(0o644)
    os.link(env, tmp_path / "twin")
    seen: list[tuple[str, int, bytes]] = []
    real = _dotenv_io._write_in_place

    def look(path: str, data: bytes) -> None:
        for j in tmp_path.glob("..env.do-pgpool-*.inplace"):
            seen.append((j.name, stat.S_IMODE(j.stat().st_mode), j.read_bytes()))
        real(path, data)

    monkeypatch.setattr(_dotenv_io, "_write_in_place", look)
    set_dotenv_keys(env, {"DATABASE_URL": URL})
    assert [(mode, data) for _, mode, data in seen] == [(0o600, journal(OLD_TEXT, NEW_TEXT))]
    assert names(tmp_path) == [".env", "twin"]


# -- the writers' lock -----------------------------------------------------------------------------------


def test_a_writer_waits_a_bounded_time_for_another_then_says_who_holds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / ".env"
    env.write_text(OLD_TEXT)
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(_dotenv_io, "_clock", lambda: now[0])
    monkeypatch.setattr(_dotenv_io, "_sleep", sleep)
    holder = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)  # another run holding the folder's lock
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with pytest.raises(DotenvError, match=r"being written by another do-pgpool run .* waited 2 s") as info:
            set_dotenv_keys(env, {"DATABASE_URL": URL}, lock_timeout=2)
        assert PASSWORD not in str(info.value)
        assert 39 <= len(sleeps) <= 41 and env.read_text() == OLD_TEXT
    finally:
        os.close(holder)
    set_dotenv_keys(env, {"DATABASE_URL": URL}, lock_timeout=2)  # released: goes through at once
    assert env.read_text() == NEW_TEXT and len(sleeps) <= 41


def test_where_folders_cannot_be_locked_a_lock_file_beside_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                    ) -> None:  # fmt: skip
    locked: list[str] = []

    def nfs_like(fd: int, op: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EBADF, "Bad file descriptor")
        locked.append(os.readlink(f"/proc/self/fd/{fd}"))
        fcntl.flock(fd, op)

    monkeypatch.setattr(_dotenv_io, "_flock", nfs_like)
    set_dotenv_keys(tmp_path / ".env", {"DATABASE_URL": URL})
    lock = str(tmp_path / "..env.do-pgpool.lock")
    assert locked == [lock] and names(tmp_path) == ["..env.do-pgpool.lock", ".env"]
    assert (tmp_path / ".env").read_text() == f"DATABASE_URL={URL}\n"


@pytest.mark.skipif(NOT_ROOT, reason="mount --bind needs root")
def test_a_bind_mounted_file_in_a_read_only_folder_is_refused_with_the_way_out(tmp_path: Path) -> None:
    host = tmp_path / "host.env"
    host.write_text(OLD_TEXT)
    app = tmp_path / "app"
    app.mkdir()
    (app / ".env").touch()
    with bind_mount(app, app, read_only=True), bind_mount(host, app / ".env"):
        with pytest.raises(DotenvError) as info:
            set_dotenv_keys(app / ".env", {"DATABASE_URL": URL})
    assert str(info.value) == (
        f"cannot write {app}/.env: cannot create files in the folder {app}: it is on a read-only file system; "
        f"{app}/.env itself is a mount point (a single-file bind mount or subPath): mount its folder instead, "
        "or make the folder writable; nothing was written"
    )
    assert host.read_text() == OLD_TEXT
