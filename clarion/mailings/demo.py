"""Demo from addresses (``clarion load_demo`` calls ``demo_from_addresses_create``).

Every area of the demo can send: the nation's address is allowed everywhere below it,
and each region and constituency has its own team address too, so an organiser's
"Email everyone" opens a composer with an address to pick.
"""

from __future__ import annotations

from django.utils.text import slugify

from clarion.areas.models import Area

from .services import from_address_add

DOMAIN = "demo.example.org"


def demo_from_addresses_create(*, actor) -> None:
    """Idempotent: adding an address twice is harmless (``from_address_add``)."""
    for area in Area.objects.filter(kind__in=["nation", "region", "constituency"]):
        if area.parent_id is None:
            from_address_add(actor=actor, area=area, email=f"hello@{DOMAIN}", name="Clarion HQ")
            continue
        local = slugify(area.name.removeprefix("The "))
        from_address_add(
            actor=actor, area=area, email=f"{local}@{DOMAIN}", name=f"{area.name} team"
        )
