"""Writes: folding one timeline entry into a score, the set-based recompute, the
settings, and combining two people's scores when they are merged.

Locking and ordering:

- ``score_add`` is one statement (INSERT … ON CONFLICT DO UPDATE), so two entries for
  one person folded at the same moment both count: the database serialises the two
  upserts on the row, and each decays what the other wrote.
- ``recompute`` rebuilds every row in one transaction while holding a lock that
  makes folds wait (PostgreSQL: EXCLUSIVE on the score table, plain reads go on,
  then ACCESS EXCLUSIVE for the moment it swaps the rebuilt table in; SQLite has
  one writer anyway). A fold that waited runs on the rebuilt table (PostgreSQL
  looks the table's name up again once the lock is granted). An entry committed
  just before the rebuild whose fold runs just after it counts twice until the
  next recompute; the window is the time between a commit and its after-commit
  listener (milliseconds).
- Settings are read through a per-process cache of ``SETTINGS_TTL`` seconds, so a
  change reaches other processes' folds within that time; the recompute that a
  change starts runs after it, on the new settings.
"""

from __future__ import annotations

import math
import re
import time
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.conf import settings as django_settings
from django.db import connections, transaction
from django.utils import timezone

from clarion.core.models import AuditEntry
from clarion.core.services import audit_record

from .categories import BY_KEY, CATEGORIES, CATEGORY_KEYS, SCORED_KINDS, category_sql, classify
from .models import RISING_HALF_LIFE_DAYS, EngagementScore, EngagementSettings

LN2 = math.log(2)
DAY = 86400.0
TABLE = EngagementScore._meta.db_table
SETTINGS_TTL = 5.0
# A decay factor below e^-69 (about 1e-30) is taken as 0, so no product underflows
# (PostgreSQL raises on float underflow).
MIN_EXPONENT = -69.0

_cache: dict[str, Any] = {"at": -SETTINGS_TTL, "settings": None}


# --- settings ------------------------------------------------------------------------


def settings_get(*, fresh: bool = False) -> EngagementSettings:
    """The settings row (made with the defaults the first time), cached per process
    for ``SETTINGS_TTL`` seconds unless ``fresh``."""
    now = time.monotonic()
    if fresh or _cache["settings"] is None or now - _cache["at"] >= SETTINGS_TTL:
        row, _created = EngagementSettings.objects.get_or_create(pk=1)
        _cache.update(at=now, settings=row)
    return _cache["settings"]


def settings_forget() -> None:
    _cache.update(at=-SETTINGS_TTL, settings=None)


def weight(settings: EngagementSettings, key: str) -> float:
    try:
        return float(settings.weights.get(key, BY_KEY[key].default_points))
    except (TypeError, ValueError):
        return 0.0


def half_life_seconds(settings: EngagementSettings) -> float:
    return settings.half_life_days * DAY


RECENT_HALF_LIFE = RISING_HALF_LIFE_DAYS * DAY


@transaction.atomic
def settings_save(
    *,
    weights: dict[str, int],
    half_life_days: int,
    levels: list[tuple[str, int]],
    actor,
    ip: str | None = None,
) -> EngagementSettings:
    """Store new weights, half-life and levels (validated by ``forms.SettingsForm``),
    write an audit entry with what was and what is, and, when the weights or the
    half-life changed, queue the full recompute after commit."""
    row = EngagementSettings.objects.select_for_update().filter(pk=1).first()
    if row is None:
        row = EngagementSettings.objects.create(pk=1)
        row = EngagementSettings.objects.select_for_update().get(pk=1)
    before = {"weights": row.weights, "half_life_days": row.half_life_days, "levels": row.levels}
    row.weights = {key: int(weights.get(key, 0)) for key in CATEGORY_KEYS}
    row.half_life_days = int(half_life_days)
    row.levels = [[str(name), int(threshold)] for name, threshold in levels]
    row.updated_at = timezone.now()
    row.updated_by = actor if getattr(actor, "pk", None) else None
    row.save()
    after = {"weights": row.weights, "half_life_days": row.half_life_days, "levels": row.levels}
    audit_record(
        actor=actor,
        action=AuditEntry.Action.OTHER,
        summary="Engagement settings changed",
        object_type="engagement_settings",
        object_id=row.pk,
        detail={"before": before, "after": after},
        ip=ip,
    )
    settings_forget()
    transaction.on_commit(settings_forget)
    if before["weights"] != after["weights"] or before["half_life_days"] != row.half_life_days:
        from . import tasks

        transaction.on_commit(lambda: tasks.engagement_recompute.enqueue(), robust=True)
    return row


