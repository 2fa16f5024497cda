"""Reads of people. Staff code reaches people only through the ``access_*`` and
``people_for`` functions here, which apply the staff user's area scope (invariant 4).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
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


# --- Staff people list and suggested duplicates -----------------------------------


def _prefix_q(field: str, prefix: str):
    """``field`` starts with ``prefix``, written as a range so a plain b-tree index
    serves it under any collation (LIKE 'x%' only uses one under the C collation); the
    LIKE stays as well, so the result is exact whatever the collation's ordering."""
    from django.db.models import Q

    q = Q(**{f"{field}__startswith": prefix})
    if prefix and ord(prefix[-1]) < 0x10FFFF:
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        q &= Q(**{f"{field}__gte": prefix, f"{field}__lt": upper})
    return q


def people_search(qs: QuerySet[Person], query: str) -> QuerySet[Person]:
    """Narrow ``qs`` by the staff search box: an email, a postcode or a name, each
    matched by prefix through an index, so it stays fast at millions of people.

    - contains "@": primary email starting with the text (lower-cased), or exactly
      one of their other emails;
    - a postcode (full, or an outward code such as "LS1"): postcode, normalised;
    - otherwise a name, through the lower(last_name), lower(first_name) index: one
      word is the start of the last name (or, only when no last name starts so, of
      the first name); several words are first name + last name, or a last name of
      several words ("van der Berg").
    """
    import re

    from django.db.models import Q

    from clarion.areas.postcodes import postcode_or_none

    from .models import PersonEmail
    from .normalise import clean_name

    text = clean_name(query, 254)
    if not text:
        return qs
    if "@" in text:
        email = "".join(text.split()).lower()
        # Resolved first so the OR below is two index look-ups, not a scan.
        others = list(
            PersonEmail.objects.filter(email=email).values_list("person_id", flat=True)[:20]
        )
        return qs.filter(_prefix_q("email", email) | Q(pk__in=others))
    compact = re.sub(r"\s+", "", text).upper()
    full = postcode_or_none(compact)
    if full:
        return qs.filter(postcode=full)
    if re.fullmatch(r"[A-Z]{1,2}[0-9][0-9A-Z]?", compact):
        return qs.filter(_prefix_q("postcode", compact + " "))
    qs = people_with_name_aliases(qs)
    words = text.lower().split(" ")
    if len(words) == 1:
        by_last = qs.filter(_prefix_q("lower_last", words[0]))
        if by_last.exists():
            return by_last
        return qs.filter(_prefix_q("lower_first", words[0]))
    return qs.filter(
        (Q(lower_first__startswith=words[0]) & _prefix_q("lower_last", " ".join(words[1:])))
        | _prefix_q("lower_last", " ".join(words))
    )


def people_with_name_aliases(qs: QuerySet[Person]) -> QuerySet[Person]:
    """``qs`` with the lower-cased name aliases ``people_search`` filters on."""
    from django.db.models.functions import Lower

    return qs.alias(lower_last=Lower("last_name"), lower_first=Lower("first_name"))


def people_page(
    qs: QuerySet[Person], *, after: int | None, size: int
) -> tuple[list[Person], int | None]:
    """One page of ``qs`` by id descending, starting below ``after`` (keyset, no
    OFFSET); returns the people and the ``after`` value of the next page, or None."""
    if after is not None:
        qs = qs.filter(pk__lt=after)
    rows = list(qs.order_by("-pk")[: size + 1])
    if len(rows) > size:
        return rows[:size], rows[size - 1].pk
    return rows, None


def canonical_email_expression():
    """SQL for ``normalise.canonical_email(email)``: lower case, +tag dropped, and for
    Gmail the dots dropped and googlemail.com folded into gmail.com."""
    from django.db.models import Case, Value, When
    from django.db.models.functions import Concat, Left, Lower, Replace, StrIndex, Substr
    from django.db.models.lookups import GreaterThan, In

    email = Lower("email")
    at = StrIndex(email, Value("@"))
    local = Left(email, at - 1)
    domain = Substr(email, at + 1)
    plus = StrIndex(local, Value("+"))
    local_base = Case(When(GreaterThan(plus, 0), then=Left(local, plus - 1)), default=local)
    return Case(
        When(
            In(domain, ["gmail.com", "googlemail.com"]),
            then=Concat(Replace(local_base, Value("."), Value("")), Value("@gmail.com")),
        ),
        default=Concat(local_base, Value("@"), domain),
    )


def duplicate_pairs(user, *, limit: int = 50) -> list[dict]:
    """Suggested duplicates among the people ``user`` may see, as dicts with ``a``,
    ``b`` (Person, lower id first) and ``reasons``.

    Three set-based GROUP BY queries, each capped at ``limit`` groups: same canonical
    email, same primary phone, same first + last name (case-insensitive) and postcode.
    A group of more than two yields its lowest and highest id; after they are merged
    the next pair shows up.
    """
    from django.db.models import Count, Max, Min
    from django.db.models.functions import Lower
    from django.utils.translation import gettext as _

    base = people_for(user)
    found: dict[tuple[int, int], list[str]] = {}

    def collect(groups, reason: str) -> None:
        for row in groups:
            found.setdefault((row["lo"], row["hi"]), []).append(reason)

    by_email = (
        base.exclude(email__isnull=True)
        .annotate(canon=canonical_email_expression())
        .values("canon")
        .annotate(n=Count("id"), lo=Min("id"), hi=Max("id"))
        .filter(n__gt=1)
        .order_by()[:limit]
    )
    collect(by_email, _("same email address"))
    by_phone = (
        base.exclude(phone="")
        .values("phone")
        .annotate(n=Count("id"), lo=Min("id"), hi=Max("id"))
        .filter(n__gt=1)
        .order_by()[:limit]
    )
    collect(by_phone, _("same phone number"))
    by_name = (
        base.exclude(first_name="")
        .exclude(last_name="")
        .exclude(postcode="")
        .values("postcode", lf=Lower("first_name"), ll=Lower("last_name"))
        .annotate(n=Count("id"), lo=Min("id"), hi=Max("id"))
        .filter(n__gt=1)
        .order_by()[:limit]
    )
    collect(by_name, _("same name and postcode"))

    ids = {pk for pair in found for pk in pair}
    people = base.select_related("area").in_bulk(ids)
    pairs = []
    for (lo, hi), reasons in sorted(found.items(), reverse=True):
        if lo in people and hi in people:
            pairs.append({"a": people[lo], "b": people[hi], "reasons": reasons})
    return pairs[: limit * 3]


def people_per_area(user, within=None) -> dict[int | None, int]:
    """People ``user`` may reach, counted per area in one GROUP BY (``within``: only
    that area's subtree). Registered with ``areas.counts`` for the staff area pages."""
    people = people_for(user)
    if within is not None:
        people = people.filter(area__path__startswith=within.path)
    return dict(people.order_by().values("area").annotate(n=Count("pk")).values_list("area", "n"))
