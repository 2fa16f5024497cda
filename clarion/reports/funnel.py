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
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connections, transaction
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
from clarion.people.segments.selectors import COUNT_WORK_MEM
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


def stage_first_min(stage: str, period: Period):
    """When a person first reached ``stage`` in ``period``, as an aggregate over their
    own rows (one JOIN and GROUP BY person, no per-person subquery); None for "came
    back", whose date is the second event's start (``stage_first_at``)."""
    since, until = period.since, period.until
    if stage == "action":
        return Min(
            "action_submissions__created_at",
            filter=Q(
                action_submissions__status=Submission.Status.CONFIRMED,
                action_submissions__created_at__gte=since,
                action_submissions__created_at__lt=until,
            ),
        )
    if stage == "rsvp":
        return Min(
            "event_rsvps__created_at",
            filter=Q(event_rsvps__created_at__gte=since, event_rsvps__created_at__lt=until)
            & ~Q(event_rsvps__status=Rsvp.Status.CANCELLED),
        )
    if stage == "attended":
        return Min(
            "event_rsvps__event__starts_at",
            filter=Q(
                event_rsvps__attendance=Rsvp.Attendance.ATTENDED,
                event_rsvps__event__starts_at__gte=since,
                event_rsvps__event__starts_at__lt=until,
            ),
        )
    if stage == "hosted":
        return Min(
            "hosted_events__starts_at",
            filter=Q(
                hosted_events__status=Event.Status.PUBLISHED,
                hosted_events__starts_at__gte=since,
                hosted_events__starts_at__lt=until,
            ),
        )
    return None


def _first(stage: str, period: Period):
    return stage_first_min(stage, period) or stage_first_at(stage, period)


def grouped_counts(qs: QuerySet, column: str) -> list[tuple]:
    """``SELECT column, COUNT(*) FROM (qs) GROUP BY column``: a GROUP BY over a value
    computed from aggregates (a person's first dates), which the ORM cannot group by
    itself. The inner query is the ORM's own SQL with its parameters kept apart."""
    sql, params = qs.values_list(column).query.sql_with_params()
    connection = connections[qs.db]
    name = connection.ops.quote_name(column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {name}, COUNT(*) FROM ({sql}) funnel_rows GROUP BY {name}",  # noqa: S608 (ORM SQL, parameters apart)
            params,
        )
        return cursor.fetchall()


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
    """A whole-day difference read from the database: a timedelta (PostgreSQL) or
    microseconds (SQLite)."""
    if isinstance(value, dt.timedelta):
        return value.days
    return int(value) // 86_400_000_000  # SQLite keeps a duration as microseconds


def median_days_between(people: QuerySet[Person], earlier: str, later: str, period: Period):
    """The median number of whole days (in the organisation's time zone) from a
    person's first ``earlier`` stage to their first ``later`` one, over the people who
    reached both in the period with the later one on or after the earlier."""
    tz = timezone.get_current_timezone()
    both = people.filter(pk__in=stage_person_ids(earlier, period)).filter(
        pk__in=stage_person_ids(later, period)
    )
    dated = both.annotate(
        a=TruncDate(_first(earlier, period), tzinfo=tz, output_field=DateField()),
        b=TruncDate(_first(later, period), tzinfo=tz, output_field=DateField()),
    ).annotate(gap=ExpressionWrapper(F("b") - F("a"), output_field=DurationField()))
    # Each person's first dates come from one JOIN and GROUP BY person; the gaps are
    # then counted per value, and the few negative ones dropped here.
    histogram = sorted((_days(gap), n) for gap, n in grouped_counts(dated, "gap"))
    return _median_from_histogram([(days, n) for days, n in histogram if days >= 0])


def funnel_figures(user, area: Area | None, period: Period) -> Funnel:
    """The funnel for ``area`` (None: the viewer's whole reach) in ``period``.

    Every count is its own ``SELECT COUNT(*) … WHERE id IN (…) [AND id IN (…)]``: in
    a WHERE clause PostgreSQL joins the stage's ids as a hashed semi-join, where the same
    test inside ``COUNT(…) FILTER`` would be re-run for every person once the ids
    outgrow ``work_mem``."""
    with _reading(people_for(user).db):
        people = funnel_people(user, area)
        ids = {stage: stage_person_ids(stage, period) for stage in STAGES}
        stages = []
        for i, stage in enumerate(STAGES):
            figures = StageFigures(
                key=stage,
                label=str(STAGE_LABELS[stage]),
                short_label=str(STAGE_SHORT_LABELS[stage]),
                count=people.filter(pk__in=ids[stage]).count(),
            )
            if i:
                prev = STAGES[i - 1]
                previous = stages[-1].count
                figures.from_previous = (
                    people.filter(pk__in=ids[prev]).filter(pk__in=ids[stage]).count()
                )
                if previous:
                    figures.conversion = round(100 * figures.from_previous / previous, 1)
                figures.median_days = median_days_between(people, prev, stage, period)
            stages.append(figures)
        return Funnel(area=area, period=period, stages=stages, cohorts=cohorts(people, period))


@contextmanager
def _reading(alias: str):
    """One transaction for the funnel's queries; on PostgreSQL with the larger
    ``work_mem`` segment counts use (SET LOCAL), so hashes of millions of ids stay in
    memory."""
    connection = connections[alias]
    with transaction.atomic(using=alias):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('work_mem', %s, true)", [COUNT_WORK_MEM])
                # Compiling these one-off queries costs more than it saves.
                cursor.execute("SELECT set_config('jit', 'off', true)")
        yield


def cohorts(people: QuerySet[Person], period: Period) -> list[CohortRow]:
    """People by the month (organisation's time zone) of their first online action in
    the period, and how many of them reached each stage in the period.

    One pass: an inner query gives each person who acted their month and what else
    they reached (first dates and the number of events attended, from one JOIN and
    GROUP BY person), and an outer one counts those per month."""
    tz = timezone.get_current_timezone()
    since, until = period.since, period.until
    attended = Q(
        event_rsvps__attendance=Rsvp.Attendance.ATTENDED,
        event_rsvps__event__starts_at__gte=since,
        event_rsvps__event__starts_at__lt=until,
    )
    rows = (
        people.filter(pk__in=stage_person_ids("action", period))
        .annotate(
            month=TruncMonth(
                stage_first_min("action", period), tzinfo=tz, output_field=DateField()
            ),
            rsvp_at=stage_first_min("rsvp", period),
            events_attended=Count("event_rsvps", filter=attended, distinct=True),
            hosted_at=stage_first_min("hosted", period),
        )
        .values_list("month", "rsvp_at", "events_attended", "hosted_at")
    )
    sql, params = rows.query.sql_with_params()
    connection = connections[rows.db]
    month, rsvp_at, events, hosted_at = map(
        connection.ops.quote_name, ("month", "rsvp_at", "events_attended", "hosted_at")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {month}, COUNT(*), COUNT({rsvp_at}), "  # noqa: S608 (ORM SQL, parameters apart)
            f"SUM(CASE WHEN {events} >= 1 THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN {events} >= 2 THEN 1 ELSE 0 END), COUNT({hosted_at}) "
            f"FROM ({sql}) funnel_rows GROUP BY {month}",
            params,
        )
        by_month = {_as_date(row[0]): [int(n or 0) for n in row[1:]] for row in cursor.fetchall()}
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
