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
