"""The built-in segment conditions (see ``registry`` for how to add more).

On PostgreSQL, tag, area, email status and membership conditions read
``people_person.facts``, one GIN-indexed array per person holding their tag ids and
markers for their area (and every area above it) and statuses, kept right by triggers
(migrations ``0002_segment_indexes``, ``0003_segment_facts`` and
``0004_segment_range_markers``). The compiler folds an "all" group's tests into one
``facts @> ARRAY[...]``, a single index scan whose cost follows the rarest of them.
Custom field conditions add marker tests to that scan (a value's marker for "is", the
buckets of a range for "less than / on or after") and keep their exact test, which
then runs only on the rows the index found. SQLite has no arrays and reads
``people_tagging``, ``area_id``, the status columns and ``custom_fields`` directly; both
paths give the same people.
"""

from __future__ import annotations

import datetime
import decimal
import json
import math
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import (
    BooleanField,
    Exists,
    Expression,
    F,
    FloatField,
    OuterRef,
    Q,
    TextField,
    Value,
)
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import ASin, Cast, Cos, Power, Radians, Sin, Sqrt
from django.db.models.lookups import GreaterThan, LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clarion.areas.models import Area, Postcode
from clarion.areas.postcodes import InvalidPostcode, normalise_postcode
from clarion.core.geo import EARTH_RADIUS_KM, KM_PER_MILE

from ..models import (
    CustomField,
    EmailStatus,
    ListMembership,
    MembershipStatus,
    PersonList,
    Tag,
    Tagging,
)
from .registry import ConditionType, IdField, IdsField, never_null, register

ANY_ALL = [("any", _("any of")), ("all", _("all of"))]


def _is_postgres(using: str) -> bool:
    return connections[using].vendor == "postgresql"


# Markers in ``people_person.facts`` (migration 0003_segment_facts, whose
# ``people_facts`` SQL function uses the same bases and codes: change both together).
# Tag ids are stored as they are, so each kind of fact keeps its own range.
AREA_BASE = 1 << 60
EMAIL_BASE = 2 << 60
MEMBERSHIP_BASE = 3 << 60
CUSTOM_BASE = 4 << 60
EMAIL_CODES = {"none": 1, "subscribed": 2, "unsubscribed": 3, "bouncing": 4, "complained": 5}
MEMBERSHIP_CODES = {"none": 1, "active": 2, "lapsed": 3, "cancelled": 4}
CUSTOM_MARKER_MAX_LENGTH = 200


def custom_markers(values: list[tuple[str, Any]], *, using: str) -> list[int] | None:
    """The ``facts`` markers of ``custom_fields[key] == value`` for each pair, computed
    by the database's ``people_custom_marker`` (its only definition), or None when
    some value gets no marker (numbers, long texts)."""
    for _key_name, value in values:
        if not (
            isinstance(value, bool)
            or (isinstance(value, str) and len(value) <= CUSTOM_MARKER_MAX_LENGTH)
        ):
            return None
    sql = "SELECT " + ", ".join(["people_custom_marker(%s, %s::jsonb)"] * len(values))
    params = [item for key, value in values for item in (key, json.dumps(value))]
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchone())


# Range markers (migration 0004_segment_range_markers, whose ``people_facts`` files each
# custom value under these labels: change both together). Level 0 buckets are tens
# (numbers) and months (year * 12 + month - 1, dates); each level above groups
# ``RATIOS`` of the one below (hundreds, thousands, ten thousands; years, decades,
# centuries).
NUMBER_RATIOS = (10, 10, 10)
NUMBER_LEVEL0 = (-10_000, 9_999)  # floor(v / 10) for -100000 < v < 100000
DATE_RATIOS = (12, 10, 10)
DATE_LEVEL0 = (1000 * 12, 2999 * 12 + 11)  # the months of the years 1000-2999
DATE_SHAPE = re.compile(r"[12][0-9]{3}-(0[1-9]|1[0-2])-[0-9]{2}")


