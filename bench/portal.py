"""Benchmark: a signed-in member's home page and "my events" on PostgreSQL.

    .venv/bin/python bench/portal.py [--people 2000000] [--per-person 10] [--events 20000]
                                     [--requests 400] [--pg postgres://postgres@127.0.0.1:5432]

Creates (or reuses) the database ``clarion_bench_portal``, migrates it, and when it does
not hold exactly ``--people`` people fills it with the engagement bench's SQL builders
(``bench/engagement.py``): that many people and ``--per-person`` timeline entries each
(2M people × 10 = 20M activity rows by default). It adds ``--events`` events spread over
the past and next six months, three RSVPs for every fifth person and a host for one
event in ten, then VACUUM ANALYZE.

Each timed request is a full Django request through the test client (middleware,
member-session cookie, template): ``/members/`` and ``/members/events/`` for members
drawn at random, each with a member session of their own made before timing. Baseline,
in the same run and through the same client: a bare view that reads the same member's
person row by primary key (``Person.objects.get(pk=…)``) and returns their name. The
last line is ``key=value`` pairs: the one-minute load average before and after,
``p95_ms`` (both pages together), ``baseline_ms`` (the bare view's p95) and their
``ratio``; the pages' own p50/p95 are printed on the line before.

Neither page reads the timeline: the activity rows are there so the tables and indexes
the pages do read (sessions, people, RSVPs, events) sit in a database of a realistic
size. Each page is two or three indexed queries (member session by key hash with the
person; proposals by person; RSVPs by person joined to events; hosted events by host).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DB_NAME = "clarion_bench_portal"

SEED_EVENTS = """
INSERT INTO events_event (kind, title, description, description_html, area_id, venue,
    address, postcode, online_url, starts_at, ends_at, visibility, status, reminder_hours,
    follow_up, decline_message, created_at)
SELECT 'meeting', 'Bench event ' || g, '', '', NULL, '', '', '', '',
       now() + ((g %% 365) - 182) * interval '1 day',
       now() + ((g %% 365) - 182) * interval '1 day' + interval '2 hours',
       'public', 'published', '', '', '', now()
FROM generate_series(1, %(events)s) AS g
"""

# Three RSVPs for every fifth person, on three different events.
SEED_RSVPS = """
INSERT INTO events_rsvp (event_id, person_id, submitted, status, guests, attendance,
    walk_in, source, referrer, created_at)
SELECT e.first + ((p.id * 7 + k * 13) %% %(events)s), p.id, '{}', 'going', 0, 'unknown',
       false, 'bench', '', now()
FROM people_person p, generate_series(1, 3) AS k,
     (SELECT min(id) AS first FROM events_event) AS e
WHERE p.id %% 5 = 0
"""

SEED_HOSTS = """
UPDATE events_event SET host_person_id = (
    SELECT min(id) FROM people_person) + (events_event.id * 97) %% %(people)s
