"""The file side of a ``.env`` rewrite: what may be written, one writer at a time, and a write that never tears.

* Only a regular file (or a symlink to one), or a missing file in an existing writable folder, is a ``.env``.
  A device node, FIFO, socket or folder is refused with what it is (``lstat`` first; every open uses
  ``O_NOFOLLOW | O_NONBLOCK`` and checks ``fstat`` again, so a FIFO never blocks and a swapped-in device is
  never written). Kernel pseudo-file systems (``/proc``, ``/sys``) are refused by name.
* Writers of one file are serialized by ``flock`` on its folder (so no lock file is left behind), with a
  bounded wait; where folders cannot be locked (NFS), on ``.<name>.do-pgpool.lock`` beside it, which is never
  removed (another process may hold it). The kernel drops a lock when its holder exits: a killed run never
  blocks the next one.
* The new text goes to ``.<name>.do-pgpool-XXXXXXXX.tmp`` (mode 0600 from creation: ``mkstemp``), is
  fsynced, gets the old owner, and the old mode only just before ``rename`` -- so a temporary left by a kill
  is readable by no one who cannot read the ``.env`` itself. The next run removes such leftovers (under the
  lock, so never a live writer's) and says so.
* A file that cannot be renamed over -- a single-file bind mount (Docker ``-v ./x.env:/app/.env``,
  Kubernetes ``subPath``: EBUSY/EXDEV) -- or that has hard links (a rename would split them, leaving the old
  password under the other names) is written *in place* (``pwrite`` + ``ftruncate`` + ``fsync``), with a
  journal beside it (``.<name>.do-pgpool-XXXXXXXX.inplace``, 0600, fsynced first) holding the old and the new
  text until the write is complete. A run killed (or a system that crashed) half-way leaves a mix of the two;
  the next run recognises the mix and completes the write. A failed write puts the old text back.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .._exceptions import DotenvError
from ..api._retry import wait_until

__all__ = ["LOCK_TIMEOUT", "NEW_FILE_MODE", "WriteReport", "dotenv_path_problem", "locked", "read_regular",
           "recover_leftovers", "write_file"]  # fmt: skip

NEW_FILE_MODE = 0o600
#: seconds a writer waits for another do-pgpool run writing the same file
LOCK_TIMEOUT = 30.0
#: a .env is a few KB; anything this big is not one (and is not read into memory)
MAX_BYTES = 1 << 20
_MARK = ".do-pgpool-"
_OPEN_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
# File systems whose files are kernel interfaces, not storage.
_PSEUDO_FS = frozenset({
    "proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "debugfs", "tracefs", "securityfs",
    "configfs", "efivarfs", "bpf", "pstore", "fusectl", "mqueue", "hugetlbfs", "binfmt_misc",
})  # fmt: skip

# Injected by tests: the rename (to simulate a bind mount on any machine), the clock and sleep of the lock wait.
_replace: Callable[[str, str], None] = os.replace
_clock: Callable[[], float] = time.monotonic
_sleep: Callable[[float], None] = time.sleep
_flock: Callable[[int, int], None] = fcntl.flock


@dataclass(frozen=True)
class WriteReport:
    in_place: bool = False
    notes: tuple[str, ...] = ()


def _what(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _unescape_mount(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def _mounts() -> list[tuple[str, str]]:
    """(mount point, file system type) in mount order (Linux ``/proc/self/mountinfo``; elsewhere none)."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return []
    mounts = []
    for line in lines:
        fields = line.split(" ")
        if len(fields) > 7 and "-" in fields[6:]:
            mounts.append((_unescape_mount(fields[4]), fields[fields.index("-", 6) + 1]))
    return mounts


def filesystem_type(path: str) -> str | None:
    """The type of the file system holding the absolute ``path``, None when unknown."""
    best, kind = "", None
    for mount, fstype in _mounts():
        inside = path == mount or path.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best):  # the deepest (and, for equal ones, latest) mount wins
            best, kind = mount, fstype
    return kind


def _unwritable(folder: str) -> str | None:
    if os.access(folder, os.W_OK | os.X_OK):
        return None
    try:
        readonly = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        readonly = False
    why = "it is on a read-only file system" if readonly else "permission denied"
    return f"cannot create files in the folder {folder}: {why}"


