"""Segment condition ``event``: what people did at events (registered from
EventsConfig.ready()). The window is on the event's start time, except for ``rsvp``,
where it is on when the RSVP was made (an RSVP is an act of its own; the funnel report
counts its "RSVP'd" stage the same way, and its figures must equal these counts).

Roles:

- ``rsvp``: an RSVP (going or on the waiting list) that was not cancelled;
- ``attended``: checked in as attended (walk-ins too), whatever became of the RSVP
  before — they came;
- ``no_show``: an RSVP that is going, to an event that has ended and was not
  cancelled, without a check-in as attended (marked no-show or never checked in).
  Events still to come or under way never make a no-show;
- ``hosted``: the member host of a published event (proposed, declined, draft and
  cancelled events do not count; staff hosts are not people).

``at_least`` counts events (one RSVP per person and event). Compiles to ``pk IN
(SELECT person_id …)`` without NULLs, so it is TRUE or FALSE for everyone.
"""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clarion.people.segments.registry import ConditionType, IdField, register
from clarion.people.segments.windows import (
    WINDOW_ORDER,
    WindowForm,
    at_least_field,
    describe_window,
    json_without_window,
    people_with_rows,
    window_json,
    window_q,
)

from .models import Event, Rsvp

ROLES = [
    ("rsvp", gettext_lazy("RSVP'd to")),
    ("attended", gettext_lazy("attended")),
    ("no_show", gettext_lazy("did not turn up to (no-show)")),
    ("hosted", gettext_lazy("hosted")),
]


class EventForm(WindowForm):
    role = forms.ChoiceField(choices=ROLES, initial="attended", label=gettext_lazy("What"))
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind of event"),
        required=False,
        choices=[("", gettext_lazy("any kind")), *Event.Kind.choices],
    )
    event = IdField(
        queryset=Event.objects.all(),
        # A text box, not a menu: there may be thousands of them.
        widget=forms.TextInput,
        label=gettext_lazy("Event (id)"),
        required=False,
        error_messages={"invalid_choice": gettext_lazy("There is no event with that id.")},
    )
    at_least = at_least_field(gettext_lazy("At least (events)"))

    field_order = ["role", "kind", "event", "at_least", *WINDOW_ORDER]

    def clean(self):
        data = super().clean()
        data["at_least"] = data.get("at_least") or 1
        event, kind = data.get("event"), data.get("kind")
        if event is not None and kind and event.kind != kind:
            self.add_error(
                "kind",
                _("The event “%(title)s” is not a %(kind)s.")
                % {"title": event.title, "kind": dict(Event.Kind.choices)[kind].lower()},
            )
        return data


@register
class EventRole(ConditionType):
    name = "event"
    label = gettext_lazy("Events")
    Form = EventForm

    def compile(self, params, *, using):
        role = params["role"]
        if role == "hosted":
            rows = Event.objects.using(using).filter(status=Event.Status.PUBLISHED)
            prefix, person = "", "host_person_id"
        else:
            rows = Rsvp.objects.using(using)
            prefix, person = "event__", "person_id"
            if role == "rsvp":
                rows = rows.exclude(status=Rsvp.Status.CANCELLED)
            elif role == "attended":
                rows = rows.filter(attendance=Rsvp.Attendance.ATTENDED)
            else:
                rows = (
                    rows.filter(status=Rsvp.Status.GOING, event__ends_at__lt=timezone.now())
                    .exclude(attendance=Rsvp.Attendance.ATTENDED)
                    .exclude(event__status=Event.Status.CANCELLED)
                )
        if params.get("event") is not None:
            rows = rows.filter(**{f"{prefix}pk" if prefix else "pk": params["event"].pk})
        if params.get("kind"):
            rows = rows.filter(**{f"{prefix}kind": params["kind"]})
        when = "created_at" if role == "rsvp" else f"{prefix}starts_at"
        rows = rows.filter(window_q(params, when))
        return people_with_rows(rows, person, params["at_least"])

    def to_json(self, params):
        data = json_without_window(params)
        if data.get("at_least") == 1:
            del data["at_least"]
        return {**data, **window_json(params)}

    def describe(self, params):
        role = dict(ROLES)[params["role"]]
        if params.get("event") is not None:
            what = _("“%(title)s”") % {"title": params["event"].title}
        elif params.get("kind"):
            what = _("a %(kind)s") % {"kind": dict(Event.Kind.choices)[params["kind"]].lower()}
        else:
            what = _("an event")
        text = f"{role.capitalize()} {what}"
        if params["at_least"] > 1:
            text = _("%(role)s at least %(n)s events") % {
                "role": role.capitalize(),
                "n": params["at_least"],
            }
            if params.get("kind"):
                text += " " + _("of kind %(kind)s") % {
                    "kind": dict(Event.Kind.choices)[params["kind"]].lower()
                }
        return text + describe_window(params)
