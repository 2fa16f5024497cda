from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from clarion.areas.selectors import areas_visible_to
from clarion.core.models import User

from .models import Session
from .services import CONSENT_WORDING


class AskForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=100)
    email = forms.CharField(
        label=_("Email"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    text = forms.CharField(label=_("Your question"), widget=forms.Textarea(attrs={"rows": 4}))
    consent = forms.BooleanField(label=CONSENT_WORDING, required=False)

    def __init__(self, *args, session: Session, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["text"].max_length = session.max_length
        self.fields["text"].widget.attrs["maxlength"] = session.max_length
        self.fields["text"].help_text = _(
            "Up to %(n)s characters. A moderator reads every question first."
        ) % {"n": session.max_length}


class ConfirmForm(forms.Form):
    email = forms.CharField(
        label=_("Email"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )


class SessionForm(forms.ModelForm):
    video_url = forms.URLField(
        label=_("Live stream address"),
        required=False,
        assume_scheme="https",
        help_text=_("Optional: the https address where the stream can be watched."),
    )
    join_url = forms.URLField(label=_("Join link"), required=False, assume_scheme="https")
    donate_url = forms.URLField(label=_("Donate link"), required=False, assume_scheme="https")
    event_url = forms.URLField(label=_("Event link"), required=False, assume_scheme="https")

    class Meta:
        model = Session
        fields = [
            "title",
            "slug",
            "host",
            "description",
            "video_url",
            "opens_at",
            "live_at",
            "closes_at",
            "audience",
            "max_length",
            "max_per_person",
            "area",
            "moderators",
            "join_url",
            "donate_url",
            "event_url",
        ]
        widgets = {
            "opens_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "live_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "closes_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "description": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["area"].queryset = areas_visible_to(user)
        self.fields["moderators"].queryset = User.objects.filter(
            is_active=True, role__in=[User.Role.ADMIN, User.Role.ORGANISER]
        )
        self.fields["moderators"].required = False
        self.fields["max_length"].min_value = 20
        if user.scope_area is not None:
            self.fields["area"].required = True

    def clean_video_url(self):
        url = self.cleaned_data["video_url"]
        if url and not url.startswith("https://"):
            raise forms.ValidationError(_("Use an https:// address."))
        return url

    def clean_max_length(self):
        value = self.cleaned_data["max_length"]
        if value < 20 or value > 2000:
            raise forms.ValidationError(_("Choose between 20 and 2000 characters."))
        return value


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200)


class EditForm(forms.Form):
    text = forms.CharField(label=_("Question"), widget=forms.Textarea(attrs={"rows": 3}))


class MergeForm(forms.Form):
    into = forms.IntegerField(label=_("Merge into question number"), min_value=1)


class BanForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200)


class AnswerForm(forms.Form):
    answer_text = forms.CharField(
        label=_("Answer"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    answer_at = forms.CharField(
        label=_("Starts in the video at (h:mm:ss or seconds)"), required=False, max_length=10
    )

    def clean_answer_at(self):
        raw = self.cleaned_data["answer_at"].strip()
        if not raw:
            return None
        try:
            parts = [int(p) for p in raw.split(":")]
        except ValueError:
            raise forms.ValidationError(_("Write the time as h:mm:ss, m:ss or seconds.")) from None
        if len(parts) > 3 or any(p < 0 for p in parts) or any(p > 59 for p in parts[1:]):
            raise forms.ValidationError(_("Write the time as h:mm:ss, m:ss or seconds."))
        seconds = 0
        for p in parts:
            seconds = seconds * 60 + p
        return seconds


class BannedPhraseForm(forms.Form):
    phrase = forms.CharField(label=_("Word or phrase"), max_length=100)