# --- SQL helpers ---------------------------------------------------------------------


def _vendor(using: str) -> str:
    return connections[using].vendor


def _greatest(vendor: str, a: str, b: str) -> str:
    return f"GREATEST({a}, {b})" if vendor == "postgresql" else f"MAX({a}, {b})"


def _decay(exponent: str) -> str:
    """2^(exponent-in-half-lives) given ``exponent`` already multiplied by ln 2."""
    return f"(CASE WHEN ({exponent}) < {MIN_EXPONENT} THEN 0.0 ELSE EXP({exponent}) END)"


def _epoch(vendor: str, column: str) -> str:
    if vendor == "postgresql":
        return f"date_part('epoch', {column})"
    return f"((julianday({column}) - 2440587.5) * 86400.0)"


COLUMNS = ("ref", "total", "key", "recent", "recent_key", "last_at", *CATEGORY_KEYS)


def _fold_sql(vendor: str) -> str:
    """The upsert that adds one entry's points: the stored values and the new points
    are both decayed to the later of the two reference times and summed."""
    t = TABLE
    g = _greatest(vendor, f"{t}.ref", "excluded.ref")
    f_old = _decay(f"({t}.ref - {g}) * %(ln2)s / %(h)s")
    f_new = _decay(f"(excluded.ref - {g}) * %(ln2)s / %(h)s")
    r_old = _decay(f"({t}.ref - {g}) * %(ln2)s / %(hr)s")
    r_new = _decay(f"(excluded.ref - {g}) * %(ln2)s / %(hr)s")
    total = f"({t}.total * {f_old} + excluded.total * {f_new})"
    recent = f"({t}.recent * {r_old} + excluded.recent * {r_new})"
    sets = [
        f"ref = {g}",
        f"total = {total}",
        f'"key" = CASE WHEN {total} > 0 THEN LN({total}) / %(ln2)s + {g} / %(h)s END',
        f"recent = {recent}",
        f"recent_key = CASE WHEN {recent} > 0 THEN LN({recent}) / %(ln2)s + {g} / %(hr)s END",
        f"last_at = CASE WHEN {t}.last_at IS NULL OR excluded.last_at > {t}.last_at "
        f"THEN excluded.last_at ELSE {t}.last_at END",
        *(f'"{c}" = {t}."{c}" * {f_old} + excluded."{c}" * {f_new}' for c in CATEGORY_KEYS),
    ]
    columns = ", ".join(f'"{c}"' for c in COLUMNS)
    values = ", ".join(f"%({c})s" for c in COLUMNS)
    return (
        f"INSERT INTO {t} (person_id, {columns}) "  # noqa: S608 (names are ours; values are parameters)
        f"SELECT %(person_id)s, {values} WHERE EXISTS "
        f"(SELECT 1 FROM people_person WHERE id = %(person_id)s) "
        f"ON CONFLICT (person_id) DO UPDATE SET {', '.join(sets)}"
    )


_fold_sql_cache: dict[str, str] = {}


# --- the incremental fold ------------------------------------------------------------