WHERE id %% 10 = 0
"""


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[max(0, round(q * len(values)) - 1)]


def seed(connection, *, people: int, per_person: int, events: int) -> None:
    from engagement import SEED_ACTIVITY, SEED_PEOPLE, SEED_RECRUITS

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE people_activity, events_rsvp, events_event, members_membersession, "
            "people_person CASCADE"
        )
        t0 = time.monotonic()
        cursor.execute(SEED_PEOPLE, {"people": people})
        cursor.execute(SEED_RECRUITS, {})
        print(f"people in {time.monotonic() - t0:.0f}s", flush=True)
        cursor.execute(SEED_ACTIVITY, {"per_person": per_person})
        print(f"activity in {time.monotonic() - t0:.0f}s", flush=True)
        cursor.execute(SEED_EVENTS, {"events": events})
        cursor.execute(SEED_RSVPS, {"events": events})
        cursor.execute(SEED_HOSTS, {"people": people})
        print(f"seeded in {time.monotonic() - t0:.0f}s", flush=True)
        for table in ("people_person", "people_activity", "events_event", "events_rsvp"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def bare_view(request, pk: int):
    """The baseline: one primary-key read of the person, a tiny response."""
    from django.http import HttpResponse

    from clarion.people.models import Person

    person = Person.objects.get(pk=pk)
    return HttpResponse(f"{person.first_name} {person.last_name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2_000_000)
    parser.add_argument("--per-person", type=int, default=10)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()

    import psycopg

    with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
            admin.execute(f'CREATE DATABASE "{DB_NAME}"')

    os.environ["DATABASE_URL"] = f"{args.pg}/{DB_NAME}"
    os.environ.setdefault("CLARION_SECRET_KEY", "bench-only-not-secret")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clarion.settings")
    # Plain static names: the pages are timed, not the static files (no collectstatic).
    os.environ.setdefault("CLARION_STATIC_MANIFEST", "0")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import include, path

    from clarion.events.models import Rsvp
    from clarion.members.auth import MEMBER_COOKIE
    from clarion.members.services import member_session_start
    from clarion.people.models import Person

    call_command("migrate", verbosity=0)
    if Person.objects.count() != args.people or not Rsvp.objects.exists():
        print(
            f"seeding {args.people:,} people, {args.per_person} entries each, "
            f"{args.events:,} events…",
            flush=True,
        )
        seed(connection, people=args.people, per_person=args.per_person, events=args.events)
    with connection.cursor() as cursor:
        # The planner's estimate is enough here; count(*) over 20M rows takes seconds.
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'people_activity'")
        activities = cursor.fetchone()[0]

    # The site's URLs plus the bare baseline view, through the same client and middleware.
    urls = types.ModuleType("bench_portal_urls")
    urls.urlpatterns = [
        path("bench/person/<int:pk>/", bare_view),
        path("", include(settings.ROOT_URLCONF)),
    ]
    settings.ROOT_URLCONF = urls
    settings.ALLOWED_HOSTS = ["*"]

    rng = random.Random(7)
    low, high = (
        Person.objects.order_by("pk").values_list("pk", flat=True)[:1][0],
        (Person.objects.order_by("-pk").values_list("pk", flat=True)[:1][0]),
    )
    # Every fifth person has RSVPs; half the members drawn are such people.
    members = []
    for i in range(args.requests):
        pk = rng.randrange(low, high + 1)
        if i % 2 == 0:
            pk -= pk % 5
        members.append(max(low, pk))
    sessions = {pk: member_session_start(person=Person(pk=pk)) for pk in dict.fromkeys(members)}
    client = Client()

    def get(url: str, pk: int) -> float:
        client.cookies[MEMBER_COOKIE] = sessions[pk]
        t0 = time.perf_counter()
        response = client.get(url, secure=True)
        ms = (time.perf_counter() - t0) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
        return ms

    load_before = os.getloadavg()[0]
    for pk in members[:20]:  # warm-up: templates, plans, caches
        get("/members/", pk)
        get("/members/events/", pk)
        get(f"/bench/person/{pk}/", pk)
    home, my_events, baseline = [], [], []
    for pk in members:
        home.append(get("/members/", pk))
        my_events.append(get("/members/events/", pk))
        baseline.append(get(f"/bench/person/{pk}/", pk))
    pages = home + my_events
    print(
        f"home_p50_ms={statistics.median(home):.1f} home_p95_ms={pct(home, 0.95):.1f} "
        f"events_p50_ms={statistics.median(my_events):.1f} "
        f"events_p95_ms={pct(my_events, 0.95):.1f} "
        f"baseline_p50_ms={statistics.median(baseline):.1f}",
        flush=True,
    )
    p95, base = pct(pages, 0.95), pct(baseline, 0.95)
    print(
        f"people={Person.objects.count()} activities={activities} "
        f"rsvps={Rsvp.objects.count()} requests={len(pages)} "
        f"load={load_before:.1f}-{os.getloadavg()[0]:.1f} "
        f"p95_ms={p95:.1f} baseline_ms={base:.1f} ratio={p95 / base:.2f}"
    )


if __name__ == "__main__":
    main()