def _bucket_labels(prefix: str, first: int, last: int, ratios: tuple[int, ...]) -> list[str]:
    """The fewest aligned buckets that cover level-0 buckets ``first``..``last``: at each
    level, the unaligned ends are taken as they are and the rest moves up a level."""
    labels: list[str] = []
    level = 0
    while first <= last:
        if level == len(ratios):
            labels += [f"{prefix}{level}:{i}" for i in range(first, last + 1)]
            break
        ratio = ratios[level]
        while first <= last and first % ratio:
            labels.append(f"{prefix}{level}:{first}")
            first += 1
        while first <= last and (last + 1) % ratio:
            labels.append(f"{prefix}{level}:{last}")
            last -= 1
        first, last, level = first // ratio, (last + 1) // ratio - 1, level + 1
    return labels


def _all_labels(prefix: str, level0: tuple[int, int], ratios: tuple[int, ...]) -> list[str]:
    return _bucket_labels(prefix, *level0, ratios)


def range_labels(operator: str, value: Any) -> list[str] | None:
    """The range marker labels that every custom value ``v`` with ``v <operator>
    value`` (jsonb order) carries at least one of, or None when ``value`` is neither a
    number nor a date. The bound's own bucket is included (the exact comparison sorts
    it out), and so are ``other`` and the whole of the other kind where the jsonb order
    puts it in range: texts (dates) sort before numbers, yes/no after both, null
    first."""
    below = operator in ("lt", "lte")
    if isinstance(value, int | float) and not isinstance(value, bool):
        # str() round-trips the float that reaches SQL as JSON, and Decimal floors it
        # exactly as PostgreSQL floors the stored numeric.
        bucket = math.floor(decimal.Decimal(str(value)) / 10)
        low, high = NUMBER_LEVEL0
        first, last = (low, min(bucket, high)) if below else (max(bucket, low), high)
        labels = _bucket_labels("n", first, last, NUMBER_RATIOS)
        if below:
            labels += _all_labels("d", DATE_LEVEL0, DATE_RATIOS)
    elif isinstance(value, str) and DATE_SHAPE.fullmatch(value):
        month = int(value[:4]) * 12 + int(value[5:7]) - 1
        low, high = DATE_LEVEL0
        first, last = (low, min(month, high)) if below else (max(month, low), high)
        labels = _bucket_labels("d", first, last, DATE_RATIOS)
        if not below:
            labels += _all_labels("n", NUMBER_LEVEL0, NUMBER_RATIOS)
    else:
        return None
    return labels + ["other"]


def range_markers(key: str, operator: str, value: Any, *, using: str) -> list[int] | None:
    """The ``facts`` markers of ``range_labels`` for ``key``, computed by the database's
    ``people_range_marker`` (their only definition)."""
    labels = range_labels(operator, value)
    if labels is None:
        return None
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT array_agg(people_range_marker(%s, label)) FROM unnest(%s::text[]) AS label",
            [key, labels],
        )
        return list(cursor.fetchone()[0])


