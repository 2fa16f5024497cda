"""Exporting a donation page's donors and making a segment of them.

A donor is a person in the staff user's scope (``people_for``, invariant 4) whose
succeeded gifts on the page, net of refunds, come to at least 1p: the same rule as the
``donated`` segment condition with that page and £0.01, so the segment made from the
export counts exactly its rows. One row per donor, with their number of gifts, net
total, largest gift, first and last gift and whether they give monthly on this page.
Gifts with no known donor (``person`` gone) are not anyone's row.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, F, Max, Min, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from clarion.actions.models import ActionPage
from clarion.core.models import AuditEntry
from clarion.core.services import audit_record
from clarion.people.imports.export import csv_stream, pk_chunks
from clarion.people.models import Person, Segment
from clarion.people.segments.services import segment_create
from clarion.people.selectors import people_for

from .models import Donation

HEADER = (
    "first_name",
    "last_name",
    "email",
    "postcode",
    "area",
    "gifts",
    "total",
    "largest",
    "first_gift_at",
    "last_gift_at",
    "monthly",
)


def _counted(page: ActionPage) -> QuerySet[Donation]:
    return Donation.objects.filter(
        page=page, status=Donation.Status.SUCCEEDED, person__isnull=False
    )


def donors_for(user, page: ActionPage) -> QuerySet[Person]:
    """The people ``user`` may see who gave on ``page`` (net of refunds, at least 1p)."""
    donors = (
        _counted(page)
        .values("person_id")
        .annotate(net=Sum(F("amount_pence") - F("refunded_pence")))
        .filter(net__gte=1)
        .values("person_id")
    )
    return people_for(user).filter(pk__in=donors)


def _pounds(pence: int | None) -> str:
    pence = pence or 0
    return f"{pence // 100}.{pence % 100:02d}"


def _when(value) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else ""


def _donor_cells(people: QuerySet[Person], page: ActionPage) -> Iterator[list]:
    fields = ("pk", "first_name", "last_name", "email", "postcode", "area__name")
    for chunk in pk_chunks(people, fields):
        stats = {
            row["person_id"]: row
            for row in _counted(page)
            .filter(person_id__in=[r[0] for r in chunk])
            .values("person_id")
            .annotate(
                gifts=Count("pk"),
                net=Sum(F("amount_pence") - F("refunded_pence")),
                largest=Max("amount_pence"),
                first=Min("succeeded_at"),
                last=Max("succeeded_at"),
                monthly=Count("pk", filter=Q(recurring=True)),
            )
        }
        for pk, first_name, last_name, email, postcode, area in chunk:
            row = stats.get(pk, {})
            yield [
                first_name,
                last_name,
                email,
                postcode,
                area,
                row.get("gifts", 0),
                _pounds(row.get("net")),
                _pounds(row.get("largest")),
                _when(row.get("first")),
                _when(row.get("last")),
                _("yes") if row.get("monthly") else _("no"),
            ]


def donors_export_stream(*, user, page: ActionPage, request=None) -> Iterator[str]:
    """Audit the export (with its row count) and return the CSV lines to stream; the
    audit entry is written before the first byte leaves."""
    people = donors_for(user, page)
    count = people.count()
    audit_record(
        actor=user,
        action=AuditEntry.Action.EXPORT,
        summary=_("Exported %(count)s donors of donation page %(id)s")
        % {"count": count, "id": page.pk},
        object_type="action_page",
        object_id=page.pk,
        detail={"rows": count, "page": page.pk, "via": "web", "what": "donors"},
        request=request,
    )
    return csv_stream(HEADER, _donor_cells(people, page))


def donors_segment_create(*, user, page: ActionPage) -> Segment:
    """A saved segment of the page's donors: ``donated`` at least £0.01 on the page."""
    name = _("Gave on %(title)s") % {"title": page.title}
    return segment_create(
        name=name[:150],
        definition={
            "op": "all",
            "conditions": [{"type": "donated", "amount": "0.01", "page": page.pk}],
        },
        user=user,
    )
