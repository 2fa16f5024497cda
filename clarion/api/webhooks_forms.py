from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Webhook


class WebhookForm(forms.ModelForm):
    url = forms.URLField(
        label=_("Address"),
        max_length=500,
        assume_scheme="https",
        help_text=_("Clarion POSTs each event here as JSON."),
    )

    class Meta:
        model = Webhook
        fields = ["name", "url", "event_type", "is_active"]
        labels = {"name": _("Name"), "event_type": _("Event"), "is_active": _("Active")}

    def clean_url(self):
        url = self.cleaned_data["url"]
        if not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError(_("Use an http:// or https:// address."))
        return url
