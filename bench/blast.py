"""Bulk send throughput: N personalised messages on PostgreSQL, two worker processes,
an SMTP sink in its own process (Postfix's smtp-sink if installed, else aiosmtpd).

End to end = from the send (freeze included) to every ledger row final. Baseline =
the same number of pre-rendered messages pushed with plain smtplib over the same
number of connections (CLARION_MAILINGS_CONNECTIONS per worker process, default 1) to
the same sink.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clarion_bench_blast .venv/bin/python bench/blast.py [N]

Last line: msgs_per_s=... baseline_per_s=... ratio=...
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "clarion" / "mailings" / "tests"))

from killtest import World, kill, postgres_db_env  # noqa: E402

WORKERS = 2
# SMTP connections per worker process; the baseline uses as many in all.
CONNECTIONS = int(os.environ.get("CLARION_MAILINGS_CONNECTIONS", "1"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _aiosmtpd_sink(port: int, count_file: str) -> None:
    from aiosmtpd.controller import Controller

    class Handler:
        n = 0

        async def handle_EHLO(self, server, session, envelope, hostname, responses):
            session.host_name = hostname
            return [*responses[:-1], "250-PIPELINING", responses[-1]]  # as Postfix does

        async def handle_DATA(self, server, session, envelope):
            with open(count_file, "a") as fh:
                fh.write("".join(r + "\n" for r in envelope.rcpt_tos))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    while True:
        time.sleep(3600)


def start_sink(port: int, count_file: str):
    """Returns (process, kind). smtp-sink -c counts; with aiosmtpd recipients are logged."""
    sink = shutil.which("smtp-sink") or (
        "/usr/sbin/smtp-sink" if os.path.exists("/usr/sbin/smtp-sink") else None
    )
    if sink:
        # -u: run as the current user; -d: dump each message to a file named by time/dir.
        user = "nobody" if os.geteuid() == 0 else os.environ.get("USER", "nobody")
        proc = subprocess.Popen(
            [sink, "-u", user, "-c", f"127.0.0.1:{port}", "256"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        return proc, "smtp-sink"
    proc = multiprocessing.Process(target=_aiosmtpd_sink, args=(port, count_file), daemon=True)
    proc.start()
    time.sleep(1.0)
    return proc, "aiosmtpd"


def db_status(database_url: str, mailing_id: int, *, counts: bool = True) -> dict:
    """The mailing's status (and, with ``counts``, its ledger counts), read with one
    cheap connection (a ``clarion shell`` per poll would start Django each time and eat
    the CPU that the workers are being measured on). Polls while sending ask for the
    status alone: counting 100k ledger rows five times a second took a tenth of a core
    from the workers and the database being measured."""
    import psycopg

    with psycopg.connect(
        database_url.replace("postgres://", "postgresql://", 1), autocommit=True
    ) as conn:
        status, frozen, finished = conn.execute(
            "SELECT status, extract(epoch FROM frozen_at), extract(epoch FROM finished_at) FROM mailings_mailing "
            "WHERE id = %s",
            [mailing_id],
        ).fetchone()
        by_status = (
            dict(
                conn.execute(
                    "SELECT status, count(*) FROM mailings_recipient WHERE mailing_id = %s "
                    "GROUP BY status",
                    [mailing_id],
                ).fetchall()
            )
            if counts
            else {}
        )
    return {"status": status, "counts": by_status, "frozen": frozen, "finished": finished}


def baseline(port: int, messages: list[bytes], connections: int) -> float:
    def push(chunk):
        s = smtplib.SMTP("127.0.0.1", port)
        for i, data in enumerate(chunk):
            s.sendmail("bounces@bench.example", [f"b{i}@bench.example"], data)
        s.quit()

    chunks = [messages[i::connections] for i in range(connections)]
    procs = [multiprocessing.Process(target=push, args=(c,)) for c in chunks]
    start = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return len(messages) / (time.perf_counter() - start)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clarion_bench_blast")
    port = free_port()
    load_before = (
        "/".join(Path("/proc/loadavg").read_text().split()[:3])
        if Path("/proc/loadavg").exists()
        else "?"
    )
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"blast-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    sink, kind = start_sink(port, str(tmp / "rcpts"))
    try:
        # The database named in DATABASE_URL (default clarion_bench_blast), so two runs
        # with different names do not drop each other's database.
        env, drop = postgres_db_env(url, "")
    except Exception:
        sink.terminate()
        raise
    env.update(
        {
            "CLARION_SECRET_KEY": "bench",
            "CLARION_SECURE": "0",
            "CLARION_VAR_DIR": str(tmp),
            "CLARION_EMAIL_HOST": "127.0.0.1",
            "CLARION_EMAIL_PORT": str(port),
            "CLARION_LOG_LEVEL": "WARNING",
            "CLARION_MAILINGS_SENDERS": str(WORKERS),
            "CLARION_TASK_BACKEND": "database",
            "CLARION_MAILINGS_CONNECTIONS": str(CONNECTIONS),
            "CLARION_SITE_URL": "https://clarion.example.org",
        }
    )
    world = World(env=env)
    try:
        world.migrate()
        mailing_id = int(
            world.shell(
                f"from clarion.mailings import bench_support as b; b.seed({n}); print(b.make())"
            )
        )
        # A sample of the real rendered messages for the baseline (same size and shape).
        sample = world.shell(
            "from clarion.mailings.sending.compose import CompiledMailing; from clarion.mailings.models import Mailing;"
            f"c=CompiledMailing(Mailing.objects.get(pk={mailing_id}));"
            "import base64; print(base64.b64encode(c.message(recipient_id=1, email='p1@bench.example', variant=0,"
            "context={'first_name':'Ann','last_name':'Bench','full_name':'Ann Bench','email':'p1@bench.example',"
            "'area':'','share_link':'','organisation':'Clarion','recruit_count':0,'last_gift':''})[1]).decode())"
        )
        import base64

        one = base64.b64decode(sample.splitlines()[-1])
        workers = [world.worker() for _ in range(WORKERS)]
        start, wall_start = time.perf_counter(), time.time()
        world.shell(f"from clarion.mailings import bench_support as b; b.send({mailing_id})")
        while db_status(env["DATABASE_URL"], mailing_id, counts=False)["status"] != "sent":
            time.sleep(0.2)
        elapsed = time.perf_counter() - start
        st = db_status(env["DATABASE_URL"], mailing_id)
        for w in workers:
            kill(w)
        counts = st["counts"]
        rate = counts.get("sent", 0) / elapsed
        base = baseline(port, [one] * n, WORKERS * CONNECTIONS)
    finally:
        drop()
        sink.terminate() if hasattr(sink, "terminate") else None
    frozen = float(st["frozen"]) - wall_start if st["frozen"] else float("nan")
    print(
        f"sink={kind} recipients={n} sent={counts.get('sent', 0)} failed={counts.get('failed', 0)} "
        f"uncertain={counts.get('uncertain', 0)} seconds={elapsed:.1f} (of which to frozen ledger: {frozen:.1f})"
    )
    load = (
        Path("/proc/loadavg").read_text().split()[:3]
        if Path("/proc/loadavg").exists()
        else ["?"] * 3
    )
    print(f"loadavg_before={load_before} loadavg_after={'/'.join(load)}")
    print(f"msgs_per_s={rate:.0f} baseline_per_s={base:.0f} ratio={rate / base:.2f}")


if __name__ == "__main__":
    main()
