"""A run loads only the code its inputs need: a converged ensure-pool no target, GitHub or .env code, nor the
fleet's rate limiter, the progress display of waits, a secret's TLS code, nor tenacity until a request fails (each
costs milliseconds of the run's start-up, measured by ``benchmarks/startup.py``); a ``github:`` or ``stdout``
target no .env code (python-dotenv and our .env writer cost ~20 ms to import)."""

from __future__ import annotations

import os
import subprocess
import sys

from do_pgpool.testing import FakeDigitalOcean

TOKEN = "dop_v1_" + "f" * 8 + "lazy-imports-token"
TARGET_CODE = ("dotenv", "nacl", "do_pgpool.targets._dotenv", "do_pgpool.targets._dotenv_io", "do_pgpool.api._github",
               "do_pgpool.targets._parse", "do_pgpool.targets._write", "do_pgpool.targets._simple",
               "do_pgpool.targets._app", "psycopg", "do_pgpool.targets._spec", "do_pgpool.targets._base",
               "do_pgpool.targets._secret_values", "do_pgpool.api._limiter", "do_pgpool.cli._progress",
               "tenacity", "do_pgpool._tls")  # fmt: skip


def loaded(code: str, env: dict[str, str] | None = None) -> list[str]:
    """The modules of TARGET_CODE that ``code`` (run in a fresh interpreter) left in sys.modules."""
    probe = f"{code}\nimport sys\nprint(sorted(m for m in {TARGET_CODE!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return eval(out.stdout.strip().splitlines()[-1])  # noqa: S307 - our own probe's repr of a list of str


def test_a_converged_ensure_pool_loads_no_target_code() -> None:
    fake = FakeDigitalOcean()
    fake.add_token(TOKEN)
    cluster = fake.add_cluster("app-db")
    fake.add_pool(cluster, "defaultdb-pool", 10)
    with fake.serve() as url:
        env = {**os.environ, "DIGITALOCEAN_TOKEN": TOKEN, "DIGITALOCEAN_API_URL": url}
        args = ["ensure-pool", "--cluster", cluster.id, "--size", "10"]
        code = f"from do_pgpool.cli import main\nmain({args!r}, standalone_mode=False)"
        assert loaded(code, env) == []
        assert len(fake.calls) == 1  # it really ran (converged by uuid: the pool list only)
        # the probe sees these modules when a run needs them: a --secret target, a fleet's limiter
        with_secret = f"from do_pgpool.cli import main\nmain({[*args, '--secret', 'stdout']!r}, standalone_mode=False)"
        assert {"do_pgpool.targets._spec", "do_pgpool.targets._base"} <= set(loaded(with_secret, env))
        fleet = ["ensure-pool", "--all", "--size", "10"]
        run_fleet = f"from do_pgpool.cli import main\nmain({fleet!r}, standalone_mode=False)"
        assert "do_pgpool.api._limiter" in loaded(run_fleet, env)


def test_github_and_stdout_targets_load_no_dotenv_code_and_a_dotenv_target_does(tmp_path: object) -> None:
    parse = "from do_pgpool.targets._parse import check_targets, parse_target\n"
    others = loaded(parse + "check_targets([parse_target('github:acme/web@prod'), parse_target('stdout')])")
    assert "dotenv" not in others and "do_pgpool.targets._dotenv" not in others and "nacl" not in others
    assert "do_pgpool.targets._parse" in others  # the probe saw the import it made
    dotenv = loaded(parse + f"check_targets([parse_target('dotenv:{tmp_path}/.env')])")
    assert {"dotenv", "do_pgpool.targets._dotenv"} <= set(dotenv)
