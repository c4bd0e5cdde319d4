"""``make demo``: do-pgpool's main job against a local fake of the DigitalOcean API (no account needed).

Starts the project's fake DigitalOcean API on 127.0.0.1 (seeded with a 1 GiB PostgreSQL cluster and an App
Platform app), runs the real ``do-pgpool`` command against it step by step, shows what each step sent to the
API, and stops the server again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from do_pgpool._dburl import mask_secrets_in
from do_pgpool.testing import FakeDigitalOcean, seed_demo

BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")


def main() -> int:
    fake = FakeDigitalOcean()
    seed_demo(fake)
    failures = 0
    with fake.serve() as url, tempfile.TemporaryDirectory(prefix="do-pgpool-demo-") as tmp:
        env = {**os.environ, "DIGITALOCEAN_API_URL": url, "DIGITALOCEAN_TOKEN": "demo-token",
               "DO_PGPOOL_CLUSTER": "app-db", "NO_COLOR": "1"}
        dotenv = Path(tmp) / ".env"
        dotenv.write_text("# web app settings\nDEBUG=false\nexport DATABASE_URL=postgres://old@db:5432/app\n")
        print(f"{DIM}fake DigitalOcean API on {url}: cluster 'app-db' (db-s-1vcpu-1gb, 22 pool connections), "
              f"app 'web-app'{RESET}")

        def step(title: str, args: list[str], expect: int = 0) -> None:
            nonlocal failures
            before = len(fake.calls)
            print(f"\n{BOLD}# {title}{RESET}\n$ do-pgpool {' '.join(args)}")
            done = subprocess.run([sys.executable, "-m", "do_pgpool", *args], env=env, capture_output=True,
                                  text=True, timeout=60)
            for line in (done.stdout + done.stderr).rstrip().splitlines():
                print(f"  {line}")
            calls = fake.calls[before:]
            writes = [f"{c.method} {c.path} -> {c.status}" for c in calls if c.method != "GET"]
            print(f"{DIM}  [exit {done.returncode}; {len(calls)} API requests; writes: "
                  f"{', '.join(writes) or 'none'}]{RESET}")
            if done.returncode != expect:
                failures += 1
                print(f"  !! expected exit {expect}")

        step("Create a PgBouncer pool in transaction mode", ["ensure-pool", "--size", "20"])
        step("The same again: already converged, two reads and no write", ["ensure-pool", "--size", "20"])
        step("More than a 1 GiB cluster allows (budget 22): refused before any write",
             ["ensure-pool", "--size", "30"], expect=1)
        step("Shrink it in place (full-body PUT keeps user, db and mode)", ["ensure-pool", "--size", "10"])
        step("Point the server's .env at the pool", ["rewrite-secret", "--secret", f"dotenv:{dotenv}"])
        print(f"{DIM}  {dotenv.name} now reads:{RESET}")
        for line in dotenv.read_text().splitlines():
            print(f"    {mask_secrets_in(line)}")
        step("And the App Platform app's DATABASE_URL (one deployment)", ["rewrite-secret", "--secret", "app:web-app"])
        step("Both again: nothing changed, so no write and no deployment",
             ["rewrite-secret", "--secret", f"dotenv:{dotenv}", "--secret", "app:web-app"])
    print(f"\n{BOLD}demo {'finished' if not failures else f'had {failures} unexpected result(s)'}{RESET}; "
          "the fake API server is stopped.")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
