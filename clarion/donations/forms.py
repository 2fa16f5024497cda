from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Donation


class DonationFilterForm(forms.Form):
    page: forms.ModelChoiceField = forms.ModelChoiceField(
        queryset=None, required=False, label=_("Page"), empty_label=_("All pages")
    )
    status = forms.ChoiceField(
        choices=[("", _("Any status"))] + list(Donation.Status.choices),
        required=False,
        label=_("Status"),
    )
    permissibility = forms.ChoiceField(
        choices=[("", _("Any"))] + list(Donation.Permissibility.choices),
        required=False,
        label=_("Permissibility"),
    )

    def __init__(self, *args, pages, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["page"].queryset = pages


class PermissibilityForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[
            (Donation.Permissibility.CLEARED, _("Clear: the donor is permissible")),
            (Donation.Permissibility.REJECTED, _("Reject: the donation must be returned")),
        ],
        widget=forms.RadioSelect,
        label=_("Decision"),
    )
    note = forms.CharField(
        max_length=500,
        required=False,
        label=_("Note"),
        help_text=_("What you checked, e.g. the electoral register entry."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class PlanCancelForm(forms.Form):
    reason = forms.CharField(max_length=200, required=False, label=_("Reason"))