def score_add(
    *,
    person_id: int,
    category: str,
    points: float,
    at: datetime,
    settings: EngagementSettings | None = None,
    using: str = "default",
) -> None:
    """Add ``points`` earned at ``at`` under ``category`` to the person's score, in one
    atomic statement (see the module docstring). Nothing happens for a person who no
    longer exists (erased or merged away before the fold ran)."""
    if points <= 0:
        return
    settings = settings or settings_get()
    vendor = _vendor(using)
    sql = _fold_sql_cache.get(vendor)
    if sql is None:
        sql = _fold_sql_cache[vendor] = _fold_sql(vendor)
    h = half_life_seconds(settings)
    ref = at.timestamp()
    log_points = math.log2(points)
    params: dict[str, Any] = {
        "person_id": person_id,
        "ln2": LN2,
        "h": h,
        "hr": RECENT_HALF_LIFE,
        "ref": ref,
        "total": points,
        "key": log_points + ref / h,
        "recent": points,
        "recent_key": log_points + ref / RECENT_HALF_LIFE,
        "last_at": at,
        **{key: (points if key == category else 0.0) for key in CATEGORY_KEYS},
    }
    if vendor == "postgresql":
        # A score is derived data that a recompute rebuilds, so its commit need not
        # wait for the WAL flush: a crash can lose the last few folds, never a
        # signature (that committed before this ran).
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            cursor.execute("SELECT set_config('synchronous_commit', 'off', true)")
            cursor.execute(sql, params)
    else:
        with connections[using].cursor() as cursor:
            cursor.execute(sql, params)


def live() -> bool:
    """Whether folds run as entries arrive (``CLARION_ENGAGEMENT_LIVE``, default on).
    An operator may turn it off for a bulk load and run ``engagement_recompute`` after."""
    return bool(getattr(django_settings, "CLARION_ENGAGEMENT_LIVE", True))


def activity_fold(activity) -> None:
    """Activity listener (registered in ``EngagementConfig.ready``, run after the commit
    that wrote ``activity``): add the points the entry earns, and for a newcomer
    someone recruited, the recruiter's points. Costs one cached settings read and
    nothing else for an entry that earns nothing."""
    if activity.kind not in SCORED_KINDS or not live():
        return
    settings = settings_get()
    category = classify(activity.kind, activity.data)
    if category is not None:
        score_add(
            person_id=activity.person_id,
            category=category,
            points=weight(settings, category),
            at=activity.created_at,
            settings=settings,
        )
    if activity.kind == "created":
        recruiter = (activity.data or {}).get("recruiter")
        if isinstance(recruiter, int) and not isinstance(recruiter, bool):
            person = activity.person
            score_add(
                person_id=recruiter,
                category="recruit",
                points=weight(settings, "recruit"),
                at=person.created_at,
                settings=settings,
            )


# --- the set-based recompute ---------------------------------------------------------


def _weight_sql(vendor: str) -> str:
    """The points of one entry of category ``cat`` (NULL for none, so sums skip it)."""
    if vendor == "postgresql":
        return "(%(weights)s::float8[])[cat]"
    return "CASE cat " + " ".join(f"WHEN {c.code} THEN %(w_{c.key})s" for c in CATEGORIES) + " END"


def scores_select_sql(vendor: str) -> str:
    """A SELECT of every person's score columns, rebuilt from the timeline (and, for
    recruits, the people table) with the current settings as parameters.

    Per row, in the UNION's branches (so once per row, not once per aggregate that
    uses it): the entry's category (no filter on it, which the planner would push
    down and evaluate again; entries without one reach the sums as NULL points and
    add nothing), and its two decay factors. On PostgreSQL a factor is 0 when the
    entry is older than a cutoff time computed once (the same as the fold's
    ``MIN_EXPONENT`` test, without converting the entry's time to seconds for it:
    two conversions a row instead of four). Computing that conversion once in a
    subquery kept apart by ``OFFSET 0`` costs less CPU but stops the statement
    from running in parallel, which costs more time (measured on 500,000 people)."""
    kinds = ", ".join(f"'{k}'" for k in SCORED_KINDS)
    w = _weight_sql(vendor)

    def decay(at: str, half_life: str) -> str:
        exponent = f"({_epoch(vendor, at)} - %(now)s) * %(ln2)s / %({half_life})s"
        if vendor != "postgresql":
            return _decay(exponent)
        cutoff = f"to_timestamp(%(now)s - %(span_{half_life})s)"
        return f"(CASE WHEN {at} < {cutoff} THEN 0.0 ELSE EXP({exponent}) END)"

    def branch(person: str, cat: str, at: str, source: str) -> str:
        # Names and expressions are ours; values are parameters.
        return (
            f"SELECT {person} AS person_id, {cat} AS cat, {at} AS created_at, "  # noqa: S608
            f"{decay(at, 'h')} AS d, {decay(at, 'hr')} AS dr FROM {source}"
        )

    parts = ", ".join(
        f'COALESCE(SUM(CASE WHEN cat = {c.code} THEN d END), 0) * %(w_{c.key})s AS "{c.key}"'
        for c in CATEGORIES
    )
    categories = ", ".join(f's."{c}"' for c in CATEGORY_KEYS)
    timeline = branch(
        "a.person_id",
        category_sql(vendor),
        "a.created_at",
        f"people_activity a WHERE a.kind IN ({kinds})",
    )
    recruits = branch(
        "p.recruiter_id",
        str(BY_KEY["recruit"].code),
        "p.created_at",
        "people_person p WHERE p.recruiter_id IS NOT NULL",
    )
    # Names and codes are ours; every value is a parameter.
    return f"""
SELECT s.person_id, %(now)s AS ref, s.total,
       CASE WHEN s.total > 0 THEN LN(s.total) / %(ln2)s + %(now)s / %(h)s END AS "key",
       s.recent,
       CASE WHEN s.recent > 0 THEN LN(s.recent) / %(ln2)s + %(now)s / %(hr)s END AS recent_key,
       s.last_at, {categories}
FROM (
  SELECT person_id, SUM(d * {w}) AS total, SUM(dr * {w}) AS recent,
         MAX(CASE WHEN {w} > 0 THEN created_at END) AS last_at, {parts}
  FROM (
    {timeline}
    UNION ALL
    {recruits}
  ) raw
  GROUP BY person_id
) s
WHERE s.total > 0
"""  # noqa: S608


