"""Action Network paging (``page`` / ``per_page``) served by keyset under the hood.

Clients ask for page N; an OFFSET of (N-1)×per_page would read and throw away every
earlier row. Instead each page served records, in the shared cache, the last id of
that page; page N+1 (what a client following ``next`` asks for) then starts with an
indexed ``id > last`` seek. A page whose predecessor is not cached starts from the
nearest cached page below it and skips the gap on the id index only, and caches
what it finds, so even a cold jump is one index-only scan. Entries live for
``BOUNDARY_TTL`` seconds; rows deleted in the meantime mean later pages start where
the keyset says, never repeating or skipping a row that still exists.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import QuerySet

from .state import state_get_many, state_set_many

MAX_PER_PAGE = 25
BOUNDARY_TTL = 600
COUNT_TTL = 60
# How far back we look for a cached page before skipping from the start.
LOOKBACK = 200


@dataclass
class Page:
    rows: list
    page: int
    per_page: int
    total_records: int
    total_pages: int


def page_params(params) -> tuple[int, int]:
    """``page`` and ``per_page`` from the query string; raises ValueError with a message."""

    def number(name: str, default: int) -> int:
        raw = params.get(name)
        if raw in (None, ""):
            return default
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a whole number.") from None
        if value < 1:
            raise ValueError(f"{name} must be 1 or more.")
        return value

    page = number("page", 1)
    per_page = min(number("per_page", MAX_PER_PAGE), MAX_PER_PAGE)
    if page > 10_000_000:
        raise ValueError("page is too large.")
    return page, per_page


def paginate(
    qs: QuerySet,
    *,
    page: int,
    per_page: int,
    cache_scope: str,
    prepare: Callable[[QuerySet], QuerySet] | None = None,
) -> Page:
    """Page ``page`` of ``qs`` ordered by id. ``cache_scope`` must identify everything
    that shapes ``qs`` (the key's reach and the filter), so boundaries are never shared
    between different result sets. ``prepare``, when given, is applied to the query
    that loads the page's rows only (``select_related``, prefetches, annotations), never
    to the count or the id skip.

    The count and every boundary the page could start from are read in one round
    trip (``state_get_many``) and what the page learnt is written in one
    (``state_set_many``), skipped when nothing changed.
    """
    digest = hashlib.sha256(f"{cache_scope}|{per_page}".encode()).hexdigest()[:32]

    def boundary_key(n: int) -> str:
        return f"api:page:{digest}:{n}"

    count_key = f"api:count:{digest}"
    below = range(page - 1, max(0, page - 1 - LOOKBACK), -1)
    found = state_get_many([count_key, boundary_key(page), *(boundary_key(n) for n in below)])
    writes: dict[str, tuple[int, int]] = {}
    total = found.get(count_key)
    if total is None:
        total = qs.count()
        writes[count_key] = (total, COUNT_TTL)
    total_pages = max(1, math.ceil(total / per_page)) if total else 0

    if page > max(total_pages, 1):
        return _finish(writes, [], page, per_page, total, total_pages)
    after = None
    start_page = 1
    if page > 1:
        for n in below:
            value = found.get(boundary_key(n))
            if value is not None:
                after, start_page = value, n + 1
                break
        if start_page < page:
            ids = qs.order_by("pk").values_list("pk", flat=True)
            if after is not None:
                ids = ids.filter(pk__gt=after)
            skip = (page - start_page) * per_page
            last_ids = list(ids[skip - 1 : skip])
            last = last_ids[0] if last_ids else None
            if last is None:
                return _finish(writes, [], page, per_page, total, total_pages)
            after = last
            writes[boundary_key(page - 1)] = (after, BOUNDARY_TTL)

    rows_qs = qs.order_by("pk")
    if after is not None:
        rows_qs = rows_qs.filter(pk__gt=after)
    if prepare is not None:
        rows_qs = prepare(rows_qs)
    rows = list(rows_qs[:per_page])
    if rows and found.get(boundary_key(page)) != rows[-1].pk:
        writes[boundary_key(page)] = (rows[-1].pk, BOUNDARY_TTL)
    return _finish(writes, rows, page, per_page, total, total_pages)


def _finish(
    writes: dict[str, tuple[int, int]],
    rows: list,
    page: int,
    per_page: int,
    total: int,
    total_pages: int,
) -> Page:
    state_set_many(writes)
    return Page(
        rows=rows, page=page, per_page=per_page, total_records=total, total_pages=total_pages
    )
