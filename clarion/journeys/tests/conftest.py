from __future__ import annotations

import pytest

from clarion.core.testing.smtp import smtp_server  # noqa: F401
from clarion.journeys import services
from clarion.people.models import EmailStatus
from clarion.people.services import email_status_set

THANKS = {
    "subject": "Thank you, {{ first_name|default:'friend' }}",
    "body": "Dear {{ first_name }},\n\nThank you for signing. [Give](https://clarion.example.org/act/give/)",
    "from_name": "Clarion HQ",
    "from_email": "hq@clarion.example.org",
    "category": "news",
}


def email_config(**changes) -> dict:
    return {**THANKS, **changes}


def make_journey(actor, steps, *, trigger="tag_added", trigger_config=None, publish=True, **kw):
    journey = services.journey_create(
        actor=actor,
        name=kw.pop("name", "Welcome"),
        trigger_type=trigger,
        trigger_config=trigger_config if trigger_config is not None else {"tag": "welcome"},
        steps=steps,
        **kw,
    )
    if publish:
        journey = services.journey_set_status(journey=journey, actor=actor, move="publish")
    return journey


@pytest.fixture
def areas(areas):
    """The area tree, and the starting email categories (email steps name one), which
    a transactional test's flush removes after the migration made them."""
    from clarion.mailings.categories import starting_categories_create

    starting_categories_create()
    return areas


@pytest.fixture
def mail_settings(settings):
    settings.SITE_URL = "https://clarion.example.org"
    settings.CLARION_MAILINGS_VERP_DOMAIN = "bounces.example.org"
    settings.CLARION_MAILINGS_SENDERS = 1
    return settings


@pytest.fixture
def from_addresses(areas):
    from clarion.mailings.models import FromAddress

    return {
        "hq": FromAddress.objects.create(
            area=areas.nation, email="hq@clarion.example.org", name="Clarion HQ"
        ),
        "north": FromAddress.objects.create(
            area=areas.north, email="north@clarion.example.org", name="North team"
        ),
    }


@pytest.fixture
def nora(north_person):
    email_status_set(person=north_person, status=EmailStatus.SUBSCRIBED)
    north_person.refresh_from_db()
    return north_person


@pytest.fixture
def sid(south_person):
    email_status_set(person=south_person, status=EmailStatus.SUBSCRIBED)
    south_person.refresh_from_db()
    return south_person
