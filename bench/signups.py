"""Benchmark: petition signatures per second under gunicorn on PostgreSQL.

    .venv/bin/python bench/signups.py [--seconds 15] [--connections 64] [--workers 4]
                                      [--worker-class sync] [--threads 1]
                                      [--pg postgres://postgres@127.0.0.1:5432]
                                      [--scoring on|off] [--worker beside|after] [--journeys N]

``--journeys N`` (issue: ten published journeys listening must not slow a signature):
after the measured run, N journeys that every petition signature enters are published
and a second page is signed the same way; the last line adds the rate with them,
``entered`` (enrolments made by the worker) and ``journeys_ratio`` (with / without).
A process notices a journey published elsewhere within 5 s (journeys.triggers), so
the first few seconds' signatures on the second page may enter none.

Needs PostgreSQL, wrk and Redis on 127.0.0.1:6379. It runs as production does at
scale: ``REDIS_URL`` is set, so the cache and the per-IP and per-email rate limits
live in Redis (with the default database cache every rate-limit hit costs several
database queries, which is not how a busy site runs). A signature is one intake row
committed before the answer; one ``clarion worker`` (database task backend) runs
beside the server throughout, processing intake in batches (person, timeline,
thank-you email queued), so every acknowledged signature must end processed with an
email task row too.

Creates a fresh database ``clarion_bench_signups``, migrates it and makes two live
petitions: one to warm up on and the one measured, so no warm-up row is ever counted.
Starts gunicorn (DEBUG off, persistent database connections: ``CONN_MAX_AGE``) and
drives it with wrk from another process. Every request is a real petition POST with a
valid CSRF cookie and token (Django's token is valid for every request that sends the
same cookie) and a unique email (run, wrk thread and a per-thread counter), so each
one runs the whole public path: rate limits, validation, dedupe, the intake row; the
worker then runs person_upsert, the timeline and the queued thank-you email.

Accounting. Each wrk thread stops sending at a shared deadline (``delay()`` holds
its connections idle afterwards) and wrk keeps running a grace period so requests
already sent are answered and counted: acknowledged = 302 answers wrk saw, summed
over threads in ``done``; committed = rows on the measured page once the server has
drained (the count is polled until it stops changing, with a timeout). A signature
still unanswered after the grace period commits without being acknowledged and shows
as committed > acknowledged; acknowledged > committed would be a lost signature.

``--worker after`` starts the worker only once both measured runs are over (the web
side alone, then the drain); the default, ``beside``, runs it throughout.

``--scoring off`` sets ``CLARION_ENGAGEMENT_LIVE = False`` in the server's settings, so
no engagement score is folded after each signature (the default, ``on``, folds it as
production does); run both to see what keeping the score current costs.

Then, in the same run with the same server, wrk drives a minimal Django view that
inserts one row (the physical baseline) the same way. The last line is ``key=value``
pairs: signups_per_s p99_ms committed acknowledged processed baseline_per_s ratio;
processed is how many of the committed intake rows the worker had processed (person
and timeline entry written) once it drained, which must equal committed.
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
WARM_SLUG = "bench-warm-up"
JOURNEYS_SLUG = "bench-journeys"
GRACE_SECONDS = 10

SETTINGS = """
from clarion.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench_signups_urls"
DEBUG = False
# One connection per worker thread, kept across requests (as in production).
DATABASES["default"]["CONN_MAX_AGE"] = 600
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


