"""Reads of people. Staff code reaches people only through the ``access_*`` and
``people_for`` functions here, which apply the staff user's area scope (invariant 4).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from clarion.areas.selectors import area_subtree_q

from .models import Person, Segment


def people_for(user) -> QuerySet[Person]:
    """Every person ``user`` may see: all for admins, their area subtree otherwise.

    A person with no area is visible to national staff only.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Person.objects.none()
    scope = user.scope_area
    qs = Person.objects.all()
    if scope is None:
        return qs
    return qs.filter(area_subtree_q(scope))


def access_person(user, person_id, *, write: bool = False) -> Person:
    """The person with ``person_id`` if ``user`` may see it (404 otherwise).

    ``write=True`` also requires a role that may change people (403 otherwise).
    """
    try:
        pk = int(person_id)
    except (TypeError, ValueError):
        raise Http404 from None
    person = people_for(user).select_related("area", "recruiter").filter(pk=pk).first()
    if person is None:
        raise Http404
    if write and not user.can_write:
        raise PermissionDenied
    return person


def segments_for(user) -> QuerySet[Segment]:
    """Segments ``user`` may use: national ones for national staff; their own area's
    (and those made inside it) for organisers. Counting a segment always applies the
    user's scope on top, so a national segment shared down never leaks."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Segment.objects.none()
    scope = user.scope_area
    qs = Segment.objects.all()
    if scope is None:
        return qs
    return qs.filter(area_subtree_q(scope, field="owner_area"))


def access_segment(user, segment_id, *, write: bool = False) -> Segment:
    try:
        pk = int(segment_id)
    except (TypeError, ValueError):
        raise Http404 from None
    segment = segments_for(user).filter(pk=pk).first()
    if segment is None:
        raise Http404
    if write and not user.can_write:
        raise PermissionDenied
    return segment
