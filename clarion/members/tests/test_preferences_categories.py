"""My preferences: the kinds of email I get, each stopped on its own with the words
shown and the time, and respected by the next mailing."""

from __future__ import annotations

import pytest

from clarion.mailings.categories import starting_categories_create
from clarion.mailings.models import OptOut
from clarion.people.models import Activity, EmailStatus, Person

ALL = ["news", "fundraising", "events", "local-organising"]


@pytest.fixture
def member_client(member_client):
    starting_categories_create()
    return member_client


def _save(client, categories, email=True):
    data = {"categories": categories}
    if email:
        data["email"] = "on"
    return client.post("/members/preferences/", data)


def test_member_stops_one_kind_of_email_and_starts_it_again(member_client, member):
    Person.objects.filter(pk=member.pk).update(email_status=EmailStatus.SUBSCRIBED)
    page = member_client.get("/members/preferences/").content.decode()
    assert "Email I want to receive" in page and "Fundraising appeals" in page
    assert page.count("checked") >= len(ALL)  # everything ticked to start with

    assert _save(member_client, ["news", "events", "local-organising"]).status_code == 302
    stop = OptOut.objects.get(person=member)
    assert (stop.category, stop.source) == ("fundraising", "members:preferences")
    assert stop.wording.startswith("Email I want to receive: Fundraising appeals")
    assert stop.created_at is not None
    page = member_client.get("/members/preferences/").content.decode()
    assert "Kinds of email you stopped" in page and "Your choices are saved." in page
    assert Person.objects.get(pk=member.pk).email_status == EmailStatus.SUBSCRIBED

    assert _save(member_client, ALL).status_code == 302
    assert not OptOut.objects.filter(person=member).exists()
    summaries = list(
        Activity.objects.filter(person=member, kind=Activity.Kind.EMAIL)
        .order_by("pk")
        .values_list("summary", flat=True)
    )
    assert summaries[-2:] == [
        "Email categories: stopped Fundraising appeals",
        "Email categories: started again Fundraising appeals",
    ]


def test_an_unknown_category_is_a_form_error_and_changes_nothing(member_client, member):
    response = _save(member_client, ["news", "nonsense"])
    assert response.status_code == 400
    assert "not one of the available choices" in response.content.decode()
    assert not OptOut.objects.filter(person=member).exists()