RECOMPUTE_WORK_MEM = "256MB"
REBUILD = "engagement_rebuild"
# pg_get_indexdef's "CREATE [UNIQUE] INDEX name ON [ONLY] schema.table USING …".
_INDEX_DEF = re.compile(r"^(CREATE (?:UNIQUE )?INDEX )(\S+) ON (?:ONLY )?(\S+) (USING .*)$", re.S)


def _score_table(cursor) -> tuple[list[tuple], list[str], list[tuple[str, str, str | None]]]:
    """What the rebuilt table must copy from the live one, read from the catalog:
    its columns (name, type, NOT NULL, default) in order, its check constraints
    (``ADD CONSTRAINT`` clauses) and its indexes (name, definition, and "p" or "u"
    when one backs a primary key or unique constraint). Anything it could not copy
    (a foreign key, an exclusion or deferrable constraint, an identity or generated
    column) stops the recompute before it writes anything."""
    cursor.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
        "pg_get_expr(d.adbin, d.adrelid), a.attidentity <> '' OR a.attgenerated <> '' "
        "FROM pg_attribute a LEFT JOIN pg_attrdef d "
        "ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum",
        [TABLE],
    )
    columns = cursor.fetchall()
    cursor.execute(
        "SELECT conname, contype, condeferrable, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass ORDER BY conname",
        [TABLE],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid), con.contype "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid "
        "WHERE i.indrelid = %s::regclass ORDER BY c.relname",
        [TABLE],
    )
    indexes = cursor.fetchall()
    unsupported = [f"column {c[0]}" for c in columns if c[4]] + [
        f"constraint {name}"
        for name, kind, deferrable, _ in constraints
        if kind not in ("p", "u", "c") or deferrable
    ]
    if unsupported:
        raise NotImplementedError(
            f"The engagement recompute cannot copy {', '.join(unsupported)} of {TABLE}: "
            "teach services._score_table and _rebuild_postgresql to."
        )
    checks = [
        f'ADD CONSTRAINT "{name}" {definition}'
        for name, kind, _, definition in constraints
        if kind == "c"
    ]
    return columns, checks, indexes


