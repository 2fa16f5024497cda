"""Benchmark: the engagement score's set-based full recompute on PostgreSQL.

    .venv/bin/python bench/engagement.py [--people 500000] [--per-person 8] [--repeat 3]
                                         [--pg postgres://postgres@127.0.0.1:5432]

Creates (or reuses) the database ``clarion_bench_engagement``, migrates it, and when it
does not hold exactly ``--people`` people fills it with SQL: that many people (one in
ten recruited by another) and about ``--per-person`` timeline entries each, of every
shape the score reads (signatures, RSVPs, attendance, gifts, questions, hosting,
canvass conversations) and some it ignores (emails), spread over two years. Then
VACUUM ANALYZE.

It times ``engagement.services.recompute`` (on PostgreSQL: one CREATE TABLE … AS
SELECT that classifies, weighs and decays every entry into a fresh table, its
indexes built once, and the swap for the live table) ``--repeat`` times, printing
the time of each of its statements, and, in the same run,
the baseline: a bare set-based statement of the same shape, a plain ``GROUP BY
person_id`` sum over the timeline into a table of its own (no classification, no
decay). The last line is ``key=value`` pairs: ``score_people_per_s`` (people scored
per second, best run), ``baseline_people_per_s`` and their ``ratio``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "clarion_bench_engagement"

SEED_PEOPLE = """
INSERT INTO people_person (first_name, last_name, phone, address_line1, address_line2,
    town, postcode, country, custom_fields, email_status, email_status_reason,
    membership_status, source_code, created_at, modified_at)
SELECT 'Bench', 'Person ' || g, '', '', '', '', '', 'GB', '{}', 'subscribed', '', 'none',
       'bench', now() - (g %% 730) * interval '1 day', now()
FROM generate_series(1, %(people)s) AS g
"""

SEED_RECRUITS = """
UPDATE people_person SET recruiter_id = id - 1
WHERE id %% 10 = 0 AND id > (SELECT min(id) FROM people_person)
"""

# Ten shapes, picked by (person + n) %% 10: most score, one (email) does not.
SEED_ACTIVITY = """
INSERT INTO people_activity (person_id, kind, summary, data, created_at)
SELECT p.id,
  (ARRAY['action','action','action','created','event','event','donation','email',
         'question','event'])[1 + (p.id + n) %% 10],
  'bench',
  (ARRAY[
    jsonb_build_object('page', n, 'status', 'confirmed', 'submission', n),
    jsonb_build_object('page', n, 'status', 'pending', 'submission', n),
    jsonb_build_object('page', n, 'status', 'confirmed', 'submission', n),
    jsonb_build_object('recruiter', NULL),
    jsonb_build_object('event', n, 'rsvp', n, 'status', 'going', 'guests', 0),
    jsonb_build_object('event', n, 'rsvp', n, 'attendance', 'attended'),
    jsonb_build_object('event', 'succeeded', 'donation_id', n, 'amount_pence', 1000),
    jsonb_build_object('mailing', n),
    jsonb_build_object('session', 'bench', 'question', n),
    CASE WHEN n %% 2 = 0 THEN jsonb_build_object('event', n)
         ELSE jsonb_build_object('event', n, 'canvass', n, 'outcome', 'spoke') END
  ])[1 + (p.id + n) %% 10],
  now() - random() * interval '730 days'
FROM people_person p, generate_series(1, %(per_person)s) AS n
"""

BASELINE_TABLE = "bench_engagement_baseline"


def seed(connection, *, people: int, per_person: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE people_activity, engagement_engagementscore, people_person CASCADE"
        )
        t0 = time.monotonic()
        cursor.execute(SEED_PEOPLE, {"people": people})
        cursor.execute(SEED_RECRUITS, {})
        cursor.execute(SEED_ACTIVITY, {"per_person": per_person})
        print(f"seeded in {time.monotonic() - t0:.0f}s", flush=True)
        cursor.execute("VACUUM ANALYZE people_person")
        cursor.execute("VACUUM ANALYZE people_activity")


def baseline_once(connection) -> tuple[int, float]:
    """The bare statement: one GROUP BY sum over the timeline into a table."""
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cursor:
        t0 = time.perf_counter()
        cursor.execute(f"DELETE FROM {BASELINE_TABLE}")  # noqa: S608 (our table)
        cursor.execute(
            f"INSERT INTO {BASELINE_TABLE} (person_id, total) "  # noqa: S608 (our table)
            "SELECT person_id, SUM(1.0) FROM people_activity GROUP BY person_id"
        )
        rows = cursor.rowcount
        seconds = time.perf_counter() - t0
    return rows, seconds


class StatementTimes:
    """A database execute wrapper: the time of each statement run through it, by its
    first words (``CREATE TABLE``, ``ANALYZE``…)."""

    def __init__(self) -> None:
        self.times: list[tuple[str, float]] = []

    def __call__(self, execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            words = " ".join(sql.split()[:3])
            self.times.append((words[:40], time.perf_counter() - t0))

    def summary(self, *, at_least: float = 0.05) -> str:
        shown = [f"{words} {seconds:.2f}s" for words, seconds in self.times if seconds >= at_least]
        rest = sum(seconds for _words, seconds in self.times if seconds < at_least)
        return " · ".join([*shown, f"{len(self.times) - len(shown)} others {rest:.2f}s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=500_000)
    parser.add_argument("--per-person", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()

    import psycopg

    with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
            admin.execute(f'CREATE DATABASE "{DB_NAME}"')

    os.environ["DATABASE_URL"] = f"{args.pg}/{DB_NAME}"
    os.environ.setdefault("CLARION_SECRET_KEY", "bench-only-not-secret")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clarion.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from clarion.engagement.services import recompute
    from clarion.people.models import Activity, Person

    call_command("migrate", verbosity=0)
    if Person.objects.count() != args.people or not Activity.objects.exists():
        print(f"seeding {args.people:,} people, ~{args.per_person} entries each…", flush=True)
        seed(connection, people=args.people, per_person=args.per_person)
    activities = Activity.objects.count()
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {BASELINE_TABLE} "
            "(person_id bigint PRIMARY KEY, total float8 NOT NULL)"
        )

    score_runs, baseline_runs = [], []
    scored = baseline_rows = 0
    for _ in range(args.repeat):
        statements = StatementTimes()
        t0 = time.perf_counter()
        with connection.execute_wrapper(statements):
            scored = recompute()
        score_runs.append(time.perf_counter() - t0)
        baseline_rows, seconds = baseline_once(connection)
        baseline_runs.append(seconds)
        print(
            f"recompute {score_runs[-1]:.2f}s ({scored:,} people) · "
            f"baseline {seconds:.2f}s ({baseline_rows:,} people)",
            flush=True,
        )
        print(f"  recompute statements: {statements.summary()}", flush=True)
    score_rate = scored / min(score_runs)
    baseline_rate = baseline_rows / min(baseline_runs)
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(
        f"people={args.people} activities={activities} scored={scored} "
        f"recompute_s={min(score_runs):.2f} baseline_s={min(baseline_runs):.2f} "
        f"score_people_per_s={score_rate:.0f} baseline_people_per_s={baseline_rate:.0f} "
        f"ratio={score_rate / baseline_rate:.2f}"
    )


if __name__ == "__main__":
    main()
