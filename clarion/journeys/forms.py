"""Staff forms for journeys."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .library import template_choices
from .models import Todo


class FromTemplateForm(forms.Form):
    template = forms.ChoiceField(label=_("Start from"), choices=())
    from_name = forms.CharField(label=_("From name"), max_length=100)
    from_email = forms.EmailField(label=_("From address"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = template_choices()


class StepsForm(forms.Form):
    steps = forms.CharField(
        label=_("Steps (JSON)"),
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false"}),
        max_length=200_000,
        help_text=_(
            "A list of steps as in an exported journey file. Saving a journey that has "
            "run makes a new version; people on the way stay on theirs."
        ),
    )

    def clean_steps(self):
        import json

        try:
            return json.loads(self.cleaned_data["steps"])
        except ValueError as exc:
            raise forms.ValidationError(
                _("This is not valid JSON: %(error)s") % {"error": exc}
            ) from None


class StatusForm(forms.Form):
    move = forms.ChoiceField(
        choices=[
            ("publish", _("Publish")),
            ("pause", _("Pause")),
            ("archive", _("Archive")),
            ("draft", _("Back to draft")),
        ]
    )


class TestSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Find the person to test with"),
        max_length=254,
        help_text=_("An email address, or a name (first and last, or the last name)."),
    )


class TestStartForm(forms.Form):
    person = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class TriggerKindForm(forms.Form):
    kind = forms.ChoiceField(label=_("What enters people"), choices=())

    def __init__(self, *args, **kwargs):
        from .triggers import trigger_types

        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(t.name, t.label) for t in trigger_types()]


# Settings that name a record get a choice of the records the user reaches, so nobody
# types an id (and the service checks the scope again).
MAX_CHOICES = 300


def _scoped_choices(user, name: str) -> list[tuple[str, str]] | None:
    from django.utils import timezone

    from clarion.actions.selectors import pages_for
    from clarion.events.selectors import events_for
    from clarion.mailings.models import Mailing
    from clarion.mailings.selectors import mailings_for

    if name == "page":
        rows = pages_for(user).order_by("title", "pk").values_list("pk", "title", "kind")
        return [(str(pk), f"{title} ({kind})") for pk, title, kind in rows[:MAX_CHOICES]]
    if name == "event":
        rows = events_for(user).order_by("-starts_at", "pk").values_list("pk", "title", "starts_at")
        return [
            (str(pk), f"{title} ({timezone.localtime(at):%d %b %Y})")
            for pk, title, at in rows[:MAX_CHOICES]
        ]
    if name == "mailing":
        rows = (
            mailings_for(user)
            .exclude(status=Mailing.Status.DRAFT)
            .order_by("-created_at", "-pk")
            .values_list("pk", "name", "subject")
        )
        return [(str(pk), name or subject) for pk, name, subject in rows[:MAX_CHOICES]]
    return None


class TriggerSettingsForm(forms.Form):
    """A trigger type's own settings form, with the page, event and mailing settings
    as choices of what ``user`` reaches, and a segment definition as a choice of the
    user's saved segments. ``config()`` is what the service is given; the trigger's
    form checks it again there."""

    def __init__(self, *args, ttype, user, **kwargs):
        from clarion.people.selectors import segments_for

        super().__init__(*args, **kwargs)
        self.ttype, self.user = ttype, user
        for name, field in ttype.Form().fields.items():
            choices = _scoped_choices(user, name)
            if choices is not None:
                empty = _("any") if not field.required else "—"
                self.fields[name] = forms.TypedChoiceField(
                    label=field.label,
                    choices=[("", empty)] + choices,
                    coerce=int,
                    empty_value=None,
                    required=field.required,
                    help_text=field.help_text,
                )
            elif name == "definition":
                self.segments = {
                    str(pk): definition
                    for pk, definition in segments_for(user).values_list("pk", "definition")
                }
                self.fields[name] = forms.ChoiceField(
                    label=_("People in the saved segment"),
                    choices=[("", "—")]
                    + [
                        (str(pk), name)
                        for pk, name in segments_for(user)
                        .order_by("name", "pk")
                        .values_list("pk", "name")[:MAX_CHOICES]
                    ],
                    help_text=_(
                        "The segment's conditions are copied into the journey when you save."
                    ),
                )
            else:
                self.fields[name] = field

    def config(self) -> dict:
        out = {}
        for name, value in self.cleaned_data.items():
            if name == "definition":
                value = self.segments.get(value)
            elif value is not None and not isinstance(value, bool | int | str):
                value = str(value)  # a Decimal amount
            if value not in (None, ""):
                out[name] = value
        return out


class TodoForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Outcome"),
        choices=[(Todo.Status.DONE, _("Done")), (Todo.Status.NOT_REACHED, _("Not reached"))],
    )
    note = forms.CharField(label=_("Note"), max_length=2000, required=False)
