from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .parsing import TARGETS, target_choices

SINGLE_TARGETS = set(TARGETS) - {"tags"}


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        help_text=gettext_lazy(
            "UTF-8 or Windows-1252; comma, semicolon or tab separated; first row is the headers."
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size == 0:
            raise forms.ValidationError(_("The file is empty."))
        return upload


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]


class MappingForm(forms.Form):
    """A <select> per column of the file, pre-filled by the automatic mapping."""

    tags = forms.CharField(
        label=gettext_lazy("Tag everyone imported with"),
        required=False,
        max_length=500,
        help_text=gettext_lazy("Comma separated."),
    )
    lists = forms.CharField(
        label=gettext_lazy("Add everyone imported to the lists"),
        required=False,
        max_length=500,
        help_text=gettext_lazy("Comma separated; new lists are created."),
    )
    dry_run = forms.BooleanField(
        label=gettext_lazy("Dry run: show what would happen without changing anyone"),
        required=False,
    )

    def __init__(self, *args, headers: list[str], columns: list[str], custom_fields=(), **kwargs):
        super().__init__(*args, **kwargs)
        choices = target_choices(custom_fields)
        self.column_names = []
        for i, header in enumerate(headers):
            name = f"col_{i}"
            column_choices = list(choices)
            initial = columns[i] if i < len(columns) else ""
            if initial.startswith("identifier:"):
                column_choices.append(
                    (initial, _("External id (%(system)s)") % {"system": initial[11:]})
                )
            self.fields[name] = forms.ChoiceField(
                label=header or _("Column %(n)s") % {"n": i + 1},
                choices=column_choices,
                required=False,
                initial=initial,
            )
            self.column_names.append(name)
        # Put the column selects first.
        order = self.column_names + ["tags", "lists", "dry_run"]
        self.order_fields(order)
        self.headers = headers

    def clean(self):
        data = super().clean()
        columns = []
        for i, name in enumerate(self.column_names):
            target = data.get(name) or ""
            if target == "identifier":
                from .parsing import identifier_system

                target = f"identifier:{identifier_system(self.headers[i])}"
            columns.append(target)
        seen = set()
        for target in columns:
            key = "identifier" if target.startswith("identifier") else target
            if key in SINGLE_TARGETS or key == "identifier" or key.startswith("custom:"):
                if key in seen:
                    raise forms.ValidationError(_("Each field can be chosen for one column only."))
                seen.add(key)
        if not ({"email", "phone", "identifier"} & seen):
            raise forms.ValidationError(
                _("Choose the column that holds the email address, phone number or external id.")
            )
        data["columns"] = columns
        data["tag_list"] = _split(data.get("tags") or "")
        data["list_list"] = _split(data.get("lists") or "")
        return data


class ExportForm(forms.Form):
    segment = forms.TypedChoiceField(
        label=gettext_lazy("Who"), coerce=int, required=False, empty_value=None
    )

    def __init__(self, *args, segments=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].choices = [("", _("Everyone you can see"))] + [
            (s.pk, s.name) for s in segments
        ]
