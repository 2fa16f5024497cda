"""The registry of segment condition types: the extension point for other apps.

A segment definition is a tree of groups and conditions (see ``compiler``). Each
leaf condition names a *condition type* registered here. A condition type declares:

- ``name``: the stable identifier stored in definitions (``"tag"``). Never rename
  one that has shipped: saved segments refer to it.
- ``label``: what staff see in the builder (lazy gettext).
- ``Form``: a ``django.forms.Form`` whose fields are the condition's parameters. The
  same form validates a JSON definition (bound to the condition's parameter dict) and
  the no-JavaScript builder (bound to POST data with a prefix), so one set of rules
  holds for both. Invalid input becomes a form error, never an exception.
- ``compile(params, *, using)``: returns a ``Q`` over ``people.Person`` built from the
  form's ``cleaned_data``. It must use ORM lookups and expressions only, so every value
  the user typed reaches SQL as a parameter, never as SQL text. The ``Q`` must be TRUE
  or FALSE for every person, never NULL, so that "none of" groups (``NOT``) keep
  people for whom the condition is unknown (wrap nullable comparisons with
  ``never_null``).
- optionally ``to_json(cleaned_data)`` (how parameters are stored; the default turns
  model instances into ids, dates into ISO strings, decimals into strings) and
  ``describe(cleaned_data)`` (a one-line human summary for the segment page).

Other apps register their own types from their ``AppConfig.ready()``::

    from django import forms
    from django.db.models import Q, Sum
    from django.utils.translation import gettext_lazy as _

    from clarion.core.money import MoneyField
    from clarion.people.segments.registry import ConditionType, register


    @register
    class DonatedOver(ConditionType):
        name = "donated_over"
        label = _("Donated more than")

        class Form(forms.Form):
            amount = MoneyField(label=_("Amount (£)"))  # every typed amount: parse_money
            since = forms.DateField(label=_("Since"))

        def compile(self, params, *, using):
            from clarion.donations.models import Donation

            donors = (Donation.objects.filter(created_at__date__gte=params["since"])
                      .values("person_id").annotate(total=Sum("amount"))
                      .filter(total__gt=params["amount"]).values("person_id"))
            return Q(pk__in=donors)

Registering a name twice raises ``ImproperlyConfigured`` (two apps must not fight
over one name). The built-in types live in ``segments.conditions`` and are loaded the
first time the registry is read.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Iterable
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _


class SegmentDefinitionError(ValidationError):
    """A definition that cannot be used, with messages fit to show staff."""


class ConditionType:
    """Base class for a condition type; subclass it and decorate with ``register``."""

    name: ClassVar[str] = ""
    label: ClassVar[Any] = ""
    Form: ClassVar[type[forms.Form]] = forms.Form

    def form(
        self, data: Any = None, *, prefix: str | None = None, initial: dict | None = None
    ) -> forms.Form:
        return self.Form(data, prefix=prefix, initial=initial)

    def compile(self, params: dict[str, Any], *, using: str) -> Q:
        raise NotImplementedError

    def to_json(self, params: dict[str, Any]) -> dict[str, Any]:
        return {key: _jsonable(value) for key, value in params.items()}

    def describe(self, params: dict[str, Any]) -> str:
        parts = []
        for key, value in params.items():
            if value in (None, "", [], ()):
                continue
            if isinstance(value, models.QuerySet | list | tuple):
                value = ", ".join(str(v) for v in value)
            parts.append(f"{key}: {value}")
        return f"{self.label} ({'; '.join(parts)})" if parts else str(self.label)


def _jsonable(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, models.QuerySet | list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


_REGISTRY: dict[str, ConditionType] = {}
_BUILTINS_LOADED = False


def register(cls: type[ConditionType]) -> type[ConditionType]:
    """Class decorator: add a condition type to the registry."""
    if not cls.name or not cls.name.replace("_", "").isalnum():
        raise ImproperlyConfigured(
            f"Segment condition {cls!r} needs a name of letters, digits and _."
        )
    if cls.name in _REGISTRY and type(_REGISTRY[cls.name]) is not cls:
        raise ImproperlyConfigured(f"A segment condition named {cls.name!r} is already registered.")
    _REGISTRY[cls.name] = cls()
    return cls


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        from .. import volunteering  # noqa: F401  (registers "volunteer")
        from . import conditions  # noqa: F401  (registers the built-in types)


def condition_type(name: Any) -> ConditionType | None:
    """The registered type called ``name``, or None."""
    _load_builtins()
    return _REGISTRY.get(name) if isinstance(name, str) else None


def condition_types() -> list[ConditionType]:
    """Every registered type, in label order (for the builder's menu)."""
    _load_builtins()
    return sorted(_REGISTRY.values(), key=lambda t: str(t.label).lower())


def never_null(condition: Any) -> Q:
    """``condition`` (a boolean expression or lookup) with NULL turned into FALSE."""
    return Q(Coalesce(condition, Value(False), output_field=models.BooleanField()))


# --- Form fields that never let odd input reach the database -------------------------

MAX_ID = 2**63 - 1


def _valid_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 19:
        number = int(value.strip())
    else:
        return None
    return number if 0 < number <= MAX_ID else None


class IdsField(forms.ModelMultipleChoiceField):
    """Several rows chosen by id; anything that is not a sane id is a form error."""

    def _check_values(self, value: Iterable[Any]):
        ids = []
        for item in value:
            pk = _valid_id(item)
            if pk is None:
                raise ValidationError(
                    _("“%(value)s” is not a valid choice."),
                    code="invalid_choice",
                    params={"value": str(item)[:40]},
                )
            ids.append(pk)
        found = self.queryset.filter(pk__in=ids)
        missing = set(ids) - {obj.pk for obj in found}
        if missing:
            raise ValidationError(
                _("“%(value)s” is not one of the available choices."),
                code="invalid_choice",
                params={"value": min(missing)},
            )
        return found

    def clean(self, value):
        if isinstance(value, str | int):
            value = [value]
        if value is not None and not isinstance(value, list | tuple):
            raise ValidationError(_("Enter a list of values."), code="invalid_list")
        return super().clean(value)


class IdField(forms.ModelChoiceField):
    """One row chosen by id (or, with ``to_field_alt``, by that field)."""

    def __init__(self, *args, alt_field: str | None = None, **kwargs):
        self.alt_field = alt_field
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        pk = _valid_id(value)
        obj = self.queryset.filter(pk=pk).first() if pk is not None else None
        if obj is None and self.alt_field and isinstance(value, str) and len(value) <= 200:
            obj = self.queryset.filter(**{self.alt_field: value.strip()}).first()
        if obj is None:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return obj
