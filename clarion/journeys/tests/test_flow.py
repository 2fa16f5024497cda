"""Petition → donate, end to end without a browser: staff make the journey from the
template and publish it; a supporter signs through the public page, gets the thank-you,
after the wait the ask, gives, and leaves at the goal; the journey's page shows one
entered, one converted and the money. Real SMTP on loopback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from clarion.actions.models import ActionPage
from clarion.actions.services import page_save
from clarion.donations import services as donations
from clarion.journeys import engine
from clarion.journeys.models import Enrolment, Journey
from clarion.mailings.tests.helpers import run_tasks
from clarion.people.models import Person

pytestmark = [
    pytest.mark.usefixtures("mail_settings", "from_addresses"),
    pytest.mark.django_db(transaction=True),
]


def test_petition_signer_is_thanked_asked_gives_and_converts(
    client, admin, areas, smtp_server, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    petition = page_save(
        page=ActionPage(
            kind=ActionPage.Kind.PETITION,
            slug="save-the-library",
            title="Save the library",
            status=ActionPage.Status.LIVE,
            body="Sign",
            goal=100,
        )
    )
    gifts = ActionPage.objects.create(
        kind=ActionPage.Kind.DONATION,
        slug="give",
        title="Give",
        status="live",
        suggested_amounts=[500],
    )
    staff = client.__class__()
    staff.force_login(admin)
    staff.post(
        "/staff/journeys/",
        {
            "template": "petition_donate",
            "from_name": "Clarion HQ",
            "from_email": "hq@clarion.example.org",
        },
    )
    journey = Journey.objects.get()
    staff.post(f"/staff/journeys/{journey.pk}/status/", {"move": "publish"})

    response = client.post(
        reverse("actions:page", kwargs={"slug": petition.slug}),
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.net",
            "postcode": "",
            "email_consent": "on",
        },
    )
    assert response.status_code in (200, 302)
    assert Enrolment.objects.filter(journey=journey, person__email="ada@example.net").exists()

    def advance(now=None):
        with capture(execute=True):
            engine.advance_due(now=now)
        run_tasks(capture)

    def subjects() -> list[str]:
        return [m["Subject"] for m in smtp_server.to("ada@example.net")]

    now = timezone.now()
    advance(now)
    smtp_server.wait_for(1)
    assert "Thank you for signing, Ada" in subjects()
    assert "Will you chip in, Ada?" not in subjects()

    advance(now + timedelta(days=2, minutes=1))
    smtp_server.wait_for(len(smtp_server.messages) + 1, timeout=2)
    assert subjects().count("Will you chip in, Ada?") == 1

    ada = Person.objects.get(email="ada@example.net")
    gift = donations.donation_start(
        page=gifts, person=ada, amount_pence=500, currency="GBP", recurring=False, attribution={}
    ).donation
    donations.donation_succeed(donation_id=gift.pk)
    advance(now + timedelta(days=6))

    assert Enrolment.objects.get(journey=journey).state == Enrolment.State.CONVERTED
    page = staff.get(f"/staff/journeys/{journey.pk}/").content.decode()
    totals = page.split('id="journey-totals"')[1].split("</dl>")[0]
    assert "<dt>Entered</dt><dd>1</dd>" in totals
    assert "<dt>Reached the goal</dt><dd>1</dd>" in totals
    assert "£5.00" in totals
    assert subjects().count("Thank you for signing, Ada") == 1  # nothing was sent twice
