"""Embed widget, donation form, and the personal-data registry."""

from __future__ import annotations

import re

from django.test import Client
from django.urls import reverse

from clarion.actions.models import ActionPage, Submission
from clarion.core import privacy
from clarion.people.models import Person

from .conftest import make_page


def test_embed_is_frameable_and_records_its_source(petition):
    client = Client(enforce_csrf_checks=True)  # a third-party iframe gets no CSRF cookie
    url = reverse("actions:embed", kwargs={"slug": petition.slug})
    page = client.get(url, HTTP_REFERER="https://partner.example.org/campaign")
    assert page.status_code == 200
    assert "X-Frame-Options" not in page
    assert "frame-ancestors *" in page["Content-Security-Policy"]
    html = page.content.decode()
    token = re.search(r'name="ft" value="([^"]+)"', html).group(1)
    assert 'value="https://partner.example.org/campaign"' in html
    response = client.post(
        url,
        {
            "first_name": "Ed",
            "email": "ed@example.net",
            "ft": token,
            "source": "embed",
            "referrer": "https://partner.example.org/campaign",
        },
    )
    assert response.status_code == 302
    assert "embed=1" in response["Location"]
    s = Submission.objects.get()
    assert (s.embedded, s.source, s.referrer_domain) == (True, "embed", "partner.example.org")
    thanks = client.get(response["Location"])
    assert (
        "X-Frame-Options" not in thanks and "frame-ancestors *" in thanks["Content-Security-Policy"]
    )


def test_embed_post_without_a_valid_form_token_is_refused(petition):
    url = reverse("actions:embed", kwargs={"slug": petition.slug})
    response = Client().post(url, {"first_name": "Ed", "email": "ed@example.net", "ft": "forged"})
    assert response.status_code == 400
    assert "This form has expired" in response.content.decode()
    assert not Submission.objects.exists()


def donation_page() -> ActionPage:
    return make_page(
        kind=ActionPage.Kind.DONATION,
        slug="fund-us",
        title="Fund us",
        suggested_amounts=[500, 1000, 2500],
        allow_monthly=True,
        goal=None,
    )


def test_donation_form_shows_amounts_and_validates(client):
    page = donation_page()
    html = client.get("/act/fund-us/").content.decode()
    assert "£5" in html and "£25" in html and "Monthly" in html
    response = client.post(
        "/act/fund-us/",
        {"first_name": "Di", "email": "di@example.net", "amount": "other", "other_amount": "0.5"},
    )
    assert response.status_code == 400
    assert "The smallest gift we can take is 1.00." in response.content.decode()
    bad = client.post(
        "/act/fund-us/",
        {
            "first_name": "Di",
            "email": "di@example.net",
            "amount": "other",
            "other_amount": "1e9999",
        },
    )
    assert bad.status_code == 400
    assert page.pk


def test_valid_donation_starts_a_gift_and_redirects_to_the_gateway(client):
    page = donation_page()
    response = client.post(
        "/act/fund-us/?ref=nobody",
        {
            "first_name": "Di",
            "email": "di@example.net",
            "amount": "other",
            "other_amount": "12.50",
            "frequency": "monthly",
            "source": "email",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    from clarion.donations.models import Donation

    donation = Donation.objects.get()
    assert (donation.amount_pence, donation.recurring, donation.page_id) == (1250, True, page.pk)
    assert donation.person.email == "di@example.net"
    assert response["Location"]


def test_privacy_export_erase_and_merge(client, petition):
    from .test_submit import sign

    other = make_page(slug="other", title="Other")
    sign(client, petition, email="a@example.net")
    sign(client, other, email="a@example.net")
    sign(client, petition, email="b@example.net")
    a = Person.objects.get(email="a@example.net")
    b = Person.objects.get(email="b@example.net")
    exported = privacy.export_person(a)["actions"]["submissions"]
    assert {row["page"] for row in exported} == {"Save the library", "Other"}
    # Merging b into a: a signed the petition twice now, so it counts once.
    privacy.merge_person(a, b)
    assert Submission.objects.filter(person=a, page=petition, status="confirmed").count() == 1
    assert Submission.objects.filter(person=a, page=petition, status="invalid").count() == 1
    privacy.erase_person(a)
    assert not Submission.objects.filter(person=a).exists()
