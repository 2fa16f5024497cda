"""Exporting an action page's signers and making a segment of them (issue 15).

The rows are the page's counted (confirmed) submissions from people in the staff
user's scope (``people_for``, invariant 4), so an organiser exporting a national page
gets only their own area's people. The segment uses the registered ``action_taken``
condition with this page, which counts the same submissions, so for the same user its
count equals the export's rows: a person who acted twice on the page (with two of
their addresses) is one row, their first submission.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from django.db.models import Min, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from clarion.core.models import AuditEntry
from clarion.core.services import audit_record
from clarion.people.imports.export import csv_stream, pk_chunks
from clarion.people.models import Segment
from clarion.people.segments.services import segment_create
from clarion.people.selectors import people_for

from .models import ActionPage, Submission

HEADER = ("first_name", "last_name", "email", "postcode", "area", "signed_at", "answers", "comment")


def signers_for(user, page: ActionPage) -> QuerySet[Submission]:
    """The page's counted submissions from people ``user`` may see, the first of each
    person's."""
    counted = Submission.objects.filter(
        page=page,
        status=Submission.Status.CONFIRMED,
        person__in=people_for(user).values("pk"),
    )
    first = counted.order_by().values("person_id").annotate(first=Min("pk")).values("first")
    return Submission.objects.filter(pk__in=first)


def _rows(queryset: QuerySet[Submission]) -> Iterator[str]:
    return csv_stream(HEADER, _signer_cells(queryset))


def _signer_cells(queryset: QuerySet[Submission]) -> Iterator[list]:
    fields = (
        "pk",
        "person__first_name",
        "person__last_name",
        "person__email",
        "person__postcode",
        "person__area__name",
        "created_at",
        "answers",
        "comment",
    )
    for chunk in pk_chunks(queryset, fields):
        for _pk, first, last_name, email, postcode, area, created, answers, comment in chunk:
            when = timezone.localtime(created).isoformat(timespec="seconds") if created else ""
            text = json.dumps(answers, ensure_ascii=False, sort_keys=True) if answers else ""
            cells = [first, last_name, email, postcode, area, when, text, comment]
            yield cells


def signers_export_stream(*, user, page: ActionPage, request=None) -> Iterator[str]:
    """Audit the export (with its row count) and return the CSV lines to stream. The
    audit entry is written before the first byte leaves, so a cut-short export is on
    record."""
    queryset = signers_for(user, page)
    count = queryset.count()
    audit_record(
        actor=user,
        action=AuditEntry.Action.EXPORT,
        summary=_("Exported %(count)s signers of action page %(id)s")
        % {"count": count, "id": page.pk},
        object_type="action_page",
        object_id=page.pk,
        detail={"rows": count, "page": page.pk, "via": "web"},
        request=request,
    )
    return _rows(queryset)


def signers_segment_create(*, user, page: ActionPage) -> Segment:
    """A saved segment of the people who took action on ``page`` (owned by ``user``'s
    scope, like any segment they make)."""
    name = _("Took action on %(title)s") % {"title": page.title}
    return segment_create(
        name=name[:150],
        definition={
            "op": "all",
            "conditions": [{"type": "action_taken", "page": page.pk}],
        },
        user=user,
    )
