"""Volunteer shifts: people pick one or several on the RSVP form, each shift has its
own capacity, staff add and remove shifts on the edit page, and the lists and
calendars show them."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from clarion.events.models import Rsvp, Shift, ShiftSignup
from clarion.events.selectors import host_token, manage_token
from clarion.events.services import RsvpInput, rsvp_cancel, rsvp_change, rsvp_create
from clarion.people.models import Activity

from .conftest import make_event, rsvp_post
from .test_staff import event_form

pytestmark = pytest.mark.django_db


def add_shifts(event, *capacities, label="Shift"):
    shifts = []
    for i, capacity in enumerate(capacities):
        start = event.starts_at + datetime.timedelta(hours=i)
        shifts.append(
            Shift.objects.create(
                event=event,
                label=f"{label} {i + 1}",
                starts_at=start,
                ends_at=start + datetime.timedelta(hours=1),
                capacity=capacity,
            )
        )
    return shifts


@pytest.fixture
def shifted(areas):
    event = make_event(area=areas.leeds_central, title="Leafleting rota")
    return event, add_shifts(event, 2, None)


def test_rsvp_form_offers_shifts_and_keeps_the_ones_picked(client, shifted):
    event, (first, second) = shifted
    page = client.get(f"/events/{event.pk}/").content.decode()
    assert "Which shifts can you do?" in page
    assert "Shift 1 (" in page and "2 left" in page
    response = rsvp_post(client, event, shifts=[str(first.pk), str(second.pk)])
    assert response.status_code == 302
    rsvp = Rsvp.objects.get()
    assert sorted(rsvp.shift_signups.values_list("shift_id", flat=True)) == [first.pk, second.pk]
    manage = client.get(response["Location"]).content.decode()
    assert "Your shifts" in manage and "Shift 1" in manage and "Shift 2" in manage
    assert "1 left" in client.get(f"/events/{event.pk}/").content.decode()
    timeline = Activity.objects.filter(person=rsvp.person, summary__startswith="RSVP").get()
    assert "Shifts: Shift 1" in timeline.summary and "Shift 2" in timeline.summary


def test_an_event_with_shifts_needs_at_least_one_picked(client, shifted):
    event, _shifts = shifted
    response = rsvp_post(client, event)
    assert response.status_code == 400
    assert "Pick at least one shift." in response.content.decode()
    assert not Rsvp.objects.exists()


def test_a_full_shift_is_refused_and_nothing_is_saved(client, shifted):
    event, (first, second) = shifted
    rsvp_create(event=event, data=RsvpInput(email="a@example.net", shift_ids=[first.pk]))
    rsvp_create(event=event, data=RsvpInput(email="b@example.net", shift_ids=[first.pk]))
    assert "Shift 1 (" in client.get(f"/events/{event.pk}/").content.decode()
    assert "— full" in client.get(f"/events/{event.pk}/").content.decode()
    response = rsvp_post(client, event, shifts=[str(first.pk)], email="late@example.net")
    assert response.status_code == 400
    assert "Not enough places left on: Shift 1" in response.content.decode()
    assert not Rsvp.objects.filter(person__email="late@example.net").exists()
    # The other shift is unlimited and still open.
    ok = rsvp_post(client, event, shifts=[str(second.pk)], email="late@example.net")
    assert ok.status_code == 302
    assert ShiftSignup.objects.filter(shift=first).count() == 2


def test_guests_take_places_on_the_shift_too(shifted):
    event, (first, _second) = shifted
    with pytest.raises(ValidationError) as exc:
        rsvp_create(
            event=event, data=RsvpInput(email="party@example.net", guests=2, shift_ids=[first.pk])
        )
    assert "shifts" in exc.value.message_dict
    rsvp_create(
        event=event, data=RsvpInput(email="pair@example.net", guests=1, shift_ids=[first.pk])
    )
    with pytest.raises(ValidationError):
        rsvp_create(event=event, data=RsvpInput(email="solo@example.net", shift_ids=[first.pk]))


def test_a_shift_of_another_event_cannot_be_picked(client, areas, shifted):
    event, _shifts = shifted
    other = make_event(area=areas.leeds_central, title="Other rota")
    [foreign] = add_shifts(other, 5)
    response = rsvp_post(client, event, shifts=[str(foreign.pk)])
    assert response.status_code == 400
    assert not ShiftSignup.objects.exists()
    with pytest.raises(ValidationError):
        rsvp_create(event=event, data=RsvpInput(email="x@example.net", shift_ids=[foreign.pk]))


def test_one_signup_per_person_and_shift(shifted):
    event, (first, _second) = shifted
    rsvp = rsvp_create(
        event=event, data=RsvpInput(email="a@example.net", shift_ids=[first.pk, first.pk])
    ).rsvp
    assert ShiftSignup.objects.filter(rsvp=rsvp).count() == 1
    rsvp_change(rsvp=rsvp, guests=0, shift_ids=[first.pk, first.pk], answers={})
    assert ShiftSignup.objects.filter(rsvp=rsvp).count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        ShiftSignup.objects.create(rsvp=rsvp, shift=first)


def test_cancelling_frees_the_shift_place(shifted):
    event, (first, _second) = shifted
    a = rsvp_create(event=event, data=RsvpInput(email="a@example.net", shift_ids=[first.pk])).rsvp
    rsvp_create(event=event, data=RsvpInput(email="b@example.net", shift_ids=[first.pk]))
    rsvp_cancel(rsvp=a)
    assert not ShiftSignup.objects.filter(rsvp=a).exists()
    c = rsvp_create(event=event, data=RsvpInput(email="c@example.net", shift_ids=[first.pk])).rsvp
    assert c.shift_signups.get().shift == first


def test_change_shifts_through_the_manage_link(client, shifted):
    event, (first, second) = shifted
    response = rsvp_post(client, event, shifts=[str(first.pk)])
    manage = response["Location"]
    changed = client.post(manage, {"action": "change", "guests": "0", "shifts": [str(second.pk)]})
    assert changed.status_code == 302
    assert "Your RSVP is updated." in client.get(changed["Location"]).content.decode()
    rsvp = Rsvp.objects.get()
    assert list(rsvp.shift_signups.values_list("shift_id", flat=True)) == [second.pk]
    # Moving onto a full shift is refused and leaves the choice as it was.
    rsvp_create(event=event, data=RsvpInput(email="b@example.net", shift_ids=[first.pk]))
    rsvp_create(event=event, data=RsvpInput(email="c@example.net", shift_ids=[first.pk]))
    refused = client.post(manage, {"action": "change", "guests": "0", "shifts": [str(first.pk)]})
    assert refused.status_code == 400
    assert "Not enough places left on: Shift 1" in refused.content.decode()
    assert list(rsvp.shift_signups.values_list("shift_id", flat=True)) == [second.pk]


def test_staff_add_and_remove_shifts_on_the_edit_page(organiser_client, areas):
    event = make_event(area=areas.leeds_central)
    url = reverse("events_staff:edit", kwargs={"pk": event.pk})
    page = organiser_client.get(url).content.decode()
    assert "Volunteer shifts" in page and 'name="shifts-TOTAL_FORMS"' in page
    day = event.starts_at.astimezone(datetime.UTC).strftime("%Y-%m-%d")
    data = event_form(
        area=areas.leeds_central.pk,
        **{
            "shifts-TOTAL_FORMS": "2",
            "shifts-INITIAL_FORMS": "0",
            "shifts-0-label": "Morning",
            "shifts-0-starts_at": f"{day}T09:00",
            "shifts-0-ends_at": f"{day}T12:00",
            "shifts-0-capacity": "4",
            "shifts-1-label": "Afternoon",
            "shifts-1-starts_at": f"{day}T13:00",
            "shifts-1-ends_at": f"{day}T11:00",
            "questions-TOTAL_FORMS": "0",
            "questions-INITIAL_FORMS": "0",
        },
    )
    bad = organiser_client.post(url, data)
    assert bad.status_code == 400
    assert "The shift must end after it starts." in bad.content.decode()
    assert not Shift.objects.exists()
    data["shifts-1-ends_at"] = f"{day}T16:00"
    assert organiser_client.post(url, data).status_code == 302
    assert sorted(Shift.objects.values_list("label", "capacity")) == [
        ("Afternoon", None),
        ("Morning", 4),
    ]
    morning = Shift.objects.get(label="Morning")
    afternoon = Shift.objects.get(label="Afternoon")
    removal = event_form(
        area=areas.leeds_central.pk,
        **{
            "shifts-TOTAL_FORMS": "2",
            "shifts-INITIAL_FORMS": "2",
            "shifts-0-id": str(afternoon.pk),
            "shifts-0-label": "Afternoon",
            "shifts-0-starts_at": f"{day}T13:00",
            "shifts-0-ends_at": f"{day}T16:00",
            "shifts-0-DELETE": "on",
            "shifts-1-id": str(morning.pk),
            "shifts-1-label": "Morning",
            "shifts-1-starts_at": f"{day}T09:00",
            "shifts-1-ends_at": f"{day}T12:00",
            "shifts-1-capacity": "6",
        },
    )
    assert organiser_client.post(url, removal).status_code == 302
    assert list(Shift.objects.values_list("label", "capacity")) == [("Morning", 6)]


def test_staff_cannot_edit_another_events_shift(organiser_client, areas):
    event = make_event(area=areas.leeds_central)
    south = make_event(area=areas.bristol_east, postcode="BS5 6XX", title="South rota")
    [south_shift] = add_shifts(south, 3)
    url = reverse("events_staff:edit", kwargs={"pk": event.pk})
    data = event_form(
        area=areas.leeds_central.pk,
        **{
            "shifts-TOTAL_FORMS": "1",
            "shifts-INITIAL_FORMS": "1",
            "shifts-0-id": str(south_shift.pk),
            "shifts-0-label": "Hijacked",
            "shifts-0-starts_at": "2030-01-01T09:00",
            "shifts-0-ends_at": "2030-01-01T10:00",
        },
    )
    organiser_client.post(url, data)
    south_shift.refresh_from_db()
    assert (south_shift.label, south_shift.event) == ("Shift 1", south)
    assert not Shift.objects.filter(label="Hijacked").exclude(event=event).exists()


def test_host_and_staff_lists_show_each_persons_shifts(client, organiser_client, areas):
    event = make_event(area=areas.leeds_central, host_person=None)
    [morning] = add_shifts(event, 5, label="Morning")
    from clarion.core.testing import factories

    host = factories.person(postcode=areas.postcodes["north"], first_name="Hal")
    event.host_person = host
    event.save()
    rsvp_create(
        event=event,
        data=RsvpInput(
            email="nora@example.net", first_name="Nora", postcode="LS1 4AP", shift_ids=[morning.pk]
        ),
    )
    staff = organiser_client.get(reverse("events_staff:detail", kwargs={"pk": event.pk}))
    html = staff.content.decode()
    assert "Shifts and answers" in html and "Morning" in html and "1 / 5" in html
    token = host_token(event)
    host_page = client.get(reverse("events:host", kwargs={"pk": event.pk, "token": token}))
    assert "Morning" in host_page.content.decode() and "Nora" in host_page.content.decode()


def test_calendar_file_has_the_chosen_shifts_times(client, shifted):
    event, (first, second) = shifted
    rsvp = rsvp_create(
        event=event, data=RsvpInput(email="a@example.net", shift_ids=[second.pk])
    ).rsvp
    url = reverse("events:manage_ics", kwargs={"pk": event.pk, "token": manage_token(rsvp)})
    response = client.get(url)
    assert response["Content-Type"].startswith("text/calendar")
    text = response.content.decode()
    assert f"DTSTART:{second.starts_at.astimezone(datetime.UTC):%Y%m%dT%H%M%SZ}" in text
    assert f"DTSTART:{first.starts_at.astimezone(datetime.UTC):%Y%m%dT%H%M%SZ}" not in text
    assert "SUMMARY:Leafleting rota: Shift 2" in text
    forged = reverse("events:manage_ics", kwargs={"pk": event.pk, "token": "forged"})
    assert client.get(forged).status_code == 404


def test_staff_create_an_event_with_shifts(organiser_client, areas):
    data = event_form(
        area=areas.leeds_central.pk,
        **{
            "shifts-TOTAL_FORMS": "2",
            "shifts-INITIAL_FORMS": "0",
            "shifts-0-label": "Setup",
            "shifts-0-starts_at": "2030-06-01T09:00",
            "shifts-0-ends_at": "2030-06-01T10:00",
            "shifts-0-capacity": "3",
            "questions-TOTAL_FORMS": "2",
            "questions-INITIAL_FORMS": "0",
            # What a browser sends for the blank question rows.
            "questions-0-position": "0",
            "questions-1-position": "0",
        },
    )
    response = organiser_client.post("/staff/events/new/", data)
    assert response.status_code == 302
    [shift] = Shift.objects.all()
    assert (shift.event.title, shift.label, shift.capacity) == ("Saturday canvass", "Setup", 3)
    page = organiser_client.get(response["Location"]).content.decode()
    assert "Setup" in page and "0 / 3" in page
