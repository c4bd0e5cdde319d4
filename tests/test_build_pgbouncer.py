"""scripts/build-pgbouncer.sh's cheap paths (a cached build: no apt; not root: a clear refusal), how the tests find
its build, and what a PgBouncer that refuses to start says. The build itself runs in ``make servers``."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from do_pgpool.testing._servers import PoolAlias, RealServers, ServersUnavailable, find_new_pgbouncer

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "build-pgbouncer.sh"


def _fake_build(cache: Path) -> Path:
    """What a finished build leaves: the versioned folder and the stable symlink to it."""
    binary = cache / "do-pgpool" / "pgbouncer-9.9.9-1" / "bin" / "pgbouncer"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\necho PgBouncer 9.9.9\n")
    binary.chmod(0o755)
    (cache / "do-pgpool" / "pgbouncer-new").symlink_to("pgbouncer-9.9.9-1")
    return cache / "do-pgpool" / "pgbouncer-new" / "bin" / "pgbouncer"


def _run_script(env: dict[str, str], *, as_other_user: bool = False) -> subprocess.CompletedProcess[str]:
    """The script on stdin (readable by any user), with ``env`` on top of a minimal environment."""
    prefix = ["runuser", "-u", "postgres", "--"] if as_other_user else []
    with open(SCRIPT) as script:
        return subprocess.run([*prefix, "env", *(f"{k}={v}" for k, v in env.items()), "sh", "-s"], stdin=script,
                              capture_output=True, text=True, timeout=30, check=False)  # fmt: skip


def test_a_cached_build_is_printed_without_calling_apt(tmp_path: Path) -> None:
    built = _fake_build(tmp_path / "cache")
    bin_dir = tmp_path / "bin"  # an apt-get that leaves a mark if anything calls it
    bin_dir.mkdir()
    for tool in ("apt-get", "apt-cache", "dpkg-query"):
        (bin_dir / tool).write_text(f"#!/bin/sh\ntouch {tmp_path}/called-{tool}\nexit 1\n")
        (bin_dir / tool).chmod(0o755)
    proc = _run_script({"XDG_CACHE_HOME": str(tmp_path / "cache"), "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"{built}\n", "")
    assert not list(tmp_path.glob("called-*"))


def test_not_root_and_not_built_is_refused_with_how_to_build(tmp_path: Path) -> None:
    as_root = os.geteuid() == 0
    cache = "/nonexistent/do-pgpool-test-cache" if as_root else str(tmp_path)
    proc = _run_script({"XDG_CACHE_HOME": cache, "PATH": os.environ["PATH"]}, as_other_user=as_root)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "not root" in proc.stderr and "make servers" in proc.stderr


def test_without_apt_it_refuses_naming_the_override_and_writes_nothing(tmp_path: Path) -> None:
    """Not Debian (here: no apt-get on the PATH), as root: a plain refusal, no cache folder, no apt source."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "id", "mkdir", "getent", "cut"):  # what the script may run before its apt check
        (bin_dir / tool).symlink_to(subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True,
                                                   text=True, check=True).stdout.strip())  # fmt: skip
    proc = _run_script({"XDG_CACHE_HOME": str(tmp_path / "cache"), "PATH": str(bin_dir)})
    if os.geteuid() != 0:  # refused earlier, as not root
        assert proc.returncode == 1 and "not root" in proc.stderr
        return
    assert (proc.returncode, proc.stdout) == (1, "")
    assert "not Debian?" in proc.stderr and "PGBOUNCER_NEW=" in proc.stderr
    assert not (tmp_path / "cache").exists()


def test_find_new_pgbouncer_takes_the_override_then_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PGBOUNCER_NEW", raising=False)
    with pytest.raises(ServersUnavailable, match=r"no PgBouncer >= 1\.21 at .*/cache/do-pgpool/.*make servers"):
        find_new_pgbouncer()
    built = _fake_build(tmp_path / "cache")
    assert find_new_pgbouncer() == built

    other = tmp_path / "pgbouncer-1.23"
    other.write_text("")
    monkeypatch.setenv("PGBOUNCER_NEW", str(other))
    with pytest.raises(ServersUnavailable, match="PGBOUNCER_NEW"):  # not executable
        find_new_pgbouncer()
    other.chmod(0o755)
    assert find_new_pgbouncer() == other


def test_a_pgbouncer_that_refuses_its_config_says_why(pg_server: RealServers, monkeypatch: pytest.MonkeyPatch) -> None:
    """Debian's 1.18 knows no ``max_prepared_statements``: its own log line is in the error, and its folder goes."""
    if pg_server.binaries.pgbouncer is None:
        pytest.fail("pgbouncer not found: `make servers` installs it", pytrace=False)
    made: list[Path] = []
    mkdtemp = tempfile.mkdtemp

    def recording_mkdtemp(**kwargs: str) -> str:
        made.append(Path(mkdtemp(**kwargs)))
        return str(made[-1])

    monkeypatch.setattr(tempfile, "mkdtemp", recording_mkdtemp)
    with pytest.raises(ServersUnavailable, match="unknown parameter.*max_prepared_statements"):
        pg_server.start_another_pgbouncer(pg_server.binaries.pgbouncer, {"p": PoolAlias(size=1)},
                                          max_prepared_statements=10)  # fmt: skip
    assert len(made) == 1 and not made[0].exists()
