"""The public forms of a local group's page."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from clarion.actions.forms import check_name
from clarion.areas.postcodes import postcode_or_none
from clarion.people.normalise import InvalidEmail, normalise_email


class GroupJoinForm(forms.Form):
    """The public join form on a group page. ``website`` is a honeypot, hidden from
    people by CSS and from assistive technology, as on action pages."""

    first_name = forms.CharField(label=_("First name"), max_length=100)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    email = forms.CharField(
        label=_("Email"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    postcode = forms.CharField(
        label=_("Postcode"),
        max_length=10,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "postal-code"}),
    )
    website = forms.CharField(
        label=_("Leave this empty"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )
    email_consent = forms.BooleanField(required=False)
    source = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)

    def __init__(self, *args, consent_wording: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email_consent"].label = consent_wording

    def honeypot_filled(self) -> bool:
        return bool((self.data.get("website") or "").strip())

    def clean_first_name(self):
        return check_name(self.cleaned_data["first_name"], label=gettext("First name"))

    def clean_last_name(self):
        return check_name(self.cleaned_data.get("last_name", ""), label=gettext("Last name"))

    def clean_email(self):
        try:
            email = normalise_email(self.cleaned_data["email"])
        except InvalidEmail:
            raise forms.ValidationError(
                _("Enter a valid email address, like name@example.com.")
            ) from None
        if not email:
            raise forms.ValidationError(_("Enter your email address."))
        return email

    def clean_postcode(self):
        value = (self.cleaned_data.get("postcode") or "").strip()
        if not value:
            return ""
        pc = postcode_or_none(value)
        if pc is None:
            raise forms.ValidationError(_("Enter a UK postcode, like SW1A 1AA."))
        return pc

    def clean_source(self):
        return (self.cleaned_data.get("source") or "").strip()[:100]


class GroupFindForm(forms.Form):
    postcode = forms.CharField(label=_("Your postcode"), max_length=10)

    def clean_postcode(self):
        pc = postcode_or_none(self.cleaned_data["postcode"])
        if pc is None:
            raise forms.ValidationError(_("Enter a full UK postcode, like LS1 4AP."))
        return pc
