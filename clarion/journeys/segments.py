"""Segment condition "Journey": people in, through, or out of a journey, or standing
at one of its steps. Registered from JourneysConfig.ready()."""

from __future__ import annotations

from django import forms
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clarion.people.segments.registry import ConditionType, IdField, register

from .models import Enrolment, Journey

STATES = [
    ("in", gettext_lazy("is in it now")),
    ("completed", gettext_lazy("completed it")),
    ("converted", gettext_lazy("reached its goal")),
    ("left", gettext_lazy("left it")),
    ("ever", gettext_lazy("was ever in it")),
]


class JourneyForm(forms.Form):
    journey = IdField(queryset=Journey.objects.all(), label=gettext_lazy("Journey"))
    state = forms.ChoiceField(choices=STATES, label=gettext_lazy("Who"), initial="in")
    step = forms.SlugField(label=gettext_lazy("At the step (key)"), max_length=40, required=False)


@register
class InJourney(ConditionType):
    name = "journey"
    label = gettext_lazy("Journey")
    Form = JourneyForm

    def compile(self, params, *, using):
        rows = Enrolment.objects.using(using).filter(journey=params["journey"])
        state = params["state"]
        if state == "in":
            rows = rows.filter(state=Enrolment.State.ACTIVE)
        elif state != "ever":
            rows = rows.filter(state=state)
        if params.get("step"):
            rows = rows.filter(step__key=params["step"])
        return Q(pk__in=rows.values("person_id"))

    def describe(self, params):
        labels = dict(STATES)
        text = _("%(state)s journey “%(journey)s”") % {
            "state": labels.get(params["state"], params["state"]),
            "journey": params["journey"].name,
        }
        if params.get("step"):
            text += " " + _("at step %(step)s") % {"step": params["step"]}
        return text