def _rebuild_postgresql(cursor, params: dict[str, Any]) -> int:
    """Fill a fresh copy of the score table and swap it in; returns its row count.

    Writing 500,000 wide rows into the live table cost more than computing them: each
    row updated two B-trees, and the DELETE before it left as many dead rows. So the
    rows go into a new table made by ``CREATE TABLE … AS`` (which, unlike ``INSERT …
    SELECT``, may compute them in parallel), with the live table's column types,
    then its NOT NULLs, defaults and checks (one pass over the rows); each of the
    live table's indexes is built once, sorted, from its own definition; and the new
    table takes the old one's place and names. Migrations keep working: names,
    columns and indexes are the same (``tests/test_recompute.py``). Privileges
    granted on the table by hand and storage parameters are not copied.

    Locks: EXCLUSIVE on the live table while the rows are computed, so folds, merges
    and erasures wait (as they must: the rebuild would lose their writes) while
    plain reads go on; ACCESS EXCLUSIVE only for the swap at the end (waiting for
    transactions that read the table to finish; reads that arrive meanwhile queue
    behind it). Statements that queued on the old table look its name up again once
    the lock is theirs, and so act on the new one. Runs inside the caller's
    transaction: a failure leaves the live table as it was."""
    cursor.execute(f"LOCK TABLE {TABLE} IN EXCLUSIVE MODE")
    select = scores_select_sql("postgresql")
    columns, checks, indexes = _score_table(cursor)
    computed = {"person_id", *COLUMNS}
    missing = [name for name, *_ in columns if name not in computed]
    if missing:
        raise NotImplementedError(f"The engagement recompute does not compute {missing}.")
    casts = ", ".join(f'r."{name}"::{type_} AS "{name}"' for name, type_, *_ in columns)
    cursor.execute(f"CREATE TABLE {REBUILD} AS SELECT {casts} FROM ({select}) r", params)  # noqa: S608
    count = cursor.rowcount
    alters = [
        *(f'ALTER COLUMN "{name}" SET NOT NULL' for name, _, notnull, *_ in columns if notnull),
        *(
            f'ALTER COLUMN "{name}" SET DEFAULT {default}'
            for name, _, _, default, _ in columns
            if default is not None
        ),
        *checks,
    ]
    if alters:
        cursor.execute(f"ALTER TABLE {REBUILD} {', '.join(alters)}")
    renames = []
    for number, (name, definition, contype) in enumerate(indexes):
        match = _INDEX_DEF.match(definition)
        if match is None:  # pragma: no cover - PostgreSQL's own output
            raise NotImplementedError(f"Unexpected index definition: {definition}")
        temporary = f"{REBUILD}_{number}"
        cursor.execute(f"{match[1]}{temporary} ON {REBUILD} {match[4]}")
        renames.append((name, temporary, contype))
    cursor.execute(f"ANALYZE {REBUILD}")
    cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
    cursor.execute(f"DROP TABLE {TABLE}")
    cursor.execute(f"ALTER TABLE {REBUILD} RENAME TO {TABLE}")
    for name, temporary, contype in renames:
        if contype is None:
            cursor.execute(f'ALTER INDEX {temporary} RENAME TO "{name}"')
        else:
            # The constraint takes the index over and gives it the constraint's name.
            kind = "PRIMARY KEY" if contype == "p" else "UNIQUE"
            cursor.execute(
                f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" {kind} USING INDEX {temporary}'
            )
    return count


# For this transaction only, and put back after (the recompute may run inside a
# longer transaction, as the demo's history does). ``enable_sort = off``: the planner
# expects 200 people (it has no statistics for a column of a UNION ALL), so it sorts
# the workers' partial sums to merge them; merging them in a hash table instead cost
# 2.8 s against 4.9 s for the sorts and the merge (EXPLAIN ANALYZE, 500k people).
# ``parallel_leader_participation = off``: the leader only gathers and merges the
# workers' partial sums instead of also scanning a share of the timeline (and
# building a third hash table of nearly every person to merge); on the 2-core
# machine the statement took 3.6–4.0 s against 4.3–4.6 s with it on (alternated,
# EXPLAIN ANALYZE, 500k people, quiet machine).
RECOMPUTE_SETTINGS = {
    "work_mem": RECOMPUTE_WORK_MEM,
    "maintenance_work_mem": RECOMPUTE_WORK_MEM,
    "enable_sort": "off",
    "parallel_leader_participation": "off",
}