def dotenv_path_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot be a .env file (a sentence naming what it is), or None when it can. Opens nothing."""
    given = os.fspath(path)
    real = os.path.realpath(given)
    via = f" (a symlink to {real})" if real != os.path.abspath(given) else ""
    fs = filesystem_type(real)
    if fs in _PSEUDO_FS:
        return f"{given}{via} is on {fs}, a kernel pseudo-file system: a .env file cannot be written there"
    try:
        st = os.lstat(real)
    except FileNotFoundError:
        folder = os.path.dirname(real)
        try:
            fst = os.stat(folder)
        except OSError as exc:
            return f"the folder {folder} does not exist" if exc.errno == errno.ENOENT else \
                f"cannot reach the folder {folder}: {exc.strerror}"  # fmt: skip
        if not stat.S_ISDIR(fst.st_mode):
            return f"{folder} is {_what(fst.st_mode)}, not a folder"
        return _unwritable(folder)
    except OSError as exc:
        return f"cannot inspect {given}: {exc.strerror}"
    if stat.S_ISLNK(st.st_mode):  # realpath stopped at a link: a loop
        return f"{given} is a symlink loop"
    if not stat.S_ISREG(st.st_mode):
        return f"{given}{via} is {_what(st.st_mode)}, not a regular file: a .env must be a regular file"
    if st.st_size > MAX_BYTES:
        return f"{given}{via} is {st.st_size} bytes, too big for a .env file (limit {MAX_BYTES})"
    if not os.access(real, os.R_OK):
        return f"cannot read {given}{via}: permission denied"
    problem = _unwritable(os.path.dirname(real))
    if problem is not None and any(mount == real for mount, _ in _mounts()):
        problem += (f"; {real} itself is a mount point (a single-file bind mount or subPath): mount its folder "
                    "instead, or make the folder writable")  # fmt: skip
    return problem


def _check_regular(fd: int, path: str) -> os.stat_result:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise DotenvError(f"{path} is {_what(st.st_mode)}, not a regular file; nothing was written")
    return st


def _read_fd(fd: int, path: str, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := os.read(fd, 65536):
        size += len(chunk)
        if size > limit:
            raise DotenvError(f"{path} is larger than {limit} bytes, too big for a .env file; not changed")
        chunks.append(chunk)
    return b"".join(chunks)


def read_regular(real: str, limit: int = MAX_BYTES) -> tuple[bytes, os.stat_result] | None:
    """The bytes and stat of the regular file ``real`` (no symlink followed), None if it does not exist."""
    try:
        fd = os.open(real, os.O_RDONLY | _OPEN_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DotenvError(f"{real} became a symlink while being read; not changed") from exc
        raise DotenvError(f"cannot read {real}: {exc.strerror}; not changed") from exc
    try:
        st = _check_regular(fd, real)
        return _read_fd(fd, real, limit), st
    finally:
        os.close(fd)


def _write_fully(fd: int, data: bytes, offset: int | None = None) -> None:
    view = memoryview(data)
    pos = 0
    while pos < len(view):
        n = os.write(fd, view[pos:]) if offset is None else os.pwrite(fd, view[pos:], offset + pos)
        pos += n


def _fsync_dir(folder: str) -> None:
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(dfd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on directories
        pass
    finally:
        os.close(dfd)


def _open_lock(real: str) -> tuple[int, str]:
    """The folder itself (no file left behind); a lock file beside the .env where folders cannot be locked."""
    folder, name = os.path.split(real)
    folder = folder or "."
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            _flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # probe: does this file system lock folders?
            _flock(fd, fcntl.LOCK_UN)
            return fd, folder
        except BlockingIOError:
            return fd, folder  # a writer holds it: the file system can lock folders
        except OSError:
            os.close(fd)  # e.g. NFS locks only files opened for writing
    except OSError as exc:
        raise DotenvError(f"cannot open the folder {folder}: {exc.strerror}; not changed") from exc
    lock = os.path.join(folder, f".{name}.do-pgpool.lock")
    try:
        return os.open(lock, os.O_RDWR | os.O_CREAT | _OPEN_FLAGS, 0o644), lock
    except OSError as exc:
        raise DotenvError(f"cannot create the lock file {lock}: {exc.strerror}; not changed") from exc


@contextmanager
def locked(real: str, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the advisory lock for writing ``real``, waiting at most ``timeout`` seconds for another writer."""
    fd, what = _open_lock(real)
    try:

        def acquired() -> bool:
            try:
                _flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        if not wait_until(acquired, every=0.05, within=timeout, clock=_clock, sleep=_sleep):
            raise DotenvError(
                f"{real} is being written by another do-pgpool run (it holds the lock on {what}); "
                f"waited {timeout:g} s. Run again once that run has finished; nothing was changed"
            )
        yield
    finally:
        os.close(fd)  # releases the lock (the kernel also does when a holder is killed)


def _temp_pattern(name: str) -> re.Pattern[str]:
    return re.compile(re.escape(f".{name}{_MARK}") + r"[A-Za-z0-9_]{8}\.(tmp|inplace)")