class PersonFacts(Expression):
    """Tests on ``people_person.facts`` (PostgreSQL only), ANDed together:
    ``facts @> ARRAY[...]`` (has every one) and ``facts && ARRAY[...]`` (has at least
    one). The column holds a person's tag ids and markers for their area, their email
    and membership status, their short custom field values and the range buckets of
    their custom numbers and dates; one GIN index serves
    it. It is not a model field, so Django never writes it and a stale Person instance
    can never overwrite what the triggers computed.

    The column is qualified with the query's own alias for people_person, so the
    expression stays right when the segment queryset becomes a subquery (``U0``).
    ``compiler`` merges the tests of an "all" group into one ``PersonFacts`` so that a
    typical segment is a single index scan.
    """

    output_field = BooleanField()
    conditional = True

    def __init__(self, terms: list[tuple[str, list[int]]]):
        super().__init__()
        self.terms = []
        for operator, ids in terms:
            if operator not in ("@>", "&&"):
                raise ValueError(operator)
            ids = sorted({int(i) for i in ids})
            if not ids:
                raise ValueError("A facts test needs at least one value.")
            # "has at least one of [x]" is "has [x]"; @> lets it merge with the others.
            self.terms.append(("@>" if len(ids) == 1 else operator, ids))

    @classmethod
    def contains(cls, ids: list[int]) -> PersonFacts:
        return cls([("@>", ids)])

    @classmethod
    def overlaps(cls, ids: list[int]) -> PersonFacts:
        return cls([("&&", ids)])

    @classmethod
    def merge(cls, tests: list[PersonFacts]) -> PersonFacts:
        """One expression for all of ``tests`` (each must hold): every "has all" is
        folded into a single ``@>`` array; "has any" tests stay separate clauses."""
        every: set[int] = set()
        anys: list[list[int]] = []
        for test in tests:
            for operator, ids in test.terms:
                if operator == "@>":
                    every.update(ids)
                elif ids not in anys:
                    anys.append(ids)
        terms = [("@>", sorted(every))] if every else []
        return cls(terms + [("&&", ids) for ids in anys])

    def as_sql(self, compiler, connection):
        alias = compiler.query.get_initial_alias()
        column = f"{compiler.quote_name_unless_alias(alias)}.{connection.ops.quote_name('facts')}"
        sql = " AND ".join(f"{column} {operator} %s::bigint[]" for operator, _ in self.terms)
        return f"({sql})", [ids for _, ids in self.terms]

    def get_group_by_cols(self):
        return []

    def __repr__(self) -> str:
        return f"PersonFacts({self.terms!r})"


class TagsForm(forms.Form):
    tags = IdsField(queryset=Tag.objects.all(), label=_("Tags"))
    match = forms.ChoiceField(choices=ANY_ALL, initial="any", label=_("Match"))


@register
class HasTag(ConditionType):
    name = "tag"
    label = _("Has tag")
    Form = TagsForm

    def compile(self, params, *, using):
        ids = sorted(tag.pk for tag in params["tags"])
        if _is_postgres(using) and ids[-1] < AREA_BASE:
            return Q(
                PersonFacts.contains(ids) if params["match"] == "all" else PersonFacts.overlaps(ids)
            )
        if params["match"] == "all":
            q = Q()
            for pk in ids:
                q &= Q(Exists(Tagging.objects.filter(person=OuterRef("pk"), tag_id=pk)))
            return q
        return Q(Exists(Tagging.objects.filter(person=OuterRef("pk"), tag_id__in=ids)))

    def describe(self, params):
        names = ", ".join(t.name for t in params["tags"])
        if params["match"] == "all":
            return _("Has all of the tags: %(tags)s") % {"tags": names}
        return _("Has any of the tags: %(tags)s") % {"tags": names}


class ListsForm(forms.Form):
    lists = IdsField(queryset=PersonList.objects.all(), label=_("Lists"))
    match = forms.ChoiceField(choices=ANY_ALL, initial="any", label=_("Match"))


@register
class OnList(ConditionType):
    name = "list"
    label = _("On list")
    Form = ListsForm

    def compile(self, params, *, using):
        ids = sorted(plist.pk for plist in params["lists"])
        if params["match"] == "all":
            q = Q()
            for pk in ids:
                q &= Q(Exists(ListMembership.objects.filter(person=OuterRef("pk"), list_id=pk)))
            return q
        return Q(Exists(ListMembership.objects.filter(person=OuterRef("pk"), list_id__in=ids)))

    def describe(self, params):
        names = ", ".join(p.name for p in params["lists"])
        if params["match"] == "all":
            return _("On all of the lists: %(lists)s") % {"lists": names}
        return _("On any of the lists: %(lists)s") % {"lists": names}


