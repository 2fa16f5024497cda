"""The PostgreSQL side of people imports: set-based SQL around COPY.

``services._plan_batch`` decides, row by row in file order and with exactly the rules of
``person_upsert``, who each row is and what changes (a few dictionary look-ups per row).
Everything that touches the database is done here in a handful of statements per chunk,
whatever the chunk's size:

- ``lookup``: the chunk's distinct emails, phones and external ids are COPY'd into
  temporary tables and joined against people, their other emails/phones and their ids
  (the planner picks hash or index joins; no giant ``= ANY`` arrays);
- ``write_plan``: new people are COPY'd into a temporary staging table (ids drawn from
  the people sequence as they land, in file order, so primary-key order still follows
  the file as it does row by row) and moved with one ``INSERT ... SELECT`` sorted by
  email (B-tree locality) that also generates share codes; their "joined" timeline
  entries are one more ``INSERT ... SELECT``. Changed people are one ``UPDATE ... FROM``
  a staging table; other emails/phones, ids, tags and lists are ``INSERT ... SELECT``
  from arrays, ``ON CONFLICT DO NOTHING`` where ``person_upsert`` tolerates an existing
  row; the remaining timeline entries are COPY'd.

All of it runs inside the caller's transaction (one per chunk). A unique violation from
a concurrent writer surfaces as Django's ``IntegrityError`` so the caller can replay the
chunk row by row; a share-code collision is retried here with fresh codes.

``STEP_TIMES``: set it to ``{}`` to collect seconds per step (the benchmark prints them
with ``BENCH_PROFILE=1``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import IntegrityError, connection, transaction

from clarion.people.models import (
    Activity,
    ListMembership,
    Person,
    PersonEmail,
    PersonIdentifier,
    PersonPhone,
    Tagging,
)

STEP_TIMES: dict[str, float] | None = None
SHARE_CODE_TRIES = 5

# A share code like ``secrets.token_urlsafe(6)``: 6 random bytes as 8 URL-safe base64
# characters. The first 6 bytes of a version-4 UUID are all random.
SHARE_CODE_SQL = (
    "translate(encode(substring(uuid_send(gen_random_uuid()) from 1 for 6), 'base64'), '+/', '-_')"
)

NEW_COLUMNS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "address_line1",
    "address_line2",
    "town",
    "postcode",
    "area_id",
    "latitude",
    "longitude",
    "custom_fields",
    "email_status",
    "email_status_changed_at",
)


@contextmanager
def step(name: str) -> Iterator[None]:
    if STEP_TIMES is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        STEP_TIMES[name] = STEP_TIMES.get(name, 0.0) + time.perf_counter() - start


def step_record(name: str, seconds: float) -> None:
    if STEP_TIMES is not None:
        STEP_TIMES[name] = STEP_TIMES.get(name, 0.0) + seconds


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _copy(cursor, table: str, columns: Iterable[str], rows: Iterable[tuple]) -> None:
    cols = ", ".join(_q(c) for c in columns)
    with cursor.copy(f"COPY {_q(table)} ({cols}) FROM STDIN") as copy:
        write = copy.write_row
        for row in rows:
            write(row)


def _temp(cursor, name: str, definition: str) -> None:
    """An empty temporary table ``name`` (kept for the session, emptied each chunk)."""
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({definition})")
    cursor.execute(f"TRUNCATE {name}")


# --- finding who a chunk's keys belong to ----------------------------------------------


@contextmanager
def _index_probes(cur) -> Iterator[None]:
    """Join the chunk's (sorted) keys to people by probing the people indexes in key
    order, not by hashing or sorting the whole people table: a chunk has at most
    ``PG_BATCH`` keys, people may have millions of rows. Measured on 950k people and
    190k keys: 0.3 s against 2.3 s for the hash join the planner chose (it knows the
    temporary table's size but, between autovacuum runs, not how many people a big
    import has just added). Inside the chunk's transaction; the settings are put back
    after."""
    cur.execute("SELECT current_setting('enable_hashjoin'), current_setting('enable_mergejoin')")
    hashjoin, mergejoin = cur.fetchone()
    cur.execute("SET LOCAL enable_hashjoin = off")
    cur.execute("SET LOCAL enable_mergejoin = off")
    yield
    # (After an error the transaction is rolled back, and SET LOCAL with it.)
    cur.execute("SELECT set_config('enable_hashjoin', %s, true)", [hashjoin])
    cur.execute("SELECT set_config('enable_mergejoin', %s, true)", [mergejoin])


def keys_of(rows) -> tuple[set[str], set[str], set[tuple[str, str]]]:
    """The emails, phones and (system, value) identifiers ``rows`` may match by."""
    return (
        {r.email for r in rows if r.email},
        {r.phone for r in rows if r.phone},
        {r.identifier for r in rows if r.identifier},
    )


def lookup(rows) -> tuple[dict, dict, dict, dict, dict]:
    """Existing matches for the chunk's keys, as ``services._lookup`` returns them:
    primary emails, other emails, primary phones (lowest id), other phones (lowest id)
    and (system, value) ids, each mapped to a person id."""
    return lookup_keys(*keys_of(rows))


def lookup_keys(
    emails: Iterable[str],
    phones: Iterable[str],
    idents: Iterable[tuple[str, str]],
    *,
    step_name: str = "lookup",
) -> tuple[dict, dict, dict, dict, dict]:
    """``lookup`` for the given keys (``step_name`` names its time in ``STEP_TIMES``)."""
    # Sorted, so the joins probe the people indexes in key order: each index page is
    # read once per chunk instead of once per key (the indexes outgrow the cache).
    emails = sorted(emails)
    phones = sorted(phones)
    idents = sorted(idents)
    prim_email: dict[str, int] = {}
    other_email: dict[str, int] = {}
    prim_phone: dict[str, int] = {}
    other_phone: dict[str, int] = {}
    ident: dict[tuple[str, str], int] = {}
    person = _q(Person._meta.db_table)
    with (
        step(step_name),
        connection.wrap_database_errors,
        connection.cursor() as django_cursor,
        _index_probes(django_cursor.cursor),
    ):
        cur = django_cursor.cursor
        if emails:
            _temp(cur, "clarion_import_k_email", "email text")
            _copy(cur, "clarion_import_k_email", ["email"], ((e,) for e in emails))
            cur.execute("ANALYZE clarion_import_k_email")
            cur.execute(
                f"SELECT p.email, p.id FROM {person} p "  # noqa: S608
                "JOIN clarion_import_k_email k ON k.email = p.email"
            )
            prim_email = dict(cur.fetchall())
            cur.execute(
                f"SELECT e.email, e.person_id FROM {_q(PersonEmail._meta.db_table)} e "  # noqa: S608
                "JOIN clarion_import_k_email k ON k.email = e.email"
            )
            other_email = dict(cur.fetchall())
        if phones:
            _temp(cur, "clarion_import_k_phone", "phone text")
            _copy(cur, "clarion_import_k_phone", ["phone"], ((p,) for p in phones))
            cur.execute("ANALYZE clarion_import_k_phone")
            cur.execute(
                f"SELECT p.phone, min(p.id) FROM {person} p "  # noqa: S608
                "JOIN clarion_import_k_phone k ON k.phone = p.phone GROUP BY p.phone"
            )
            prim_phone = dict(cur.fetchall())
            cur.execute(
                "SELECT DISTINCT ON (o.number) o.number, o.person_id "  # noqa: S608
                f"FROM {_q(PersonPhone._meta.db_table)} o "
                "JOIN clarion_import_k_phone k ON k.phone = o.number ORDER BY o.number, o.id"
            )
            other_phone = dict(cur.fetchall())
        if idents:
            _temp(cur, "clarion_import_k_ident", "system text, value text")
            _copy(cur, "clarion_import_k_ident", ["system", "value"], idents)
            cur.execute("ANALYZE clarion_import_k_ident")
            cur.execute(
                f"SELECT i.system, i.value, i.person_id FROM {_q(PersonIdentifier._meta.db_table)} i "  # noqa: S608
                "JOIN clarion_import_k_ident k ON k.system = i.system AND k.value = i.value"
            )
            ident = {(system, value): pid for system, value, pid in cur.fetchall()}
    return prim_email, other_email, prim_phone, other_phone, ident


def people_for_update(ids: list[int], fields: Iterable[str]) -> list[tuple[int, dict]]:
    """(id, {field: value}) of people ``ids``, locked FOR UPDATE; one array parameter."""
    fields = list(fields)
    cols = ", ".join(_q(f) for f in fields)
    out = []
    with step("lookup"), connection.wrap_database_errors, connection.cursor() as django_cursor:
        cur = django_cursor.cursor
        cur.execute(
            f"SELECT id, {cols} FROM {_q(Person._meta.db_table)} "  # noqa: S608
            "WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
            [ids],
        )
        custom = fields.index("custom_fields")
        for pid, *values in cur.fetchall():
            if isinstance(values[custom], str):  # Django has psycopg leave JSON as text
                values[custom] = json.loads(values[custom])
            out.append((pid, dict(zip(fields, values, strict=True))))
    return out


def pairs_of(table: str, column: str, person_ids: list[int], wanted: list[int]) -> list[tuple]:
    """(person_id, ``column``) rows of ``table`` for these people and values."""
    with step("lookup"), connection.wrap_database_errors, connection.cursor() as django_cursor:
        cur = django_cursor.cursor
        cur.execute(
            f"SELECT person_id, {_q(column)} FROM {_q(table)} "  # noqa: S608
            f"WHERE person_id = ANY(%s) AND {_q(column)} = ANY(%s)",
            [person_ids, wanted],
        )
        return cur.fetchall()


# --- writing a plan --------------------------------------------------------------------


def _is_share_code_clash(exc: IntegrityError) -> bool:
    diag = getattr(exc.__cause__, "diag", None)
    return "share_code" in (getattr(diag, "constraint_name", "") or "")


def _insert_new_people(cur, plan, ctx, now, staged: Callable[[], None] | None) -> None:
    """Insert the plan's new people and their "joined" timeline entries, and set the
    id of each new person the rest of the plan refers to. Inside the chunk's
    transaction; a share-code clash is retried (in a savepoint) with fresh codes.
    ``staged`` is called once the Python side of the work is done (the people are
    staged) and the database's long part begins."""
    with step("stage_new"):
        _stage_new(cur, plan)
    if staged is not None:
        staged()
    sql, params = _insert_new_sql(now)
    with step("insert_people"):
        cur.execute("SET LOCAL work_mem = '64MB'")
        for attempt in range(SHARE_CODE_TRIES):
            try:
                with transaction.atomic(), connection.wrap_database_errors:
                    cur.execute(sql, params)
                break
            except IntegrityError as exc:
                if not _is_share_code_clash(exc) or attempt == SHARE_CODE_TRIES - 1:
                    raise
    with step("insert_joined"):
        cur.execute(
            f"INSERT INTO {_q(Activity._meta.db_table)} "  # noqa: S608
            "(person_id, kind, summary, data, actor_id, created_at) "
            "SELECT n.id, %s, %s, %s::jsonb, %s, %s FROM clarion_import_new n",
            [
                Activity.Kind.CREATED.value,
                str(plan.joined_summary)[:500],
                json.dumps(plan.joined_data),
                ctx.actor_id,
                now,
            ],
        )
    # Ids of new people that anything else in the plan refers to.
    needed = {s.seq for s in _referenced(plan) if s.new}
    if needed:
        cur.execute("SELECT seq, id FROM clarion_import_new WHERE seq = ANY(%s)", [sorted(needed)])
        ids = dict(cur.fetchall())
        for s in plan.new:
            if s.seq in ids:
                s.pid = ids[s.seq]


