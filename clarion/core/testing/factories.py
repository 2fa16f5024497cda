"""Factories and personas for tests (and demo data): one place to make believable rows."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from clarion.areas.models import Area, Postcode
from clarion.areas.services import area_create
from clarion.core.models import User
from clarion.people.models import Person
from clarion.people.services import person_upsert

_seq = itertools.count(1)

PASSWORD = "correct-horse-battery-staple"


@dataclass
class AreaTree:
    """nation › north, south › constituencies › branches, with a postcode per branch."""

    nation: Area
    north: Area
    south: Area
    leeds: Area
    leeds_central: Area
    bristol: Area
    bristol_east: Area
    postcodes: dict[str, str]


def area_tree() -> AreaTree:
    nation = area_create(code="N", name="Demo Nation", kind=Area.Kind.NATION)
    north = area_create(code="R-N", name="The North", kind=Area.Kind.REGION, parent=nation)
    south = area_create(code="R-S", name="The South", kind=Area.Kind.REGION, parent=nation)
    leeds = area_create(
        code="C-LDS", name="Leeds Central", kind=Area.Kind.CONSTITUENCY, parent=north
    )
    leeds_central = area_create(
        code="B-LDS1", name="City Ward", kind=Area.Kind.BRANCH, parent=leeds
    )
    bristol = area_create(
        code="C-BRS", name="Bristol East", kind=Area.Kind.CONSTITUENCY, parent=south
    )
    bristol_east = area_create(
        code="B-BRS1", name="Easton Ward", kind=Area.Kind.BRANCH, parent=bristol
    )
    Postcode.objects.create(
        postcode="LS1 4AP", area=leeds_central, latitude=53.7997, longitude=-1.5492
    )
    Postcode.objects.create(
        postcode="LS2 7EY", area=leeds_central, latitude=53.8067, longitude=-1.5550
    )
    Postcode.objects.create(
        postcode="BS5 6XX", area=bristol_east, latitude=51.4630, longitude=-2.5630
    )
    Postcode.objects.create(
        postcode="BS5 0HE", area=bristol_east, latitude=51.4660, longitude=-2.5540
    )
    return AreaTree(
        nation=nation,
        north=north,
        south=south,
        leeds=leeds,
        leeds_central=leeds_central,
        bristol=bristol,
        bristol_east=bristol_east,
        postcodes={
            "north": "LS1 4AP",
            "north2": "LS2 7EY",
            "south": "BS5 6XX",
            "south2": "BS5 0HE",
        },
    )


def staff_user(
    *, role: str = User.Role.ADMIN, area: Area | None = None, email: str | None = None, **extra
) -> User:
    n = next(_seq)
    extra.setdefault("name", f"Staff {n}")
    return User.objects.create_user(
        email=email or f"staff{n}@example.org", password=PASSWORD, role=role, area=area, **extra
    )


def person(*, postcode: str | None = None, email: str | None = None, **fields) -> Person:
    n = next(_seq)
    fields.setdefault("first_name", f"Sam{n}")
    fields.setdefault("last_name", "Example")
    return person_upsert(
        email=email or f"person{n}@example.net", postcode=postcode, **fields
    ).person