class AreaForm(forms.Form):
    area = IdField(
        queryset=Area.objects.all(),
        alt_field="code",
        label=_("Area"),
        help_text=_("Includes every area inside it."),
    )


@register
class InArea(ConditionType):
    name = "area"
    label = _("In area")
    Form = AreaForm

    def compile(self, params, *, using):
        # The subtree's ids are read now (a few rows), so the query holds a constant list.
        ids = list(
            Area.objects.using(using)
            .filter(path__startswith=params["area"].path)
            .values_list("pk", flat=True)
        )
        if _is_postgres(using):
            # ``facts`` carries a marker for each person's own area.
            return Q(PersonFacts.overlaps([AREA_BASE + pk for pk in ids]))
        return Q(area_id__in=ids)

    def describe(self, params):
        return _("In %(area)s (and the areas inside it)") % {"area": params["area"].name}


UNITS = [("km", _("km")), ("miles", _("miles"))]


class NearForm(forms.Form):
    distance = forms.DecimalField(
        label=_("Within"), min_value=0, max_value=1000, max_digits=7, decimal_places=2
    )
    unit = forms.ChoiceField(choices=UNITS, initial="km", label=_("Unit"))
    postcode = forms.CharField(label=_("of postcode"), max_length=10)

    def clean_postcode(self):
        try:
            postcode = normalise_postcode(self.cleaned_data["postcode"])
        except InvalidPostcode as exc:
            raise ValidationError(InvalidPostcode.message) from exc
        if not Postcode.objects.filter(postcode=postcode).exists():
            raise ValidationError(
                _("We have no location for the postcode %(postcode)s."),
                params={"postcode": postcode},
            )
        return postcode


@register
class NearPostcode(ConditionType):
    name = "near"
    label = _("Within a distance of a postcode")
    Form = NearForm

    def compile(self, params, *, using):
        centre = Postcode.objects.using(using).get(postcode=params["postcode"])
        km = float(params["distance"]) * (KM_PER_MILE if params["unit"] == "miles" else 1.0)
        lat, lng = centre.latitude, centre.longitude
        # A bounding box first (plain range comparisons an index can serve), then the
        # exact great-circle distance (haversine) on what is left.
        dlat = math.degrees(km / EARTH_RADIUS_KM)
        dlng = dlat / max(math.cos(math.radians(lat)), 0.01)
        box = Q(latitude__range=(lat - dlat, lat + dlat), longitude__range=(lng - dlng, lng + dlng))
        half_dlat = (Radians(F("latitude")) - Value(math.radians(lat))) / Value(2.0)
        half_dlng = (Radians(F("longitude")) - Value(math.radians(lng))) / Value(2.0)
        hav = Power(Sin(half_dlat), 2) + Value(math.cos(math.radians(lat))) * Cos(
            Radians(F("latitude"))
        ) * Power(Sin(half_dlng), 2)
        distance = Value(2 * EARTH_RADIUS_KM) * ASin(Sqrt(hav, output_field=FloatField()))
        return box & never_null(LessThanOrEqual(distance, Value(km)))

    def describe(self, params):
        return _("Within %(distance)s %(unit)s of %(postcode)s") % {
            "distance": format(params["distance"].normalize(), "f"),
            "unit": dict(UNITS)[params["unit"]],
            "postcode": params["postcode"],
        }


class EmailStatusForm(forms.Form):
    statuses = forms.MultipleChoiceField(choices=EmailStatus.choices, label=_("Email status is"))


@register
class EmailStatusIs(ConditionType):
    name = "email_status"
    label = _("Email subscription")
    Form = EmailStatusForm

    def compile(self, params, *, using):
        if _is_postgres(using) and all(s in EMAIL_CODES for s in params["statuses"]):
            return Q(
                PersonFacts.overlaps([EMAIL_BASE + EMAIL_CODES[s] for s in params["statuses"]])
            )
        return Q(email_status__in=sorted(params["statuses"]))

    def describe(self, params):
        labels = dict(EmailStatus.choices)
        return _("Email status is %(statuses)s") % {
            "statuses": _(" or ").join(str(labels[s]) for s in params["statuses"])
        }


