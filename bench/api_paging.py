"""Benchmark: deep paging through 2M people over the Action Network API on PostgreSQL.

    .venv/bin/python bench/api_paging.py [--people 2000000] [--repeat 7]
                                         [--pg postgres://postgres@127.0.0.1:5432]

Creates (or reuses) the database ``clarion_bench_api_paging``, migrates it, and seeds
it with ``clarion seed_people`` (COPY, the same seeding as ``segments.py``) unless it
already holds that many people. Then VACUUM ANALYZE and, through the WSGI application
in process with a national admin's API key (no HTTP server, so the figures are the
API's own work), times ``GET /api/v2/people?page=N&per_page=25``:

- page 1 (the baseline: the cheapest page there is),
- page 4,000 reached cold: the paging cache is emptied before each try, then page 1
  is asked for (untimed, as a client starts there) and page 4,000 timed, so it must
  skip 99,975 rows from page 1's boundary,
- page 4,000 again with its boundary cached (a client following ``next``),
- a deep page near the end, cold, skipping from the start.

Each figure is the median of ``--repeat`` tries after one warm-up. The last line is
``key=value`` pairs ending in ``ratio`` = page 4,000 (cold) / page 1 and
``queries_per_request``: the SQL statements one page-1 request sends (counted with
``connection.execute_wrapper``, transactions' own BEGIN/COMMIT not included), with the
cache the settings give (the database cache unless ``REDIS_URL`` is set).
``queries_cold`` is the same for page 1 with nothing cached (count, boundaries).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "clarion_bench_api_paging"
PER_PAGE = 25


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--page", type=int, default=4000)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()

    import psycopg

    with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
            admin.execute(f'CREATE DATABASE "{DB_NAME}"')

    os.environ["DATABASE_URL"] = f"{args.pg}/{DB_NAME}"
    os.environ.setdefault("CLARION_SECRET_KEY", "bench-only-not-secret")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clarion.settings")
    os.environ["CLARION_SECURE"] = "0"
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection

    from clarion.api.models import ApiState
    from clarion.api.services import api_key_create
    from clarion.core.models import User
    from clarion.people.models import Person

    settings.CLARION_API_RATE_PER_MINUTE = 10**9
    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    have = Person.objects.count()
    if have < args.people:
        print(f"seeding {args.people - have:,} people (have {have:,})…", flush=True)
        started = time.monotonic()
        call_command("seed_people", count=args.people - have, tags=200, seed=1)
        print(f"seeded in {time.monotonic() - started:.0f}s", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE people_person")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE people_person")
    people = Person.objects.count()

    staff, _created = User.objects.get_or_create(
        email="bench-api@example.org", defaults={"role": User.Role.ADMIN, "is_active": True}
    )
    _key, token = api_key_create(owner=staff, actor=staff, name="bench")

    from clarion.wsgi import application

    def get(page: int) -> tuple[float, dict]:
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/api/v2/people",
            "QUERY_STRING": f"page={page}&per_page={PER_PAGE}",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "HTTP_HOST": "127.0.0.1:8000",
            "HTTP_OSDI_API_TOKEN": token,
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            "wsgi.version": (1, 0),
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        status: list[str] = []
        t0 = time.perf_counter()
        body = b"".join(application(environ, lambda s, h, *a: status.append(s)))
        elapsed = (time.perf_counter() - t0) * 1000
        assert status[0].startswith("200"), (status, body[:300])
        import json

        data = json.loads(body)
        assert (
            len(data["_embedded"]["osdi:people"]) == PER_PAGE or data["page"] == data["total_pages"]
        )
        return elapsed, data

    def clear_paging_state() -> None:
        cache.clear()
        ApiState.objects.all().delete()

    def queries(page: int) -> int:
        statements: list[str] = []

        def count(execute, sql, params, many, context):
            statements.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            get(page)
        return len(statements)

    def median_of(fn) -> float:
        fn()  # warm-up
        return statistics.median(fn() for _ in range(args.repeat))

    # Page 1, the count cached as a client's second request would find it.
    _ms, first = get(1)
    total_pages = first["total_pages"]
    page1 = median_of(lambda: get(1)[0])

    def cold(page: int) -> float:
        clear_paging_state()
        get(1)
        ms, data = get(page)
        assert data["page"] == page and data["_embedded"]["osdi:people"], data.get("_links")
        return ms

    deep_page = max(total_pages - 1, 1)
    page_n_cold = median_of(lambda: cold(args.page))
    page_n_warm = median_of(lambda: get(args.page)[0])
    deep_cold = median_of(lambda: cold(deep_page))

    clear_paging_state()
    queries_cold = queries(1)
    queries_per_request = queries(1)

    # Rows really differ from page to page: the first id of page N is 25×(N-1) ids on.
    clear_paging_state()
    first_ids = [get(p)[1]["_embedded"]["osdi:people"][0]["identifiers"][0] for p in (1, args.page)]
    print(f"people={people:,} total_pages={total_pages:,} first ids: {first_ids}")
    print(
        f"page 1: {page1:.1f} ms   page {args.page:,} cold: {page_n_cold:.1f} ms   "
        f"warm: {page_n_warm:.1f} ms   page {deep_page:,} cold: {deep_cold:.1f} ms",
        flush=True,
    )
    print(
        f"people={people} per_page={PER_PAGE} page1_ms={page1:.1f} "
        f"page{args.page}_warm_ms={page_n_warm:.1f} deep_page={deep_page} deep_ms={deep_cold:.1f} "
        f"page{args.page}_ms={page_n_cold:.1f} ratio={page_n_cold / page1:.2f} "
        f"queries_cold={queries_cold} queries_per_request={queries_per_request}"
    )


if __name__ == "__main__":
    main()
