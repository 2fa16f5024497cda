"""RSVPs: places, waiting list, duplicates, signed manage links and cancellation."""

from __future__ import annotations

import pytest
from django.core import signing
from django.urls import reverse

from clarion.core.tokens import EVENTS_RSVP_MANAGE
from clarion.events.models import Rsvp
from clarion.events.selectors import manage_token, places_left
from clarion.events.services import RsvpInput, rsvp_cancel, rsvp_create
from clarion.people.models import Activity, ConsentRecord, EmailStatus, Person

from .conftest import make_event, rsvp_post

pytestmark = pytest.mark.django_db


def test_rsvp_creates_the_person_and_lands_on_their_signed_page(client, event, north_person):
    response = rsvp_post(
        client, event, ref=north_person.share_code or "", email_consent="on", source="leaflet"
    )
    assert response.status_code == 302
    rsvp = Rsvp.objects.get()  # committed before the 302 (invariant 1)
    assert rsvp.status == Rsvp.Status.GOING
    person = rsvp.person
    assert (person.first_name, person.postcode) == ("Ada", "LS2 7EY")
    assert person.email_status == EmailStatus.SUBSCRIBED
    assert ConsentRecord.objects.filter(person=person, channel="email").exists()
    assert rsvp.source == "leaflet"
    if north_person.share_code:
        assert rsvp.recruiter == north_person
    page = client.get(response["Location"])
    assert (
        "Ada, you&#x27;re going." in page.content.decode()
        or "Ada, you're going." in page.content.decode()
    )
    assert Activity.objects.filter(
        person=person, kind=Activity.Kind.EVENT, summary__contains=event.title
    ).exists()


def test_duplicate_rsvp_is_refused(client, event):
    rsvp_post(client, event)
    again = rsvp_post(client, event, guests="3")
    assert again.status_code == 409
    assert "already RSVP" in again.content.decode()
    assert Rsvp.objects.count() == 1
    assert Rsvp.objects.get().guests == 0


def test_full_event_waitlists_and_cancel_promotes_the_first_waiting(areas):
    event = make_event(area=areas.leeds_central, capacity=2)
    first = rsvp_create(event=event, data=RsvpInput(email="a@example.net", guests=1)).rsvp
    second = rsvp_create(event=event, data=RsvpInput(email="b@example.net")).rsvp
    third = rsvp_create(event=event, data=RsvpInput(email="c@example.net")).rsvp
    assert first.status == Rsvp.Status.GOING
    assert second.status == third.status == Rsvp.Status.WAITLISTED
    assert places_left(event) == 0
    promoted = rsvp_cancel(rsvp=first)
    assert [r.pk for r in promoted] == [second.pk, third.pk]
    assert places_left(event) == 0
    assert rsvp_cancel(rsvp=first) == []  # twice changes nothing


def test_guests_count_against_capacity(client, areas):
    event = make_event(area=areas.leeds_central, capacity=3)
    rsvp_post(client, event, guests="2")
    assert places_left(event) == 0
    html = client.get(f"/events/{event.pk}/").content.decode()
    assert "Join the waiting list" in html


def test_bad_input_gets_form_errors_not_500(client, event):
    response = rsvp_post(client, event, email="not-an-email", guests="99", postcode="nowhere")
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter a valid email address." in html
    assert "full UK postcode" in html
    assert Rsvp.objects.count() == 0


def test_cancel_through_the_signed_link(client, event):
    response = rsvp_post(client, event)
    manage = response["Location"]
    client.post(manage, {"action": "cancel", "confirm": "yes"})
    rsvp = Rsvp.objects.get()
    assert rsvp.status == Rsvp.Status.CANCELLED
    assert "Your RSVP is cancelled." in client.get(manage).content.decode()


def test_forged_or_other_event_links_are_refused(client, areas, event):
    other = make_event(area=areas.leeds_central, title="Another event")
    rsvp = rsvp_create(event=event, data=RsvpInput(email="a@example.net")).rsvp
    token = manage_token(rsvp)
    # the right link works
    assert (
        client.get(reverse("events:manage", kwargs={"pk": event.pk, "token": token})).status_code
        == 200
    )
    # the same link on another event's address
    wrong_event = client.post(
        reverse("events:manage", kwargs={"pk": other.pk, "token": token}), {"action": "cancel"}
    )
    assert wrong_event.status_code == 404
    # a token naming another event, signed with another salt (forged)
    forged = signing.dumps([event.pk, rsvp.pk], salt="something-else")
    assert (
        client.post(
            reverse("events:manage", kwargs={"pk": event.pk, "token": forged}), {"action": "cancel"}
        ).status_code
        == 404
    )
    tampered = token[:-2] + ("aa" if not token.endswith("aa") else "bb")
    assert (
        client.get(reverse("events:manage", kwargs={"pk": event.pk, "token": tampered})).status_code
        == 404
    )
    # a validly signed token for a different event's RSVP
    other_rsvp = rsvp_create(event=other, data=RsvpInput(email="b@example.net")).rsvp
    cross = signing.dumps([other.pk, other_rsvp.pk], salt=EVENTS_RSVP_MANAGE)
    assert (
        client.get(reverse("events:manage", kwargs={"pk": event.pk, "token": cross})).status_code
        == 404
    )
    rsvp.refresh_from_db()
    assert rsvp.status == Rsvp.Status.GOING