class MembershipForm(forms.Form):
    statuses = forms.MultipleChoiceField(choices=MembershipStatus.choices, label=_("Membership is"))


@register
class MembershipIs(ConditionType):
    name = "membership"
    label = _("Membership")
    Form = MembershipForm

    def compile(self, params, *, using):
        if _is_postgres(using) and all(s in MEMBERSHIP_CODES for s in params["statuses"]):
            return Q(
                PersonFacts.overlaps(
                    [MEMBERSHIP_BASE + MEMBERSHIP_CODES[s] for s in params["statuses"]]
                )
            )
        return Q(membership_status__in=sorted(params["statuses"]))

    def describe(self, params):
        labels = dict(MembershipStatus.choices)
        return _("Membership is %(statuses)s") % {
            "statuses": _(" or ").join(str(labels[s]) for s in params["statuses"])
        }


# --- Custom fields --------------------------------------------------------------------

OPERATORS = [
    ("eq", _("is")),
    ("contains", _("contains")),
    ("lt", _("is less than / before")),
    ("lte", _("is at most / on or before")),
    ("gt", _("is more than / after")),
    ("gte", _("is at least / on or after")),
    ("in", _("is one of")),
    ("yes", _("is yes")),
    ("no", _("is no")),
    ("set", _("has any value")),
]
OPERATORS_BY_KIND = {
    CustomField.Kind.TEXT: {"eq", "contains", "set"},
    CustomField.Kind.NUMBER: {"eq", "lt", "lte", "gt", "gte", "set"},
    CustomField.Kind.DATE: {"eq", "lt", "lte", "gt", "gte", "set"},
    CustomField.Kind.CHOICE: {"eq", "in", "set"},
    CustomField.Kind.BOOLEAN: {"yes", "no", "set"},
}
NO_VALUE = {"yes", "no", "set"}


