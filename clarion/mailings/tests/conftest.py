from __future__ import annotations

import pytest

from clarion.core.testing.smtp import smtp_server  # noqa: F401
from clarion.people.models import EmailStatus, Segment
from clarion.people.services import email_status_set


@pytest.fixture
def areas(areas):
    """The area tree, and the starting email categories, which a transactional test's
    flush removes after the migration made them."""
    from clarion.mailings.categories import starting_categories_create

    starting_categories_create()
    return areas


@pytest.fixture
def subscribed(areas, north_person, south_person):
    """Nora (North) and Sid (South), both subscribed; plus a second North person."""
    from clarion.core.testing import factories

    nell = factories.person(
        postcode=areas.postcodes["north2"],
        first_name="Nell",
        last_name="Northby",
        email="nell@example.net",
    )
    for p in (north_person, south_person, nell):
        email_status_set(person=p, status=EmailStatus.SUBSCRIBED)
    return {"nora": north_person, "sid": south_person, "nell": nell}


@pytest.fixture
def everyone(areas):
    return Segment.objects.create(name="Everyone", definition={"op": "all", "conditions": []})


@pytest.fixture
def mail_settings(settings):
    settings.SITE_URL = "https://clarion.example.org"
    settings.CLARION_MAILINGS_VERP_DOMAIN = "bounces.example.org"
    settings.CLARION_MAILINGS_SENDERS = 1
    return settings


@pytest.fixture
def from_addresses(areas):
    """The addresses an administrator allowed: hq@ for every area (set on the nation),
    north@ for the North and south@ for the South only."""
    from clarion.mailings.models import FromAddress

    return {
        "hq": FromAddress.objects.create(
            area=areas.nation, email="hq@clarion.example.org", name="Clarion HQ"
        ),
        "north": FromAddress.objects.create(
            area=areas.north, email="north@clarion.example.org", name="North team"
        ),
        "south": FromAddress.objects.create(
            area=areas.south, email="south@clarion.example.org", name="South team"
        ),
    }
