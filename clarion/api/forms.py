from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from clarion.areas.selectors import areas_visible_to
from clarion.core.models import User

from .models import ApiKey


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        required=False,
        help_text=_('What the key is for, e.g. "Parsons nightly sync".'),
    )
    owner = forms.ModelChoiceField(
        label=_("Owner"),
        queryset=User.objects.none(),
        required=False,
        help_text=_("The key reaches only what this staff user reaches."),
    )
    scope = forms.ChoiceField(
        label=_("Access"), choices=ApiKey.Scope.choices, initial=ApiKey.Scope.WRITE
    )
    resources = forms.MultipleChoiceField(
        label=_("Resources"),
        choices=ApiKey.Resource.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Leave all unticked to allow every resource."),
    )
    area = forms.ModelChoiceField(
        label=_("Limit to area"),
        queryset=None,
        required=False,
        help_text=_("Optional: narrow the key to part of the owner's area."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["area"].queryset = areas_visible_to(user)
        if user.is_admin:
            self.fields["owner"].queryset = User.objects.filter(is_active=True)
            self.fields["owner"].initial = user.pk
        else:
            del self.fields["owner"]

    def clean(self):
        data = super().clean()
        if "owner" not in self.fields or not data.get("owner"):
            data["owner"] = self.user
        return data
