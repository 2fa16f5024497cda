"""Numbers the API keeps between requests: rate-limit counters, paging boundaries and
cached counts, in as few round trips as the cache allows.

With Redis as the cache they live there (``core.ratelimit`` and the cache's
``get_many``/``set_many``). With Django's database cache every cache write costs a
transaction, a culling ``COUNT(*)``, a read and a write, so a collection request spent
about 30 queries on bookkeeping; there they live in ``ApiState`` instead: one
``SELECT`` reads everything a page needs, one upsert writes it, and a rate-limit hit is
one ``INSERT … ON CONFLICT … RETURNING`` (atomic, so concurrent hits all count).
"""

from __future__ import annotations

import time

from django.core.cache import cache, caches
from django.core.cache.backends.db import BaseDatabaseCache
from django.db import connection

from clarion.core.ratelimit import ratelimit_hit

from .models import ApiState


def in_database() -> bool:
    """Whether the shared cache is Django's database cache (so ``ApiState`` is used)."""
    return isinstance(caches["default"], BaseDatabaseCache)


def state_get_many(keys: list[str]) -> dict[str, int]:
    """The live values among ``keys`` (missing or expired keys are left out)."""
    if not keys:
        return {}
    if not in_database():
        return cache.get_many(keys)
    now = int(time.time())
    return dict(ApiState.objects.filter(key__in=keys, expires__gt=now).values_list("key", "value"))


def state_set_many(values: dict[str, tuple[int, int]]) -> None:
    """Store each ``key: (value, ttl seconds)``, replacing what was there (one statement
    on the database; with Redis one ``set_many`` per distinct ttl)."""
    if not values:
        return
    if not in_database():
        by_ttl: dict[int, dict[str, int]] = {}
        for name, (value, ttl) in values.items():
            by_ttl.setdefault(ttl, {})[name] = value
        for ttl, group in by_ttl.items():
            cache.set_many(group, ttl)
        return
    now = int(time.time())
    ApiState.objects.bulk_create(
        [
            ApiState(key=name, value=value, expires=now + ttl)
            for name, (value, ttl) in sorted(values.items())
        ],
        update_conflicts=True,
        unique_fields=["key"],
        update_fields=["value", "expires"],
    )


def rate_hit(*, ident: str, window: int) -> int:
    """Count one API request of ``ident`` in a fixed window of ``window`` seconds that
    starts at its first hit; returns the window's total so far."""
    if not in_database():
        return ratelimit_hit(scope="api", ident=ident, window=window)
    now = int(time.time())
    qn = connection.ops.quote_name
    table, key, value, expires = (
        qn(n) for n in (ApiState._meta.db_table, "key", "value", "expires")
    )
    # One atomic statement on PostgreSQL and SQLite (3.35+): both evaluate every SET
    # expression against the old row, so the window restarts cleanly once expired.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({key}, {value}, {expires}) VALUES (%s, 1, %s) "  # noqa: S608 (names are ours; values are parameters)
            f"ON CONFLICT ({key}) DO UPDATE SET "
            f"{value} = CASE WHEN {table}.{expires} > %s THEN {table}.{value} + 1 ELSE 1 END, "
            f"{expires} = CASE WHEN {table}.{expires} > %s THEN {table}.{expires} "
            f"ELSE excluded.{expires} END "
            f"RETURNING {value}",
            [f"rl:api:{ident}", now + window, now, now],
        )
        return int(cursor.fetchone()[0])


def state_cleanup() -> int:
    """Delete expired rows (a periodic job); returns how many."""
    deleted, _by_model = ApiState.objects.filter(expires__lte=int(time.time())).delete()
    return deleted
