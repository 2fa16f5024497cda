from __future__ import annotations

import csv
import io

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import Area

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


class AreaUploadForm(forms.Form):
    """An areas or postcodes CSV, decoded to text. Files too large for a browser
    upload (the full national postcode list) go through ``clarion load_postcodes``."""

    KIND_AREAS = "areas"
    KIND_POSTCODES = "postcodes"

    kind = forms.ChoiceField(
        label=_("What the file holds"),
        choices=[
            (KIND_AREAS, _("Areas: code, name, kind, parent_code")),
            (KIND_POSTCODES, _("Postcodes: postcode, latitude, longitude, area_code")),
        ],
        widget=forms.RadioSelect,
        initial=KIND_AREAS,
    )
    file = forms.FileField(label=_("CSV file"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _(
                    "The file is larger than 20 MB. Load it with the clarion load_postcodes command instead."
                )
            )
        raw = upload.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError(
                _("The file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again.")
            ) from None
        if not text.strip():
            raise forms.ValidationError(_("The file is empty."))
        return text

    def line_errors(self) -> list[str]:
        """Checks the loaders leave to the database (lengths), made here so a long
        value is reported by line instead of failing the whole request."""
        if self.cleaned_data.get("kind") != self.KIND_AREAS:
            return []
        limits = {
            "code": Area._meta.get_field("code").max_length,
            "name": Area._meta.get_field("name").max_length,
        }
        errors = []
        reader = csv.DictReader(io.StringIO(self.cleaned_data["file"]))
        for line, row in enumerate(reader, start=2):
            for column, limit in limits.items():
                if len((row.get(column) or "").strip()) > limit:
                    errors.append(
                        gettext("Line %(line)s: %(column)s is longer than %(limit)s characters.")
                        % {"line": line, "column": column, "limit": limit}
                    )
        return errors


class GroupPageForm(forms.ModelForm):
    """What an organiser writes on their area's public group page."""

    class Meta:
        model = Area
        fields = ["get_involved", "join_tag"]
        widgets = {"get_involved": forms.Textarea(attrs={"rows": 6})}


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
        from clarion.actions.forms import check_name

        return check_name(self.cleaned_data["first_name"], label=gettext("First name"))

    def clean_last_name(self):
        from clarion.actions.forms import check_name

        return check_name(self.cleaned_data.get("last_name", ""), label=gettext("Last name"))

    def clean_email(self):
        from clarion.people.normalise import InvalidEmail, normalise_email

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
        from .postcodes import postcode_or_none

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
        from .postcodes import postcode_or_none

        pc = postcode_or_none(self.cleaned_data["postcode"])
        if pc is None:
            raise forms.ValidationError(_("Enter a full UK postcode, like LS1 4AP."))
        return pc
