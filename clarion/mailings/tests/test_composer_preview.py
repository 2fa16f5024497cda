"""Preview as a person found by name or email, only among the people in scope."""

from __future__ import annotations

import pytest

from clarion.people.models import Segment

from .helpers import make_mailing

pytestmark = pytest.mark.usefixtures("mail_settings")


@pytest.fixture
def north_mailing(organiser, areas, subscribed, from_addresses):
    segment = Segment.objects.create(
        name="North", definition={"op": "all", "conditions": []}, owner_area=areas.north
    )
    return make_mailing(
        organiser, segment, subject="Hi {{ first_name }}", from_email="north@clarion.example.org"
    )


def _preview(client, mailing, **params):
    return client.get(f"/staff/mailings/{mailing.pk}/preview/", params).content.decode()


def test_preview_as_a_person_found_by_email_or_full_name(organiser_client, north_mailing):
    for find in ("nora@example.net", "NORA@example.net", "Nora North"):
        page = _preview(organiser_client, north_mailing, find=find)
        assert "Hi Nora" in page, find
        assert "Showing the mailing as Nora North will see it." in page


def test_several_matches_are_listed_to_choose_from(organiser_client, north_mailing, subscribed):
    page = _preview(organiser_client, north_mailing, find="Nor")
    assert "2 people match “Nor”" in page
    assert f"?person={subscribed['nora'].pk}" in page and f"?person={subscribed['nell'].pk}" in page
    assert "Showing the mailing with sample merge fields." in page


def test_a_person_outside_scope_is_not_found_and_nothing_of_theirs_shown(
    organiser_client, north_mailing, subscribed
):
    sid = subscribed["sid"]
    for find in (sid.email, sid.last_name, f"{sid.first_name} {sid.last_name}"):
        page = _preview(organiser_client, north_mailing, find=find)
        assert "Nobody you can reach matches" in page, find
        assert f"Hi {sid.first_name}" not in page and f"person={sid.pk}" not in page


def test_national_staff_find_anyone(admin_client, north_mailing, subscribed):
    page = _preview(admin_client, north_mailing, find="sid@example.net")
    assert "Hi Sid" in page
