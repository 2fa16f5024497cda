"""Public local group pages: events in the subtree, how to get involved, joining."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from clarion.events.models import Event
from clarion.events.services import event_save
from clarion.people.models import Activity, ConsentRecord, EmailStatus, Person


def _event(area, postcode, title, *, days=3, **fields):
    start = timezone.now() + datetime.timedelta(days=days)
    return event_save(
        event=Event(
            title=title,
            kind=Event.Kind.CANVASS,
            area=area,
            postcode=postcode,
            starts_at=start,
            ends_at=start + datetime.timedelta(hours=2),
            **fields,
        )
    )


def _join(client, area, **overrides):
    data = {
        "first_name": "Jo",
        "last_name": "Joiner",
        "email": "jo@example.net",
        "postcode": "LS2 7EY",
        "email_consent": "on",
        "website": "",
    }
    data.update(overrides)
    return client.post(reverse("groups:detail", kwargs={"pk": area.pk}), data)


def test_group_page_lists_upcoming_public_events_of_its_subtree_only(client, areas):
    _event(areas.leeds_central, "LS1 4AP", "City Ward doorstep")
    _event(areas.bristol_east, "BS5 6XX", "Easton doorstep")
    _event(areas.leeds_central, "LS1 4AP", "Secret planning", visibility=Event.Visibility.UNLISTED)
    _event(areas.leeds_central, "LS1 4AP", "Last week's stall", days=-7)
    response = client.get(reverse("groups:detail", kwargs={"pk": areas.north.pk}))
    body = response.content.decode()
    assert response.status_code == 200
    assert "City Ward doorstep" in body
    assert "Easton doorstep" not in body
    assert "Secret planning" not in body
    assert "Last week&#x27;s stall" not in body and "Last week's stall" not in body
    assert reverse("events:area_feed", kwargs={"area_id": areas.north.pk}) in body


def test_group_page_shows_how_to_get_involved_escaped(client, areas):
    areas.leeds.get_involved = "Meet us on Tuesdays.\n\n<script>alert(1)</script>"
    areas.leeds.save()
    body = client.get(reverse("groups:detail", kwargs={"pk": areas.leeds.pk})).content.decode()
    assert "Meet us on Tuesdays." in body
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;" in body


def test_unknown_group_is_404(client, areas):
    assert client.get("/groups/999999/").status_code == 404


def test_joining_records_person_consent_and_group_tag(client, areas):
    response = _join(client, areas.leeds)
    assert response.status_code == 302
    assert response["Location"].endswith("?joined=1")
    person = Person.objects.get(email="jo@example.net")
    assert person.email_status == EmailStatus.SUBSCRIBED
    assert person.area == areas.leeds_central  # from the postcode
    assert list(person.tags.values_list("name", flat=True)) == ["Group: C-LDS"]
    consent = ConsentRecord.objects.get(person=person)
    assert "Leeds Central" in consent.wording and consent.source == "group:C-LDS"
    assert Activity.objects.filter(
        person=person, summary__contains="Joined the local group Leeds Central"
    ).exists()
    thanks = client.get(response["Location"])
    assert "Thank you for joining!" in thanks.content.decode()


def test_joining_without_consent_does_not_subscribe(client, areas):
    areas.leeds.join_tag = "Leeds volunteers"
    areas.leeds.save()
    _join(client, areas.leeds, email_consent="")
    person = Person.objects.get(email="jo@example.net")
    assert person.email_status == EmailStatus.NONE
    assert not ConsentRecord.objects.filter(person=person).exists()
    assert list(person.tags.values_list("name", flat=True)) == ["Leeds volunteers"]


def test_bad_details_get_form_errors_not_500(client, areas):
    response = _join(client, areas.leeds, email="not-an-email", postcode="XYZ")
    body = response.content.decode()
    assert response.status_code == 400
    assert "Enter a valid email address" in body
    assert "Enter a UK postcode" in body
    assert not Person.objects.exists()


def test_honeypot_looks_like_success_and_records_nothing(client, areas):
    response = _join(client, areas.leeds, website="http://spam.example")
    assert response.status_code == 302
    assert not Person.objects.exists()


def test_joins_are_rate_limited_per_email(client, areas, settings):
    settings.CLARION_GROUPS_EMAIL_LIMIT = 2
    assert _join(client, areas.leeds).status_code == 302
    assert _join(client, areas.leeds).status_code == 302
    response = _join(client, areas.leeds)
    assert response.status_code == 429
    assert "Too many tries" in response.content.decode()


def test_joins_are_rate_limited_per_address(client, areas, settings):
    settings.CLARION_GROUPS_IP_LIMIT = 2
    for n in range(2):
        assert _join(client, areas.leeds, email=f"p{n}@example.net").status_code == 302
    assert _join(client, areas.leeds, email="p9@example.net").status_code == 429
    assert Person.objects.count() == 2


def test_group_list_shows_tree_and_finds_group_by_postcode(client, areas):
    body = client.get(reverse("groups:list")).content.decode()
    for name in ("Demo Nation", "The North", "City Ward", "Easton Ward"):
        assert name in body
    found = client.get(reverse("groups:list"), {"postcode": "bs5 6xx"})
    assert found.status_code == 302
    assert found["Location"] == reverse("groups:detail", kwargs={"pk": areas.bristol_east.pk})
    unknown = client.get(reverse("groups:list"), {"postcode": "SW1A 1AA"})
    assert unknown.status_code == 400
    assert "We don&#x27;t know a local group for that postcode yet." in unknown.content.decode()


def test_event_page_links_to_its_group(client, areas):
    event = _event(areas.leeds_central, "LS1 4AP", "City Ward doorstep")
    body = client.get(reverse("events:detail", kwargs={"pk": event.pk})).content.decode()
    assert reverse("groups:detail", kwargs={"pk": areas.leeds_central.pk}) in body
    assert "Local group: City Ward" in body


def test_organiser_edits_their_group_page_but_not_anothers(client, areas, organiser):
    client.force_login(organiser)
    url = reverse("areas:group_edit", kwargs={"pk": areas.leeds.pk})
    response = client.post(
        url, {"get_involved": "Phone Sam on 0113 000 0000.", "join_tag": "Leeds team"}
    )
    assert response.status_code == 302
    areas.leeds.refresh_from_db()
    assert areas.leeds.get_involved == "Phone Sam on 0113 000 0000."
    assert areas.leeds.group_tag_name() == "Leeds team"
    public = client.get(reverse("groups:detail", kwargs={"pk": areas.leeds.pk})).content.decode()
    assert "Phone Sam on 0113 000 0000." in public
    south = client.post(
        reverse("areas:group_edit", kwargs={"pk": areas.bristol.pk}),
        {"get_involved": "Hijacked", "join_tag": ""},
    )
    assert south.status_code == 404
    areas.bristol.refresh_from_db()
    assert areas.bristol.get_involved == ""


def test_analyst_cannot_edit_group_page(client, areas, analyst):
    client.force_login(analyst)
    response = client.post(
        reverse("areas:group_edit", kwargs={"pk": areas.leeds.pk}),
        {"get_involved": "x", "join_tag": ""},
    )
    assert response.status_code == 403


@pytest.mark.parametrize("bad", ["x" * 5001])
def test_too_long_get_involved_is_a_form_error(client, areas, organiser, bad):
    client.force_login(organiser)
    response = client.post(
        reverse("areas:group_edit", kwargs={"pk": areas.leeds.pk}),
        {"get_involved": bad, "join_tag": ""},
    )
    assert response.status_code == 400