@contextmanager
def _settings_for_recompute(cursor):
    names = list(RECOMPUTE_SETTINGS)
    cursor.execute(
        "SELECT " + ", ".join("current_setting(%s)" for _ in names),
        names,
    )
    saved = dict(zip(names, cursor.fetchone(), strict=True))
    for name, value in RECOMPUTE_SETTINGS.items():
        cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
    yield
    for name, value in saved.items():
        cursor.execute("SELECT set_config(%s, %s, true)", [name, value])


def recompute(*, now: datetime | None = None, using: str = "default") -> int:
    """Rebuild every score from the timeline with the current settings, set-based, in
    one transaction: on PostgreSQL into a fresh table swapped in for the old one (see
    ``_rebuild_postgresql``), on SQLite by one DELETE and one INSERT … SELECT.
    Returns the number of people with a score. Idempotent; folds wait for it (see
    the module docstring)."""
    settings = settings_get(fresh=True)
    now = now or timezone.now()
    vendor = _vendor(using)
    weights = [weight(settings, key) for key in CATEGORY_KEYS]
    params: dict[str, Any] = {
        "now": now.timestamp(),
        "ln2": LN2,
        "h": half_life_seconds(settings),
        "hr": RECENT_HALF_LIFE,
        **{f"w_{key}": w for key, w in zip(CATEGORY_KEYS, weights, strict=True)},
    }
    if vendor == "postgresql":
        params["weights"] = weights  # indexed by code: CATEGORIES are coded 1, 2, … in order
        # How far back a decay factor stays above e^MIN_EXPONENT, in seconds.
        params["span_h"] = -MIN_EXPONENT * params["h"] / LN2
        params["span_hr"] = -MIN_EXPONENT * RECENT_HALF_LIFE / LN2
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        if vendor == "postgresql":
            with _settings_for_recompute(cursor):
                count = _rebuild_postgresql(cursor, params)
        else:
            # The transaction began IMMEDIATE (settings): it holds the write lock.
            select = scores_select_sql(vendor)
            columns = "person_id, " + ", ".join(f'"{c}"' for c in COLUMNS)
            cursor.execute(f"DELETE FROM {TABLE}")  # noqa: S608 (our table)
            cursor.execute(f"INSERT INTO {TABLE} ({columns}) {select}", params)  # noqa: S608
            count = cursor.rowcount
        EngagementSettings.objects.using(using).filter(pk=settings.pk).update(
            recomputed_at=timezone.now(), recomputed_people=max(count, 0)
        )
    return count


# --- privacy -------------------------------------------------------------------------


def scores_merge(survivor, duplicate) -> None:
    """Merge hook: the survivor's score becomes the sum of both, each decayed to the
    later reference time (the duplicate's timeline and recruits move to the survivor,
    so this equals what a recompute would give). Runs inside ``person_merge``'s
    transaction; locks both score rows."""
    rows = {
        r.person_id: r
        for r in EngagementScore.objects.select_for_update()
        .filter(person_id__in=[survivor.pk, duplicate.pk])
        .order_by("person_id")
    }
    dup = rows.get(duplicate.pk)
    if dup is None:
        return
    keep = rows.get(survivor.pk)
    if keep is None:
        EngagementScore.objects.filter(person_id=duplicate.pk).update(person_id=survivor.pk)
        return
    settings = settings_get()
    h = half_life_seconds(settings)
    ref = max(keep.ref, dup.ref)

    def decayed(value: float, at: float, half_life: float) -> float:
        return value * 2 ** (-(ref - at) / half_life)

    for name in (*CATEGORY_KEYS, "total"):
        setattr(
            keep,
            name,
            decayed(getattr(keep, name), keep.ref, h) + decayed(getattr(dup, name), dup.ref, h),
        )
    keep.recent = decayed(keep.recent, keep.ref, RECENT_HALF_LIFE) + decayed(
        dup.recent, dup.ref, RECENT_HALF_LIFE
    )
    keep.ref = ref
    keep.key = math.log2(keep.total) + ref / h if keep.total > 0 else None
    keep.recent_key = math.log2(keep.recent) + ref / RECENT_HALF_LIFE if keep.recent > 0 else None
    keep.last_at = max(filter(None, [keep.last_at, dup.last_at]), default=None)
    dup.delete()
    keep.save()


def scores_erase(person) -> None:
    EngagementScore.objects.filter(person_id=person.pk).delete()
