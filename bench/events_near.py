"""Benchmark: "events within 10 miles of a postcode, in the next 30 days" on PostgreSQL.

    .venv/bin/python bench/events_near.py [--events 50000] [--queries 300]
                                          [--pg postgres://postgres@127.0.0.1:5432]

Creates (or reuses) the database ``clarion_bench_events``, migrates it, loads the demo
areas and postcode table if it is empty, and seeds ``--events`` upcoming public events
(start times spread over the next 90 days) placed on postcodes drawn at random from the
whole postcode table, each jittered by up to about half a mile. No people are seeded:
the search reads only the events and postcode tables, so the 2M people of the issue's
benchmark would not change the figure.

Each timed query is what the public "find an event near me" page runs: the postcode
look-up, then ``selectors.events_near`` (a bounding box on the indexed latitude and
longitude, the exact great-circle distance, nearest 50 loaded). Postcodes are drawn at
random from the table, after a warm-up. Baseline: the bare bounding-box SQL (count) for
the same postcodes. Last line: key=value pairs with p50_ms and p95_ms.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "clarion_bench_events"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[max(0, round(q * len(values)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--miles", type=float, default=10.0)
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
    from django.utils import timezone

    from clarion.areas.models import Postcode
    from clarion.areas.selectors import postcode_lookup
    from clarion.events.models import Event
    from clarion.events.selectors import MILES_PER_DEGREE, events_near

    call_command("migrate", verbosity=0)
    fixtures = ROOT / "clarion" / "areas" / "fixtures"
    if not Postcode.objects.exists():
        call_command("load_areas", str(fixtures / "demo_areas.csv"), verbosity=0)
        call_command("load_postcodes", str(fixtures / "demo_postcodes.csv"), verbosity=0)
    postcodes = list(Postcode.objects.values_list("postcode", "latitude", "longitude", "area_id"))
    rng = random.Random(1)
    now = timezone.now()
    have = Event.objects.filter(starts_at__gte=now + datetime.timedelta(days=1)).count()
    if have < args.events * 0.95:
        Event.objects.all().delete()
        print(f"seeding {args.events:,} events over {len(postcodes):,} postcodes…", flush=True)
        started = time.monotonic()
        kinds = [k for k in Event.Kind.values if k != Event.Kind.ONLINE]
        batch = []
        for i in range(args.events):
            pc, lat, lng, area_id = rng.choice(postcodes)
            start = now + datetime.timedelta(days=1, minutes=rng.randrange(0, 89 * 24 * 60))
            batch.append(
                Event(
                    kind=rng.choice(kinds),
                    title=f"Event {i}",
                    area_id=area_id,
                    postcode=pc,
                    latitude=lat + rng.uniform(-0.007, 0.007),
                    longitude=lng + rng.uniform(-0.012, 0.012),
                    starts_at=start,
                    ends_at=start + datetime.timedelta(hours=2),
                    capacity=rng.choice([None, 20, 50]),
                    visibility=Event.Visibility.PUBLIC
                    if rng.random() < 0.9
                    else Event.Visibility.UNLISTED,
                    status=Event.Status.PUBLISHED,
                )
            )
            if len(batch) == 5000:
                Event.objects.bulk_create(batch)
                batch = []
        Event.objects.bulk_create(batch)
        print(f"seeded in {time.monotonic() - started:.0f}s", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE events_event")
    events = Event.objects.count()

    def query(code: str) -> int:
        place = postcode_lookup(code)
        found = events_near(
            latitude=place.latitude,
            longitude=place.longitude,
            miles=args.miles,
            start=timezone.now(),
            end=timezone.now() + datetime.timedelta(days=30),
        )
        return len(found)

    codes = [rng.choice(postcodes)[0] for _ in range(args.queries)]
    for code in codes[:20]:
        query(code)  # warm-up: caches and plans
    timings: list[float] = []
    found = []
    for code in codes:
        t0 = time.perf_counter()
        found.append(query(code))
        timings.append((time.perf_counter() - t0) * 1000)

    import math

    baseline: list[float] = []
    candidates = []
    with connection.cursor() as cursor:
        for code in codes:
            _pc, lat, lng, _a = next(p for p in postcodes if p[0] == code)
            dlat = args.miles / MILES_PER_DEGREE
            dlng = args.miles / (MILES_PER_DEGREE * math.cos(math.radians(lat)))
            t0 = time.perf_counter()
            cursor.execute(
                "SELECT count(*) FROM events_event WHERE status = 'published' AND visibility = 'public' "
                "AND latitude BETWEEN %s AND %s AND longitude BETWEEN %s AND %s "
                "AND starts_at >= now() AND starts_at < now() + interval '30 days'",
                [lat - dlat, lat + dlat, lng - dlng, lng + dlng],
            )
            candidates.append(cursor.fetchone()[0])
            baseline.append((time.perf_counter() - t0) * 1000)

    print(
        f"events={events:,} postcodes={len(postcodes):,} queries={len(timings)} "
        f"median_in_box={statistics.median(candidates):.0f} median_shown={statistics.median(found):.0f} "
        f"(results capped at 50, nearest first)"
    )
    print(
        f"events={events} queries={len(timings)} miles={args.miles:g} days=30 "
        f"baseline_p50_ms={statistics.median(baseline):.1f} "
        f"p50_ms={statistics.median(timings):.1f} p95_ms={pct(timings, 0.95):.1f}"
    )


if __name__ == "__main__":
    main()
