"""Benchmark: N people through one journey on PostgreSQL.

    .venv/bin/python bench/journeys.py [--people 1000000] [--workers 2]
                                       [--pg postgres://postgres@127.0.0.1:5432]

Creates the database ``clarion_bench_journeys`` afresh, migrates it and seeds
``--people`` subscribed people. A published journey with a segment trigger (everyone)
takes them through four steps: add a tag, a decision (has that tag), an email (through
the mailing ledger) and the end. The clock's work is done in this run, timed phase by
phase:

- entry: the scheduled segment trigger (``triggers.poll_all``) enters everyone;
- transitions: ``--workers`` processes run the engine (``engine.advance_due``, claims
  with SKIP LOCKED) until nothing is due; every step run is a transition;
- email: ``--workers`` processes run the task worker (``worker --batch``), whose
  senders deliver the ledger to an SMTP sink in its own process (Postfix's smtp-sink
  if installed, else aiosmtpd, as ``blast.py``), until every ledger row is final.

Baseline, in the same run: a set-based SQL UPDATE of the same enrolment rows (moving
each on by one step), timed alone. The last line is ``key=value`` pairs:
``transitions_per_s``, ``email_per_s``, ``baseline_per_s`` (rows per second of the
UPDATE) and ``ratio`` (transitions over baseline).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DB_NAME = "clarion_bench_journeys"
TAG = "bench-journey"


def _engine_worker(batch: int) -> None:
    from django.db import connections

    from clarion.journeys import engine

    connections.close_all()  # a fresh connection in this process
    while engine.advance_due(batch=batch):
        pass
    connections.close_all()


def _task_worker() -> None:
    from django.core.management import call_command
    from django.db import connections

    connections.close_all()
    call_command("worker", "--batch")
    connections.close_all()


def _run(target, n: int, *args) -> None:
    from django.db import connections

    connections.close_all()  # never share a connection with a forked child
    procs = [multiprocessing.Process(target=target, args=args) for _ in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        if p.exitcode:
            raise SystemExit(f"a worker process failed (exit {p.exitcode})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()

    import psycopg

    with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DB_NAME}"')

    from blast import free_port, start_sink

    port = free_port()
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-journeys-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    sink, sink_kind = start_sink(port, str(tmp / "rcpts"))

    os.environ["DATABASE_URL"] = f"{args.pg}/{DB_NAME}"
    os.environ.setdefault("CLARION_SECRET_KEY", "bench-only-not-secret")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clarion.settings")
    os.environ.update(
        {
            "CLARION_EMAIL_HOST": "127.0.0.1",
            "CLARION_EMAIL_PORT": str(port),
            "CLARION_TASK_BACKEND": "database",
            "CLARION_LOG_LEVEL": "WARNING",
            "CLARION_SITE_URL": "https://clarion.example.org",
            "CLARION_VAR_DIR": str(tmp),
        }
    )
    try:
        import django

        django.setup()
        result = measure(args)
    finally:
        sink.terminate()
    print(f"sink={sink_kind} " + " ".join(f"{k}={v}" for k, v in result["detail"].items()))
    print(
        f"transitions_per_s={result['transitions_per_s']:.0f} "
        f"email_per_s={result['email_per_s']:.0f} "
        f"baseline_per_s={result['baseline_per_s']:.0f} "
        f"ratio={result['transitions_per_s'] / result['baseline_per_s']:.4f}"
    )


def measure(args) -> dict:
    from django.core.management import call_command
    from django.db import connection, transaction

    from clarion.core.models import User
    from clarion.journeys import services, triggers
    from clarion.journeys.models import Enrolment, Journey, Step, StepRun
    from clarion.mailings.bench_support import seed
    from clarion.mailings.models import FromAddress, Recipient
    from clarion.people.models import Tag

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    t0 = time.monotonic()
    seed(args.people)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE people_person")
    print(f"seeded {args.people:,} people in {time.monotonic() - t0:.0f}s", flush=True)

    admin = User.objects.create_user(
        email="bench@example.org", password="x-bench-password", role="admin"
    )
    FromAddress.objects.create(area=None, email="hq@clarion.example.org", name="Clarion HQ")
    tag = Tag.objects.create(name=TAG)
    tagged = {"op": "all", "conditions": [{"type": "tag", "tags": [tag.pk], "match": "any"}]}
    journey = services.journey_create(
        actor=admin,
        name="Bench journey",
        trigger_type="segment",
        trigger_config={"definition": {"op": "all", "conditions": []}},
        steps=[
            {"key": "tag", "type": "tag_add", "config": {"tag": TAG}, "next": "check"},
            {
                "key": "check",
                "type": "decision",
                "config": {"definition": tagged},
                "yes": "hello",
                "no": "end",
            },
            {
                "key": "hello",
                "type": "email",
                "config": {
                    "subject": "{{ first_name }}, one thing today",
                    "body": "Dear {{ first_name|default:'friend' }},\n\nThank you.",
                    "from_name": "Clarion HQ",
                    "from_email": "hq@clarion.example.org",
                },
                "next": "end",
            },
            {"key": "end", "type": "end"},
        ],
    )
    services.journey_set_status(journey=journey, actor=admin, move="publish")

    t0 = time.perf_counter()
    entered = triggers.poll_all()
    entry_s = time.perf_counter() - t0
    print(f"entered {entered:,} in {entry_s:.1f}s", flush=True)

    t0 = time.perf_counter()
    _run(_engine_worker, args.workers, args.batch)
    engine_s = time.perf_counter() - t0
    transitions = StepRun.objects.filter(enrolment__journey=journey).count()
    completed = Enrolment.objects.filter(journey=journey, state="completed").count()
    print(f"{transitions:,} transitions in {engine_s:.1f}s ({completed:,} completed)", flush=True)

    mailing_id = Step.objects.get(journey=journey, key="hello").mailing_id
    ledger = Recipient.objects.filter(mailing_id=mailing_id)
    open_states = ["held", "queued", "claimed", "in_flight"]
    t0 = time.perf_counter()
    while True:
        _run(_task_worker, args.workers)
        if not ledger.filter(status__in=open_states).exists():
            break
        time.sleep(0.2)
    email_s = time.perf_counter() - t0
    sent = ledger.filter(status="sent").count()
    print(f"{sent:,} emails sent in {email_s:.1f}s", flush=True)

    # The baseline: the same rows moved on by one step in one set-based statement.
    with transaction.atomic(), connection.cursor() as cursor:
        t0 = time.perf_counter()
        cursor.execute(
            "UPDATE journeys_enrolment SET seq = seq + 1, step_id = step_id, "
            "next_run_at = now() WHERE journey_id = %s",
            [journey.pk],
        )
        rows = cursor.rowcount
        baseline_s = time.perf_counter() - t0
        transaction.set_rollback(True)

    assert Journey.objects.get(pk=journey.pk).status == "published"
    return {
        "transitions_per_s": transitions / engine_s,
        "email_per_s": sent / email_s if email_s else 0.0,
        "baseline_per_s": rows / baseline_s,
        "detail": {
            "people": args.people,
            "entered": entered,
            "entry_s": f"{entry_s:.1f}",
            "transitions": transitions,
            "engine_s": f"{engine_s:.1f}",
            "sent": sent,
            "email_s": f"{email_s:.1f}",
            "baseline_rows": rows,
            "baseline_s": f"{baseline_s:.2f}",
            "workers": args.workers,
        },
    }


if __name__ == "__main__":
    main()