def _stage_new(cur, plan) -> None:
    """COPY the plan's new people into the temporary ``clarion_import_new``, which draws
    their ids from the people sequence as rows arrive: in file order, as
    ``person_upsert`` would."""
    table = Person._meta.db_table
    cur.execute(f"SELECT pg_get_serial_sequence('{table}', 'id')")
    sequence = cur.fetchone()[0]
    _temp(
        cur,
        "clarion_import_new",
        f"id bigint NOT NULL DEFAULT nextval('{sequence}'), seq integer, email text, "
        "phone text, first_name text, last_name text, address_line1 text, "
        "address_line2 text, town text, postcode text, area_id bigint, latitude float8, "
        "longitude float8, custom_fields jsonb, email_status text, "
        "email_status_changed_at timestamptz",
    )
    _copy(
        cur,
        "clarion_import_new",
        ("seq", *NEW_COLUMNS),
        ((s.seq, *(s.staged or staging_row(s.vals))) for s in plan.new),
    )


def staging_row(vals: dict[str, Any]) -> tuple:
    """A new person's values (``matching.STATE_FIELDS``) as their ``NEW_COLUMNS`` row
    of the staging table."""
    custom = vals["custom_fields"]
    return (
        vals["email"],
        vals["phone"],
        vals["first_name"],
        vals["last_name"],
        vals["address_line1"],
        vals["address_line2"],
        vals["town"],
        vals["postcode"],
        vals["area_id"],
        vals["latitude"],
        vals["longitude"],
        json.dumps(custom) if custom else "{}",
        vals["email_status"],
        vals["email_status_changed_at"],
    )


