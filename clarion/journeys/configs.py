"""One rule for the settings of a step or a trigger: a JSON object validated by the
type's form, with unknown keys refused, every problem a ValidationError whose
messages name the field (bad input is a form error, never a 500)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def settings_clean(form_class: type[forms.Form], config: Any, *, not_object: str) -> dict:
    """The form's cleaned data for ``config``; raises ValidationError otherwise."""
    if not isinstance(config, dict):
        raise ValidationError(not_object)
    form = form_class(config)
    unknown = set(config) - set(form.fields)
    if unknown:
        raise ValidationError(
            _("Unknown settings: %(keys)s.")
            % {"keys": ", ".join(sorted(str(k)[:40] for k in unknown))}
        )
    if not form.is_valid():
        messages = []
        for name, errors in form.errors.items():
            label = form.fields[name].label if name in form.fields else ""
            messages += [f"{label}: {e}" if label else str(e) for e in errors]
        raise ValidationError(messages)
    return form.cleaned_data
