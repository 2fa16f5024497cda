"""Fault drill: PostgreSQL (or Redis) goes away under petition-signing load.

    .venv/bin/python bench/fault_pg_restart.py [--clients 8] [--down 5] [--after 10]
    .venv/bin/python bench/fault_pg_restart.py --redis [--down 12]

Runs Clarion as an operator does, through ``clarion serve`` (gunicorn, the task worker
and, once it exists, the clock, all supervised), against a private PostgreSQL cluster
and a private Redis this script starts on free ports (``initdb`` in a temporary
directory, ``redis-server --port``), so the shared servers other work relies on are
never touched. The settings, URLs and database helpers are bench/signups.py's.

``--clients`` threads sign the petition (a real POST with CSRF cookie and token and a
unique email each) for ``--before`` seconds; then the fault:

- default: PostgreSQL is stopped in immediate mode (as a crash or ``restart -m
  immediate`` does: every connection dies, nothing is flushed politely), kept down
  for ``--down`` seconds and started again;
- ``--redis``: Redis is stopped for ``--down`` seconds (default 12) with ``REDIS_URL``
  set and the RQ task backend, then started again. Tasks enqueued meanwhile go to the
  database outbox; the RQ backlog from before survives in Redis' append-only file.

Load continues for ``--after`` seconds after the service is back. Every loop is
bounded in count and time; traffic goes only to 127.0.0.1.

Accounting: acknowledged = 302 answers (each with its email); committed = rows on the
page; lost = acknowledged emails with no row (must be 0: a 2xx means committed);
answered_503 = the friendly 503 page; answered_5xx = any other 5xx (a traceback or
Django's bare 500); recovered_s = seconds from the service being back to the first
acknowledged signature after it (PostgreSQL drill; the target is ≤ 10 s);
emails_unsent = committed signatures whose thank-you email task never ran (the
worker must survive and no task may be lost), counted after the queue drains.
"""

from __future__ import annotations

import argparse
import glob
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import signups  # noqa: E402  (bench/signups.py: settings, URLs and database helpers)