def recover_leftovers(real: str) -> list[str]:
    """Under the lock: finish or remove what a killed run left beside ``real``; one note per thing done."""
    folder, name = os.path.split(real)
    ours = _temp_pattern(name)
    legacy = re.compile(re.escape(f".{name}.") + r"[A-Za-z0-9_]{8}\.tmp")
    notes: list[str] = []
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        return notes
    for entry in entries:
        path = os.path.join(folder, entry)
        m = ours.fullmatch(entry)
        if m is None:
            if legacy.fullmatch(entry):
                notes.append(f"found {entry}, which looks like a temporary file of an older do-pgpool: "
                             "check and delete it (it may hold a password)")  # fmt: skip
            continue
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            if m[1] == "inplace":
                notes.extend(_finish_in_place(real, path))
            os.unlink(path)
        except OSError as exc:
            notes.append(f"could not remove the leftover temporary file {entry}: {exc.strerror}")
            continue
        notes.append(f"removed {entry}, a temporary file left by an interrupted run")
    return notes


_JOURNAL = re.compile(rb"do-pgpool in-place journal v1 (\d+) (\d+)")


def _write_journal(folder: str, name: str, old: bytes, new: bytes) -> str:
    """Both texts of an in-place write, fsynced before the file is touched (mode 0600 from creation)."""
    fd, journal = tempfile.mkstemp(dir=folder, prefix=f".{name}{_MARK}", suffix=".inplace")
    try:
        _write_fully(fd, b"do-pgpool in-place journal v1 %d %d\n" % (len(old), len(new)) + old + new)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(journal)
        raise
    os.close(fd)
    _fsync_dir(folder)
    return journal


def _finish_in_place(real: str, journal: str) -> list[str]:
    """Roll an interrupted in-place write forward when the file is a mix of its old and new text."""
    found, current = read_regular(journal, limit=3 * MAX_BYTES), read_regular(real)
    head, _, body = found[0].partition(b"\n") if found else (b"", b"", b"")
    m = _JOURNAL.fullmatch(head)
    if m is None or current is None or len(body) != int(m[1]) + int(m[2]):
        return []
    old, new, now = body[: int(m[1])], body[int(m[1]) :], current[0]
    if now in (old, new):
        return []  # killed before the write began, or after it was complete
    done = len(os.path.commonprefix([now, new]))  # how far the interrupted write got
    if now != new[:done] + old[done:]:
        return ["an interrupted in-place write left a journal, but the file was changed since: left as it is"]
    _write_in_place(real, new)
    return ["completed an in-place write that an interrupted run had left half done"]


def _write_in_place(real: str, data: bytes) -> None:
    fd = os.open(real, os.O_WRONLY | _OPEN_FLAGS)
    try:
        _check_regular(fd, real)
        _write_fully(fd, data, offset=0)
        os.ftruncate(fd, len(data))
        os.fsync(fd)
    finally:
        os.close(fd)


def _journaled_in_place(real: str, old: bytes, new: bytes) -> None:
    """Rewrite ``real`` in place; until that is complete a journal beside it lets the next run finish it."""
    folder, name = os.path.split(real)
    journal = _write_journal(folder, name, old, new)
    try:
        _write_in_place(real, new)
    except BaseException:
        _write_in_place(real, old)  # put the old text back (should that fail too, the journal stays for the next run)
        os.unlink(journal)
        raise
    os.unlink(journal)


def write_file(real: str, data: bytes, old: tuple[bytes, os.stat_result] | None) -> WriteReport:
    """Replace ``real`` with ``data`` (atomically by rename when possible); ``old`` is what was read (None: new).

    The old mode and owner are kept (a new file gets 0600). Raises OSError; the file is then unchanged.
    """
    folder = os.path.dirname(real)
    if old is not None and old[1].st_nlink > 1:
        _journaled_in_place(real, old[0], data)
        return WriteReport(True, (f"written in place: the file has {old[1].st_nlink} hard links, "
                                  "which a rename would split",))  # fmt: skip
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(real)}{_MARK}", suffix=".tmp")  # 0600
    try:
        try:
            _write_fully(fd, data)
            os.fsync(fd)
            if old is not None:
                try:
                    os.fchown(fd, old[1].st_uid, old[1].st_gid)
                except PermissionError:
                    pass  # not root: the file ends up owned by us, as any editor would leave it
                # Readable from now on by exactly whom the .env allows, and renamed at once.
                os.fchmod(fd, stat.S_IMODE(old[1].st_mode))
        finally:
            os.close(fd)
        _replace(tmp, real)
    except OSError as exc:
        os.unlink(tmp)
        if old is None or exc.errno not in (errno.EBUSY, errno.EXDEV):
            raise
        _journaled_in_place(real, old[0], data)
        return WriteReport(True, ("written in place: the file is a mount point (a single-file bind mount?), "
                                  "which a rename cannot replace",))  # fmt: skip
    except BaseException:
        os.unlink(tmp)
        raise
    _fsync_dir(folder)
    return WriteReport()
