"""Benchmark: exact segment counts on PostgreSQL with 2M people and 200 tags.

    .venv/bin/python bench/segments.py [--people 2000000] [--tags 200] [--repeat 7]
                                       [--pg postgres://postgres@127.0.0.1:5432]
                                       [--db clarion_bench_segments]

Creates (or reuses) the database ``clarion_bench_segments``, migrates it, and seeds it
with ``clarion seed_people`` (about ten tags each out of 200, the demo areas and
postcodes) unless it already holds that many people. Then VACUUM ANALYZE, and ten
typical segments (one to three tag tests, an area subtree, subscription status and a
custom field) are counted exactly through ``segment_count`` as a national admin, each
``--repeat`` times after one warm-up. The baseline is ``SELECT count(*) FROM
people_person`` in the same run. Prints each segment's count and plan summary, then a
last line of ``key=value`` pairs with p50_ms and p95_ms over all timed counts.

Three more segments are on what people did (issue 12): signed a given page in the last
30 days; attended an event and never gave; opened a mailing in the last 14 days. For
them the database also holds activity at about ten rows a person (20M at 2M people),
written set-based by ``seed_activity``: 50 action pages with ~3 submissions a
person, 1 event per 100 people with RSVPs from 30% of people (attendance marked at past
events), 10 mailings each sent to 40% of people with human and machine opens and
clicks, and gifts from 15% of people. Their figures are printed separately as
``activity_p50_ms`` / ``activity_p95_ms`` (p50_ms / p95_ms cover all thirteen).
A smaller ``--people`` seeds a smaller world; use ``--db`` to keep it apart from the
2M one.
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


def activity_segments(world: dict) -> list[tuple[str, dict]]:
    """The three segments on what people did (issue 12)."""
    return [
        (
            "signed a given page in the last 30 days",
            {
                "op": "all",
                "conditions": [
                    {
                        "type": "action_taken",
                        "page": world["page"],
                        "window": "last_days",
                        "days": 30,
                    }
                ],
            },
        ),
        (
            "attended an event and never gave",
            {
                "op": "all",
                "conditions": [
                    {"type": "event", "role": "attended"},
                    {"op": "not", "conditions": [{"type": "gifts", "measure": "count"}]},
                ],
            },
        ),
        (
            "opened a mailing in the last 14 days",
            {"op": "all", "conditions": [{"type": "email", "what": "opened", "days": 14}]},
        ),
    ]


def _insert_select(cursor, model, exprs: dict, tail: str, params: list) -> int:
    """``INSERT INTO <model> (every column) SELECT …`` where the columns in ``exprs`` get
    those SQL expressions (a string, or ``(sql, params)``) and every other one its model
    default (NULL when nullable) as a parameter: Django's defaults live in Python, not
    in the tables. ``params`` are those of ``tail``."""
    from django.db import connection

    columns, values, ordered = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        expr = exprs.get(field.column)
        if expr is not None:
            sql, expr_params = expr if isinstance(expr, tuple) else (expr, [])
            values.append(sql)
            ordered.extend(expr_params)
        elif field.null and not field.has_default():
            values.append("NULL")
        else:
            values.append("%s")
            ordered.append(field.get_db_prep_save(field.get_default(), connection))
    table = connection.ops.quote_name(model._meta.db_table)
    # Bench-only SQL built from the model's own column names; values are parameters.
    sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} {tail}"  # noqa: S608
    cursor.execute(sql, ordered + params)
    return cursor.rowcount


MARKER = "bench-activity-"
ACTIVITY_TABLES = (
    "actions_submission",
    "events_event",
    "events_rsvp",
    "mailings_recipient",
    "mailings_event",
    "donations_donation",
    "donations_recurringplan",
)


def seed_activity(people: int) -> dict:
    """Write the activity rows (once per number of people; a different number clears
    the bench's activity tables first). Returns the ids the segments use."""
    import datetime

    from django.db import connection, transaction
    from django.db.models import Max, Min
    from django.utils import timezone

    from clarion.actions.models import ActionPage, Submission
    from clarion.donations.models import Donation, RecurringPlan
    from clarion.events.models import Event, Rsvp
    from clarion.mailings.models import Event as MailEvent
    from clarion.mailings.models import Mailing, Recipient
    from clarion.people.models import Person

    marker = f"{MARKER}{people}"
    pages = list(
        ActionPage.objects.filter(slug__startswith="bench-page-")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if ActionPage.objects.filter(slug=marker).exists():
        # Settle what a migration may have rewritten (mailings 0006 fills in each
        # tracking event's person): current statistics and visibility map.
        _vacuum_activity()
        return {"page": pages[3]}
    started = time.monotonic()
    print(f"seeding activity for {people:,} people…", flush=True)
    span = Person.objects.aggregate(low=Min("pk"), high=Max("pk"))
    low, high = span["low"], span["high"]
    if high - low + 1 != people:
        raise SystemExit("bench: person ids are not contiguous; use a fresh --db")
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE mailings_event, mailings_recipient, mailings_mailing, events_rsvp, "
            "donations_donation, donations_recurringplan, actions_submission CASCADE"
        )
        Event.objects.all().delete()
        ActionPage.objects.filter(slug__startswith="bench-").delete()
        kinds = ["petition", "petition", "pledge", "letter", "survey", "signup"]
        ActionPage.objects.bulk_create(
            [
                ActionPage(
                    kind=kinds[i % len(kinds)],
                    slug=f"bench-page-{i}",
                    title=f"Bench page {i}",
                    status="live",
                )
                for i in range(50)
            ]
        )
        donate = ActionPage.objects.create(
            kind="donation", slug="bench-donate", title="Bench donations", status="live"
        )
        pages = list(
            ActionPage.objects.filter(slug__startswith="bench-page-")
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        # ~3 submissions a person on distinct pages over two years, 95% counted.
        n = _insert_select(
            cursor,
            Submission,
            {
                "page_id": ("(%s::bigint[])[1 + (p.id * 7 + k * 13) %% 50]", [pages]),
                "person_id": "p.id",
                "email_canonical": "p.id::text || '@bench.example.org'",
                "email_domain": "'bench.example.org'",
                "status": "CASE WHEN random() < 0.95 THEN 'confirmed' ELSE 'pending' END",
                "created_at": "now() - random() * interval '730 days'",
            },
            "FROM people_person p CROSS JOIN LATERAL generate_series(1, p.id %% 7) AS k",
            [],
        )
        print(f"  {n:,} submissions", flush=True)
        # One event per 100 people, from a year ago to two months ahead.
        events = max(people // 100, 10)
        n = _insert_select(
            cursor,
            Event,
            {
                "kind": "(ARRAY['canvass','phone_bank','meeting','social','fundraiser'])"
                "[1 + i %% 5]",
                "title": "'Bench event ' || i",
                "starts_at": (
                    "now() - interval '365 days' + (i::float / %s) * interval '425 days'",
                    [events],
                ),
                "ends_at": (
                    "now() - interval '365 days' + (i::float / %s) * interval '425 days'"
                    " + interval '2 hours'",
                    [events],
                ),
                "status": "CASE WHEN i %% 20 = 0 THEN 'cancelled' ELSE 'published' END",
                "host_person_id": (
                    "CASE WHEN i %% 10 = 0 THEN %s + (i * 7919) %% %s END",
                    [low, people],
                ),
            },
            "FROM generate_series(0, %s - 1) AS i",
            [events],
        )
        print(f"  {n:,} events", flush=True)
        cursor.execute(
            "SELECT array_agg(id ORDER BY id), array_agg(starts_at < now() ORDER BY id) "
            "FROM events_event"
        )
        event_ids, _past = cursor.fetchone()
        # 30% of people RSVP to 1-4 events; at past ones 65% attended, 15% no-show.
        n = _insert_select(
            cursor,
            Rsvp,
            {
                "event_id": "e.id",
                "person_id": "r.pid",
                "status": "CASE WHEN r.x < 0.9 THEN 'going' WHEN r.x < 0.95 THEN 'waitlisted'"
                " ELSE 'cancelled' END",
                "attendance": "CASE WHEN e.starts_at >= now() OR r.x >= 0.9 THEN 'unknown'"
                " WHEN r.y < 0.65 THEN 'attended' WHEN r.y < 0.8 THEN 'no_show'"
                " ELSE 'unknown' END",
                "created_at": "e.starts_at - interval '10 days'",
            },
            "FROM (SELECT p.id AS pid, (%s::bigint[])[1 + (p.id * 7919 + k) %% %s] AS eid,"
            " random() AS x, random() AS y FROM people_person p"
            " CROSS JOIN LATERAL generate_series(1, 1 + p.id %% 4) AS k"
            " WHERE p.id %% 10 < 3) r JOIN events_event e ON e.id = r.eid",
            [event_ids, len(event_ids)],
        )
        print(f"  {n:,} RSVPs", flush=True)
        Mailing.objects.bulk_create(
            [
                Mailing(
                    name=f"Bench mailing {i}",
                    subject="Bench",
                    from_name="Bench",
                    from_email="bench@example.org",
                    body="Hello",
                    status="sent",
                    started_at=now - datetime.timedelta(days=3 + 9 * i),
                )
                for i in range(10)
            ]
        )
        # Each mailing to 40% of people, 97% delivered.
        n = _insert_select(
            cursor,
            Recipient,
            {
                "mailing_id": "m.id",
                "person_id": "p.id",
                "email": "p.id::text || '@bench.example.org'",
                "email_hash": "md5(p.id::text)",
                "status": "CASE WHEN random() < 0.97 THEN 'sent' ELSE 'suppressed' END",
                "sent_at": "m.started_at + random() * interval '2 hours'",
            },
            "FROM mailings_mailing m CROSS JOIN people_person p WHERE (p.id + m.id) %% 5 < 2",
            [],
        )
        print(f"  {n:,} recipients", flush=True)
        # Opens on 25% of delivered messages (a fifth of them machine opens), clicks on 4%.
        n = _insert_select(
            cursor,
            MailEvent,
            {
                "mailing_id": "r.mailing_id",
                "recipient_id": "r.id",
                "person_id": "r.person_id",
                "kind": "CASE WHEN r.x < 0.04 THEN 'click' ELSE 'open' END",
                "machine": "r.y < 0.2",
                "created_at": "r.sent_at + r.y * interval '3 days'",
            },
            "FROM (SELECT id, mailing_id, person_id, sent_at, random() AS x, random() AS y"
            " FROM mailings_recipient WHERE status = 'sent') r WHERE r.x < 0.25",
            [],
        )
        print(f"  {n:,} tracking events", flush=True)
        # 15% of people give 1-3 times; 90% succeed, 5% fail, 5% refunded.
        n = _insert_select(
            cursor,
            Donation,
            {
                "person_id": "p.id",
                "page_id": ("%s", [donate.pk]),
                "amount_pence": "300 + (p.id * 31 + k * 977) %% 10000",
                "refunded_pence": "CASE WHEN (p.id + k) %% 20 = 1"
                " THEN 300 + (p.id * 31 + k * 977) %% 10000 ELSE 0 END",
                "status": "CASE WHEN (p.id + k) %% 20 = 0 THEN 'failed'"
                " WHEN (p.id + k) %% 20 = 1 THEN 'refunded' ELSE 'succeeded' END",
                "gateway": "'test'",
                "created_at": "now() - ((p.id * 13 + k * 101) %% 730) * interval '1 day'",
                "succeeded_at": "CASE WHEN (p.id + k) %% 20 = 0 THEN NULL ELSE"
                " now() - ((p.id * 13 + k * 101) %% 730) * interval '1 day' END",
            },
            "FROM people_person p CROSS JOIN LATERAL generate_series(1, 1 + p.id %% 3) AS k"
            " WHERE p.id %% 20 < 3",
            [],
        )
        print(f"  {n:,} gifts", flush=True)
        n = _insert_select(
            cursor,
            RecurringPlan,
            {
                "person_id": "p.id",
                "page_id": ("%s", [donate.pk]),
                "amount_pence": "500",
                "status": "CASE WHEN p.id %% 5 = 0 THEN 'cancelled' ELSE 'active' END",
                "gateway": "'test'",
            },
            "FROM people_person p WHERE p.id %% 50 = 7",
            [],
        )
        print(f"  {n:,} monthly plans", flush=True)
        ActionPage.objects.create(kind="signup", slug=marker, title="bench marker")
    _vacuum_activity()
    print(f"activity seeded in {time.monotonic() - started:.0f}s", flush=True)
    return {"page": pages[3]}


def _vacuum_activity() -> None:
    """VACUUM (outside any transaction) sets the visibility map, so the counts can use
    index-only scans as they would on a settled database."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ACTIVITY_TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")


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
    parser.add_argument("--db", default=DB_NAME, help="database name (created if missing)")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print EXPLAIN (ANALYZE, BUFFERS) of each segment's count",
    )
    parser.add_argument(
        "--activity-only",
        action="store_true",
        help="count only the three activity segments (no baseline of the ten others)",
    )
    args = parser.parse_args()

    import psycopg

    with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [args.db]).fetchone():
            admin.execute(f'CREATE DATABASE "{args.db}"')

    os.environ["DATABASE_URL"] = f"{args.pg}/{args.db}"
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
    world = seed_activity(people)
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
    activity: list[float] = []
    chosen = [] if args.activity_only else [(n, d, timings) for n, d in segments(tags)]
    chosen += [(n, d, activity) for n, d in activity_segments(world)]
    for name, definition, into in chosen:
        segment_count(admin, definition)  # warm-up: caches and plan
        mine = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            count = segment_count(admin, definition)
            mine.append((time.perf_counter() - t0) * 1000)
        into.extend(mine)
        print(f"{statistics.median(mine):8.1f} ms  {count:>8,}  {name}", flush=True)
        if args.explain:
            print(explain_count(segment_people(admin, definition)), flush=True)

    def p95_of(values: list[float]) -> float:
        values = sorted(values)
        return values[max(0, round(0.95 * len(values)) - 1)]

    every = timings + activity
    print(
        f"people={people} segments={len(chosen)} counts={len(every)} "
        f"p50_ms={statistics.median(every):.1f} p95_ms={p95_of(every):.1f} "
        f"activity_p50_ms={statistics.median(activity):.1f} "
        f"activity_p95_ms={p95_of(activity):.1f} "
        f"baseline_ms={statistics.median(baseline):.1f}"
    )


if __name__ == "__main__":
    main()
