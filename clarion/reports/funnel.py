"""The online→offline funnel and list growth (docs/reports.md says what each figure means).

Every figure is counted in the database with set-based queries: a stage is the set of
people ids its activity rows give (``pk IN (SELECT person_id …)``), counts and
conversions are ``COUNT``s over the viewer's people (``people_for``) narrowed to the
area picked, medians come from a histogram of whole days grouped in SQL, and cohorts
and list growth are ``GROUP BY`` month. No query walks people one by one in Python, so
the cost grows with the activity rows in the period, not with a loop per person.

A stage's people are exactly those of the matching segment condition (``action_taken``
and ``event`` with ``window="between"``) combined with the area condition, so the
funnel and a segment built from it count the same people.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import (
    Count,
    DateField,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clarion.actions.models import Submission
from clarion.areas.models import Area
from clarion.areas.selectors import area_subtree_q
from clarion.events.models import Event, Rsvp
from clarion.people.models import EmailStatus, Person
from clarion.people.selectors import people_for

STAGES = ("action", "rsvp", "attended", "returned", "hosted")
STAGE_LABELS = {
    "action": _("Took an online action"),
    "rsvp": _("RSVP'd to an event"),
    "attended": _("Attended an event"),
    "returned": _("Came back (attended two or more)"),
    "hosted": _("Hosted an event"),
}
STAGE_SHORT_LABELS = {
    "action": _("Acted online"),
    "rsvp": _("RSVP'd"),
    "attended": _("Attended"),
    "returned": _("Came back"),
    "hosted": _("Hosted"),
}
LEFT_UNSUBSCRIBED = (EmailStatus.UNSUBSCRIBED, EmailStatus.COMPLAINED)
LEFT_BOUNCED = (EmailStatus.BOUNCING,)


@dataclass(frozen=True)
class Period:
    """Whole days ``start``..``end`` (both included) in the organisation's time zone."""

    start: dt.date
    end: dt.date

    @property
    def since(self) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(self.start, dt.time.min))

    @property
    def until(self) -> dt.datetime:
        """The first moment after the period (exclusive upper bound)."""
        return timezone.make_aware(
            dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min)
        )

    def months(self) -> list[dt.date]:
        months, month = [], self.start.replace(day=1)
        while month <= self.end:
            months.append(month)
            month = (month + dt.timedelta(days=32)).replace(day=1)
        return months


# --- The stages: which activity rows put a person in each, and the date they count from


def _actions(period: Period) -> QuerySet:
    """Counted (confirmed) submissions on any action page made in the period."""
    return Submission.objects.filter(
        status=Submission.Status.CONFIRMED,
        created_at__gte=period.since,
        created_at__lt=period.until,
    )


def _rsvps(period: Period) -> QuerySet:
    """RSVPs made in the period that were not cancelled (going or waiting list)."""
    return Rsvp.objects.filter(created_at__gte=period.since, created_at__lt=period.until).exclude(
        status=Rsvp.Status.CANCELLED
    )


def _attended(period: Period) -> QuerySet:
    """Check-ins as attended (walk-ins too) at events that started in the period."""
    return Rsvp.objects.filter(
        attendance=Rsvp.Attendance.ATTENDED,
        event__starts_at__gte=period.since,
        event__starts_at__lt=period.until,
    )


def _hosted(period: Period) -> QuerySet:
    """Published events with a member host that start in the period."""
    return Event.objects.filter(
        host_person__isnull=False,
        status=Event.Status.PUBLISHED,
        starts_at__gte=period.since,
        starts_at__lt=period.until,
    )


def stage_person_ids(stage: str, period: Period) -> QuerySet:
    """A subquery of the ids of the people who reached ``stage`` in ``period``."""
    if stage == "action":
        return _actions(period).values("person_id")
    if stage == "rsvp":
        return _rsvps(period).values("person_id")
    if stage == "attended":
        return _attended(period).values("person_id")
    if stage == "returned":
        return (
            _attended(period)
            .order_by()
            .values("person_id")
            .annotate(n=Count("pk"))
            .filter(n__gte=2)
            .values("person_id")
        )
    if stage == "hosted":
        return _hosted(period).values("host_person_id")
    raise ValueError(stage)


def stage_first_at(stage: str, period: Period) -> Subquery:
    """When a person (``OuterRef("pk")``) first reached ``stage`` in ``period``; for
    "came back", the start of the second event they attended."""
    if stage == "action":
        rows = _actions(period).filter(person=OuterRef("pk")).order_by("created_at")
        return Subquery(rows.values("created_at")[:1], output_field=DateTimeField())
    if stage == "rsvp":
        rows = _rsvps(period).filter(person=OuterRef("pk")).order_by("created_at")
        return Subquery(rows.values("created_at")[:1], output_field=DateTimeField())
    if stage in ("attended", "returned"):
        rows = (
            _attended(period)
            .filter(person=OuterRef("pk"))
            .order_by("event__starts_at", "pk")
            .values("event__starts_at")
        )
        rows = rows[1:2] if stage == "returned" else rows[:1]
        return Subquery(rows, output_field=DateTimeField())
    if stage == "hosted":
        rows = (
            _hosted(period)
            .filter(host_person=OuterRef("pk"))
            .order_by()
            .values("host_person")
            .annotate(first=Min("starts_at"))
            .values("first")
        )
        return Subquery(rows, output_field=DateTimeField())
    raise ValueError(stage)