# The bare insert, then the project's own URLs (public pages link to other apps, such
# as the members' sign-in, so a partial URL conf breaks rendering).
urlpatterns = [path("bench/insert/", bare_insert), path("", include("clarion.urls"))]
"""

# Placeholders are filled with str.replace (Lua uses % itself).
LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_usec; } bench_timeval;
int gettimeofday(bench_timeval *tv, void *tz);
]]
local tv = ffi.new("bench_timeval")
local function now()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) + tonumber(tv.tv_usec) / 1e6
end

local path = "@PATH@"
local cookie = "@COOKIE@"
local token = "@TOKEN@"
local run = "@RUN@"
local ok = @OK@
local deadline = @DEADLINE@
local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  sent = 0
  acks = 0
  others = 0
end

function delay()
  -- After the deadline, send nothing more; answers to requests in flight still count.
  if now() >= deadline then return 600000 end
  return 0
end

function request()
  counter = counter + 1
  sent = sent + 1
  local body = "csrfmiddlewaretoken=" .. token .. "&first_name=Bench&last_name=Signer&email=" ..
    run .. "-" .. id .. "-" .. counter .. "%40example.net&email_consent=on"
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = "csrftoken=" .. cookie,
  }, body)
end

function response(status, headers, body)
  if status == ok then acks = acks + 1 else others = others + 1 end
end

function done(summary, latency, requests)
  local a, o, s = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("acks")
    o = o + t:get("others")
    s = s + t:get("sent")
  end
  io.write(string.format("ACKS %d OTHERS %d SENT %d P99US %d ERRORS %d\n", a, o, s,
    latency:percentile(99), summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout))
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


def run_wrk(url: str, script: Path, seconds: float, connections: int, values: dict) -> dict:
    """Drive ``url`` for ``seconds``, then wait GRACE_SECONDS for answers in flight.

    The rate is acknowledged answers over the sending time (start to deadline)."""
    start = time.time()
    deadline = start + seconds
    text = LUA
    for key, value in {**values, "DEADLINE": f"{deadline:.3f}"}.items():
        text = text.replace(f"@{key}@", str(value))
    script.write_text(text)
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(connections),
            "-d",
            f"{int(seconds) + GRACE_SECONDS}s",
            "--timeout",
            f"{GRACE_SECONDS}s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.search(r"ACKS (\d+) OTHERS (\d+) SENT (\d+) P99US (\d+) ERRORS (\d+)", out)
    if not found:
        sys.exit(f"wrk gave no summary:\n{out}")
    acks, others, sent, p99, errors = map(int, found.groups())
    sent -= 1  # wrk calls request() once more, unsent, to check the script
    return {
        "acks": acks,
        "others": others,
        "sent": sent,
        "errors": errors,
        "p99_ms": p99 / 1000,
        "per_s": acks / (deadline - start),
        "raw": out,
    }


def drained_count(
    dsn: str, sql: str, params: tuple = (), *, timeout: float = 60.0, until: int | None = None
) -> int:
    """The row count once it has stopped changing for a second (or at ``timeout``);
    with ``until``, once it reaches that count (or stops changing for 30 seconds)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        last, stable_since, give_up = -1, time.monotonic(), time.monotonic() + timeout
        while True:
            count = conn.execute(sql, params).fetchone()[0]
            now = time.monotonic()
            if until is not None and count >= until:
                return count
            if count != last:
                last, stable_since = count, now
            elif now - stable_since >= (1.0 if until is None else 30.0) or now >= give_up:
                return count
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--warm-up", type=float, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (gthread only)")
    parser.add_argument(
        "--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    )
    parser.add_argument(
        "--scoring",
        choices=["on", "off"],
        default="on",
        help="fold the engagement score after each signature (as production does) or not",
    )
    parser.add_argument(
        "--worker",
        choices=["beside", "after"],
        default="beside",
        help="run the intake worker beside the server throughout (as production does), or "
        "start it only after both measured runs (the web side alone, then the drain)",
    )
    parser.add_argument(
        "--journeys",
        type=int,
        default=0,
        help="after the measured run, publish this many journeys listening to petition "
        "signatures and measure again on a second page (the rate with them is printed "
        "beside the rate without)",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    if not redis_up():
        sys.exit(
            "Redis is needed on 127.0.0.1:6379 (cache and rate limits run there in production)."
        )

    work = Path(tempfile.mkdtemp(prefix="clarion-bench-signups-"))
    (work / "bench_signups_settings.py").write_text(
        SETTINGS + f"CLARION_ENGAGEMENT_LIVE = {args.scoring == 'on'}\n"
    )
    (work / "bench_signups_urls.py").write_text(URLS)
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": recreate_database(args.pg),
            "DJANGO_SETTINGS_MODULE": "bench_signups_settings",
            "PYTHONPATH": f"{work}:{ROOT}",
            "CLARION_SECRET_KEY": "bench-only-" + "x" * 40,
            "CLARION_SECURE": "0",
            "CLARION_STATIC_MANIFEST": "0",
            "CLARION_VAR_DIR": str(work / "var"),
            "CLARION_TASK_BACKEND": "database",
            "REDIS_URL": "redis://127.0.0.1:6379/14",
        }
    )
    for name in ("CLARION_DEBUG", "CLARION_DEMO"):
        env.pop(name, None)
    subprocess.run(["redis-cli", "-n", "14", "FLUSHDB"], capture_output=True, check=True)
    manage = [str(BIN / "python"), "-m", "django"]
    subprocess.run(manage + ["migrate", "--noinput", "-v", "0"], env=env, check=True)
    setup = textwrap.dedent(f"""
        import django; django.setup()
        from django.db import connection
        from clarion.actions.models import ActionPage
        from clarion.actions.services import page_save
        for slug in ("{WARM_SLUG}", "{SLUG}", "{JOURNEYS_SLUG}"):
            page_save(page=ActionPage(kind="petition", slug=slug, title="Bench petition", status="live",
                                      goal=1000000, ask_postcode=False))
        with connection.cursor() as cur:
            cur.execute("CREATE TABLE bench_baseline (id bigserial PRIMARY KEY, email varchar(254) NOT NULL,"
                        " created_at timestamptz NOT NULL)")
    """)
    subprocess.run([str(BIN / "python"), "-c", setup], env=env, check=True)

    port = free_port()
    server_cmd = [
        str(BIN / "gunicorn"),
        "clarion.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--backlog",
        "2048",
        "--log-level",
        "warning",
    ]
    if args.worker_class == "gthread":
        server_cmd += ["--threads", str(args.threads)]
    server = subprocess.Popen(server_cmd, env=env, start_new_session=True)

    def start_worker() -> subprocess.Popen:
        return subprocess.Popen(
            [str(BIN / "clarion"), "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )

    worker = start_worker() if args.worker == "beside" else None

    def drain(committed: int) -> tuple[int, int, int]:
        """Wait for the worker to process the intake: every committed row must end
        processed (person and timeline written, thank-you email queued)."""
        processed = drained_count(
            dsn,
            "SELECT count(*) FROM actions_submission s JOIN actions_actionpage p ON p.id = s.page_id"
            " WHERE p.slug = %s AND s.processed_at IS NOT NULL",
            (SLUG,),
            timeout=600.0,
            until=committed,
        )
        import psycopg

        with psycopg.connect(dsn, autocommit=True) as conn:
            queued = conn.execute(
                "SELECT count(*) FROM django_tasks_database_dbtaskresult t JOIN actions_submission s"
                " ON (t.args_kwargs -> 'kwargs' ->> 'submission_id')::bigint = s.id"
                " JOIN actions_actionpage p ON p.id = s.page_id WHERE p.slug = %s",
                (SLUG,),
            ).fetchone()[0]
            scored = conn.execute("SELECT count(*) FROM engagement_engagementscore").fetchone()[0]

        return processed, queued, scored

    def journeys_run(n: int) -> dict:
        """Publish ``n`` journeys that every petition signature enters (a tag step, then
        the end), then sign a second page as the measured run did."""
        publish = textwrap.dedent(f"""
            import django; django.setup()
            from clarion.core.models import User
            from clarion.journeys import services
            admin = User.objects.create_user(email="bench@example.org", password="x-bench-pass",
                                             role="admin")
            for i in range({n}):
                j = services.journey_create(
                    actor=admin, name=f"Bench journey {{i}}", trigger_type="action",
                    trigger_config={{"page_kind": "petition"}},
                    steps=[{{"key": "tag", "type": "tag_add", "config": {{"tag": f"bench-{{i}}"}},
                            "next": "end"}}, {{"key": "end", "type": "end"}}])
                services.journey_set_status(journey=j, actor=admin, move="publish")
        """)
        subprocess.run([str(BIN / "python"), "-c", publish], env=env, check=True)
        run = run_wrk(
            f"{base}/act/{JOURNEYS_SLUG}/",
            lua,
            args.seconds,
            args.connections,
            {**sign, "PATH": f"/act/{JOURNEYS_SLUG}/", "RUN": "journeys"},
        )
        run["committed"] = drained_count(
            dsn,
            "SELECT count(*) FROM actions_submission s JOIN actions_actionpage p"
            " ON p.id = s.page_id WHERE p.slug = %s",
            (JOURNEYS_SLUG,),
        )
        run["entered"] = 0
        if worker is not None:
            drained_count(
                dsn,
                "SELECT count(*) FROM actions_submission s JOIN actions_actionpage p"
                " ON p.id = s.page_id WHERE p.slug = %s AND s.processed_at IS NOT NULL",
                (JOURNEYS_SLUG,),
                timeout=600.0,
                until=run["committed"],
            )
            import psycopg

            with psycopg.connect(dsn, autocommit=True) as conn:
                run["entered"] = conn.execute("SELECT count(*) FROM journeys_enrolment").fetchone()[
                    0
                ]
        return run

    base = f"http://127.0.0.1:{port}"
    dsn = env["DATABASE_URL"]
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(f"{base}/act/{SLUG}/", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        page = urllib.request.urlopen(f"{base}/act/{SLUG}/", timeout=5)
        cookie = re.search(r"csrftoken=([^;]+)", page.headers.get("Set-Cookie", "")).group(1)
        token = re.search(
            r'name="csrfmiddlewaretoken" value="([^"]+)"', page.read().decode()
        ).group(1)
        lua = work / "load.lua"
        sign = {"COOKIE": cookie, "TOKEN": token, "OK": 302}
        bare = {"COOKIE": cookie, "TOKEN": token, "OK": 201, "PATH": "/bench/insert/"}

        run_wrk(
            f"{base}/act/{WARM_SLUG}/",
            lua,
            args.warm_up,
            args.connections,
            {**sign, "PATH": f"/act/{WARM_SLUG}/", "RUN": "warm"},
        )
        signs = run_wrk(
            f"{base}/act/{SLUG}/",
            lua,
            args.seconds,
            args.connections,
            {**sign, "PATH": f"/act/{SLUG}/", "RUN": "run"},
        )
        committed = drained_count(
            dsn,
            "SELECT count(*) FROM actions_submission s JOIN actions_actionpage p ON p.id = s.page_id"
            " WHERE p.slug = %s",
            (SLUG,),
        )
        if worker is not None:
            processed, queued, scored = drain(committed)
        with_journeys = None
        if args.journeys:
            with_journeys = journeys_run(args.journeys)
        run_wrk(
            f"{base}/bench/insert/", lua, args.warm_up, args.connections, {**bare, "RUN": "warm"}
        )
        drained_count(dsn, "SELECT count(*) FROM bench_baseline")
        baseline = run_wrk(
            f"{base}/bench/insert/", lua, args.seconds, args.connections, {**bare, "RUN": "run"}
        )
        if worker is None:  # --worker after: the intake is processed only now
            worker = start_worker()
            processed, queued, scored = drain(committed)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)

    ratio = signs["per_s"] / baseline["per_s"] if baseline["per_s"] else 0.0
    print(
        f"signatures: {signs['sent']} sent, {signs['acks']} acknowledged (302), {signs['others']} other "
        f"answers, {signs['errors']} socket errors/timeouts, {committed} committed, {queued} emails queued; "
        f"p99 {signs['p99_ms']:.1f} ms"
    )
    print(
        f"baseline: {baseline['acks']} bare inserts acknowledged of {baseline['sent']} sent, "
        f"p99 {baseline['p99_ms']:.1f} ms"
    )
    print(
        f"server: gunicorn {args.workers} {args.worker_class} workers"
        + (f" x {args.threads} threads" if args.worker_class == "gthread" else "")
        + (
            ", one clarion worker (database tasks) beside them"
            if args.worker == "beside"
            else ", the clarion worker started after both runs"
        )
        + f", DEBUG off, CONN_MAX_AGE=600, cache and rate limits on Redis; wrk 2 threads, "
        f"{args.connections} connections, {args.seconds:g}s each after {args.warm_up:g}s warm-up; "
        f"engagement scoring {args.scoring}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"signups_per_s={signs['per_s']:.0f} p99_ms={signs['p99_ms']:.1f} committed={committed} "
        f"acknowledged={signs['acks']} processed={processed} baseline_per_s={baseline['per_s']:.0f} ratio={ratio:.2f} "
        f"scoring={args.scoring} scored_people={scored} worker={args.worker}"
        + (
            f" journeys={args.journeys} signups_per_s_journeys={with_journeys['per_s']:.0f}"
            f" p99_ms_journeys={with_journeys['p99_ms']:.1f}"
            f" committed_journeys={with_journeys['committed']}"
            f" acknowledged_journeys={with_journeys['acks']}"
            f" entered={with_journeys['entered']}"
            f" journeys_ratio={with_journeys['per_s'] / signs['per_s']:.2f}"
            if with_journeys
            else ""
        )
    )


if __name__ == "__main__":
    main()
