"""Reading the people in a segment. Every caller (people list, export, mailings) goes
through ``segment_people`` so a segment can never reach past the user's scope."""

from __future__ import annotations

from typing import Any

from django.db import connections, transaction
from django.db.models import QuerySet

from clarion.areas.selectors import area_subtree_q

from ..models import Person, Segment
from ..selectors import people_for
from .compiler import compile_definition


def segment_people(user, segment_or_definition: Segment | dict[str, Any]) -> QuerySet[Person]:
    """The people in a saved segment (or a definition) that ``user`` may see.

    ``people_for(user)`` is applied first, so an organiser counting a national segment
    gets only their own area's people. A saved segment made by an organiser is also
    kept inside its ``owner_area``, so national staff see the same people its author
    meant. Raises ``SegmentDefinitionError`` for a definition that is not valid.
    """
    qs = people_for(user)
    if isinstance(segment_or_definition, Segment):
        definition = segment_or_definition.definition
        if segment_or_definition.owner_area_id is not None:
            qs = qs.filter(area_subtree_q(segment_or_definition.owner_area))
    else:
        definition = segment_or_definition
    return qs.filter(compile_definition(definition, using=qs.db))


# PostgreSQL combines the conditions' index bitmaps before reading the table; with the
# default 4MB work_mem, bitmaps over millions of people turn lossy (whole pages
# instead of rows) and the count rechecks hundreds of thousands of rows. The setting is
# raised for the counting transaction only (SET LOCAL semantics).
COUNT_WORK_MEM = "64MB"


def segment_count(user, segment_or_definition: Segment | dict[str, Any]) -> int:
    """The exact number of people ``segment_people`` gives (one COUNT query)."""
    qs = segment_people(user, segment_or_definition)
    connection = connections[qs.db]
    if connection.vendor != "postgresql":
        return qs.count()
    with transaction.atomic(using=qs.db):
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('work_mem', %s, true)", [COUNT_WORK_MEM])
        return qs.count()


def count_is_segments_own(user, segment: Segment) -> bool:
    """True when ``user``'s scope covers the segment's, so their count is the
    segment's own count and may be stored as ``last_count``."""
    scope = user.scope_area
    if scope is None:
        return True
    return segment.owner_area is not None and segment.owner_area.is_within(scope)
