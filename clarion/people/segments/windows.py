"""The time window shared by the activity conditions (actions, events, money, recruits).

A condition whose form inherits ``WindowForm`` takes three more settings:

- ``window``: ``ever`` (the default), ``last_days`` or ``between``;
- ``days``: a whole number from 1 to 36,500, required for ``last_days``. The window
  then runs from this moment back ``days`` × 24 hours (a rolling window, as the
  "Added to the database in the last N days" condition);
- ``start`` and ``end``: dates, both required for ``between``, ``end`` not before
  ``start``. Both days are included, read as whole days in the organisation's time
  zone (``CLARION_TIME_ZONE``): from 00:00 on ``start`` to the end of ``end``.

``window_range`` turns the cleaned settings into a half-open range of aware
datetimes (``since`` included, ``until`` excluded) and ``window_q`` into ORM lookups on
one datetime field, so the dates reach SQL as parameters only.
"""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

WINDOW_CHOICES = [
    ("ever", gettext_lazy("ever")),
    ("last_days", gettext_lazy("in the last N days")),
    ("between", gettext_lazy("between two dates")),
]
MAX_DAYS = 36_500
FIRST_YEAR, LAST_YEAR = 1900, 2200
WINDOW_FIELDS = ("window", "days", "start", "end")
WINDOW_ORDER = list(WINDOW_FIELDS)
MAX_AT_LEAST = 1_000_000


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"})


class WindowForm(forms.Form):
    """Form fields and checks of the window; subclass it and add the condition's own
    fields (a subclass overriding ``clean`` must call ``super().clean()``)."""

    window = forms.ChoiceField(
        choices=WINDOW_CHOICES, initial="ever", required=False, label=gettext_lazy("When")
    )
    days = forms.IntegerField(
        label=gettext_lazy("Days"), required=False, min_value=1, max_value=MAX_DAYS
    )
    start = forms.DateField(label=gettext_lazy("From"), required=False, widget=_date_input())
    end = forms.DateField(label=gettext_lazy("To"), required=False, widget=_date_input())

    def clean(self):
        data = super().clean()
        window = data.get("window") or "ever"
        data["window"] = window
        for name in ("start", "end"):
            day = data.get(name)
            if day is not None and not (FIRST_YEAR <= day.year <= LAST_YEAR):
                self.add_error(
                    name,
                    _("Enter a date between %(first)s and %(last)s.")
                    % {"first": FIRST_YEAR, "last": LAST_YEAR},
                )
                data[name] = None
        if window == "last_days":
            if data.get("days") is None and "days" not in self.errors:
                self.add_error("days", _("Enter a number of days."))
            data["start"] = data["end"] = None
        elif window == "between":
            start, end = data.get("start"), data.get("end")
            if start is None and "start" not in self.errors:
                self.add_error("start", _("Enter the first day."))
            if end is None and "end" not in self.errors:
                self.add_error("end", _("Enter the last day."))
            if start is not None and end is not None and end < start:
                self.add_error("end", _("The last day must not be before the first."))
            data["days"] = None
        elif "window" not in self.errors:
            data["days"] = data["start"] = data["end"] = None
        return data


def _midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(
        datetime.datetime.combine(day, datetime.time.min), timezone.get_default_timezone()
    )


def window_range(
    params: dict[str, Any], *, now: datetime.datetime | None = None
) -> tuple[datetime.datetime | None, datetime.datetime | None]:
    """(since, until) of a cleaned window: ``since`` included, ``until`` excluded, None
    for an open end."""
    window = params.get("window") or "ever"
    if window == "last_days":
        now = now or timezone.now()
        return now - datetime.timedelta(days=params["days"]), None
    if window == "between":
        return _midnight(params["start"]), _midnight(params["end"] + datetime.timedelta(days=1))
    return None, None


def window_q(params: dict[str, Any], field: str) -> Q:
    """Lookups keeping rows whose ``field`` (a datetime) falls in the window."""
    since, until = window_range(params)
    q = Q()
    if since is not None:
        q &= Q(**{f"{field}__gte": since})
    if until is not None:
        q &= Q(**{f"{field}__lt": until})
    return q


def window_json(params: dict[str, Any]) -> dict[str, Any]:
    """The window's settings as stored: only what the chosen window uses."""
    window = params.get("window") or "ever"
    if window == "last_days":
        return {"window": window, "days": params["days"]}
    if window == "between":
        return {
            "window": window,
            "start": params["start"].isoformat(),
            "end": params["end"].isoformat(),
        }
    return {"window": "ever"}


def describe_window(params: dict[str, Any]) -> str:
    """ " in the last 30 days", " between 2026-01-01 and 2026-01-31", or "" for ever."""
    window = params.get("window") or "ever"
    if window == "last_days":
        return " " + _("in the last %(days)s days") % {"days": params["days"]}
    if window == "between":
        return " " + _("between %(start)s and %(end)s") % {
            "start": params["start"].isoformat(),
            "end": params["end"].isoformat(),
        }
    return ""


def json_without_window(params: dict[str, Any], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The condition's other settings (ids for rows), leaving out empty ones."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key in WINDOW_FIELDS or key in skip or value in (None, ""):
            continue
        out[key] = getattr(value, "pk", value)
    return out


def at_least_field(label: Any = None) -> forms.IntegerField:
    """The optional ``at_least`` setting (1 when left blank)."""
    return forms.IntegerField(
        label=label or gettext_lazy("At least (times)"),
        required=False,
        min_value=1,
        max_value=MAX_AT_LEAST,
        initial=1,
    )


def people_with_rows(rows: QuerySet, person_field: str, at_least: int = 1) -> Q:
    """People with a row in ``rows`` (``EXISTS``), or ``pk IN`` the non-NULL
    ``person_field`` of those with at least ``at_least`` rows. NULLs are left out of
    the subquery so that the ``Q`` stays TRUE or FALSE under NOT (``x NOT IN (…,
    NULL)`` would be NULL)."""
    rows = rows.filter(**{f"{person_field}__isnull": False}).order_by()
    if at_least > 1:
        rows = (
            rows.values(person_field)
            .annotate(n=Count("pk"))
            .filter(n__gte=at_least)
            .values(person_field)
        )
        return Q(pk__in=rows)
    # EXISTS rather than IN: under "none of" it becomes NOT EXISTS, which PostgreSQL
    # runs as an anti-join driven by the other conditions instead of probing a hash of
    # every matching row for each person in scope.
    return Q(Exists(rows.filter(**{person_field: OuterRef("pk")})))


def describe_times(at_least: int) -> str:
    return "" if at_least <= 1 else " " + _("at least %(n)s times") % {"n": at_least}
