"""Scale-out correctness: two web servers on one port and two RQ workers, one
PostgreSQL and one Redis, taking signatures while a mailing goes out.

    .venv/bin/python bench/scaleout.py [--seconds 20] [--connections 32] [--recipients 20000]
                                       [--pg postgres://postgres@127.0.0.1:5432]

This is a correctness run, not a speed run: on a 2-core machine two servers, two
workers, PostgreSQL, Redis, the SMTP sink and wrk all share the cores.

What runs:
- a fresh database ``clarion_bench_scaleout`` (migrated), a live petition, ``--recipients``
  subscribed people and a mailing to all of them;
- two gunicorn masters (two sync workers each) bound to the same port with
  ``SO_REUSEPORT`` (gunicorn's ``--reuse-port``), so the kernel spreads connections
  between two independent servers, as two machines behind a balancer would be; each
  writes its own access log, and the run prints how many requests each answered;
- two ``clarion worker`` processes on the RQ backend (``CLARION_TASK_BACKEND=rq``,
  Redis database 13) and one ``clarion clock``;
- an SMTP sink (aiosmtpd, its own process) that writes every recipient it accepts to a
  file, so copies are counted per address.

The mailing is sent (two senders, as in production) at the moment wrk starts posting
signatures with unique addresses (the Lua script of ``bench/signups.py``). Then the run
waits until the mailing is final, the signatures stop changing and every signer's
thank-you has arrived (or a timeout).

Last line: ``acknowledged`` (302 answers wrk saw), ``committed`` (signatures on the
page), ``sent`` (messages the sink accepted: mailing and thank-yous), ``duplicates``
(copies beyond what an address was owed: one per signature, one if its mailing row is
final as sent; a row left "uncertain" by a crash may have arrived once), ``lost``
(acknowledged signatures not committed, plus owed messages that never reached the
sink). Target: committed = acknowledged, duplicates 0, lost 0.
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "bench"))

from blast import _aiosmtpd_sink  # noqa: E402
from signups import drained_count, free_port, redis_up, run_wrk  # noqa: E402

DB_NAME = "clarion_bench_scaleout"
SLUG = "scaleout-petition"
REDIS_DB = "13"


def recreate_database(pg: str) -> str:
    import psycopg

    with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    return f"{pg}/{DB_NAME}"


def shell(env: dict, code: str) -> str:
    out = subprocess.run(
        [str(BIN / "clarion"), "shell", "--no-imports", "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if out.returncode:
        sys.exit(f"clarion shell failed:\n{out.stderr[-3000:]}")
    return out.stdout.strip()


def wait_until(check, *, timeout: float, every: float = 0.5) -> bool:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if check():
            return True
        time.sleep(every)
    return False


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--drain-timeout", type=float, default=600)
    parser.add_argument(
        "--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench/scaleout.py needs wrk: apt-get install wrk (or make bench-scaleout)")
    if not redis_up():
        sys.exit("bench/scaleout.py needs Redis on 127.0.0.1:6379: redis-server --daemonize yes")
    load_before = "/".join(Path("/proc/loadavg").read_text().split()[:3])

    work = Path(tempfile.mkdtemp(prefix="clarion-bench-scaleout-"))
    (work / "var" / "static").mkdir(parents=True)
    rcpts = work / "rcpts"
    rcpts.touch()
    sink_port = free_port()
    sink = multiprocessing.Process(target=_aiosmtpd_sink, args=(sink_port, str(rcpts)), daemon=True)
    sink.start()

    env = dict(os.environ)
    for name in ("CLARION_DEBUG", "CLARION_DEMO", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    env.update(
        {
            "DATABASE_URL": recreate_database(args.pg),
            "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
            "CLARION_TASK_BACKEND": "rq",
            "CLARION_SECRET_KEY": "bench-only-" + "x" * 40,
            "CLARION_SECURE": "0",
            "CLARION_STATIC_MANIFEST": "0",
            "CLARION_VAR_DIR": str(work / "var"),
            "CLARION_EMAIL_HOST": "127.0.0.1",
            "CLARION_EMAIL_PORT": str(sink_port),
            "CLARION_MAILINGS_SENDERS": "2",
            "CLARION_ACTION_IP_LIMIT": str(10**9),  # every request comes from one address
            "CLARION_LOG_LEVEL": "WARNING",
        }
    )
    subprocess.run(["redis-cli", "-n", REDIS_DB, "FLUSHDB"], capture_output=True, check=True)
    subprocess.run([str(BIN / "clarion"), "migrate", "--noinput", "-v", "0"], env=env, check=True)
    mailing_id = int(
        shell(
            env,
            f"""
            from clarion.actions.models import ActionPage
            from clarion.actions.services import page_save
            from clarion.mailings import bench_support as b
            page_save(page=ActionPage(kind="petition", slug="{SLUG}", title="Scale-out petition",
                                      status="live", goal=1000000, ask_postcode=False))
            b.seed({args.recipients})
            print(b.make(name="Scale-out"))
            """,
        )
    )

    port = free_port()
    procs: list[subprocess.Popen] = []
    logs = [work / "web1.log", work / "web2.log"]
    try:
        for log in logs:
            procs.append(
                subprocess.Popen(
                    [
                        str(BIN / "gunicorn"),
                        "clarion.wsgi:application",
                        "--bind",
                        f"127.0.0.1:{port}",
                        "--reuse-port",
                        "--workers",
                        "2",
                        "--backlog",
                        "2048",
                        "--access-logfile",
                        str(log),
                        "--log-level",
                        "warning",
                    ],
                    env=env,
                    start_new_session=True,
                )
            )
        for command in (["worker"], ["worker"], ["clock"]):
            procs.append(
                subprocess.Popen(
                    [str(BIN / "clarion"), *command],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        base = f"http://127.0.0.1:{port}"
        ready = wait_until(lambda: _answers(f"{base}/act/{SLUG}/"), timeout=60, every=0.3)
        if not ready:
            sys.exit("the web servers did not answer within 60 s")
        page = urllib.request.urlopen(f"{base}/act/{SLUG}/", timeout=5)
        cookie = re.search(r"csrftoken=([^;]+)", page.headers.get("Set-Cookie", "")).group(1)
        token = re.search(
            r'name="csrfmiddlewaretoken" value="([^"]+)"', page.read().decode()
        ).group(1)

        sender = subprocess.Popen(
            [
                str(BIN / "clarion"),
                "shell",
                "--no-imports",
                "-c",
                f"from clarion.mailings import bench_support as b; b.send({mailing_id})",
            ],
            env=env,
        )
        signs = run_wrk(
            f"{base}/act/{SLUG}/",
            work / "load.lua",
            args.seconds,
            args.connections,
            {"COOKIE": cookie, "TOKEN": token, "OK": 302, "PATH": f"/act/{SLUG}/", "RUN": "s"},
        )
        if sender.wait(timeout=600):
            sys.exit("starting the mailing failed")

        dsn = env["DATABASE_URL"]
        committed = drained_count(
            dsn,
            "SELECT count(*) FROM actions_submission s JOIN actions_actionpage p"
            " ON p.id = s.page_id WHERE p.slug = %s",
            (SLUG,),
        )
        final = wait_until(
            lambda: (
                json.loads(
                    shell(
                        env,
                        f"from clarion.mailings import bench_support as b; print(b.status({mailing_id}))",
                    )
                )["status"]
                == "sent"
            ),
            timeout=args.drain_timeout,
            every=2,
        )
        signers = _signer_addresses(dsn)
        thanked = wait_until(
            lambda: signers <= set(_copies(rcpts)), timeout=args.drain_timeout, every=1
        )
        time.sleep(2)  # a late duplicate would arrive now
        ledger = json.loads(
            shell(
                env,
                f"from clarion.mailings import bench_support as b; print(b.emails_by_status({mailing_id}))",
            )
        )
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        sink.terminate()

    copies = _copies(rcpts)
    sent = sum(copies.values())
    # What each address is owed: the mailing's message if its ledger row says sent (an
    # "uncertain" row may have arrived or not: it owes nothing and allows one copy), and
    # a thank-you if it signed. A signer who consented before the mailing froze is owed
    # both.
    owed: collections.Counter = collections.Counter(signers)
    allowed: collections.Counter = collections.Counter(signers)
    for address, status in ledger.items():
        address = address.lower()
        if status == "sent":
            owed[address] += 1
        if status in ("sent", "uncertain"):
            allowed[address] += 1
    duplicates = sum(max(0, n - allowed[a]) for a, n in copies.items())
    lost_mail = sum(max(0, owed[a] - copies[a]) for a in owed)
    lost_signatures = max(0, signs["acks"] - committed)
    statuses = collections.Counter(ledger.values())
    served = [_lines(log) for log in logs]
    load_after = "/".join(Path("/proc/loadavg").read_text().split()[:3])
    print(
        f"signatures: {signs['sent']} sent by wrk, {signs['acks']} acknowledged, "
        f"{signs['others']} other answers, {signs['errors']} socket errors/timeouts, "
        f"{committed} committed, {len(signers)} signers, p99 {signs['p99_ms']:.1f} ms"
    )
    print(
        f"mailing: {len(ledger)} recipients, final statuses {dict(statuses)}, "
        f"final={'yes' if final else 'NO (timed out)'}; thank-yous all arrived: "
        f"{'yes' if thanked else 'NO (timed out)'}"
    )
    print(
        f"web servers on one port: requests answered {served[0]} and {served[1]}; "
        f"2 RQ workers, 1 clock; loadavg_before={load_before} loadavg_after={load_after}"
    )
    print(
        f"acknowledged={signs['acks']} committed={committed} sent={sent} "
        f"duplicates={duplicates} lost={lost_signatures + lost_mail}"
    )


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2)
        return True
    except OSError:
        return False


def _copies(path: Path) -> collections.Counter:
    with open(path) as fh:
        return collections.Counter(line.strip().lower() for line in fh if line.strip())


def _lines(path: Path) -> int:
    try:
        with open(path) as fh:
            return sum(1 for _ in fh)
    except FileNotFoundError:
        return 0


def _signer_addresses(dsn: str) -> set[str]:
    """Addresses of the people who signed the page (each is owed a thank-you)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT lower(pe.email) FROM actions_submission s"
            " JOIN actions_actionpage p ON p.id = s.page_id"
            " JOIN people_person pe ON pe.id = s.person_id WHERE p.slug = %s",
            (SLUG,),
        ).fetchall()
    return {r[0] for r in rows}


if __name__ == "__main__":
    main()
