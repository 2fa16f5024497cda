"""Membership triggers: became a member and membership lapsed (timeline entries that
``people.services.person_membership_set`` writes), and membership renews in N days
(on the clock, with a renewal-date cursor)."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from clarion.core.testing import factories
from clarion.journeys import engine, services, triggers
from clarion.journeys.models import Enrolment, Journey
from clarion.people.models import Activity, MembershipStatus
from clarion.people.services import activity_record, person_membership_set

from .conftest import make_journey

pytestmark = pytest.mark.django_db

END = [{"key": "end", "type": "end"}]
DAY = datetime.timedelta(days=1)


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def enrolled(journey) -> list[str]:
    return sorted(Enrolment.objects.filter(journey=journey).values_list("person__email", flat=True))


def member(person, status=MembershipStatus.ACTIVE, renews_on=None, number="1"):
    return person_membership_set(
        person=person,
        status=status,
        number=number,
        joined_on=datetime.date(2025, 1, 1),
        renews_on=renews_on,
    )


# --- became a member, lapsed ------------------------------------------------------------


def test_becoming_an_active_member_enters_the_journey(admin, north_person, south_person, capture):
    joined = make_journey(admin, END, trigger="became_member", trigger_config={})
    lapsed = make_journey(admin, END, trigger="membership_lapsed", trigger_config={}, name="L")
    with capture():
        member(north_person, renews_on=datetime.date(2027, 1, 1))
    assert enrolled(joined) == ["nora@example.net"]
    assert enrolled(lapsed) == []
    source = Enrolment.objects.get(journey=joined).source
    entry = Activity.objects.get(pk=source["activity"])
    assert entry.kind == Activity.Kind.MEMBERSHIP
    assert "membership_status" in entry.data["fields"]


def test_a_renewal_is_not_becoming_a_member(admin, north_person, capture):
    member(north_person, renews_on=datetime.date(2027, 1, 1))  # before the journey
    journey = make_journey(admin, END, trigger="became_member", trigger_config={})
    with capture():
        # Renewed: a later date, the status unchanged.
        changed = member(north_person, renews_on=datetime.date(2028, 1, 1))
    assert changed == ["renews_on"]
    assert enrolled(journey) == []


def test_a_lapse_enters_the_lapsed_journey_and_rejoining_the_member_one(
    admin, north_person, capture
):
    member(north_person, renews_on=datetime.date(2026, 1, 1))
    joined = make_journey(admin, END, trigger="became_member", trigger_config={})
    lapsed = make_journey(admin, END, trigger="membership_lapsed", trigger_config={}, name="L")
    with capture():
        member(north_person, status=MembershipStatus.LAPSED, renews_on=datetime.date(2026, 1, 1))
    assert (enrolled(joined), enrolled(lapsed)) == ([], ["nora@example.net"])
    with capture():
        member(north_person, renews_on=datetime.date(2027, 1, 1))
    assert enrolled(joined) == ["nora@example.net"]


def test_a_staff_edit_of_the_status_counts_like_the_members_app(admin, north_person):
    became = triggers.trigger_type("became_member")
    lapsed = triggers.trigger_type("membership_lapsed")

    def entry(fields, status):
        return activity_record(
            person=north_person,
            kind=Activity.Kind.MEMBERSHIP,
            summary="Membership",
            data={"fields": fields, "status": status},
        )

    assert became.matches(entry(["membership_status"], "active"), {})
    assert not became.matches(entry(["renews_on", "joined_on"], "active"), {})
    assert not became.matches(entry(["membership_status"], "none"), {})
    assert lapsed.matches(entry(["membership_status", "renews_on"], "lapsed"), {})
    assert not lapsed.matches(entry(["membership_number"], "lapsed"), {})
    assert not became.matches(entry(None, "active"), {})


# --- renews in N days -------------------------------------------------------------------


def _members(renewals: dict[str, tuple[str, datetime.date]]) -> None:
    for number, (email, (status, renews_on)) in enumerate(renewals.items(), start=1):
        person = factories.person(email=email)
        member(person, status=status, renews_on=renews_on, number=str(number))


def test_renews_in_n_days_enters_each_active_member_once_per_renewal_date(admin):
    now = timezone.now()
    today = timezone.localdate(now)
    active, lapsed = MembershipStatus.ACTIVE, MembershipStatus.LAPSED
    _members(
        {
            "due@example.net": (active, today + 30 * DAY),
            "yesterdays@example.net": (active, today + 29 * DAY),  # before publication
            "lapsed@example.net": (lapsed, today + 30 * DAY),
            "tomorrows@example.net": (active, today + 31 * DAY),
            "far@example.net": (active, today + 60 * DAY),
        }
    )
    journey = make_journey(
        admin, END, trigger="renews_soon", trigger_config={"days": 30}, reentry_allowed=True
    )
    assert triggers.poll_all(now=now) == 1
    assert enrolled(journey) == ["due@example.net"]
    source = Enrolment.objects.get(journey=journey).source
    assert source == {"trigger": "renews_soon", "renews_on": (today + 30 * DAY).isoformat()}
    # They finish; re-entry is allowed, yet the same renewal date does not enter them
    # again, however often the clock runs.
    engine.advance_due()
    assert Enrolment.objects.get(journey=journey).state == Enrolment.State.COMPLETED
    assert triggers.poll_all(now=now) == 0
    # Later the same day (in the organisation's time zone): a later hour that crosses
    # midnight would be the next day, whose renewal dates are new.
    later_today = timezone.localtime(now).replace(hour=23, minute=59, second=0, microsecond=0)
    assert triggers.poll_all(now=max(now, later_today)) == 0
    assert Enrolment.objects.filter(journey=journey).count() == 1
    journey.refresh_from_db()
    assert journey.trigger_state["renews_until"] == (today + 30 * DAY).isoformat()

    assert triggers.poll_all(now=now + DAY) == 1
    assert enrolled(journey) == ["due@example.net", "tomorrows@example.net"]


def test_a_renewed_member_enters_again_at_the_next_renewal_date(admin):
    now = timezone.now()
    today = timezone.localdate(now)
    person = factories.person(email="ren@example.net")
    member(person, renews_on=today + 7 * DAY)
    journey = make_journey(
        admin, END, trigger="renews_soon", trigger_config={"days": 7}, reentry_allowed=True
    )
    assert triggers.poll_all(now=now) == 1
    engine.advance_due()
    # They renew for a year: the new date is considered when it is seven days away.
    member(person, renews_on=today + 7 * DAY + datetime.timedelta(days=365))
    assert triggers.poll_all(now=now + 300 * DAY) == 0
    assert triggers.poll_all(now=now + 365 * DAY) == 1
    assert Enrolment.objects.filter(journey=journey).count() == 2


def test_after_the_clock_stopped_passed_renewal_dates_enter_nobody(admin):
    now = timezone.now()
    today = timezone.localdate(now)
    _members(
        {
            "passed@example.net": (MembershipStatus.ACTIVE, today + 35 * DAY),
            "coming@example.net": (MembershipStatus.ACTIVE, today + 45 * DAY),
        }
    )
    journey = make_journey(admin, END, trigger="renews_soon", trigger_config={"days": 10})
    assert triggers.poll_all(now=now) == 0
    # The next check is forty days on: the first date has passed, the second is near.
    assert triggers.poll_all(now=now + 40 * DAY) == 1
    assert enrolled(journey) == ["coming@example.net"]


@pytest.mark.parametrize("config", [{}, {"days": 0}, {"days": 91}, {"days": "soon"}])
def test_renews_in_n_days_needs_a_number_of_days_from_1_to_90(admin, config):
    with pytest.raises(ValidationError) as exc:
        make_journey(admin, END, trigger="renews_soon", trigger_config=config)
    assert "Days before the renewal date" in " ".join(exc.value.messages)
    assert not Journey.objects.exists()


def test_membership_triggers_are_registered():
    names = {t.name for t in triggers.trigger_types()}
    assert {"became_member", "membership_lapsed", "renews_soon"} <= names
    assert "renews_soon" in triggers.scheduled_types()
    assert set(triggers.types_for_kind(Activity.Kind.MEMBERSHIP)) == {
        "became_member",
        "membership_lapsed",
    }


def test_membership_entries_cost_no_query_when_no_journey_listens(
    admin, north_person, django_assert_num_queries
):
    # Published journeys listen to tags only; the membership ones are drafts.
    make_journey(admin, END, trigger_config={"tag": "a"})
    make_journey(admin, END, trigger="became_member", trigger_config={}, publish=False)
    make_journey(
        admin, END, trigger="renews_soon", trigger_config={"days": 30}, publish=False, name="R"
    )
    member(north_person, renews_on=timezone.localdate() + 30 * DAY)
    entry = Activity.objects.filter(kind=Activity.Kind.MEMBERSHIP).latest("pk")
    triggers.listener(entry)  # learns what is listened to
    with django_assert_num_queries(0):
        for _ in range(3):
            triggers.listener(entry)
        assert triggers.poll_all() == 0
    assert not Enrolment.objects.exists()


def test_a_paused_renewal_journey_enters_nobody(admin):
    now = timezone.now()
    _members({"due@example.net": (MembershipStatus.ACTIVE, timezone.localdate(now) + 5 * DAY)})
    journey = make_journey(admin, END, trigger="renews_soon", trigger_config={"days": 5})
    services.journey_set_status(journey=journey, actor=admin, move="pause")
    assert triggers.poll_all(now=now) == 0
    assert enrolled(journey) == []


def test_the_journeys_page_names_its_trigger(admin_client, admin):
    renewing = make_journey(admin, END, trigger="renews_soon", trigger_config={"days": 14})
    lapsed = make_journey(admin, END, trigger="membership_lapsed", trigger_config={}, name="L")
    tagged = make_journey(admin, END, trigger_config={"tag": "new <b>supporter</b>"}, name="T")
    page = admin_client.get(f"/staff/journeys/{renewing.pk}/").content.decode()
    assert "Membership renews in 14 days" in page
    page = admin_client.get(f"/staff/journeys/{lapsed.pk}/").content.decode()
    assert "Membership lapsed" in page
    page = admin_client.get(f"/staff/journeys/{tagged.pk}/").content.decode()
    assert "Tag added (Tag: new &lt;b&gt;supporter&lt;/b&gt;)" in page
