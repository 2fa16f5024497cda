from __future__ import annotations

import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clarion.areas.models import Area
from clarion.areas.postcodes import postcode_or_none
from clarion.areas.selectors import postcode_lookup

from .models import CanvassResult, Event, Rsvp
from .services import MAX_GUESTS

CONSENT_WORDING = _("Email me about events and campaigns near me. I can unsubscribe at any time.")
RADIUS_CHOICES = [
    (1, _("1 mile")),
    (5, _("5 miles")),
    (10, _("10 miles")),
    (25, _("25 miles")),
    (50, _("50 miles")),
]


class FindForm(forms.Form):
    postcode = forms.CharField(label=_("Your postcode"), max_length=10)
    radius = forms.TypedChoiceField(
        label=_("Within"), choices=RADIUS_CHOICES, coerce=int, initial=10, required=False
    )
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[("", _("Any kind"))] + list(Event.Kind.choices), required=False
    )
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_postcode(self):
        value = postcode_or_none(self.cleaned_data["postcode"])
        if value is None:
            raise forms.ValidationError(_("Enter a full UK postcode, like LS1 4AP."))
        return value

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            self.add_error("date_to", _("The end date must be after the start date."))
        return data

    def window(self) -> tuple[datetime.datetime, datetime.datetime | None]:
        tz = timezone.get_current_timezone()
        now = timezone.now()
        start = now
        if self.cleaned_data.get("date_from"):
            start = max(
                now,
                datetime.datetime.combine(self.cleaned_data["date_from"], datetime.time.min, tz),
            )
        end = None
        if self.cleaned_data.get("date_to"):
            end = datetime.datetime.combine(
                self.cleaned_data["date_to"] + datetime.timedelta(days=1), datetime.time.min, tz
            )
        return start, end


class RsvpForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=100)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    email = forms.EmailField(label=_("Email"), max_length=254)
    postcode = forms.CharField(label=_("Postcode"), max_length=10, required=False)
    guests = forms.IntegerField(
        label=_("Guests you're bringing"),
        min_value=0,
        max_value=MAX_GUESTS,
        initial=0,
        required=False,
    )
    email_consent = forms.BooleanField(label=CONSENT_WORDING, required=False)
    source = forms.CharField(widget=forms.HiddenInput, required=False, max_length=100)
    ref = forms.CharField(widget=forms.HiddenInput, required=False, max_length=16)
    referrer = forms.CharField(widget=forms.HiddenInput, required=False, max_length=500)

    def clean_postcode(self):
        value = self.cleaned_data.get("postcode", "").strip()
        if value and postcode_or_none(value) is None:
            raise forms.ValidationError(_("Enter a full UK postcode, like LS1 4AP."))
        return value

    def clean_guests(self):
        return self.cleaned_data.get("guests") or 0


class _EventFields(forms.ModelForm):
    online_url = forms.URLField(
        label=_("Online link"),
        required=False,
        assume_scheme="https",
        help_text=_("Shown only to people who RSVP."),
    )
    starts_at = forms.DateTimeField(
        label=_("Starts"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    ends_at = forms.DateTimeField(
        label=_("Ends"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def clean(self):
        data = super().clean()
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] < data["starts_at"]:
            self.add_error("ends_at", _("The event must end after it starts."))
        if data.get("postcode"):
            if postcode_or_none(data["postcode"]) is None:
                self.add_error("postcode", _("Enter a full UK postcode, like LS1 4AP."))
            elif postcode_lookup(data["postcode"]) is None:
                self.add_error("postcode", _("We don't know that postcode."))
        return data


class EventForm(_EventFields):
    """Staff create and edit; the area is limited to the user's subtree."""

    class Meta:
        model = Event
        fields = [
            "kind",
            "title",
            "description",
            "area",
            "venue",
            "address",
            "postcode",
            "online_url",
            "starts_at",
            "ends_at",
            "capacity",
            "visibility",
            "status",
            "reminder_hours",
            "follow_up",
        ]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        scope = user.scope_area
        areas = (
            Area.objects.all()
            if scope is None
            else Area.objects.filter(path__startswith=scope.path)
        )
        self.fields["area"].queryset = areas
        self.fields["area"].required = scope is not None
        self.fields["status"].choices = (
            [
                (v, label)
                for v, label in Event.Status.choices
                if v not in (Event.Status.PROPOSED, Event.Status.DECLINED)
            ]
            if not (
                self.instance.pk
                and self.instance.status in (Event.Status.PROPOSED, Event.Status.DECLINED)
            )
            else Event.Status.choices
        )

    def clean_reminder_hours(self):
        value = self.cleaned_data.get("reminder_hours", "")
        for part in value.split(","):
            if part.strip() and not (part.strip().isdigit() and 0 < int(part.strip()) <= 24 * 14):
                raise forms.ValidationError(
                    _("Give whole hours between 1 and 336, separated by commas.")
                )
        return value


class ProposeForm(_EventFields):
    """A member's proposal: the event and who they are."""

    host_first_name = forms.CharField(label=_("Your first name"), max_length=100)
    host_last_name = forms.CharField(label=_("Your last name"), max_length=100, required=False)
    host_email = forms.EmailField(label=_("Your email"))

    class Meta:
        model = Event
        fields = [
            "kind",
            "title",
            "description",
            "venue",
            "address",
            "postcode",
            "online_url",
            "starts_at",
            "ends_at",
            "capacity",
        ]

    def clean_starts_at(self):
        value = self.cleaned_data["starts_at"]
        if value <= timezone.now():
            raise forms.ValidationError(_("The event must be in the future."))
        return value


class WalkInForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=100)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=30, required=False)
    postcode = forms.CharField(label=_("Postcode"), max_length=10, required=False)

    def clean(self):
        data = super().clean()
        if not data.get("email") and not data.get("phone") and not self.has_error("email"):
            raise forms.ValidationError(_("Give an email address or a phone number."))
        return data

    def without_rejected_contact(self) -> WalkInForm:
        """The same form for re-display, minus an email or phone that was rejected: a
        staff page never echoes back contact details it could not accept."""
        errors = self.errors
        data = self.data.copy()
        for name in ("email", "phone"):
            if name in errors:
                data[name] = ""
        form = WalkInForm(data)
        form._errors = errors
        return form


class AttendanceForm(forms.Form):
    attendance = forms.ChoiceField(choices=Rsvp.Attendance.choices)


class CanvassForm(forms.Form):
    person = forms.IntegerField(widget=forms.HiddenInput)
    outcome = forms.ChoiceField(
        label=_("Outcome"), choices=CanvassResult.Outcome.choices, widget=forms.RadioSelect
    )
    support_level = forms.TypedChoiceField(
        label=_("Support (1 = strongly against, 5 = strongly for)"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "—")] + [(i, str(i)) for i in range(1, 6)],
    )
    note = forms.CharField(label=_("Note"), max_length=500, required=False)


class DeclineForm(forms.Form):
    message = forms.CharField(
        label=_("Message to the member"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )
