from __future__ import annotations

import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clarion.areas.models import Area
from clarion.areas.postcodes import postcode_or_none
from clarion.areas.selectors import postcode_lookup

from . import selectors
from .models import CanvassResult, Event, Question, Rsvp, Shift
from .services import MAX_ANSWER, MAX_GUESTS

CONSENT_WORDING = _("Email me about events and campaigns near me. I can unsubscribe at any time.")
RADIUS_CHOICES = [
    (1, _("1 mile")),
    (5, _("5 miles")),
    (10, _("10 miles")),
    (25, _("25 miles")),
    (50, _("50 miles")),
]


def _coordinate(value, limit: float) -> float | None:
    try:
        number = float(str(value or "")[:20])
    except ValueError:
        return None
    return number if -limit <= number <= limit else None  # also rules out nan and inf


class FindForm(forms.Form):
    postcode = forms.CharField(label=_("Your postcode"), max_length=10, required=False)
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
        if not self.cleaned_data.get("postcode", "").strip():
            return ""
        value = postcode_or_none(self.cleaned_data["postcode"])
        if value is None:
            raise forms.ValidationError(_("Enter a full UK postcode, like LS1 4AP."))
        return value

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            self.add_error("date_to", _("The end date must be after the start date."))
        # "Use my location" (static/clarion/find_location.js) adds lat and lng to the
        # query; they are not rendered as fields, and a postcode wins over them.
        data["lat"], data["lng"] = (
            _coordinate(self.data.get("lat"), 90),
            _coordinate(self.data.get("lng"), 180),
        )
        located = data["lat"] is not None and data["lng"] is not None
        if not data.get("postcode") and not self.has_error("postcode"):
            if (self.data.get("lat") or self.data.get("lng")) and not located:
                self.add_error(
                    None, _("We could not read your location. Enter your postcode instead.")
                )
            elif not located:
                self.add_error("postcode", _("Enter your postcode, or use your location."))
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


class ChoicesMixin:
    """Adds the event's shifts (checkboxes, with places left) and the host's questions
    to an RSVP form. ``answers()`` gives question id → answer for the services."""

    def add_choices(self, event: Event | None) -> None:
        self.questions: list[Question] = []
        if event is None or event.pk is None:
            return
        shifts = selectors.shifts_with_places(event)
        if shifts:
            self.fields["shifts"] = forms.TypedMultipleChoiceField(
                label=_("Which shifts can you do?"),
                choices=[(s.pk, _shift_label(s)) for s in shifts],
                coerce=int,
                widget=forms.CheckboxSelectMultiple,
                help_text=_("Pick one or several."),
                error_messages={"required": _("Pick at least one shift.")},
            )
        self.questions = list(event.questions.all())
        for question in self.questions:
            name = f"question_{question.pk}"
            choices = question.choice_list()
            if choices:
                self.fields[name] = forms.ChoiceField(
                    label=question.text,
                    required=question.required,
                    choices=[("", "—")] + [(c, c) for c in choices],
                )
            else:
                self.fields[name] = forms.CharField(
                    label=question.text,
                    required=question.required,
                    max_length=MAX_ANSWER,
                    widget=forms.Textarea(attrs={"rows": 2}),
                )
            self.fields[name].error_messages["required"] = _("Please answer this question.")

    def answers(self) -> dict[int, str]:
        return {q.pk: self.cleaned_data.get(f"question_{q.pk}") or "" for q in self.questions}

    def shift_ids(self) -> list[int]:
        return list(self.cleaned_data.get("shifts") or [])


def _shift_label(shift: Shift) -> str:
    name = selectors.shift_name(shift)
    if shift.left is None:
        return name
    if shift.left == 0:
        return _("%(shift)s — full") % {"shift": name}
    return _("%(shift)s — %(n)s left") % {"shift": name, "n": shift.left}


class RsvpForm(ChoicesMixin, forms.Form):
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

    def __init__(self, *args, event: Event | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_choices(event)
        if "shifts" in self.fields or self.questions:
            # Shifts and questions come before the consent box and the button.
            consent = self.fields.pop("email_consent")
            self.fields["email_consent"] = consent

    def clean_postcode(self):
        value = self.cleaned_data.get("postcode", "").strip()
        if value and postcode_or_none(value) is None:
            raise forms.ValidationError(_("Enter a full UK postcode, like LS1 4AP."))
        return value

    def clean_guests(self):
        return self.cleaned_data.get("guests") or 0


class RsvpChangeForm(ChoicesMixin, forms.Form):
    """Change a standing RSVP through its signed link: guests, shifts, answers."""

    guests = forms.IntegerField(
        label=_("Guests you're bringing"),
        min_value=0,
        max_value=MAX_GUESTS,
        required=False,
    )

    def __init__(self, *args, rsvp: Rsvp, **kwargs):
        if not args or args[0] is None:
            kwargs.setdefault("initial", {}).update(
                {
                    "guests": rsvp.guests,
                    "shifts": [s.shift_id for s in rsvp.shift_signups.all()],
                    **{f"question_{a.question_id}": a.value for a in rsvp.answers.all()},
                }
            )
        super().__init__(*args, **kwargs)
        self.add_choices(rsvp.event)

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
    host_postcode = forms.CharField(
        label=_("Your postcode"),
        max_length=10,
        required=False,
        help_text=_("So your local organisers can support you."),
    )

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


class HostCanvassForm(forms.Form):
    """A member host records a doorstep or phone contact by the details the contact
    gave: nothing already stored about anyone is looked up or shown through it."""

    first_name = forms.CharField(label=_("First name"), max_length=100)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=30, required=False)
    postcode = forms.CharField(label=_("Postcode"), max_length=10, required=False)
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

    def clean(self):
        data = super().clean()
        if (
            not data.get("email")
            and not data.get("phone")
            and not (self.has_error("email") or self.has_error("phone"))
        ):
            raise forms.ValidationError(_("Give the contact's email address or phone number."))
        return data


class DeclineForm(forms.Form):
    message = forms.CharField(
        label=_("Message to the member"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )


_LOCAL_INPUT = {"type": "datetime-local"}


class ShiftForm(forms.ModelForm):
    starts_at = forms.DateTimeField(
        label=_("Starts"),
        widget=forms.DateTimeInput(attrs=_LOCAL_INPUT, format="%Y-%m-%dT%H:%M"),
    )
    ends_at = forms.DateTimeField(
        label=_("Ends"),
        widget=forms.DateTimeInput(attrs=_LOCAL_INPUT, format="%Y-%m-%dT%H:%M"),
    )

    class Meta:
        model = Shift
        fields = ["label", "starts_at", "ends_at", "capacity"]

    def clean(self):
        data = super().clean()
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] < data["starts_at"]:
            self.add_error("ends_at", _("The shift must end after it starts."))
        return data


class QuestionForm(forms.ModelForm):
    class Meta:
        model = Question
        fields = ["text", "required", "choices", "position"]
        widgets = {"choices": forms.Textarea(attrs={"rows": 3})}

    def clean_choices(self):
        lines = [c.strip() for c in self.cleaned_data.get("choices", "").splitlines() if c.strip()]
        if len(lines) == 1:
            raise forms.ValidationError(_("Give at least two choices, or none for a free answer."))
        if any(len(c) > 200 for c in lines):
            raise forms.ValidationError(_("Keep each choice under 200 characters."))
        return "\n".join(lines)


ShiftFormSet = forms.inlineformset_factory(
    Event, Shift, form=ShiftForm, extra=2, can_delete=True, max_num=50, validate_max=True
)
QuestionFormSet = forms.inlineformset_factory(
    Event, Question, form=QuestionForm, extra=2, can_delete=True, max_num=20, validate_max=True
)


class HostMessageForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=150)
    body = forms.CharField(label=_("Message"), max_length=10000, widget=forms.Textarea)
    include_waitlisted = forms.BooleanField(
        label=_("Also send to people on the waiting list"), required=False
    )
