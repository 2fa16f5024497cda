"""Reads for "My local party" and "My actions and recruits". Every read here starts
from the signed-in person (``member``) and never takes another person's id from the
request, so a member reaches only their own records and what their area shows to all
its members (events, the opted-in recruiters' table).

Each read is one indexed query (person, recruiter, area or path prefix), so the pages
cost the same with 2 million people as with 200."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, F, IntegerField, Q, QuerySet, Value
from django.db.models.functions import Coalesce

from clarion.actions.models import Submission
from clarion.areas.models import Area
from clarion.core.models import User
from clarion.donations.models import Donation
from clarion.events.selectors import area_upcoming_events, events_near
from clarion.people.models import Person

from .models import RecruitersTableOptIn

NEAR_MILES = 10
EVENTS_SHOWN = 10
RECRUITS_SHOWN = 20
TABLE_SIZE = 20


def short_name(first_name: str, last_name: str) -> str:
    """First name and the initial of the last name ("Nora N."), never more: what a
    member may see of another person."""
    first = (first_name or "").strip()
    initial = (last_name or "").strip()[:1]
    if first and initial:
        return f"{first} {initial.upper()}."
    if first:
        return first
    return f"{initial.upper()}." if initial else ""


# --- My local party ------------------------------------------------------------------


def area_line(area: Area | None) -> list[Area]:
    """``area`` and the areas above it, widest first (one query by primary key)."""
    if area is None:
        return []
    ids = [int(part) for part in area.path.strip("/").split("/") if part]
    return list(Area.objects.filter(pk__in=ids).order_by("depth"))


@dataclass
class Organisers:
    """Who a member's message goes to: the organisers of the nearest area (the member's
    own, else the closest above it) that has any, else the national admins.
    ``area`` is the area whose organisers they are, None for national staff."""

    users: list[User]
    area: Area | None

    @property
    def national(self) -> bool:
        return self.area is None


def organisers_for(area: Area | None, *, line: list[Area] | None = None) -> Organisers:
    """The staff a member of ``area`` writes to (at most two indexed queries; one
    fewer when the caller passes ``line``, ``area_line(area)`` already read).

    Organisers of a wider area reach everyone below it, so a branch with no organiser
    of its own is looked after by its constituency's or region's. Only when no area
    on the way up has an active organiser do the national admins get the message.
    Analysts never do: they read, they do not organise."""
    if line is None:
        line = area_line(area)
    if line:
        found = list(
            User.objects.filter(
                is_active=True, role=User.Role.ORGANISER, area__in=line
            ).select_related("area")
        )
        if found:
            deepest = max(u.area.depth for u in found)
            users = sorted((u for u in found if u.area.depth == deepest), key=lambda u: u.pk)
            return Organisers(users=users, area=users[0].area)
    admins = list(User.objects.filter(is_active=True, role=User.Role.ADMIN).order_by("pk"))
    return Organisers(users=admins, area=None)


@dataclass
class LocalEvent:
    event: object
    miles: float | None


def local_events(member: Person, *, limit: int = EVENTS_SHOWN) -> list[LocalEvent]:
    """Upcoming public events in the member's area (its subtree) and within
    ``NEAR_MILES`` of their postcode, soonest first. Two queries at most: the area's
    (path prefix) and the nearby box (indexed latitude and longitude)."""
    found: dict[int, LocalEvent] = {}
    if member.latitude is not None and member.longitude is not None:
        for near in events_near(
            latitude=member.latitude, longitude=member.longitude, miles=NEAR_MILES, limit=limit
        ):
            found[near.event.pk] = LocalEvent(event=near.event, miles=near.miles)
    if member.area is not None:
        for event in area_upcoming_events(member.area, limit=limit):
            found.setdefault(event.pk, LocalEvent(event=event, miles=None))
    rows = sorted(found.values(), key=lambda r: (r.event.starts_at, r.event.pk))
    return rows[:limit]


# --- My actions and recruits ---------------------------------------------------------


# The columns both halves of ``activity_of``'s union give, in this order.
_HISTORY_COLUMNS = (
    "at",
    "kind",
    "title",
    "slug",
    "page_kind",
    "state",
    "amount",
    "refunded",
    "money",
    "monthly",
    "row",
)


def activity_of(member: Person) -> QuerySet:
    """What the member signed (action pages) and gave (counted or refunded
    donations), newest first, as one query of rows with the same columns: ``at``,
    ``kind`` ("action" or "gift"), ``title``, ``slug``, ``page_kind``, ``status``,
    ``amount_pence``, ``refunded_pence``, ``currency``, ``recurring``, ``row``.

    Each half reads the person's own rows through its (person, …) index; the union
    is paged by the database."""
    actions = (
        Submission.objects.filter(person=member)
        .exclude(status=Submission.Status.INVALID)
        .order_by()
        .annotate(
            at=F("created_at"),
            kind=Value("action"),
            title=F("page__title"),
            slug=F("page__slug"),
            page_kind=F("page__kind"),
            state=F("status"),
            amount=Value(0, output_field=IntegerField()),
            refunded=Value(0, output_field=IntegerField()),
            money=Value(""),
            monthly=Value(False),
            row=F("pk"),
        )
        .values_list(*_HISTORY_COLUMNS)
    )
    gifts = (
        Donation.objects.filter(
            person=member, status__in=(Donation.Status.SUCCEEDED, Donation.Status.REFUNDED)
        )
        .order_by()
        .annotate(
            at=Coalesce("succeeded_at", "created_at"),
            kind=Value("gift"),
            title=F("page__title"),
            slug=F("page__slug"),
            page_kind=F("page__kind"),
            state=F("status"),
            amount=F("amount_pence"),
            refunded=F("refunded_pence"),
            money=F("currency"),
            monthly=F("recurring"),
            row=F("pk"),
        )
        .values_list(*_HISTORY_COLUMNS)
    )
    return actions.union(gifts, all=True).order_by("-at", "-row")


def recruits_of(member: Person, *, limit: int = RECRUITS_SHOWN) -> list[dict]:
    """The newest people the member brought in (``Person.recruiter``), by first name
    and initial only, with the month they came."""
    rows = (
        Person.objects.filter(recruiter=member)
        .order_by("-created_at", "-pk")
        .values_list("first_name", "last_name", "created_at")[:limit]
    )
    return [{"name": short_name(first, last), "joined": created} for first, last, created in rows]


def recruits_total(member: Person) -> int:
    return Person.objects.filter(recruiter=member).count()


def signatures_recruited(member: Person) -> int:
    """Counted actions taken through the member's share links (recruiter index)."""
    return Submission.objects.filter(recruiter=member, status=Submission.Status.CONFIRMED).count()


def opted_in(member: Person) -> bool:
    return RecruitersTableOptIn.objects.filter(person=member).exists()


def recruiters_table(area: Area | None, *, limit: int = TABLE_SIZE) -> list[dict]:
    """The area's recruiters' table: members of exactly this area who opted in, by
    first name and initial, with how many people each brought in, most first.

    One query: it starts from the (small) opt-in table joined to its people of this
    area, and counts recruits through the ``recruiter`` foreign key's index."""
    if area is None:
        return []
    rows = (
        RecruitersTableOptIn.objects.filter(person__area=area)
        .annotate(recruits=Count("person__recruits"))
        .filter(Q(recruits__gt=0))
        .order_by("-recruits", "created_at", "pk")
        .values_list("person_id", "person__first_name", "person__last_name", "recruits")[:limit]
    )
    return [
        {"person_id": pid, "name": short_name(first, last), "recruits": n}
        for pid, first, last, n in rows
    ]
