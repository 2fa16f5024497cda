"""Benchmark: exact segment counts on PostgreSQL with 2M people and 200 tags.

    .venv/bin/python bench/segments.py [--people 2000000] [--tags 200] [--repeat 7]
                                       [--pg postgres://postgres@127.0.0.1:5432]

Creates (or reuses) the database ``clarion_bench_segments``, migrates it, and seeds it
with ``clarion seed_people`` (about ten tags each out of 200, the demo areas and
postcodes) unless it already holds that many people. Then VACUUM ANALYZE, and ten
typical segments (one to three tag tests, an area subtree, subscription status and a
custom field) are counted exactly through ``segment_count`` as a national admin, each
``--repeat`` times after one warm-up. The baseline is ``SELECT count(*) FROM
people_person`` in the same run. Prints each segment's count and plan summary, then a
last line of ``key=value`` pairs with p50_ms and p95_ms over all timed counts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "clarion_bench_segments"


def segments(tags: list[int]) -> list[tuple[str, dict]]:
    """Ten segments a campaign actually builds. ``tags`` is in popularity order."""
    popular, mid, niche = tags[2], tags[20], tags[120]

    def t(ids, match="any"):
        return {"type": "tag", "tags": ids, "match": match}

    subscribed = {"type": "email_status", "statuses": ["subscribed"]}
    return [
        (
            "volunteers in Leeds, subscribed, canvassing",
            {
                "op": "all",
                "conditions": [
                    t([mid]),
                    {"type": "area", "area": "C-LDS"},
                    subscribed,
                    {
                        "type": "custom_field",
                        "field": "volunteer_interest",
                        "operator": "eq",
                        "value": "Canvassing",
                    },
                ],
            },
        ),
        (
            "two issues in the North, subscribed, gift aid",
            {
                "op": "all",
                "conditions": [
                    t([popular, mid], "all"),
                    {"type": "area", "area": "R-N"},
                    subscribed,
                    {"type": "custom_field", "field": "gift_aid", "operator": "yes"},
                ],
            },
        ),
        (
            "any of three tags in Bristol, subscribed, born before 1970",
            {
                "op": "all",
                "conditions": [
                    t([mid, niche, tags[60]]),
                    {"type": "area", "area": "C-BRS"},
                    subscribed,
                    {
                        "type": "custom_field",
                        "field": "birth_year",
                        "operator": "lt",
                        "value": 1970,
                    },
                ],
            },
        ),
        (
            "niche tag, the South, subscribed, events",
            {
                "op": "all",
                "conditions": [
                    t([niche]),
                    {"type": "area", "area": "R-S"},
                    subscribed,
                    {
                        "type": "custom_field",
                        "field": "volunteer_interest",
                        "operator": "in",
                        "value": ["Events", "Leafleting"],
                    },
                ],
            },
        ),
        (
            "tag but not another, Midlands branch, subscribed, NHS staff",
            {
                "op": "all",
                "conditions": [
                    t([tags[10]]),
                    {"op": "not", "conditions": [t([tags[11]])]},
                    {"type": "area", "area": "B-BHM1"},
                    subscribed,
                    {"type": "custom_field", "field": "employer", "operator": "eq", "value": "NHS"},
                ],
            },
        ),
        (
            "popular tag, Manchester, subscribed or not yet asked, leafleting",
            {
                "op": "all",
                "conditions": [
                    t([popular]),
                    {"type": "area", "area": "C-MAN"},
                    {"type": "email_status", "statuses": ["subscribed", "none"]},
                    {
                        "type": "custom_field",
                        "field": "volunteer_interest",
                        "operator": "eq",
                        "value": "Leafleting",
                    },
                ],
            },
        ),
        (
            "(tag A or tag B) and tag C, Newcastle, subscribed, gift aid",
            {
                "op": "all",
                "conditions": [
                    {"op": "any", "conditions": [t([tags[30]]), t([tags[40]])]},
                    t([tags[5]]),
                    {"type": "area", "area": "C-NCL"},
                    subscribed,
                    {"type": "custom_field", "field": "gift_aid", "operator": "yes"},
                ],
            },
        ),
        (
            "all of three tags, the Midlands, subscribed, phone banking",
            {
                "op": "all",
                "conditions": [
                    t([tags[1], tags[4], tags[8]], "all"),
                    {"type": "area", "area": "R-M"},
                    subscribed,
                    {
                        "type": "custom_field",
                        "field": "volunteer_interest",
                        "operator": "eq",
                        "value": "Phone banking",
                    },
                ],
            },
        ),
        (
            "mid tag, Brighton, subscribed, first contact since 2022",
            {
                "op": "all",
                "conditions": [
                    t([tags[25]]),
                    {"type": "area", "area": "C-BTN"},
                    subscribed,
                    {
                        "type": "custom_field",
                        "field": "first_contact",
                        "operator": "gte",
                        "value": "2022-01-01",
                    },
                ],
            },
        ),
        (
            "niche tags, Nottingham, subscribed members with gift aid",
            {
                "op": "all",
                "conditions": [
                    t([tags[150], tags[90]]),
                    {"type": "area", "area": "C-NOT"},
                    subscribed,
                    {"type": "membership", "statuses": ["active"]},
                    {"type": "custom_field", "field": "gift_aid", "operator": "yes"},
                ],
            },
        ),
    ]


def explain_count(qs) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the COUNT that ``segment_count`` runs, with the
    same transaction-local settings."""
    from django.db import connection, transaction

    from clarion.people.segments.selectors import COUNT_WORK_MEM

    sql, params = qs.only("id").query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('work_mem', %s, true)", [COUNT_WORK_MEM])
        # ``sql`` is the ORM-compiled query; every value in it is in ``params``.
        explain = f"EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM ({sql}) AS segment"  # noqa: S608
        cursor.execute(explain, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2_000_000)
    parser.add_argument("--tags", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print EXPLAIN (ANALYZE, BUFFERS) of each segment's count",
    )
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

    from clarion.core.models import User
    from clarion.people.management.commands.seed_people import tag_names
    from clarion.people.models import Person, Tag
    from clarion.people.segments.selectors import segment_count, segment_people

    call_command("migrate", verbosity=0)
    have = Person.objects.count()
    if have < args.people:
        print(f"seeding {args.people - have:,} people (have {have:,})…", flush=True)
        started = time.monotonic()
        call_command("seed_people", count=args.people - have, tags=args.tags, seed=1)
        print(f"seeded in {time.monotonic() - started:.0f}s", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE people_person")
            cursor.execute("VACUUM ANALYZE people_tagging")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE people_person")
    people = Person.objects.count()
    by_name = {t.name: t.pk for t in Tag.objects.all()}
    tags = [by_name[name] for name in tag_names(args.tags) if name in by_name]
    admin = User(email="bench@example.org", role=User.Role.ADMIN, is_active=True)

    with connection.cursor() as cursor:
        baseline = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            cursor.execute("SELECT count(*) FROM people_person")
            cursor.fetchone()
            baseline.append((time.perf_counter() - t0) * 1000)

    timings: list[float] = []
    for name, definition in segments(tags):
        segment_count(admin, definition)  # warm-up: caches and plan
        mine = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            count = segment_count(admin, definition)
            mine.append((time.perf_counter() - t0) * 1000)
        timings.extend(mine)
        print(f"{statistics.median(mine):8.1f} ms  {count:>8,}  {name}", flush=True)
        if args.explain:
            print(explain_count(segment_people(admin, definition)), flush=True)

    timings.sort()
    p50 = statistics.median(timings)
    p95 = timings[max(0, round(0.95 * len(timings)) - 1)]
    print(
        f"people={people} segments=10 counts={len(timings)} p50_ms={p50:.1f} p95_ms={p95:.1f} "
        f"baseline_ms={statistics.median(baseline):.1f}"
    )


if __name__ == "__main__":
    main()
