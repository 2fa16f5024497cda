from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from clarion.people.normalise import InvalidEmail, normalise_email

from .models import Membership, MembershipType
from .services import PHONE_CONSENT_WORDING, SMS_CONSENT_WORDING


class SignInForm(forms.Form):
    email = forms.CharField(
        label=_("Your email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def clean_email(self) -> str:
        try:
            email = normalise_email(self.cleaned_data["email"])
        except InvalidEmail:
            email = ""
        if not email:
            raise forms.ValidationError(_("Enter a valid email address."))
        return email


class DetailsForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    address_line1 = forms.CharField(label=_("Address"), max_length=200, required=False)
    address_line2 = forms.CharField(label=_("Address line 2"), max_length=200, required=False)
    town = forms.CharField(label=_("Town"), max_length=100, required=False)
    postcode = forms.CharField(label=_("Postcode"), max_length=10, required=False)
    phone = forms.CharField(
        label=_("Phone"),
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        autocomplete = {
            "first_name": "given-name",
            "last_name": "family-name",
            "address_line1": "address-line1",
            "address_line2": "address-line2",
            "town": "address-level2",
            "postcode": "postal-code",
        }
        for name, value in autocomplete.items():
            self.fields[name].widget.attrs["autocomplete"] = value


class PreferencesForm(forms.Form):
    email = forms.BooleanField(required=False)
    sms = forms.BooleanField(label=SMS_CONSENT_WORDING, required=False)
    phone = forms.BooleanField(label=PHONE_CONSENT_WORDING, required=False)

    def __init__(self, *args, email_label, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].label = email_label


class MembershipCancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Why are you leaving? (optional)"),
        max_length=400,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


# --- Staff ------------------------------------------------------------------------------


class MembershipChangeForm(forms.Form):
    """A staff correction of a membership; the reason is required and audited."""

    status = forms.ChoiceField(label=_("Status"))
    membership_type = forms.ModelChoiceField(label=_("Type"), queryset=None)
    renews_on = forms.DateField(
        label=_("Renews on"),
        required=False,
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
        help_text=_("Needed for an active membership."),
    )
    reason = forms.CharField(
        label=_("Reason for the change"),
        max_length=500,
        help_text=_("Kept in the audit log and the membership's history."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = Membership.Status.choices
        self.fields["membership_type"].queryset = MembershipType.objects.order_by("order", "name")

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("Give a reason for the change."))
        return reason


class MembershipTypeForm(forms.ModelForm):
    class Meta:
        model = MembershipType
        fields = ["name", "rate_pence", "period", "active", "order"]
        help_texts = {
            "rate_pence": _("In pence: 500 is £5.00."),
            "order": _("Lower numbers are listed first."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["order"].required = False

    def clean_order(self) -> int:
        return self.cleaned_data.get("order") or 0

    def clean_rate_pence(self) -> int:
        rate = self.cleaned_data["rate_pence"]
        if rate > 10_000_000:
            raise forms.ValidationError(_("That rate is too high."))
        return rate
