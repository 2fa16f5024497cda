from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from clarion.people.normalise import InvalidEmail, normalise_email

from ..models import MembershipType

PAYS_BY = [
    ("direct_debit", _("Direct Debit")),
    ("card", _("Debit or credit card")),
]


# The wording a new member agrees to when they tick the box, stored with their consent.
JOIN_CONSENT_WORDING = _(
    "Keep me updated by email: news, campaigns, events near me and reminders about my "
    "membership. I can unsubscribe at any time."
)


class TypeChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: MembershipType) -> str:
        return obj.name


class JoinForm(forms.Form):
    """Type and way of paying; a supporter who is not signed in also gives their name,
    email and postcode."""

    membership_type = TypeChoice(
        label=_("Membership type"),
        queryset=MembershipType.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={"required": _("Choose a membership type.")},
    )
    pays_by = forms.ChoiceField(
        label=_("How you pay"),
        choices=PAYS_BY,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose how you want to pay.")},
    )
    first_name = forms.CharField(
        label=_("First name"),
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
        error_messages={"required": _("Enter your first name.")},
    )
    last_name = forms.CharField(
        label=_("Last name"),
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
        error_messages={"required": _("Enter your last name.")},
    )
    email = forms.CharField(
        label=_("Email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        error_messages={"required": _("Enter your email address.")},
    )
    postcode = forms.CharField(
        label=_("Postcode"),
        max_length=10,
        widget=forms.TextInput(attrs={"autocomplete": "postal-code"}),
        error_messages={"required": _("Enter your postcode.")},
    )

    email_consent = forms.BooleanField(label="", required=False)

    DETAILS = ("first_name", "last_name", "email", "postcode", "email_consent")

    def __init__(self, *args, types, signed_in: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["membership_type"].queryset = types
        self.fields["email_consent"].label = JOIN_CONSENT_WORDING
        if signed_in:
            for name in self.DETAILS:
                del self.fields[name]

    def clean_email(self) -> str:
        try:
            email = normalise_email(self.cleaned_data["email"])
        except InvalidEmail:
            email = ""
        if not email:
            raise forms.ValidationError(_("Enter a valid email address, like name@example.com."))
        return email

    def detail_fields(self):
        return [self[name] for name in self.DETAILS if name in self.fields]


class TypeChangeForm(forms.Form):
    """A member's choice of another membership type (offered types but their own)."""

    membership_type = TypeChoice(
        label=_("New membership type"),
        queryset=MembershipType.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={
            "required": _("Choose a membership type."),
            "invalid_choice": _("Choose one of the types offered."),
        },
    )

    def __init__(self, *args, types, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["membership_type"].queryset = types