def test_online_link_is_shown_only_to_people_going(client, areas):
    event = make_event(
        area=areas.leeds_central,
        kind="online",
        postcode="",
        online_url="https://meet.example/abc",
        capacity=1,
    )
    assert "meet.example" not in client.get(f"/events/{event.pk}/").content.decode()
    going = rsvp_post(client, event)
    assert "https://meet.example/abc" in client.get(going["Location"]).content.decode()
    waiting = rsvp_post(client, event, email="late@example.net")
    assert "meet.example" not in client.get(waiting["Location"]).content.decode()


def test_unlisted_event_opens_by_link_but_drafts_do_not(client, areas):
    unlisted = make_event(area=areas.leeds_central, visibility="unlisted")
    draft = make_event(area=areas.leeds_central, status="draft")
    assert client.get(f"/events/{unlisted.pk}/").status_code == 200
    assert client.get(f"/events/{draft.pk}/").status_code == 404
    assert rsvp_post(client, draft).status_code == 404
    assert not Person.objects.filter(email="ada@example.net").exists()


def test_more_guests_through_the_manage_link_must_fit(client, areas):
    event = make_event(area=areas.leeds_central, capacity=3)
    response = rsvp_post(client, event)
    manage = response["Location"]
    ok = client.post(manage, {"action": "change", "guests": "2"})
    assert ok.status_code == 302
    assert Rsvp.objects.get().guests == 2
    too_many = client.post(manage, {"action": "change", "guests": "4"})
    assert too_many.status_code == 400
    assert "Only 0 more places are free, so you can bring 2 guests." in too_many.content.decode()
    assert Rsvp.objects.get().guests == 2
    bad = client.post(manage, {"action": "change", "guests": "many"})
    assert bad.status_code == 400


def test_fewer_guests_gives_the_places_to_the_waiting_list(areas):
    from clarion.events.services import rsvp_change

    event = make_event(area=areas.leeds_central, capacity=3)
    party = rsvp_create(event=event, data=RsvpInput(email="party@example.net", guests=2)).rsvp
    waiting = rsvp_create(event=event, data=RsvpInput(email="w@example.net")).rsvp
    assert waiting.status == Rsvp.Status.WAITLISTED
    promoted = rsvp_change(rsvp=party, guests=1, shift_ids=[], answers={})
    assert [r.pk for r in promoted] == [waiting.pk]
    waiting.refresh_from_db()
    assert waiting.status == Rsvp.Status.GOING
    assert places_left(event) == 0
    assert Activity.objects.filter(
        person=waiting.person, summary__startswith="Got a place"
    ).exists()


def test_a_cancelled_rsvp_cannot_be_changed(client, event):
    response = rsvp_post(client, event)
    manage = response["Location"]
    client.post(manage, {"action": "cancel", "confirm": "yes"})
    again = client.post(manage, {"action": "change", "guests": "3"})
    assert again.status_code == 302
    assert Rsvp.objects.get().guests == 0
    assert "Change my RSVP" not in client.get(manage).content.decode()


def test_an_rsvp_keeps_what_was_typed_and_leaves_the_stored_person_alone(client, event, areas):
    from clarion.core.testing import factories
    from clarion.events.models import Rsvp

    from .conftest import rsvp_post

    stored = factories.person(
        email="typed@example.net", first_name="Tess", postcode=areas.postcodes["south"]
    )
    rsvp_post(client, event, email="typed@example.net", first_name="Mallory", postcode="LS2 7EY")
    rsvp = Rsvp.objects.get(event=event)
    assert rsvp.person_id == stored.pk
    assert rsvp.submitted == {
        "first_name": "Mallory",
        "last_name": "Lovelace",
        "postcode": "LS2 7EY",
    }
    stored.refresh_from_db()
    assert stored.first_name == "Tess" and stored.area_id == areas.bristol_east.pk
