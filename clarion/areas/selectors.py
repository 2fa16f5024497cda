from __future__ import annotations

from django.db.models import Q, QuerySet

from .models import Area, Postcode
from .postcodes import postcode_or_none


def area_subtree(area: Area) -> QuerySet[Area]:
    return Area.objects.filter(path__startswith=area.path)


def area_subtree_q(area: Area | None, field: str = "area") -> Q:
    """A filter for rows whose ``field`` lies inside ``area``'s subtree (None: no limit)."""
    if area is None:
        return Q()
    return Q(**{f"{field}__path__startswith": area.path})


def areas_visible_to(user) -> QuerySet[Area]:
    scope = user.scope_area
    qs = Area.objects.all()
    return qs if scope is None else qs.filter(path__startswith=scope.path)


def postcode_lookup(value: str) -> Postcode | None:
    pc = postcode_or_none(value)
    if pc is None:
        return None
    return Postcode.objects.select_related("area").filter(postcode=pc).first()