def _insert_new_sql(now) -> tuple[str, list[Any]]:
    """The ``INSERT ... SELECT`` moving staged people into the people table, sorted by
    email (B-tree locality), with fresh share codes, and its parameters: the columns
    every new person shares, and the default of any other required column (added
    later by another app)."""
    fixed = {
        "email_status_reason": "",
        "country": "GB",
        "membership_status": "none",
        "source_code": "",
        "created_at": now,
        "modified_at": now,
    }
    known = {"id", "share_code", *NEW_COLUMNS, *fixed}
    for f in Person._meta.concrete_fields:
        if f.column not in known and not f.null:
            fixed[f.column] = f.get_db_prep_save(f.get_default(), connection)
    columns = ["id", *NEW_COLUMNS, "share_code", *fixed]
    select = ", ".join(
        [
            *(f"n.{_q(c)}" for c in ("id", *NEW_COLUMNS)),
            SHARE_CODE_SQL,
            *(["%s"] * len(fixed)),
        ]
    )
    sql = (
        f"INSERT INTO {_q(Person._meta.db_table)} ({', '.join(_q(c) for c in columns)}) "  # noqa: S608
        f"SELECT {select} FROM clarion_import_new n ORDER BY n.email"
    )
    return sql, list(fixed.values())


def _referenced(plan) -> Iterator[Any]:
    for s, *_rest in plan.other_emails:
        yield s
    for s, *_rest in plan.other_phones:
        yield s
    for s, *_rest in plan.identifiers:
        yield s
    for s, *_rest in plan.taggings:
        yield s
    for s, *_rest in plan.listings:
        yield s
    for s, kind, *_rest in plan.activities:
        if not (s.new and kind == Activity.Kind.CREATED):
            yield s