class KeyLookup(Expression):
    """``custom_fields -> key <lookup> value``, built once the query is known so the
    value is encoded as JSON by the field (a lookup on an unresolved ``F`` would pass it
    through raw). The key and the value both reach SQL as parameters."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, key: str, lookup_name: str, value: Any):
        super().__init__()
        self.key, self.lookup_name, self.value = key, lookup_name, value

    def resolve_expression(
        self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False
    ):
        lhs = KeyTransform(self.key, "custom_fields").resolve_expression(
            query, allow_joins, reuse, summarize, for_save
        )
        lookup = lhs.get_lookup(self.lookup_name)(lhs, self.value)
        return lookup.resolve_expression(query, allow_joins, reuse, summarize, for_save)

    def as_sql(self, compiler, connection):  # pragma: no cover - always resolved first
        raise ValueError("KeyLookup must be resolved before it is compiled.")


def _key(key: str, lookup_name: str, value: Any) -> Q:
    return never_null(KeyLookup(key, lookup_name, value))


class ValueField(forms.Field):
    """Text from the builder, or (in a JSON definition) a number, yes/no or a list."""

    def to_python(self, value):
        if value in self.empty_values:
            return ""
        if isinstance(value, list | tuple):
            if len(value) > 100 or not all(
                isinstance(v, str | int | float) and not isinstance(v, bool) for v in value
            ):
                raise ValidationError(_("Enter up to 100 plain values."))
            items = [str(v).strip() for v in value]
        elif isinstance(value, str | int | float | bool):
            items = [str(value).strip()]
        else:
            raise ValidationError(_("Enter a plain value."))
        if any(len(item) > 1000 for item in items):
            raise ValidationError(_("Values can be at most 1,000 characters long."))
        return items if isinstance(value, list | tuple) else items[0]


class CustomFieldForm(forms.Form):
    field = forms.ModelChoiceField(
        queryset=CustomField.objects.all(), to_field_name="key", label=_("Field")
    )
    operator = forms.ChoiceField(choices=OPERATORS, label=_("Test"))
    value = ValueField(
        label=_("Value"),
        required=False,
        help_text=_("For “is one of”, separate the choices with commas."),
    )

    def clean(self):
        data = super().clean()
        definition: CustomField | None = data.get("field")
        operator = data.get("operator")
        if definition is None or operator is None:
            return data
        if operator not in OPERATORS_BY_KIND.get(definition.kind, set()):
            raise ValidationError(
                _("“%(operator)s” cannot be used with the %(kind)s field %(label)s."),
                params={
                    "operator": dict(OPERATORS)[operator],
                    "kind": definition.get_kind_display().lower(),
                    "label": definition.label,
                },
            )
        raw = data.get("value", "")
        if operator in NO_VALUE:
            data["value"] = None
            return data
        if raw in ("", []):
            self.add_error("value", _("Enter a value to compare with."))
            return data
        data["value"] = self._coerce(definition, operator, raw)
        return data

    def _coerce(self, definition: CustomField, operator: str, raw: Any) -> Any:
        from ..services import custom_field_value

        try:
            if operator == "in":
                parts = raw if isinstance(raw, list) else raw.split(",")
                values = [custom_field_value(definition, part) for part in parts if part.strip()]
                if not values:
                    raise ValueError(_("Enter at least one choice."))
                return values
            if isinstance(raw, list):
                raise ValueError(_("Enter one value."))
            value = custom_field_value(definition, raw)
        except ValueError as exc:
            raise ValidationError({"value": str(exc)}) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError({"value": _("Enter a finite number.")})
        if isinstance(value, int | float) and abs(value) > 1e15:
            raise ValidationError({"value": _("Enter a number between -10¹⁵ and 10¹⁵.")})
        return value


@register
class CustomFieldIs(ConditionType):
    name = "custom_field"
    label = _("Custom field")
    Form = CustomFieldForm

    def form(self, data=None, *, prefix=None, initial=None):
        if initial and isinstance(initial.get("value"), list):
            initial = {**initial, "value": ", ".join(map(str, initial["value"]))}
        return super().form(data, prefix=prefix, initial=initial)

    def to_json(self, params):
        data = {"field": params["field"].key, "operator": params["operator"]}
        if params["value"] is not None:
            data["value"] = params["value"]
        return data

    def compile(self, params, *, using):
        definition: CustomField = params["field"]
        key, operator, value = definition.key, params["operator"], params["value"]
        if operator == "set":
            text = Cast(KeyTextTransform(key, "custom_fields"), output_field=TextField())
            return never_null(GreaterThan(text, Value("")))
        if operator in ("yes", "no"):
            return self._equals(key, operator == "yes", using)
        if operator == "in":
            markers = (
                custom_markers([(key, item) for item in value], using=using)
                if _is_postgres(using)
                else None
            )
            if markers is not None:
                # The markers narrow the people down in the facts index; the exact
                # test then runs on those rows only.
                return Q(PersonFacts.overlaps(markers)) & self._any_exact(key, value)
            q = Q()
            for item in value:
                q |= self._equals(key, item, using)
            return q
        if operator == "eq" and definition.kind == CustomField.Kind.TEXT:
            return _key(key, "iexact", value)
        if operator == "eq":
            return self._equals(key, value, using)
        if operator == "contains":
            return _key(key, "icontains", value)
        if _is_postgres(using):
            markers = range_markers(key, operator, value, using=using)
            if markers is not None:
                # The range's buckets narrow the people down in the facts index; the
                # exact comparison then runs on those rows only.
                return Q(PersonFacts.overlaps(markers)) & _key(key, operator, value)
        return _key(key, operator, value)

    def _any_exact(self, key: str, values: list[Any]) -> Q:
        q = Q()
        for item in values:
            q |= _key(key, "exact", item)
        return q

    def _equals(self, key: str, value: Any, using: str) -> Q:
        if _is_postgres(using):
            markers = custom_markers([(key, value)], using=using)
            if markers is not None:
                # The marker finds the people in the facts index; the exact test then
                # runs on those rows only (and makes a hash collision harmless).
                return Q(PersonFacts.contains(markers)) & _key(key, "exact", value)
            # jsonb containment is served by the GIN (jsonb_path_ops) index.
            return Q(custom_fields__contains={key: value})
        return _key(key, "exact", value)

    def describe(self, params):
        operator = dict(OPERATORS)[params["operator"]]
        value = params["value"]
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        return f"{params['field'].label} {operator}{'' if value is None else ' ' + str(value)}"


# --- Dates and contact details ----------------------------------------------------------

DATE_OPERATORS = [
    ("since", _("on or after")),
    ("before", _("before")),
    ("within", _("in the last")),
]


class DateForm(forms.Form):
    operator = forms.ChoiceField(choices=DATE_OPERATORS, label=_("When"))
    date = forms.DateField(
        label=_("Date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    days = forms.IntegerField(label=_("Days"), required=False, min_value=1, max_value=36500)

    def clean(self):
        data = super().clean()
        operator = data.get("operator")
        day = data.get("date")
        if day is not None and not (1900 <= day.year <= 2200):
            self.add_error("date", _("Enter a date between 1900 and 2200."))
            data["date"] = None
        if operator == "within":
            if data.get("days") is None and "days" not in self.errors:
                self.add_error("days", _("Enter a number of days."))
            data["date"] = None
        elif operator in ("since", "before"):
            if data.get("date") is None and "date" not in self.errors:
                self.add_error("date", _("Enter a date."))
            data["days"] = None
        return data


class DateCondition(ConditionType):
    field_name = ""
    Form = DateForm

    def compile(self, params, *, using):
        if params["operator"] == "within":
            return Q(
                **{
                    f"{self.field_name}__gte": timezone.now()
                    - datetime.timedelta(days=params["days"])
                }
            )
        day: datetime.date = params["date"]
        start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
        if params["operator"] == "since":
            return Q(**{f"{self.field_name}__gte": start})
        return Q(**{f"{self.field_name}__lt": start})

    def describe(self, params):
        if params["operator"] == "within":
            return _("%(what)s in the last %(days)s days") % {
                "what": self.label,
                "days": params["days"],
            }
        when = dict(DATE_OPERATORS)[params["operator"]]
        return f"{self.label} {when} {params['date'].isoformat()}"


@register
class CreatedDate(DateCondition):
    name = "created"
    label = _("Added to the database")
    field_name = "created_at"


@register
class ModifiedDate(DateCondition):
    name = "modified"
    label = _("Details last changed")
    field_name = "modified_at"


YES_NO = [("yes", _("yes")), ("no", _("no"))]


class PresentForm(forms.Form):
    present = forms.ChoiceField(choices=YES_NO, initial="yes", label=_("Has one"))


@register
class HasEmail(ConditionType):
    name = "has_email"
    label = _("Has an email address")
    Form = PresentForm

    def compile(self, params, *, using):
        q = Q(email__isnull=False) & ~Q(email="")
        return q if params["present"] == "yes" else ~q

    def describe(self, params):
        return (
            _("Has an email address") if params["present"] == "yes" else _("Has no email address")
        )


@register
class HasPhone(ConditionType):
    name = "has_phone"
    label = _("Has a phone number")
    Form = PresentForm

    def compile(self, params, *, using):
        q = ~Q(phone="")
        return q if params["present"] == "yes" else ~q

    def describe(self, params):
        return _("Has a phone number") if params["present"] == "yes" else _("Has no phone number")