# --- The figures


@dataclass
class StageFigures:
    key: str
    label: str
    short_label: str
    count: int
    from_previous: int | None = None  # reached this stage and the one before
    conversion: float | None = None  # from_previous / count of the stage before, in %
    median_days: float | None = None  # from the stage before to this one


@dataclass
class CohortRow:
    month: dt.date
    counts: list[int]  # per stage, for the people whose first action fell in the month


@dataclass
class Funnel:
    area: Area | None
    period: Period
    stages: list[StageFigures]
    cohorts: list[CohortRow] = field(default_factory=list)

    @property
    def top(self) -> int:
        return max((s.count for s in self.stages), default=0)


def funnel_people(user, area: Area | None) -> QuerySet[Person]:
    """The people a funnel counts: the viewer's scope, narrowed to ``area`` (which the
    caller has checked is inside that scope)."""
    people = people_for(user)
    return people.filter(area_subtree_q(area)) if area is not None else people


def _median_from_histogram(rows: list[tuple[int, int]]) -> float | None:
    """The median of values given as (value, how many) pairs sorted by value."""
    total = sum(n for _value, n in rows)
    if not total:
        return None
    wanted = [(total - 1) // 2, total // 2]  # the middle one, or the middle two
    found, seen = [], 0
    for value, n in rows:
        while wanted and wanted[0] < seen + n:
            found.append(value)
            wanted.pop(0)
        seen += n
    return sum(found) / len(found)


def _days(value) -> int:
    """A date difference from the database: a timedelta (PostgreSQL, SQLite) or days."""
    return value.days if isinstance(value, dt.timedelta) else int(value)


def median_days_between(people: QuerySet[Person], earlier: str, later: str, period: Period):
    """The median number of whole days (in the organisation's time zone) from a
    person's first ``earlier`` stage to their first ``later`` one, over the people who
    reached both in the period with the later one on or after the earlier."""
    tz = timezone.get_current_timezone()
    both = people.filter(pk__in=stage_person_ids(earlier, period)).filter(
        pk__in=stage_person_ids(later, period)
    )
    rows = (
        both.annotate(
            a=TruncDate(stage_first_at(earlier, period), tzinfo=tz, output_field=DateField()),
            b=TruncDate(stage_first_at(later, period), tzinfo=tz, output_field=DateField()),
        )
        .annotate(gap=ExpressionWrapper(F("b") - F("a"), output_field=DurationField()))
        .filter(b__gte=F("a"))
        .values("gap")
        .annotate(n=Count("pk"))
        .order_by("gap")
    )
    histogram = sorted((_days(row["gap"]), row["n"]) for row in rows)
    return _median_from_histogram(histogram)


def funnel_figures(user, area: Area | None, period: Period) -> Funnel:
    """The funnel for ``area`` (None: the viewer's whole reach) in ``period``."""
    people = funnel_people(user, area)
    ids = {stage: stage_person_ids(stage, period) for stage in STAGES}
    counts = people.aggregate(
        **{stage: Count("pk", filter=Q(pk__in=ids[stage])) for stage in STAGES},
        **{
            f"{prev}__{stage}": Count("pk", filter=Q(pk__in=ids[prev]) & Q(pk__in=ids[stage]))
            for prev, stage in zip(STAGES, STAGES[1:], strict=False)
        },
    )
    stages = []
    for i, stage in enumerate(STAGES):
        figures = StageFigures(
            key=stage,
            label=str(STAGE_LABELS[stage]),
            short_label=str(STAGE_SHORT_LABELS[stage]),
            count=counts[stage],
        )
        if i:
            prev = STAGES[i - 1]
            figures.from_previous = counts[f"{prev}__{stage}"]
            if counts[prev]:
                figures.conversion = round(100 * figures.from_previous / counts[prev], 1)
            figures.median_days = median_days_between(people, prev, stage, period)
        stages.append(figures)
    return Funnel(area=area, period=period, stages=stages, cohorts=cohorts(people, period, ids))


def cohorts(people: QuerySet[Person], period: Period, ids: dict | None = None) -> list[CohortRow]:
    """People by the month (organisation's time zone) of their first online action in
    the period, and how many of them reached each stage in the period."""
    ids = ids or {stage: stage_person_ids(stage, period) for stage in STAGES}
    tz = timezone.get_current_timezone()
    rows = (
        people.filter(pk__in=ids["action"])
        .annotate(
            month=TruncMonth(stage_first_at("action", period), tzinfo=tz, output_field=DateField())
        )
        .values("month")
        .annotate(
            action=Count("pk"),
            **{stage: Count("pk", filter=Q(pk__in=ids[stage])) for stage in STAGES[1:]},
        )
        .order_by("month")
    )
    by_month = {_as_date(row["month"]): [row[stage] for stage in STAGES] for row in rows}
    return [CohortRow(month=m, counts=by_month.get(m, [0] * len(STAGES))) for m in period.months()]


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return value


# --- List growth


@dataclass
class GrowthRow:
    month: dt.date
    joined: int
    unsubscribed: int
    bounced: int
    net: int
    subscribed: int  # at the end of the month


def list_growth(user, area: Area | None, period: Period) -> list[GrowthRow]:
    """Per month of the period: people who joined with an email status other than
    "none", people who unsubscribed (or complained) and who started bouncing (by the
    time their status last changed), the net change, and the subscribed total at the
    month's end. Reconstructed from each person's present status, so a total at a
    month's end counts who joined by then minus who had left by then; at the end of
    today it equals the number subscribed now."""
    people = funnel_people(user, area)
    tz = timezone.get_current_timezone()
    emailable = people.exclude(email_status=EmailStatus.NONE)
    left = people.filter(email_status__in=[*LEFT_UNSUBSCRIBED, *LEFT_BOUNCED]).annotate(
        left_at=Coalesce("email_status_changed_at", "created_at")
    )
    since, until = period.since, period.until
    before = emailable.filter(created_at__lt=since).count() - left.filter(left_at__lt=since).count()
    joined = dict(
        emailable.filter(created_at__gte=since, created_at__lt=until)
        .annotate(month=TruncMonth("created_at", tzinfo=tz, output_field=DateField()))
        .values_list("month")
        .annotate(n=Count("pk"))
        .order_by()
    )
    gone: dict[tuple[dt.date, bool], int] = {}
    for month, status, n in (
        left.filter(left_at__gte=since, left_at__lt=until)
        .annotate(month=TruncMonth("left_at", tzinfo=tz, output_field=DateField()))
        .values_list("month", "email_status")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        key = (_as_date(month), status in LEFT_BOUNCED)
        gone[key] = gone.get(key, 0) + n
    joined = {_as_date(k): v for k, v in joined.items()}
    rows, total = [], before
    for month in period.months():
        unsub, bounced = gone.get((month, False), 0), gone.get((month, True), 0)
        net = joined.get(month, 0) - unsub - bounced
        total += net
        rows.append(GrowthRow(month, joined.get(month, 0), unsub, bounced, net, total))
    return rows


# --- The chart: geometry for the server-rendered SVG (reports/funnel_chart.html)

CHART_WIDTH = 360
CHART_BAR = 18
CHART_LABEL = 22  # room for a stage's label above its bars
CHART_GAP = 14
CHART_VALUE_ROOM = 70  # room right of the longest bar for its figure
CHART_COLOURS = ("#0b4f9c", "#a34700")  # both at least 4.5:1 against white


def chart_bars(funnels: list[Funnel], names: list[str]) -> dict:
    """Bars per stage (one per area, longest = the largest figure of all areas), their
    labels and a plain-text description of every figure for screen readers."""
    top = max((f.top for f in funnels), default=0) or 1
    span = CHART_WIDTH - CHART_VALUE_ROOM
    legend = []
    y = 0
    if len(funnels) > 1:
        for j, name in enumerate(names):
            legend.append({"name": name, "colour": CHART_COLOURS[j], "y": 4 + j * 22})
        y = 4 + len(names) * 22 + 6
    stages = []
    for i, key in enumerate(STAGES):
        label_y = y + 15
        bars = []
        for j, funnel in enumerate(funnels):
            count = funnel.stages[i].count
            width = round(span * count / top, 1)
            bar_y = y + CHART_LABEL + j * (CHART_BAR + 4)
            bars.append(
                {
                    "x": 0,
                    "y": bar_y,
                    "width": max(width, 1 if count else 0),
                    "height": CHART_BAR,
                    "colour": CHART_COLOURS[j],
                    "value": count,
                    "value_x": max(width, 1) + 6,
                    "value_y": bar_y + CHART_BAR - 4,
                }
            )
        stages.append({"key": key, "label": str(STAGE_LABELS[key]), "y": label_y, "bars": bars})
        y += CHART_LABEL + len(funnels) * (CHART_BAR + 4) + CHART_GAP
    desc = "; ".join(
        "{}: {}".format(name, ", ".join(f"{s.label} {s.count}" for s in funnel.stages))
        for name, funnel in zip(names, funnels, strict=True)
    )
    return {"width": CHART_WIDTH, "height": y, "legend": legend, "stages": stages, "desc": desc}
