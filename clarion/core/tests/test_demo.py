"""``clarion load_demo``: what `make run` shows a new user."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from clarion.actions.models import ActionPage, Submission
from clarion.areas.models import Area
from clarion.core.models import DemoMail, User
from clarion.donations.models import Donation
from clarion.engagement.models import EngagementScore
from clarion.events.models import Event, Rsvp
from clarion.mailings.models import Recipient
from clarion.members.models import MembershipType
from clarion.people.models import Activity
from clarion.reports.dashboard import engagement_movers
from clarion.reports.funnel import STAGES, Period, funnel_figures

pytestmark = pytest.mark.django_db


def test_demo_loads_once_with_pages_events_and_group_pages():
    call_command("load_demo", people=40)
    assert User.objects.filter(email="admin@example.org", role=User.Role.ADMIN).exists()
    assert set(ActionPage.objects.values_list("kind", flat=True)) >= {
        "petition",
        "donation",
        "letter",
    }
    # Upcoming ones; the past ones are the demo's history (the last test).
    events = Event.objects.filter(status=Event.Status.PUBLISHED, starts_at__gt=timezone.now())
    assert events.count() == 6 and all(e.area_id and e.latitude for e in events)
    canvass = events.get(title="Saturday doorstep in Leeds Central")
    assert canvass.shifts.count() == 2 and canvass.questions.count() == 1
    north = Area.objects.get(code="R-N")
    assert "every Saturday" in north.get_involved

    client = Client()
    found = client.get("/events/", {"postcode": "LS1 6FR"}).content.decode()
    assert "Saturday doorstep in Leeds Central" in found
    group = client.get(f"/groups/{north.pk}/").content.decode()
    assert "Saturday doorstep in Leeds Central" in group and "every Saturday" in group

    # The Join page offers the demo's membership types.
    join = client.get("/members/join/").content.decode()
    assert "Standard" in join and "Reduced" in join and "Annual" in join

    # Members have volunteering choices to tick.
    from clarion.people.volunteering import volunteer_choices

    offered = {vlist.key: len(tags) for vlist, tags in volunteer_choices()}
    assert offered == {"skill": 5, "interest": 4, "availability": 3}

    # Some people are members, a few in arrears or lapsed, for the membership pages.
    from clarion.members.models import Membership

    by_status = {
        status: Membership.objects.filter(status=status).count()
        for status in ("active", "grace", "lapsed")
    }
    assert by_status["active"] > 0 and by_status["grace"] > 0 and by_status["lapsed"] > 0
    staff = Client()
    staff.force_login(User.objects.get(email="admin@example.org"))
    report = staff.get("/staff/members/").content.decode()
    assert "Nobody is in arrears." not in report
    members_before = Membership.objects.count()

    call_command("load_demo", people=40)  # a second run changes nothing
    assert Membership.objects.count() == members_before
    assert Event.objects.filter(starts_at__gt=timezone.now()).count() == 6
    assert MembershipType.objects.count() == 3
    assert sum(len(tags) for _vlist, tags in volunteer_choices()) == 12


def test_demo_organiser_can_email_everyone_from_an_allowed_address():
    from clarion.mailings.models import Mailing

    call_command("load_demo", people=40)
    north = Area.objects.get(code="R-N")
    client = Client()
    assert client.login(email="north@example.org", password="clarion-demo")
    composer = client.post("/staff/dashboard/email-area/", {"area": north.pk}, follow=True)
    html = composer.content.decode()
    assert "No from address yet" not in html
    options = re.findall(r'<option value="([^"]+@demo\.example\.org)"', html)
    assert options == ["hello@demo.example.org", "north@demo.example.org"]
    segment = re.search(r'<option value="(\d+)" selected', html).group(1)
    saved = client.post(
        composer.redirect_chain[-1][0],
        {
            "name": "Saturday",
            "category": "news",
            "segment": segment,
            "subject": "See you Saturday",
            "from_name": "The North team",
            "from_email": "north@demo.example.org",
            "body_format": "markdown",
            "body": "Dear {{ first_name }}",
            "ab_variants": 1,
            "ab_test_percent": 10,
            "ab_wait_minutes": 240,
            "ab_metric": "clicks",
            "frequency_cap_hours": 0,
            "rate_per_second": 0,
        },
    )
    assert saved.status_code == 302, saved.content.decode()
    assert Mailing.objects.get(name="Saturday").from_email == "north@demo.example.org"


def _history_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Event, Rsvp, Submission, Donation, Activity, EngagementScore)
    }


def test_demo_history_fills_every_funnel_stage_and_the_rising_list_in_the_north(
    django_capture_on_commit_callbacks,
):
    # On-commit callbacks run as in production, so a task queued after commit shows.
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo", people=40)
    north = User.objects.get(email="north@example.org")
    today = timezone.localdate()
    year = Period(today - dt.timedelta(days=365), today)
    stages = {s.key: s.count for s in funnel_figures(north, None, year).stages}
    assert set(stages) == set(STAGES) and all(stages.values()), stages

    north_area = Area.objects.get(code="R-N")
    scored = EngagementScore.objects.filter(person__area__path__startswith=north_area.path)
    assert scored.filter(total__gt=0).exists()
    rising = engagement_movers(north, None)["rising"]
    assert rising
    client = Client()
    assert client.login(email="north@example.org", password="clarion-demo")
    dashboard = client.get("/staff/dashboard/").content.decode()
    assert rising[0]["name"] in dashboard

    # Every backdated row agrees with its timeline entry, and nothing was sent.
    rsvp = Rsvp.objects.filter(attendance=Rsvp.Attendance.ATTENDED).first()
    checked_in = Activity.objects.get(data__rsvp=rsvp.pk, data__attendance="attended")
    assert checked_in.created_at == rsvp.checked_in_at < timezone.now()
    assert not DBTaskResult.objects.exists()
    assert not mail.outbox and not DemoMail.objects.exists() and not Recipient.objects.exists()

    before = _history_counts()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo", people=40)
    assert _history_counts() == before
    assert not DBTaskResult.objects.exists() and not mail.outbox
