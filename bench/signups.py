"""Benchmark: petition signatures per second under gunicorn on PostgreSQL.

    .venv/bin/python bench/signups.py [--seconds 15] [--connections 64] [--workers 4]
                                      [--pg postgres://postgres@127.0.0.1:5432]

Creates a fresh database ``clarion_bench_signups``, migrates it and makes one live
petition. Starts gunicorn (the same command ``clarion serve`` uses, gthread workers,
persistent database connections, Redis for cache and rate limits when it answers on
127.0.0.1:6379) and drives it with wrk from another process: every request is a real
petition POST with a CSRF cookie and token and a unique email, so each one runs the
whole path (rate limits, validation, dedupe look-up, person_upsert, submission row,
timeline, the queued thank-you email task). Acknowledged = 302 answers counted by
wrk; committed = submission rows in the database afterwards.

Then, in the same run with the same server settings, wrk drives a minimal Django view
that inserts one row (the physical baseline). The last line is ``key=value`` pairs.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DB_NAME = "clarion_bench_signups"
SLUG = "bench-petition"

SETTINGS = """
from clarion.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench_signups_urls"
CLARION_ACTION_IP_LIMIT = 10**9   # every request comes from one address here
LOGGING["root"]["level"] = "WARNING"
LOGGING["loggers"]["django.request"] = {"level": "ERROR"}
"""

URLS = """
from django.db import connection
from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
import itertools, os

_seq = itertools.count()


@csrf_exempt
def bare_insert(request):
    n = next(_seq)
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO bench_baseline (email, created_at) VALUES (%s, now())",
            [f"b{os.getpid()}-{n}@example.net"],
        )
    return HttpResponse(status=201)


# Only the public action pages: the petition under test needs nothing else.
urlpatterns = [path("bench/insert/", bare_insert), path("act/", include("clarion.actions.urls"))]
"""

LUA = """
local counter = 0
local threads = {}
local path = "%(path)s"
local cookie = "%(cookie)s"
local token = "%(token)s"
local run = "%(run)s"

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  acks = 0
  others = 0
end

request = function()
  counter = counter + 1
  local body = "csrfmiddlewaretoken=" .. token .. "&first_name=Bench&last_name=Signer&email=" ..
    run .. id .. "-" .. counter .. "%%40example.net&email_consent=on"
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = "csrftoken=" .. cookie,
  }, body)
end

response = function(status, headers, body)
  if status == %(ok)d then acks = acks + 1 else others = others + 1 end
end

function done(summary, latency, requests)
  local a, o = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("acks")
    o = o + t:get("others")
  end
  io.write(string.format("ACKS %%d OTHERS %%d P99US %%d\\n", a, o, latency:percentile(99)))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def recreate_database(pg: str) -> str:
    import psycopg

    with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    return f"{pg}/{DB_NAME}"


