"""Exporting people to CSV, always through the staff user's scope.

The people come from ``clarion.people.selectors.people_for(user)`` (and, for a
segment, ``clarion.people.segments.selectors.segment_people(user, segment)``, which
applies the same scope), so an organiser's export never contains anyone outside
their area (invariant 4). Cells a spreadsheet would run as a formula are neutralised.
"""

from __future__ import annotations

import csv
import importlib
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from clarion.core.services import audit_record
from clarion.people.models import CustomField, Person, Segment, Tagging
from clarion.people.normalise import FORMULA_PREFIXES
from clarion.people.selectors import people_for

CHUNK = 2000
COLUMNS = (
    ("id", "id"),
    ("first_name", "first_name"),
    ("last_name", "last_name"),
    ("email", "email"),
    ("phone", "phone"),
    ("address_line1", "address_line1"),
    ("address_line2", "address_line2"),
    ("town", "town"),
    ("postcode", "postcode"),
    ("area", "area__name"),
    ("email_status", "email_status"),
    ("membership_status", "membership_status"),
    ("created_at", "created_at"),
)


def neutralise(value) -> str:
    """Text safe to open in a spreadsheet: a leading = + - @ tab or CR gets a ``'``."""
    text = "" if value is None else str(value)
    if text and text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


class SegmentsUnavailable(Exception):
    """Segment exports need ``clarion.people.segments.selectors.segment_people``."""


def export_people_queryset(*, user, segment: Segment | None = None) -> QuerySet[Person]:
    """The people ``user`` may export: everyone they can see, or a segment's members
    (scoped by the segment selector)."""
    if segment is None:
        return people_for(user)
    try:
        selectors = importlib.import_module("clarion.people.segments.selectors")
        segment_people = selectors.segment_people
    except (ImportError, AttributeError):
        raise SegmentsUnavailable(_("Segment exports are not available yet.")) from None
    # segment_people applies the user's scope; intersecting with people_for keeps the
    # guarantee here too.
    return segment_people(user, segment).filter(pk__in=people_for(user).values("pk"))


class _Echo:
    def write(self, value: str) -> str:
        return value


def pk_chunks(queryset: QuerySet, fields, *, size: int = CHUNK) -> Iterator[list[tuple]]:
    """``queryset.values_list(*fields)`` in primary-key order, ``size`` rows at a time,
    so memory stays flat for millions of rows. The first field must be the primary key."""
    last = 0
    base = queryset.order_by("pk")
    while True:
        chunk = list(base.filter(pk__gt=last).values_list(*fields)[:size])
        if not chunk:
            return
        yield chunk
        last = chunk[-1][0]


def csv_stream(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """CSV text lines for a streaming response: a byte-order mark and ``header``, then
    each row with every cell made safe for spreadsheets (``neutralise``)."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(header)
    for cells in rows:
        yield writer.writerow([neutralise(c) for c in cells])


def export_rows(queryset: QuerySet[Person], *, counter: list[int] | None = None) -> Iterator[str]:
    """CSV lines (header first) for ``queryset``, read in primary-key chunks so memory
    stays flat for millions of people. ``counter[0]`` counts the people written."""
    custom = list(CustomField.objects.order_by("key").values_list("key", flat=True))
    header = [name for name, _path in COLUMNS] + ["tags"] + [f"custom:{k}" for k in custom]
    return csv_stream(header, _person_cells(queryset, custom, counter))


def _person_cells(queryset, custom: list[str], counter: list[int] | None) -> Iterator[list]:
    fields = [path for _name, path in COLUMNS] + ["custom_fields"]
    for chunk in pk_chunks(queryset, fields):
        ids = [row[0] for row in chunk]
        tags: dict[int, list[str]] = {}
        for pid, name in (
            Tagging.objects.filter(person_id__in=ids)
            .order_by("tag__name")
            .values_list("person_id", "tag__name")
        ):
            tags.setdefault(pid, []).append(name)
        for row in chunk:
            values = list(row[:-1])
            created = values[-1]
            if created is not None:
                values[-1] = timezone.localtime(created).isoformat(timespec="seconds")
            custom_values = row[-1] or {}
            if counter is not None:
                counter[0] += 1
            yield (
                values
                + ["; ".join(tags.get(row[0], []))]
                + [custom_values.get(k, "") for k in custom]
            )


def people_export_audit(
    *, user, count: int, segment: Segment | None, request=None, via: str = "web"
) -> None:
    audit_record(
        actor=user,
        action="export",
        summary=_("Exported %(count)s people%(segment)s")
        % {
            "count": count,
            "segment": (_(" in segment %(name)s") % {"name": segment.name}) if segment else "",
        },
        object_type="segment" if segment else "person",
        object_id=segment.pk if segment else "",
        detail={"rows": count, "segment": segment.pk if segment else None, "via": via},
        request=request,
    )


def people_export_stream(*, user, segment: Segment | None = None, request=None) -> Iterator[str]:
    """Audit the export (with its row count) and return the CSV lines to stream.

    The audit entry is written before the first byte leaves, so an export cut short
    is still on record.
    """
    queryset = export_people_queryset(user=user, segment=segment)
    people_export_audit(user=user, count=queryset.count(), segment=segment, request=request)
    return export_rows(queryset)
