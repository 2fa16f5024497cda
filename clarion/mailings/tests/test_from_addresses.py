"""From addresses per area: an administrator sets them; an organiser composing for
their area can pick only those, checked in the service as well as the form."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from clarion.mailings import selectors, services
from clarion.mailings.models import FromAddress, Mailing
from clarion.people.models import Segment

from .helpers import make_mailing

pytestmark = pytest.mark.usefixtures("mail_settings")


def _form(segment, **extra):
    data = {
        "name": "Door knock",
        "category": "events",
        "segment": segment.pk,
        "subject": "Hi {{ first_name }}",
        "from_name": "North team",
        "from_email": "north@clarion.example.org",
        "body_format": "markdown",
        "body": "Dear {{ first_name|default:'friend' }}",
        "frequency_cap_hours": 0,
        "rate_per_second": 0,
        "ab_variants": 1,
        "ab_test_percent": 0,
        "ab_wait_minutes": 60,
        "ab_metric": "opens",
    }
    data.update(extra)
    return data


@pytest.fixture
def north_segment(areas):
    return Segment.objects.create(
        name="North", definition={"op": "all", "conditions": []}, owner_area=areas.north
    )


def test_admin_allows_an_address_for_an_area(admin_client, areas):
    response = admin_client.post(
        "/staff/mailings/from-addresses/",
        {"area": areas.north.pk, "email": "Leeds@Clarion.example.org", "name": "Leeds team"},
    )
    assert response.status_code == 302
    address = FromAddress.objects.get()
    assert (address.area, address.email, address.name) == (
        areas.north,
        "leeds@clarion.example.org",
        "Leeds team",
    )
    page = admin_client.get("/staff/mailings/from-addresses/").content.decode()
    assert "leeds@clarion.example.org" in page and "The North" in page


def test_organiser_is_offered_only_their_areas_addresses(
    organiser_client, from_addresses, north_segment
):
    page = organiser_client.get("/staff/mailings/new/").content.decode()
    assert 'value="north@clarion.example.org"' in page and 'value="hq@clarion.example.org"' in page
    assert "south@clarion.example.org" not in page
    response = organiser_client.post(
        "/staff/mailings/new/", _form(north_segment, from_email="south@clarion.example.org")
    )
    assert response.status_code == 400
    assert "That from address is not allowed for this area." in response.content.decode()
    assert not Mailing.objects.exists()
    assert organiser_client.post("/staff/mailings/new/", _form(north_segment)).status_code == 302
    assert Mailing.objects.get().from_email == "north@clarion.example.org"


def test_service_refuses_an_address_the_area_may_not_use(organiser, from_addresses, north_segment):
    with pytest.raises(ValidationError) as err:
        make_mailing(organiser, north_segment, from_email="south@clarion.example.org")
    assert "not allowed for this area" in str(err.value)
    # An address set on an area above the organiser's (the nation) is allowed.
    assert make_mailing(organiser, north_segment, from_email="hq@clarion.example.org").pk


def test_national_staff_may_send_from_any_address(admin, everyone):
    assert make_mailing(admin, everyone, from_email="campaigns@another.example.org").pk


def test_removed_address_blocks_sending_a_draft(
    organiser, from_addresses, north_segment, subscribed
):
    mailing = make_mailing(organiser, north_segment, from_email="north@clarion.example.org")
    assert "That from address is not allowed" not in " ".join(
        selectors.mailing_problems(mailing, organiser)
    )
    from_addresses["north"].delete()
    with pytest.raises(ValidationError) as err:
        services.mailing_send(mailing=mailing, actor=organiser)
    assert "That from address is not allowed for this area" in str(err.value)


def test_organiser_sees_only_their_areas_addresses_and_cannot_change_them(
    organiser_client, organiser, from_addresses
):
    page = organiser_client.get("/staff/mailings/from-addresses/").content.decode()
    assert "north@clarion.example.org" in page and "hq@clarion.example.org" in page
    assert "south@clarion.example.org" not in page and "Allow an address" not in page
    south = from_addresses["south"]
    assert (
        organiser_client.post(f"/staff/mailings/from-addresses/{south.pk}/delete/").status_code
        == 404
    )
    north = from_addresses["north"]
    assert (
        organiser_client.post(f"/staff/mailings/from-addresses/{north.pk}/delete/").status_code
        == 403
    )
    assert (
        organiser_client.post(
            "/staff/mailings/from-addresses/", {"email": "mine@example.org"}
        ).status_code
        == 403
    )
    assert FromAddress.objects.count() == 3
    with pytest.raises(PermissionDenied):
        services.from_address_add(actor=organiser, area=None, email="x@example.org")


def test_admin_removes_an_address(admin_client, from_addresses):
    south = from_addresses["south"]
    assert (
        admin_client.post(f"/staff/mailings/from-addresses/{south.pk}/delete/").status_code == 302
    )
    assert not FromAddress.objects.filter(pk=south.pk).exists()