def run_wrk(url: str, script: Path, seconds: int, connections: int, run: str) -> dict:
    # Each run signs with its own addresses, so no request of one run is a duplicate
    # of another's (a duplicate is answered 302 without a new row).
    template = script.with_suffix(".template")
    if not template.exists():
        template.write_text(script.read_text())
    script.write_text(template.read_text().replace("%RUN%", run))
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
         "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    acks, others, p99 = map(int, re.search(r"ACKS (\d+) OTHERS (\d+) P99US (\d+)", out).groups())
    return {"rps": rps, "acks": acks, "others": others, "p99_ms": p99 / 1000, "raw": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432"))
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: sudo apt-get install wrk")

    work = Path(tempfile.mkdtemp(prefix="clarion-bench-signups-"))
    (work / "bench_signups_settings.py").write_text(SETTINGS)
    (work / "bench_signups_urls.py").write_text(URLS)
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": recreate_database(args.pg),
        "DJANGO_SETTINGS_MODULE": "bench_signups_settings",
        "PYTHONPATH": f"{work}:{ROOT}",
        "CLARION_SECRET_KEY": "bench-only-" + "x" * 40,
        "CLARION_SECURE": "0",
        "CLARION_STATIC_MANIFEST": "0",
        "CLARION_VAR_DIR": str(work / "var"),
        "CLARION_TASK_BACKEND": "database",
    })
    env.pop("CLARION_DEBUG", None)
    if redis_up():
        env["REDIS_URL"] = "redis://127.0.0.1:6379/14"
        subprocess.run(["redis-cli", "-n", "14", "FLUSHDB"], capture_output=True)
    manage = [str(BIN / "python"), "-m", "django"]
    subprocess.run(manage + ["migrate", "--noinput", "-v", "0"], env=env, check=True)
    subprocess.run(manage + ["createcachetable"], env=env, check=True)
    setup = textwrap.dedent(f"""
        import django; django.setup()
        from django.db import connection
        from clarion.actions.models import ActionPage
        from clarion.actions.services import page_save
        page_save(page=ActionPage(kind="petition", slug="{SLUG}", title="Bench petition", status="live",
                                  goal=1000000, ask_postcode=False))
        with connection.cursor() as cur:
            cur.execute("CREATE TABLE bench_baseline (id bigserial PRIMARY KEY, email varchar(254) NOT NULL,"
                        " created_at timestamptz NOT NULL)")
    """)
    subprocess.run([str(BIN / "python"), "-c", setup], env=env, check=True)

    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "clarion.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.workers), "--worker-class", "gthread", "--threads", str(args.threads),
         "--backlog", "2048", "--log-level", "warning"],
        env=env, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/act/{SLUG}/", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        page = urllib.request.urlopen(f"{base}/act/{SLUG}/", timeout=5)
        cookie = re.search(r"csrftoken=([^;]+)", page.headers.get("Set-Cookie", "")).group(1)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.read().decode()).group(1)

        sign_lua = work / "sign.lua"
        sign_lua.write_text(LUA % {"path": f"/act/{SLUG}/", "cookie": cookie, "token": token, "ok": 302,
                                  "run": "%RUN%"})
        base_lua = work / "base.lua"
        base_lua.write_text(LUA % {"path": "/bench/insert/", "cookie": cookie, "token": token, "ok": 201,
                                  "run": "%RUN%"})

        run_wrk(f"{base}/act/{SLUG}/", sign_lua, 3, args.connections, "warm")  # warm-up
        time.sleep(2)  # let requests still queued from the warm-up finish
        import psycopg

        with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
            before = conn.execute("SELECT count(*) FROM actions_submission").fetchone()[0]
        signs = run_wrk(f"{base}/act/{SLUG}/", sign_lua, args.seconds, args.connections, "run")
        time.sleep(0.5)
        with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
            committed = conn.execute("SELECT count(*) FROM actions_submission").fetchone()[0] - before
            queued = conn.execute("SELECT count(*) FROM django_tasks_database_dbtaskresult").fetchone()[0]
        run_wrk(f"{base}/bench/insert/", base_lua, 3, args.connections, "warm")  # warm-up
        baseline = run_wrk(f"{base}/bench/insert/", base_lua, args.seconds, args.connections, "run")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    signups_per_s = signs["acks"] / args.seconds
    baseline_per_s = baseline["acks"] / args.seconds
    print(f"signatures: {signs['acks']} acknowledged, {signs['others']} other answers, "
          f"{committed} committed, {queued} emails queued; p99 {signs['p99_ms']:.1f} ms")
    print(f"baseline: {baseline['acks']} bare inserts, p99 {baseline['p99_ms']:.1f} ms; "
          f"gunicorn {args.workers}x{args.threads} gthread, wrk {args.connections} connections, "
          f"{args.seconds}s, cache={'redis' if 'REDIS_URL' in env else 'database'}")
    print(
        f"signups_per_s={signups_per_s:.0f} p99_ms={signs['p99_ms']:.1f} committed={committed} "
        f"acknowledged={signs['acks']} baseline_per_s={baseline_per_s:.0f} "
        f"ratio={signups_per_s / baseline_per_s if baseline_per_s else 0:.2f}"
    )


if __name__ == "__main__":
    main()
