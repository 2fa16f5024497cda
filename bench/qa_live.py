"""Benchmark: many audience clients polling a live Q&A feed under gunicorn.

    .venv/bin/python bench/qa_live.py [--seconds 15] [--connections 64] [--workers 2]

Sets up (on PostgreSQL from DATABASE_URL, default a `clarion_qa_bench` database, and
Redis from REDIS_URL when it answers) a live session with 500 approved questions;
starts gunicorn (gthread workers, keep-alive); a separate process casts votes all the
time (each vote bumps the feed version, so the feed is rebuilt as it would be in a
real session); `wrk` (Debian's package) polls the live feed the way the audience page
does: each connection sends If-None-Match with the last ETag it saw. In the same run,
the same load hits a minimal Django view that returns cached bytes (with the same
ETag logic) as the baseline. Last line:

    polls_per_s=... p99_ms=... baseline_per_s=... ratio=... votes_per_s=... baseline_p99_ms=...

``baseline_p99_ms`` is the baseline view's p99 under the same load: on a busy machine
it shows how much of ``p99_ms`` is the machine (queueing behind other work) rather
than the feed.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SLUG = "bench-live"

URLS_MODULE = """
from django.core.cache import cache
from django.http import HttpResponse
from django.urls import include, path


def baseline(request):
    etag, body = cache.get("bench:qa:baseline")
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    return response


urlpatterns = [path("bench/baseline", baseline), path("", include("clarion.urls"))]
"""

SETTINGS_MODULE = """
from clarion.settings import *  # noqa: F403
ROOT_URLCONF = "qa_live_bench_urls"
"""

WRK_LUA = """
local etag = nil
request = function()
  if etag then
    return wrk.format("GET", nil, {["If-None-Match"] = etag})
  end
  return wrk.format("GET")
end
response = function(status, headers, body)
  if headers["ETag"] then etag = headers["ETag"] end
