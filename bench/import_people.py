"""Benchmark: import a large CSV of people on PostgreSQL, against COPY + merge.

    .venv/bin/python bench/import_people.py [--rows N] [--pg postgres://postgres@127.0.0.1:5432]

Generates a CSV (default 1,000,000 rows; 5% are repeats of earlier people with the email
in another case and with stray spaces, half the people have a mobile number), creates
a fresh database ``clarion_bench_import``, migrates it, loads areas and postcodes, and
imports the file through the real import service (``people_import_rows`` fed by the
CSV reader and row cleaner: encoding and delimiter detection, normalisation, matching,
writing with the timeline). In the same run it times the physical baseline: a plain
COPY of the same file into a staging table plus one INSERT ... ON CONFLICT merge into
a table like people_person: ``ratio`` is against a table with people_person's columns,
indexes, triggers and foreign keys (what any write to people_person pays);
``ratio_plain`` against one with its columns and indexes only. The last line is
``key=value`` pairs.

    BENCH_PROFILE=1   print seconds per import step (look-up, plan, insert, commit...)
    BENCH_CPROFILE=1  cProfile the main (reading) thread
    BENCH_LOG_MS=N    log statements slower than N ms to the server log
    BENCH_DB=name     database to (re)create, default clarion_bench_import
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = os.environ.get("BENCH_DB", "clarion_bench_import")
FIRST = [
    "Ann",
    "Bob",
    "Cara",
    "Dev",
    "Ema",
    "Finn",
    "Gita",
    "Hal",
    "Ines",
    "Jo",
    "Kai",
    "Lena",
    "Mo",
    "Nia",
]
LAST = ["Smith", "Jones", "Patel", "Khan", "Evans", "Brown", "Wilson", "Taylor", "Hughes", "Ahmed"]
TOWNS = ["Leeds", "Bristol", "York", "Bath", "Hull"]


def make_postcodes(n: int) -> list[str]:
    rnd = random.Random(1)
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    out = set()
    while len(out) < n:
        out.add(
            f"LS{rnd.randint(1, 29)} {rnd.randint(0, 9)}{rnd.choice(letters)}{rnd.choice(letters)}"
        )
    return sorted(out)


def generate(path: Path, rows: int, postcodes: list[str]) -> int:
    """Write the CSV; returns how many rows repeat an earlier person."""
    rnd = random.Random(42)
    dup_every = 20  # 5%
    dups = 0
    seen: list[tuple[str, str, str, str, str]] = []
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("First Name,Last Name,Email,Mobile,Postcode,Town\r\n")
        for i in range(rows):
            if i % dup_every == dup_every - 1 and seen:
                first, last, email, phone, pc = seen[rnd.randrange(len(seen))]
                variant = "".join(c.upper() if rnd.random() < 0.5 else c for c in email)
                email = rnd.choice(["  ", " ", ""]) + variant + rnd.choice([" ", "  ", ""])
                phone = ""  # the repeat has fewer details: blanks must not erase
                dups += 1
            else:
                first, last = rnd.choice(FIRST), rnd.choice(LAST)
                email = f"{first.lower()}.{last.lower()}{i}@example{i % 97}.org"
                phone = ""
                if i % 2 == 0:
                    phone = f"07{rnd.choice('45789')}{i:08d}"[:11]
                pc = rnd.choice(postcodes)
                seen.append((first, last, email, phone, pc))
            town = rnd.choice(TOWNS)
            f.write(f"{first},{last},{email},{phone},{pc},{town}\r\n")
    return dups


def baseline(connection, path: Path, table: str, *, full: bool) -> tuple[float, int]:
    """COPY the file into a staging table and merge it into ``table`` with one
    INSERT ... ON CONFLICT (email) DO UPDATE; returns (seconds, rows merged)."""
    from clarion.people.imports import pgwrite

    with connection.cursor() as django_cursor:
        cur = django_cursor.cursor
        cur.execute(f"CREATE TABLE {table} (LIKE people_person INCLUDING ALL)")
        if full:
            cur.execute(
                "SELECT pg_get_triggerdef(oid) FROM pg_trigger "
                "WHERE tgrelid = 'people_person'::regclass AND NOT tgisinternal"
            )
            for (definition,) in cur.fetchall():
                definition, found = re.subn(
                    r" ON (?:public\.)?people_person ", f" ON {table} ", definition, count=1
                )
                assert found == 1, definition
                cur.execute(definition.replace("CREATE TRIGGER ", f"CREATE TRIGGER {table}_", 1))
            cur.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'people_person'::regclass AND contype = 'f'"
            )
            for (definition,) in cur.fetchall():
                cur.execute(f"ALTER TABLE {table} ADD {definition}")
    # Every person needs a share code: the full-shape merge draws them as the import does.
    share_code = pgwrite.SHARE_CODE_SQL if full else "NULL"
    start = time.perf_counter()
    with connection.cursor() as django_cursor:
        cur = django_cursor.cursor
        cur.execute(
            f"CREATE UNLOGGED TABLE {table}_stage (first_name text, last_name text, email text, "
            "phone text, postcode text, town text)"
        )
        with (
            path.open("rb") as f,
            cur.copy(f"COPY {table}_stage FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
        ):
            while chunk := f.read(1 << 20):
                copy.write(chunk)
        cur.execute(
            f"""
            INSERT INTO {table} (first_name, last_name, email, phone, address_line1, address_line2,
                town, postcode, area_id, latitude, longitude, country, custom_fields,
                email_status, email_status_reason, membership_status, source_code, created_at,
                modified_at, share_code)
            SELECT DISTINCT ON (lower(btrim(s.email)))
                coalesce(s.first_name, ''), coalesce(s.last_name, ''), lower(btrim(s.email)),
                coalesce(s.phone, ''), '', '', coalesce(s.town, ''), coalesce(upper(s.postcode), ''),
                pc.area_id, pc.latitude, pc.longitude, 'GB', '{{}}', 'none', '', 'none', '', now(),
                now(), {share_code}
            FROM {table}_stage s LEFT JOIN areas_postcode pc ON pc.postcode = upper(s.postcode)
            WHERE s.email <> ''
            ORDER BY lower(btrim(s.email))
            ON CONFLICT (email) DO UPDATE SET
                first_name = coalesce(nullif(EXCLUDED.first_name, ''), {table}.first_name),
                last_name = coalesce(nullif(EXCLUDED.last_name, ''), {table}.last_name),
                phone = coalesce(nullif(EXCLUDED.phone, ''), {table}.phone),
                postcode = coalesce(nullif(EXCLUDED.postcode, ''), {table}.postcode),
                modified_at = now()
            """  # noqa: S608
        )
        merged = cur.rowcount
    return time.perf_counter() - start, merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    )
    args = parser.parse_args()

    import psycopg

    with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DB_NAME}")
        if os.environ.get("BENCH_LOG_MS"):
            # Slow statements of this database go to the server log (for profiling).
            admin.execute(
                f"ALTER DATABASE {DB_NAME} SET log_min_duration_statement = "
                f"{int(os.environ['BENCH_LOG_MS'])}"
            )

    workdir = Path(tempfile.mkdtemp(prefix="clarion-bench-import-"))
    os.environ["DATABASE_URL"] = f"{args.pg}/{DB_NAME}"
    os.environ["CLARION_DEMO"] = "1"
    os.environ["CLARION_VAR_DIR"] = str(workdir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "clarion.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from clarion.areas.models import Area, Postcode
    from clarion.areas.services import area_create
    from clarion.people.imports.parsing import (
        RowCleaner,
        csv_open,
        custom_field_defs,
        mapping_guess,
    )
    from clarion.people.imports.services import ImportContext, people_import_rows
    from clarion.people.models import Person

    call_command("migrate", verbosity=0)
    nation = area_create(code="N", name="Nation", kind=Area.Kind.NATION)
    leeds = area_create(code="LDS", name="Leeds", kind=Area.Kind.CONSTITUENCY, parent=nation)
    postcodes = make_postcodes(2000)
    Postcode.objects.bulk_create(
        [Postcode(postcode=pc, area=leeds, latitude=53.8, longitude=-1.55) for pc in postcodes]
    )

    path = workdir / "people.csv"
    t = time.perf_counter()
    dups = generate(path, args.rows, postcodes)
    print(
        f"generated {args.rows:,} rows ({dups:,} repeats) in {time.perf_counter() - t:.1f}s",
        file=sys.stderr,
    )

    # --- the import, through the real service ------------------------------------
    start = time.perf_counter()
    with path.open("rb") as handle:
        csv_file = csv_open(handle)
        cleaner = RowCleaner(mapping_guess(csv_file.headers), custom_field_defs())
        rows = (cleaner.clean(line, cells) for line, cells in csv_file.rows())

        printed = [0]

        def progress(counts):
            if counts.processed - printed[0] >= 200_000 or counts.processed == args.rows:
                printed[0] = counts.processed
                print(
                    f"  {counts.processed:,} rows, {time.perf_counter() - start:.1f}s",
                    file=sys.stderr,
                )

        from clarion.people.imports import pgwrite

        if os.environ.get("BENCH_PROFILE"):
            pgwrite.STEP_TIMES = {}
        profiler = None
        if os.environ.get("BENCH_CPROFILE"):
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        counts, rejects, _warned = people_import_rows(
            rows=rows, ctx=ImportContext(), progress=progress
        )
        if profiler is not None:
            import pstats

            profiler.disable()
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(35)
    elapsed = time.perf_counter() - start
    if pgwrite.STEP_TIMES is not None:
        # Seconds per step, summed over chunks (steps nest: "chunk" holds the others).
        for name, seconds in sorted(pgwrite.STEP_TIMES.items(), key=lambda kv: -kv[1]):
            print(f"  step {name}: {seconds:.2f}s", file=sys.stderr)
    people = Person.objects.count()
    print(
        f"import: {elapsed:.1f}s created={counts.created} updated={counts.updated} "
        f"rejected={counts.rejected} people={people}",
        file=sys.stderr,
    )
    assert people == args.rows - dups, (people, args.rows, dups)

    # --- the baseline: COPY + INSERT ... ON CONFLICT ---------------------------------
    # "full": a table shaped like people_person as the import meets it: the same
    # columns, defaults and indexes (LIKE ... INCLUDING ALL) plus the same triggers and
    # foreign keys, which LIKE leaves out but every write to people_person pays (the
    # segments "facts" trigger and its GIN index, the area foreign key), and share codes
    # drawn for new rows as people need them. "plain": indexes only, share codes left
    # NULL, as the earlier benchmark had it; printed too, for comparison.
    base_elapsed, baseline_people = baseline(connection, path, "bench_people", full=True)
    print(f"baseline (full shape): {base_elapsed:.1f}s people={baseline_people}", file=sys.stderr)
    plain_elapsed, plain_people = baseline(connection, path, "bench_people_plain", full=False)
    print(f"baseline (indexes only): {plain_elapsed:.1f}s people={plain_people}", file=sys.stderr)

    rate = args.rows / elapsed
    base_rate = args.rows / base_elapsed
    print(
        f"rows={args.rows} created={counts.created} updated={counts.updated} rejected={counts.rejected} "
        f"seconds={elapsed:.2f} baseline_seconds={base_elapsed:.2f} "
        f"rows_per_s={rate:.0f} baseline_rows_per_s={base_rate:.0f} ratio={rate / base_rate:.2f} "
        f"baseline_plain_rows_per_s={args.rows / plain_elapsed:.0f} "
        f"ratio_plain={rate / (args.rows / plain_elapsed):.2f}"
    )


if __name__ == "__main__":
    main()
