"""Writes the dashboard needs."""

from __future__ import annotations

from django.utils.translation import gettext as _

from clarion.people.segments.compiler import validate_definition
from clarion.people.segments.services import segment_create
from clarion.people.selectors import segments_for


def area_segment_get_or_create(*, user, area):
    """The saved segment "Everyone in <area>" (everyone, for national staff with no
    area), owned by ``user``'s scope: reused when it exists, made once otherwise."""
    conditions = [{"type": "area", "area": area.pk}] if area is not None else []
    definition = validate_definition({"op": "all", "conditions": conditions})
    name = (_("Everyone in %(area)s") % {"area": area.name} if area is not None else _("Everyone"))[
        :150
    ]
    for segment in segments_for(user).filter(name=name, owner_area=user.scope_area):
        if validate_definition(segment.definition) == definition:
            return segment
    return segment_create(
        name=name,
        description=_("Made from the dashboard's “email this area” button."),
        definition=definition,
        user=user,
    )
