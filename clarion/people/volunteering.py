"""Volunteering: the skills, interests and times a person offers, kept as tags.

A volunteering choice is a tag whose name starts with its list's prefix —
"Skill: First aid", "Interest: Canvassing", "Available: Weekday evenings". So
administrators add choices (on /staff/members/volunteering/) and rename or remove
them on the tags page; staff see a person's choices among their tags and segment on
them with the ``tag`` condition or the ``volunteer`` condition below, which offers
only volunteering tags. Members tick them on /members/volunteering/; each tick or
untick is a ``tag_add`` / ``tag_remove``, so it is on the person's timeline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django import forms
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .models import Person, Tag
from .segments.conditions import ANY_ALL, HasTag
from .segments.registry import IdsField, register
from .services import tag_add, tag_remove, tags_by_name


@dataclass(frozen=True)
class VolunteerList:
    key: str
    prefix: str  # stored in tag names, so never translated
    label: str
    question: str

    def choice_label(self, tag: Tag) -> str:
        return tag.name[len(self.prefix) :].strip() or tag.name


LISTS = (
    VolunteerList("skill", "Skill:", _("Skills"), _("What can you do?")),
    VolunteerList("interest", "Interest:", _("Interests"), _("What would you like to help with?")),
    VolunteerList("availability", "Available:", _("Availability"), _("When can you help?")),
)


def _volunteer_q() -> Q:
    q = Q()
    for vlist in LISTS:
        q |= Q(name__istartswith=vlist.prefix)
    return q


def volunteer_tags() -> Tag:
    """Every volunteering tag, of all three lists."""
    return Tag.objects.filter(_volunteer_q()).order_by("name")


def volunteer_choices() -> list[tuple[VolunteerList, list[Tag]]]:
    """Each list with its tags (by name), in the lists' order."""
    tags = list(volunteer_tags())
    return [
        (vlist, [t for t in tags if t.name.lower().startswith(vlist.prefix.lower())])
        for vlist in LISTS
    ]


def volunteer_tag_ids(person: Person) -> set[int]:
    return set(person.taggings.filter(tag__in=volunteer_tags()).values_list("tag_id", flat=True))


@transaction.atomic
def volunteering_set(*, person: Person, tag_ids: Iterable[int], actor=None) -> bool:
    """Give ``person`` exactly the volunteering tags in ``tag_ids`` (ids of other tags
    are ignored; their other tags are untouched); returns whether anything changed.
    Locks the person's row so two saves at once do not interleave."""
    Person.objects.select_for_update().filter(pk=person.pk).first()
    wanted = set(tag_ids)
    have = volunteer_tag_ids(person)
    changed = False
    for tag in volunteer_tags():
        if tag.pk in wanted and tag.pk not in have:
            changed |= tag_add(person=person, tag=tag, actor=actor)
        elif tag.pk in have and tag.pk not in wanted:
            changed |= tag_remove(person=person, tag=tag, actor=actor)
    return changed


def volunteer_choices_add(*, list_key: str, labels: Iterable[str]) -> list[Tag]:
    """Offer ``labels`` in the list ``list_key`` (tags made when missing, matched
    without regard to case, so adding one twice is harmless)."""
    vlist = next(v for v in LISTS if v.key == list_key)
    names = [f"{vlist.prefix} {label.strip()}" for label in labels if label.strip()]
    return tags_by_name(names)


# --- The segment condition --------------------------------------------------------------


class VolunteerTagsField(IdsField):
    def label_from_instance(self, obj: Tag) -> str:
        return obj.name


class VolunteerForm(forms.Form):
    choices = VolunteerTagsField(
        queryset=Tag.objects.filter(_volunteer_q()).order_by("name"),
        label=_("Skills, interests or times"),
    )
    match = forms.ChoiceField(choices=ANY_ALL, initial="any", label=_("Match"))


@register
class Volunteer(HasTag):
    """``{"type": "volunteer", "choices": [tag ids], "match": "any"|"all"}``: people
    who offered any (or all) of the chosen skills, interests or times. The same query
    as the ``tag`` condition (served by the facts index on PostgreSQL); only the
    choices offered differ."""

    name = "volunteer"
    label = _("Volunteers")
    Form = VolunteerForm

    def compile(self, params, *, using):
        return super().compile({"tags": params["choices"], "match": params["match"]}, using=using)

    def describe(self, params):
        names = ", ".join(t.name for t in params["choices"])
        if params["match"] == "all":
            return _("Volunteers offering all of: %(names)s") % {"names": names}
        return _("Volunteers offering any of: %(names)s") % {"names": names}
