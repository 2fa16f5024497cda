"""Forms of "My local party" and "My actions and recruits"."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class LocalContactForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=150)
    message = forms.CharField(
        label=_("Your message"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Your organisers reply to your email address."),
    )

    def clean_subject(self) -> str:
        # One line: a subject is an email header.
        subject = " ".join(self.cleaned_data["subject"].split())
        if not subject:
            raise forms.ValidationError(_("Enter a subject."))
        return subject

    def clean_message(self) -> str:
        message = self.cleaned_data["message"].strip()
        if not message:
            raise forms.ValidationError(_("Write your message."))
        return message


class RecruitersTableForm(forms.Form):
    show = forms.TypedChoiceField(
        choices=(("yes", _("Show me")), ("no", _("Do not show me"))),
        coerce=lambda value: value == "yes",
    )