def _update_changed(cur, plan) -> None:
    table = Person._meta.db_table
    fields = sorted({f for s in plan.changed for f in s.dirty})
    # Column names come from the planner's field list, never from the file.
    cols = ", ".join(_q(f) for f in fields)
    cur.execute("DROP TABLE IF EXISTS clarion_import_upd")
    cur.execute(
        f"CREATE TEMP TABLE clarion_import_upd AS SELECT id, {cols} FROM {_q(table)} WITH NO DATA"  # noqa: S608
    )
    _copy(
        cur,
        "clarion_import_upd",
        ["id", *fields],
        (
            (
                s.pid,
                *[json.dumps(s.vals[f]) if f == "custom_fields" else s.vals[f] for f in fields],
            )
            for s in sorted(plan.changed, key=lambda s: s.pid)
        ),
    )
    sets = ", ".join(f"{_q(f)} = u.{_q(f)}" for f in fields)
    cur.execute(f"UPDATE {_q(table)} p SET {sets} FROM clarion_import_upd u WHERE p.id = u.id")  # noqa: S608


def _insert_pairs(
    cur, table: str, columns: tuple[str, str], types: tuple[str, str], pairs, now, *, conflict: bool
) -> None:
    """INSERT (a, b, created_at) rows from two arrays in one statement."""
    if not pairs:
        return
    first = [p[0] for p in pairs]
    second = [p[1] for p in pairs]
    tail = " ON CONFLICT DO NOTHING" if conflict else ""
    cur.execute(
        f"INSERT INTO {_q(table)} ({_q(columns[0])}, {_q(columns[1])}, created_at) "  # noqa: S608
        f"SELECT a, b, %s FROM unnest(%s::{types[0]}[], %s::{types[1]}[]) AS t(a, b){tail}",
        [now, first, second],
    )


