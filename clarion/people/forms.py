"""Staff forms for people, tags, lists and custom field definitions.

Forms only shape input; the services in ``people.services`` validate and write.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from clarion.areas.selectors import areas_visible_to

from .models import CustomField, EmailStatus, MembershipStatus, Person, Tag


class PeopleFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=254,
        help_text=_("A name, email address or postcode."),
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    tag = forms.ModelChoiceField(
        label=_("Tag"), queryset=Tag.objects.all(), required=False, empty_label=_("Any tag")
    )
    area = forms.ModelChoiceField(
        label=_("Area"), queryset=None, required=False, empty_label=_("Any area")
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = areas_visible_to(user)


class NameForm(forms.Form):
    """Add a tag or a list by name (an existing one, or a new one)."""

    name = forms.CharField(label=_("Name"), max_length=100)

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise ValidationError(_("Give a name."))
        return name


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Note"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )


def custom_form_field(definition: CustomField) -> forms.Field:
    label = definition.label
    if definition.kind == CustomField.Kind.NUMBER:
        return forms.DecimalField(label=label, required=False, max_digits=20, decimal_places=6)
    if definition.kind == CustomField.Kind.DATE:
        return forms.DateField(
            label=label, required=False, widget=forms.DateInput(attrs={"type": "date"})
        )
    if definition.kind == CustomField.Kind.BOOLEAN:
        return forms.TypedChoiceField(
            label=label,
            required=False,
            choices=[("", _("Not set")), ("yes", _("Yes")), ("no", _("No"))],
        )
    if definition.kind == CustomField.Kind.CHOICE:
        return forms.ChoiceField(
            label=label,
            required=False,
            choices=[("", _("Not set"))] + [(c, c) for c in definition.choices],
        )
    return forms.CharField(label=label, required=False, max_length=1000)


def custom_initial(definition: CustomField, value: Any) -> Any:
    if value is None:
        return None
    if definition.kind == CustomField.Kind.BOOLEAN:
        return "yes" if value else "no"
    return value


class PersonEditForm(forms.Form):
    """A staff edit of a person; custom fields appear as ``cf_<key>``, typed by definition."""

    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    email = forms.CharField(
        label=_("Email"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel"}),
    )
    address_line1 = forms.CharField(label=_("Address"), max_length=200, required=False)
    address_line2 = forms.CharField(label=_("Address line 2"), max_length=200, required=False)
    town = forms.CharField(label=_("Town"), max_length=100, required=False)
    postcode = forms.CharField(label=_("Postcode"), max_length=10, required=False)
    email_status = forms.ChoiceField(label=_("Email status"), choices=EmailStatus.choices)
    email_status_reason = forms.CharField(
        label=_("Reason for the email status"),
        max_length=200,
        required=False,
        help_text=_("Recorded with a change of status, e.g. “asked by phone”."),
    )
    membership_number = forms.CharField(label=_("Membership number"), max_length=40, required=False)
    membership_status = forms.ChoiceField(label=_("Membership"), choices=MembershipStatus.choices)
    joined_on = forms.DateField(
        label=_("Joined"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    renews_on = forms.DateField(
        label=_("Renews"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, person: Person, definitions: list[CustomField], **kwargs):
        self.definitions = definitions
        if not args and "data" not in kwargs:
            initial = {
                name: getattr(person, name) or ""
                for name in (
                    "first_name",
                    "last_name",
                    "email",
                    "phone",
                    "address_line1",
                    "address_line2",
                    "town",
                    "postcode",
                    "email_status",
                    "email_status_reason",
                    "membership_number",
                    "membership_status",
                )
            }
            initial["joined_on"], initial["renews_on"] = person.joined_on, person.renews_on
            for definition in definitions:
                initial[f"cf_{definition.key}"] = custom_initial(
                    definition, person.custom_fields.get(definition.key)
                )
            kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        for definition in definitions:
            self.fields[f"cf_{definition.key}"] = custom_form_field(definition)

    def custom_values(self) -> dict[str, Any]:
        values = {}
        for definition in self.definitions:
            value = self.cleaned_data.get(f"cf_{definition.key}")
            if value is None or value == "":
                values[definition.key] = None
            elif definition.kind == CustomField.Kind.NUMBER:
                values[definition.key] = str(value)
            else:
                values[definition.key] = value
        return values

    def add_service_errors(self, error: ValidationError) -> None:
        """Show a service's field → message errors against this form's fields."""
        keys = {d.key for d in self.definitions}
        for field, messages in error.message_dict.items():
            name = f"cf_{field}" if field in keys else field
            for message in messages:
                self.add_error(name if name in self.fields else None, message)


class MergeSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Find the other record"),
        max_length=254,
        required=False,
        help_text=_("A name, email address or postcode."),
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )


class MergeConfirmForm(forms.Form):
    survivor = forms.TypedChoiceField(
        label=_("Keep which record?"), coerce=int, widget=forms.RadioSelect
    )

    def __init__(self, *args, first: Person, second: Person, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["survivor"].choices = [
            (first.pk, _("Keep #%(id)s (%(name)s)") % {"id": first.pk, "name": str(first)}),
            (second.pk, _("Keep #%(id)s (%(name)s)") % {"id": second.pk, "name": str(second)}),
        ]
        self.fields["survivor"].initial = first.pk


class ListForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class CustomFieldForm(forms.Form):
    key = forms.CharField(
        label=_("Key"),
        max_length=60,
        help_text=_("Used in imports and the API; letters, numbers, hyphens, underscores."),
    )
    label = forms.CharField(label=_("Label"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=CustomField.Kind.choices)
    choices = forms.CharField(
        label=_("Choices"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("For a choice field: one choice per line."),
    )

    def __init__(self, *args, field: CustomField | None = None, **kwargs):
        if field is not None:
            kwargs["initial"] = {
                "key": field.key,
                "label": field.label,
                "kind": field.kind,
                "choices": "\n".join(map(str, field.choices)),
            }
        super().__init__(*args, **kwargs)
        if field is not None:
            self.fields["key"].disabled = True
            self.fields["key"].help_text = _("The key of an existing field cannot change.")

    def choice_list(self) -> list[str]:
        return [
            line.strip()
            for line in self.cleaned_data.get("choices", "").splitlines()
            if line.strip()
        ]
