"""A migration that fails and leaves a worker behind: what ``make demo`` runs under ``do-pgpool migrate``.

It starts a background worker in a session of its own (detached: it outlives this process, as a job runner
or a framework's pool thread spawned by a migration may), waits until the worker holds its 3 connections to
``$DATABASE_URL``, prints the worker's pid, then exits with status 5, like a migration whose last step
failed. The worker exits once all of its connections are ended (``do-pgpool migrate``'s cleanup
terminates them), and after 30 s at the latest either way.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time

CONNECTIONS = 3
EXIT_STATUS = 5
WORKER_LIFETIME = 30.0  # seconds: bounded even when nothing ends its connections


def worker() -> None:
    import psycopg

    conns = [psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) for _ in range(CONNECTIONS)]
    print("ready", flush=True)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the parent is gone: nothing more goes to its pipe
    # A terminated backend sends its FATAL and closes the socket: the socket becomes readable. The worker
    # stays until all of its connections are ended, so that each one is still there to be counted.
    open_ones, deadline = {c.fileno() for c in conns}, time.monotonic() + WORKER_LIFETIME
    while open_ones and (left := deadline - time.monotonic()) > 0:
        ended, _, _ = select.select(list(open_ones), [], [], left)
        open_ones.difference_update(ended)


def main() -> int:
    child = subprocess.Popen([sys.executable, __file__, "--worker"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             start_new_session=True)  # fmt: skip
    assert child.stdout is not None
    ready = child.stdout.readline().strip() == "ready"
    child.stdout.close()
    if not ready:
        print("migration: the worker did not start", file=sys.stderr)
        return 1
    print(f"migration: started worker pid {child.pid} ({CONNECTIONS} connections), not stopped")
    print(f"migration: step 2 failed; exit {EXIT_STATUS}")
    return EXIT_STATUS


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker()
    else:
        sys.exit(main())