def _insert_identifiers(cur, rows: list[tuple[int, str, str]], *, conflict: bool) -> None:
    if not rows:
        return
    tail = " ON CONFLICT DO NOTHING" if conflict else ""
    cur.execute(
        f"INSERT INTO {_q(PersonIdentifier._meta.db_table)} (person_id, system, value) "  # noqa: S608
        f"SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[]){tail}",
        [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]],
    )


def write_plan(plan, ctx, now, staged: Callable[[], None] | None = None) -> None:
    """Write ``plan`` (see ``services._Plan``) inside the caller's transaction.
    ``staged``, if given, is called when what is left is mostly the database's work:
    after the new people are staged, or at once when there are none."""
    with connection.wrap_database_errors, connection.cursor() as django_cursor:
        cur = django_cursor.cursor
        if plan.new:
            _insert_new_people(cur, plan, ctx, now, staged)
        elif staged is not None:
            staged()
        if plan.changed:
            with step("update_people"):
                _update_changed(cur, plan)
        with step("children"):
            _insert_pairs(
                cur,
                PersonEmail._meta.db_table,
                ("person_id", "email"),
                ("bigint", "text"),
                [(s.pid, e) for s, e in plan.other_emails],
                now,
                conflict=True,
            )
            _insert_pairs(
                cur,
                PersonPhone._meta.db_table,
                ("person_id", "number"),
                ("bigint", "text"),
                [(s.pid, n) for s, n in plan.other_phones],
                now,
                conflict=True,
            )
            # An id taken meanwhile by someone else must fail the chunk (as in
            # person_upsert, which would raise); existing people keep what they have.
            _insert_identifiers(
                cur, [(s.pid, sy, v) for s, sy, v in plan.identifiers if s.new], conflict=False
            )
            _insert_identifiers(
                cur, [(s.pid, sy, v) for s, sy, v in plan.identifiers if not s.new], conflict=True
            )
            _insert_pairs(
                cur,
                Tagging._meta.db_table,
                ("person_id", "tag_id"),
                ("bigint", "bigint"),
                [(s.pid, t) for s, t in plan.taggings],
                now,
                conflict=True,
            )
            _insert_pairs(
                cur,
                ListMembership._meta.db_table,
                ("person_id", "list_id"),
                ("bigint", "bigint"),
                [(s.pid, x) for s, x in plan.listings],
                now,
                conflict=True,
            )
        with step("activities"):
            rest = [a for a in plan.activities if not (a[0].new and a[1] == Activity.Kind.CREATED)]
            if rest:
                dumped: dict[int, str] = {}

                def dumps(data: dict) -> str:
                    key = id(data)
                    if key not in dumped:
                        dumped[key] = json.dumps(data)
                    return dumped[key]

                _copy(
                    cur,
                    Activity._meta.db_table,
                    ["person_id", "kind", "summary", "data", "actor_id", "created_at"],
                    (
                        (s.pid, k, str(summary)[:500], dumps(d), ctx.actor_id, now)
                        for s, k, summary, d in rest
                    ),
                )
