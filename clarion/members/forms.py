from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from clarion.mailings.categories import CATEGORIES_QUESTION
from clarion.mailings.forms import category_choices
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
    categories = forms.MultipleChoiceField(
        label=CATEGORIES_QUESTION,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Untick a kind of email to stop it and keep the rest."),
    )
    sms = forms.BooleanField(label=SMS_CONSENT_WORDING, required=False)
    phone = forms.BooleanField(label=PHONE_CONSENT_WORDING, required=False)

    def __init__(self, *args, email_label, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].label = email_label
        self.fields["categories"].choices = category_choices()
        if not self.fields["categories"].choices:
            del self.fields["categories"]


class VolunteeringForm(forms.Form):
    """One group of boxes per volunteering list (skills, interests, availability); the
    values are the ids of the volunteering tags offered."""

    def __init__(self, *args, lists, **kwargs):
        super().__init__(*args, **kwargs)
        for vlist, tags in lists:
            if tags:
                self.fields[vlist.key] = forms.TypedMultipleChoiceField(
                    label=vlist.question,
                    choices=[(t.pk, vlist.choice_label(t)) for t in tags],
                    coerce=int,
                    required=False,
                    widget=forms.CheckboxSelectMultiple,
                )

    def tag_ids(self) -> set[int]:
        return {pk for name in self.fields for pk in self.cleaned_data.get(name, [])}


class VolunteerChoicesForm(forms.Form):
    """New volunteering choices for each list, one per line (staff)."""

    EXAMPLES = {
        "skill": _("e.g. Leafleting, Driving, First aid, Design and social media"),
        "interest": _("e.g. Campaigning, Events, Fundraising, Standing for election"),
        "availability": _("e.g. Weekday evenings, Weekends"),
    }

    def __init__(self, *args, lists, **kwargs):
        super().__init__(*args, **kwargs)
        for vlist in lists:
            self.fields[vlist.key] = forms.CharField(
                label=_("Add %(list)s (one per line)") % {"list": str(vlist.label).lower()},
                required=False,
                max_length=2000,
                widget=forms.Textarea(attrs={"rows": 3}),
                help_text=self.EXAMPLES.get(vlist.key, ""),
            )

    def clean(self):
        data = super().clean()
        for name, text in list(data.items()):
            lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
            if any(len(line) > 80 for line in lines):
                self.add_error(name, _("Keep each choice to 80 characters."))
            data[name] = lines
        return data


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
