"""Crash safety: kill -9 a worker at five random points of an N-recipient send (two
worker processes, PostgreSQL), restart it each time, and count at the sink, per
recipient, how many copies arrived.

    .venv/bin/python bench/blast_crash.py [N]

Last line: lost=... duplicates=... uncertain=... (target: lost 0, duplicates 0,
uncertain no more than kills x CLARION_MAILINGS_WINDOW: each kill leaves at most one window
in flight). The sink (aiosmtpd) advertises PIPELINING, as Postfix does.
"""

from __future__ import annotations

import collections
import json
import multiprocessing
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "clarion" / "mailings" / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from blast import _aiosmtpd_sink, db_status, free_port  # noqa: E402
from killtest import World, kill, postgres_db_env  # noqa: E402

WORKERS, WINDOW, KILLS = 2, 20, 5


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clarion_bench_blast")
    load_before = "/".join(Path("/proc/loadavg").read_text().split()[:3])
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"blast-crash-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    rcpts = tmp / "rcpts"
    sink = multiprocessing.Process(target=_aiosmtpd_sink, args=(port, str(rcpts)), daemon=True)
    sink.start()
    env, drop = postgres_db_env(url.rsplit("/", 1)[0] + "/clarion_bench_crash", "")
    env.update(
        {
            "CLARION_SECRET_KEY": "bench",
            "CLARION_SECURE": "0",
            "CLARION_VAR_DIR": str(tmp),
            "CLARION_EMAIL_HOST": "127.0.0.1",
            "CLARION_EMAIL_PORT": str(port),
            "CLARION_LOG_LEVEL": "WARNING",
            "CLARION_MAILINGS_SENDERS": str(WORKERS),
            "CLARION_MAILINGS_WINDOW": str(WINDOW),
            "CLARION_MAILINGS_LEASE_SECONDS": "3",
            "CLARION_TASK_BACKEND": "database",
        }
    )
    world = World(env=env)
    rng = random.Random()
    try:
        world.migrate()
        mailing_id = int(
            world.shell(
                f"from clarion.mailings import bench_support as b; b.seed({n}); print(b.make())"
            )
        )
        workers = [world.worker() for _ in range(WORKERS)]
        world.shell(f"from clarion.mailings import bench_support as b; b.send({mailing_id})")
        points = sorted(rng.sample(range(n // 20, n - n // 20), KILLS))
        for point in points:
            while (rcpts.exists() and sum(1 for _ in open(rcpts)) < point) or not rcpts.exists():
                time.sleep(0.2)
            victim = rng.randrange(WORKERS)
            kill(workers[victim])
            print(f"killed worker {victim} after {point} messages", flush=True)
            workers[victim] = world.worker()
        while db_status(env["DATABASE_URL"], mailing_id, counts=False)["status"] != "sent":
            time.sleep(0.5)
        for w in workers:
            kill(w)
        ledger = json.loads(
            world.shell(
                f"from clarion.mailings import bench_support as b; print(b.emails_by_status({mailing_id}))"
            )
        )
    finally:
        drop()
        sink.terminate()
    copies = collections.Counter(line.strip() for line in open(rcpts))
    duplicates = sum(c - 1 for c in copies.values() if c > 1)
    lost = sum(1 for e, s in ledger.items() if s != "uncertain" and copies[e] == 0)
    uncertain = sum(1 for s in ledger.values() if s == "uncertain")
    load_after = "/".join(Path("/proc/loadavg").read_text().split()[:3])
    print(
        f"recipients={n} received={sum(copies.values())} kills={KILLS} in_flight_window_per_worker={WINDOW} "
        f"loadavg_before={load_before} loadavg_after={load_after}"
    )
    print(f"lost={lost} duplicates={duplicates} uncertain={uncertain}")


if __name__ == "__main__":
    main()
