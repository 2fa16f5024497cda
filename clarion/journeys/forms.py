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
        choices=[("publish", _("Publish")), ("pause", _("Pause")), ("archive", _("Archive"))]
    )


class TodoForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Outcome"),
        choices=[(Todo.Status.DONE, _("Done")), (Todo.Status.NOT_REACHED, _("Not reached"))],
    )
    note = forms.CharField(label=_("Note"), max_length=2000, required=False)
