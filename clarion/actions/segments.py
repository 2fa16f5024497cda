"""Segment conditions on what people did on action pages (registered from
ActionsConfig.ready()):

- ``action_taken``: counted (confirmed) submissions — signatures, pledges, forms,
  letters, survey answers — on any page, pages of one kind or one page, in a time
  window (on when the submission was made), at least ``at_least`` of them. Each
  submission counts once; pending (unconfirmed) and invalidated ones never count.
- ``recruited``: people recorded as brought in by the person (``Person.recruiter``,
  set when a share link brings in someone new), whose record was created in the
  window, at least ``at_least`` of them.

Both compile to ``pk IN (SELECT person_id …)`` over rows whose person is never NULL,
so they are TRUE or FALSE for everyone and behave inside "none of" groups.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clarion.people.models import Person
from clarion.people.segments.registry import ConditionType, IdField, register
from clarion.people.segments.windows import (
    WINDOW_ORDER,
    WindowForm,
    at_least_field,
    describe_times,
    describe_window,
    json_without_window,
    people_with_rows,
    window_json,
    window_q,
)

from .models import ActionPage, Submission


class ActionTakenForm(WindowForm):
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind of page"),
        required=False,
        choices=[("", gettext_lazy("any kind"))]
        + [(k, label) for k, label in ActionPage.Kind.choices if k != ActionPage.Kind.DONATION],
    )
    page = IdField(
        queryset=ActionPage.objects.all(),
        alt_field="slug",
        # A text box, not a menu: there may be thousands of them.
        widget=forms.TextInput,
        label=gettext_lazy("Page (id or web address)"),
        required=False,
        error_messages={"invalid_choice": gettext_lazy("There is no action page with that id.")},
    )
    at_least = at_least_field()

    field_order = ["kind", "page", "at_least", *WINDOW_ORDER]

    def clean(self):
        data = super().clean()
        data["at_least"] = data.get("at_least") or 1
        page, kind = data.get("page"), data.get("kind")
        if page is not None and kind and page.kind != kind:
            raise ValidationError(
                _("The page “%(title)s” is not a %(kind)s."),
                params={"title": page.title, "kind": dict(ActionPage.Kind.choices)[kind].lower()},
            )
        return data


@register
class ActionTaken(ConditionType):
    name = "action_taken"
    label = gettext_lazy("Took an action")
    Form = ActionTakenForm

    def rows(self, params, *, using):
        """The counted submissions the condition looks at (the funnel reuses this)."""
        rows = Submission.objects.using(using).filter(status=Submission.Status.CONFIRMED)
        if params.get("page") is not None:
            rows = rows.filter(page_id=params["page"].pk)
        if params.get("kind"):
            rows = rows.filter(page__kind=params["kind"])
        return rows.filter(window_q(params, "created_at"))

    def compile(self, params, *, using):
        return people_with_rows(self.rows(params, using=using), "person_id", params["at_least"])

    def to_json(self, params):
        data = json_without_window(params)
        if data.get("at_least") == 1:
            del data["at_least"]
        return {**data, **window_json(params)}

    def describe(self, params):
        if params.get("page") is not None:
            what = _("Took action on “%(title)s”") % {"title": params["page"].title}
        elif params.get("kind"):
            what = _("Took action on a %(kind)s") % {
                "kind": dict(ActionPage.Kind.choices)[params["kind"]].lower()
            }
        else:
            what = _("Took an action")
        return what + describe_times(params["at_least"]) + describe_window(params)


class RecruitedForm(WindowForm):
    at_least = at_least_field(gettext_lazy("At least (people)"))

    field_order = ["at_least", *WINDOW_ORDER]

    def clean(self):
        data = super().clean()
        data["at_least"] = data.get("at_least") or 1
        return data


@register
class Recruited(ConditionType):
    name = "recruited"
    label = gettext_lazy("Recruited people")
    Form = RecruitedForm

    def compile(self, params, *, using):
        recruits = Person.objects.using(using).filter(window_q(params, "created_at"))
        return people_with_rows(recruits, "recruiter_id", params["at_least"])

    def to_json(self, params):
        return {"at_least": params["at_least"], **window_json(params)}

    def describe(self, params):
        return _("Recruited at least %(n)s people") % {"n": params["at_least"]} + describe_window(
            params
        )
