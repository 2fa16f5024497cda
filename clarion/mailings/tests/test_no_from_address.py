"""An organiser whose area has no from address is told so, with where to add one,
instead of meeting a bare "This field is required"."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_composer_says_there_is_no_from_address_and_links_to_the_page(
    organiser_client, areas, everyone
):
    page = organiser_client.get(reverse("mailings_staff:create"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "No from address yet" in html
    assert reverse("mailings_staff:from_addresses") in html

    saved = organiser_client.post(
        reverse("mailings_staff:create"),
        {"name": "Hello", "subject": "Hi", "body": "Hi", "segment": everyone.pk},
    )
    html = saved.content.decode()
    assert saved.status_code == 400
    error = re.search(r'<p class="error" id="id_from_email_error">([^<]+)</p>', html).group(1)
    assert error.startswith("No from address is allowed for The North yet")


def test_composer_offers_the_allowed_addresses_once_there_are_some(
    organiser_client, from_addresses
):
    html = organiser_client.get(reverse("mailings_staff:create")).content.decode()
    assert "No from address yet" not in html
    assert 'value="north@clarion.example.org"' in html