ROOT = signups.ROOT
BIN = signups.BIN
SLUG = "fault-drill"
FRIENDLY = "Please try again shortly"
MAX_REQUESTS = 200_000  # per run, whatever the clock says


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a free port (run as the postgres user)."""

    def __init__(self, work: Path):
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            sys.exit("PostgreSQL server binaries are needed: apt-get install postgresql")
        self.bin = Path(found[-1]).parent
        self.dir = work / "pg"
        self.port = signups.free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *argv: str, check: bool = True) -> None:
        subprocess.run(
            self.as_user + [str(self.bin / argv[0]), *argv[1:]],
            check=check,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )

    def init(self) -> str:
        self.dir.mkdir()
        if self.as_user:
            subprocess.run(["chown", "postgres", str(self.dir)], check=True)
        self._run("initdb", "-D", str(self.dir), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()
        return f"postgres://postgres@127.0.0.1:{self.port}"

    def start(self) -> None:
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir}"
        opts += " -c fsync=off -c max_connections=100"
        self._run("pg_ctl", "-D", str(self.dir), "-o", opts, "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.dir), "-m", mode, "-w", "-t", "30", "stop", check=False)


class PrivateRedis:
    def __init__(self, work: Path):
        self.dir = work / "redis"
        self.dir.mkdir()
        self.port = signups.free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            # Redis holds the RQ queue: with the append-only file the backlog queued
            # before a stop is still there after it (README: operator notes).
            + ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        sys.exit("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            # Stopped as an operator (or a failover) stops it: every client is cut off.
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)


class Load:
    """``clients`` threads signing until ``stop`` is set (or MAX_REQUESTS)."""

    def __init__(self, port: int, cookie: str, token: str, clients: int):
        self.port, self.cookie, self.token, self.clients = port, cookie, token, clients
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.sent = 0
        self.acked: list[tuple[float, str]] = []
        self.friendly_503 = 0
        self.other_5xx: dict[int, int] = {}
        self.other = 0
        self.socket_errors = 0

    def run(self, n: int) -> None:
        seq = 0
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        while not self.stop.is_set():
            with self.lock:
                if self.sent >= MAX_REQUESTS:
                    return
                self.sent += 1
            seq += 1
            email = f"drill-{n}-{seq}@example.net"
            body = urllib.parse.urlencode(
                {
                    "csrfmiddlewaretoken": self.token,
                    "first_name": "Drill",
                    "last_name": "Signer",
                    "email": email,
                    "email_consent": "on",
                }
            )
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"csrftoken={self.cookie}",
            }
            try:
                conn.request("POST", f"/act/{SLUG}/", body, headers)
                response = conn.getresponse()
                text = response.read().decode(errors="replace")
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.socket_errors += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
                time.sleep(0.05)
                continue
            with self.lock:
                if response.status == 302:
                    self.acked.append((time.monotonic(), email))
                elif response.status == 503 and FRIENDLY in text:
                    self.friendly_503 += 1
                elif response.status >= 500:
                    self.other_5xx[response.status] = self.other_5xx.get(response.status, 0) + 1
                else:
                    self.other += 1
            if response.status >= 500:
                time.sleep(0.05)  # a person waits a moment before pressing again
        conn.close()

    def start(self) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self.run, args=(n,), daemon=True) for n in range(self.clients)
        ]
        for thread in threads:
            thread.start()
        return threads


def wait_http(url: str, timeout: float) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"{url} did not answer within {timeout:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--redis", action="store_true", help="stop Redis instead of PostgreSQL")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--before", type=float, default=5)
    parser.add_argument("--down", type=float, default=None, help="seconds the service is away")
    parser.add_argument("--after", type=float, default=10)
    args = parser.parse_args()
    down = args.down if args.down is not None else (12.0 if args.redis else 5.0)
    if not 0 < down <= 25:
        sys.exit("--down must be between 0 and 25 seconds")
    if not Path("/usr/bin/redis-server").exists() and not _which("redis-server"):
        sys.exit("redis-server is needed: apt-get install redis-server")

    work = Path(tempfile.mkdtemp(prefix="clarion-fault-drill-"))
    os.chmod(work, 0o755)
    pg = PrivatePostgres(work)
    redis = PrivateRedis(work)
    serve = None
    try:
        pg_url = pg.init()
        redis.start()
        (work / "bench_signups_settings.py").write_text(signups.SETTINGS)
        (work / "bench_signups_urls.py").write_text(signups.URLS)
        signups.DB_NAME = "clarion_fault_drill"
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": signups.recreate_database(pg_url),
                "DJANGO_SETTINGS_MODULE": "bench_signups_settings",
                "PYTHONPATH": f"{work}:{ROOT}",
                "CLARION_SECRET_KEY": "bench-only-" + "x" * 40,
                "CLARION_SECURE": "0",
                "CLARION_STATIC_MANIFEST": "0",
                "CLARION_VAR_DIR": str(work / "var"),
                "CLARION_STATIC_ROOT": str(work / "static"),
                "CLARION_TASK_BACKEND": "rq" if args.redis else "database",
                "REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
                "PYTHONUNBUFFERED": "1",
            }
        )
        for name in ("CLARION_DEBUG", "CLARION_DEMO"):
            env.pop(name, None)
        python = str(BIN / "python")
        subprocess.run(
            [python, "-m", "django", "migrate", "--noinput", "-v", "0"], env=env, check=True
        )
        setup = textwrap.dedent(f"""
            import django; django.setup()
            from clarion.actions.models import ActionPage
            from clarion.actions.services import page_save
            page_save(page=ActionPage(kind="petition", slug="{SLUG}", title="Fault drill",
                                      status="live", goal=1000000, ask_postcode=False))
        """)
        subprocess.run([python, "-c", setup], env=env, check=True)

        port = signups.free_port()
        log = open(work / "serve.log", "w")  # noqa: SIM115 - closed with the process
        serve = subprocess.Popen(
            [python, "-m", "clarion.cli", "serve", "--port", str(port)]
            + ["--workers", str(args.workers)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/act/{SLUG}/", 60)
        import urllib.request

        page = urllib.request.urlopen(f"{base}/act/{SLUG}/", timeout=5)
        cookie = re.search(r"csrftoken=([^;]+)", page.headers.get("Set-Cookie", "")).group(1)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.read().decode())
        load = Load(port, cookie, token.group(1), args.clients)
        threads = load.start()
        time.sleep(args.before)

        went = time.monotonic()
        if args.redis:
            redis.stop()
        else:
            pg.stop("immediate")
        try:
            time.sleep(down)
        finally:
            # Whatever happens, the service comes back well within 30 s.
            if args.redis:
                redis.start()
            else:
                pg.start()
        back = time.monotonic()
        time.sleep(args.after)
        load.stop.set()
        for thread in threads:
            thread.join(timeout=20)

        acked = [email for _at, email in load.acked]
        after = [at for at, _email in load.acked if at >= back]
        recovered_s = (min(after) - back) if after else float("inf")
        dsn = env["DATABASE_URL"]
        committed = signups.drained_count(
            dsn,
            "SELECT count(*) FROM actions_submission s JOIN actions_actionpage p"
            " ON p.id = s.page_id WHERE p.slug = %s",
            (SLUG,),
        )
        import psycopg

        with psycopg.connect(dsn, autocommit=True) as conn:
            stored = {
                row[0]
                for row in conn.execute(
                    "SELECT pe.email FROM actions_submission s"
                    " JOIN actions_actionpage p ON p.id = s.page_id"
                    " JOIN people_person pe ON pe.id = s.person_id WHERE p.slug = %s",
                    (SLUG,),
                )
            }
            lost = len(set(acked) - stored)
            # The worker sends each thank-you email; wait (bounded) for the queue.
            unsent_sql = (
                "SELECT count(*) FROM actions_submission s JOIN actions_actionpage p"
                " ON p.id = s.page_id WHERE p.slug = %s AND s.email_sent_at IS NULL"
            )
            # Bounded by progress, not by a fixed time: a fast run queues more mail than
            # one worker sends in a minute. Stop when the queue empties, when nothing
            # was sent for 30 s (a lost task), or after 10 minutes in all.
            give_up = time.monotonic() + 600
            last, stalled_since = None, time.monotonic()
            while True:
                unsent = conn.execute(unsent_sql, (SLUG,)).fetchone()[0]
                if unsent != last:
                    last, stalled_since = unsent, time.monotonic()
                now = time.monotonic()
                if unsent == 0 or now - stalled_since > 30 or now > give_up:
                    break
                time.sleep(1)
        restarts = (work / "serve.log").read_text().count("exited with status")
        gone = time.monotonic() - went
    finally:
        if serve is not None and serve.poll() is None:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(serve.pid, signal.SIGKILL)
        redis.stop()
        pg.stop("fast")

    what = "Redis" if args.redis else "PostgreSQL"
    print(
        f"{what} away {down:g} s under {args.clients} clients through clarion serve "
        f"({args.workers} gunicorn workers, task backend {'rq' if args.redis else 'database'}); "
        f"{load.sent} sent, {load.socket_errors} socket errors, other 5xx {load.other_5xx}, "
        f"{load.other} other answers, {restarts} child restarts, drill {gone:.0f} s; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"acknowledged={len(acked)} committed={committed} lost={lost} "
        f"answered_5xx={sum(load.other_5xx.values())} answered_503={load.friendly_503} "
        f"recovered_s={recovered_s:.1f} emails_unsent={unsent}"
    )


def _which(name: str) -> bool:
    import shutil

    return shutil.which(name) is not None


if __name__ == "__main__":
    main()