end
"""


def _env(args) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clarion_qa_bench")
    env.setdefault("CLARION_SECRET_KEY", "bench-only-secret-key-not-for-production-use-123456")
    env["CLARION_SECURE"] = "0"
    env["CLARION_DEBUG"] = "0"
    env["CLARION_LOG_LEVEL"] = "WARNING"
    env["CLARION_ALLOWED_HOSTS"] = "127.0.0.1,localhost"
    if "REDIS_URL" not in env:
        try:
            import redis

            redis.Redis.from_url("redis://127.0.0.1:6379/5").ping()
            env["REDIS_URL"] = "redis://127.0.0.1:6379/5"
        except Exception:
            pass
    env["PYTHONPATH"] = os.pathsep.join([args.tmp, str(ROOT), env.get("PYTHONPATH", "")])
    env["DJANGO_SETTINGS_MODULE"] = "qa_live_bench_settings"
    return env


def _createdb(url: str) -> None:
    if not url.startswith("postgres"):
        return
    name = url.rsplit("/", 1)[1]
    base = url.rsplit("/", 1)[0] + "/postgres"
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')  # name comes from our own setting


def setup_data() -> tuple[int, list[int]]:
    """A live session with 500 approved questions; returns (session id, question ids)."""
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    from clarion.people.models import Person
    from clarion.qa.models import Question, Session, Vote

    Session.objects.filter(slug=SLUG).delete()
    session = Session.objects.create(
        slug=SLUG, title="Bench live", host="Leader", status=Session.Status.OPEN
    )
    Person.objects.filter(email__endswith="@qa-bench.test").delete()
    people = Person.objects.bulk_create(
        [Person(email=f"p{i}@qa-bench.test", first_name=f"Asker{i}") for i in range(2500)]
    )
    questions = Question.objects.bulk_create(
        [
            Question(
                session=session,
                person=people[i],
                display_name=f"Asker{i} Example",
                text=f"Question {i}: what will you do about issue number {i} in our town?",
                status=Question.Status.APPROVED,
            )
            for i in range(500)
        ]
    )
    Vote.objects.filter(question__session=session).delete()
    cache.clear()
    return session.pk, [q.pk for q in questions] + [p.pk for p in people]


def voter(
    stop_at: float, question_ids: list[int], person_ids: list[int], counter_path: str
) -> None:
    """Cast votes (each bumps the live version) until ``stop_at``; write the count."""
    import django

    django.setup()
    from clarion.qa import services
    from clarion.qa.models import Question

    qs = {q.pk: q for q in Question.objects.select_related("session").filter(pk__in=question_ids)}
    n = 0
    rng = random.Random(7)
    while time.time() < stop_at:
        q = qs[rng.choice(question_ids)]
        person = rng.choice(person_ids)
        try:
            if services.vote_add(question=q, person_id=person, ip=None):
                n += 1
        except services.Throttled:
            pass
        time.sleep(0.02)
    Path(counter_path).write_text(str(n))


def run_wrk(url: str, seconds: int, connections: int, lua: str) -> tuple[float, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "-s",
            lua,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    value, unit = float(m.group(1)), m.group(2)
    p99 = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        print(f"warning: {errors.group(1)} error responses from {url}", file=sys.stderr)
    return rps, p99


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    args.tmp = tempfile.mkdtemp(prefix="qa-bench-")
    Path(args.tmp, "qa_live_bench_urls.py").write_text(URLS_MODULE)
    Path(args.tmp, "qa_live_bench_settings.py").write_text(SETTINGS_MODULE)
    lua = str(Path(args.tmp, "poll.lua"))
    Path(lua).write_text(WRK_LUA)
    env = _env(args)
    os.environ.update(env)
    sys.path.insert(0, args.tmp)
    _createdb(env["DATABASE_URL"])
    session_id, ids = setup_data()
    question_ids, person_ids = ids[:500], ids[500:]
    print(
        f"database={env['DATABASE_URL'].split('@')[-1]} cache={'redis' if env.get('REDIS_URL') else 'database'}",
        file=sys.stderr,
    )

    gunicorn = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "clarion.wsgi:application",
            "-b",
            f"127.0.0.1:{args.port}",
            "-w",
            str(args.workers),
            "-k",
            "gthread",
            "--threads",
            str(args.threads),
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/qa/{SLUG}/live.json", timeout=2).read()
                break
            except Exception:
                time.sleep(0.2)
        body = urllib.request.urlopen(f"{base}/qa/{SLUG}/live.json").read()
        from django.core.cache import cache

        cache.set("bench:qa:baseline", ('"baseline-1"', body), timeout=None)
        print(f"feed_bytes={len(body)}", file=sys.stderr)

        # Warm up both, then measure the live feed while votes arrive, then the baseline.
        run_wrk(f"{base}/qa/{SLUG}/live.json", 2, args.connections, lua)
        run_wrk(f"{base}/bench/baseline", 2, args.connections, lua)
        counter = str(Path(args.tmp, "votes"))
        stop_at = time.time() + args.seconds + 1
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        votes = ctx.Process(target=voter, args=(stop_at, question_ids, person_ids, counter))
        votes.start()
        polls, p99 = run_wrk(f"{base}/qa/{SLUG}/live.json", args.seconds, args.connections, lua)
        votes.join()
        vote_count = int(Path(counter).read_text() or 0)
        baseline, base_p99 = run_wrk(f"{base}/bench/baseline", args.seconds, args.connections, lua)
    finally:
        os.killpg(gunicorn.pid, signal.SIGTERM)
        gunicorn.wait(timeout=20)
        shutil.rmtree(args.tmp, ignore_errors=True)
    print(f"baseline_p99_ms={base_p99:.1f} session={session_id}", file=sys.stderr)
    print(
        f"polls_per_s={polls:.0f} p99_ms={p99:.1f} baseline_per_s={baseline:.0f} "
        f"ratio={polls / baseline:.2f} votes_per_s={vote_count / args.seconds:.1f} "
        f"baseline_p99_ms={base_p99:.1f}"
    )


if __name__ == "__main__":
    main()
