"""An event from proposal to canvass results, end to end in headless Chromium:

a member proposes a canvass, the area organiser approves it, two supporters find it by
postcode and RSVP (capacity 1: the second is waitlisted), the first cancels through the
link in their email and the second is promoted and told (real SMTP on loopback),
reminders go out once however often the reminder command runs, the host checks the
promoted supporter in on a phone-sized screen through the emailed host link and records
canvass results there, the person pages show it all to the organiser, and
the organiser dashboard shows the North's figures only.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.core.management import call_command
from django.utils import timezone

from clarion.core.testing import factories
from clarion.core.testing.browser import login
from clarion.core.testing.factories import PASSWORD
from clarion.events.models import Event, Rsvp
from clarion.events.services import RsvpInput, event_save, rsvp_create
from clarion.people.models import Person

PHONE = {"width": 390, "height": 844}


def run_worker() -> None:
    call_command("worker", "--batch")


def link_in(message, pattern: str, base: str) -> str:
    """The first link matching ``pattern`` in an email, pointed at the test server."""
    from clarion.core.testing.smtp import body_text

    url = re.search(r"https?://[^\s\"'<>]+" + pattern + r"[^\s\"'<>]*", body_text(message)).group(0)
    path = re.sub(r"^https?://[^/]+", "", url)
    return base + path


def stat(page, name: str) -> int:
    return int(page.locator(f'[data-stat="{name}"]').first.inner_text().replace(",", ""))


def _south_and_past_world(areas) -> None:
    """What the North organiser must not count: South supporters, a South member, an
    upcoming South event, and a South no-show; plus one North no-show who must count."""
    for n in range(3):
        factories.person(postcode="BS5 6XX", last_name=f"Southerly{n}")
    Person.objects.filter(last_name="Southerly0").update(
        membership_status="active", joined_on=timezone.localdate()
    )
    soon = timezone.now() + datetime.timedelta(days=2)
    south_event = event_save(
        event=Event(
            title="Easton doorstep",
            kind=Event.Kind.CANVASS,
            area=areas.bristol_east,
            postcode="BS5 6XX",
            starts_at=soon,
            ends_at=soon + datetime.timedelta(hours=2),
            capacity=5,
        )
    )
    rsvp_create(event=south_event, data=RsvpInput(email="s1@example.net", postcode="BS5 6XX"))
    past_events = []
    for title, area, postcode, email in (
        ("Last month in Easton", areas.bristol_east, "BS5 6XX", "noshow.south@example.net"),
        ("Last month in City Ward", areas.leeds_central, "LS1 4AP", "noshow.north@example.net"),
    ):
        event = event_save(
            event=Event(
                title=title,
                kind=Event.Kind.MEETING,
                area=area,
                postcode=postcode,
                starts_at=soon,
                ends_at=soon + datetime.timedelta(hours=1),
            )
        )
        rsvp_create(event=event, data=RsvpInput(email=email, postcode=postcode))
        past_events.append(event.pk)
    past = timezone.now() - datetime.timedelta(days=30)
    Event.objects.filter(pk__in=past_events).update(
        starts_at=past, ends_at=past + datetime.timedelta(hours=1)
    )


@pytest.mark.browser
def test_a_canvass_goes_from_proposal_to_rsvps_reminders_check_in_and_results(
    page, browser, live_server, areas, organiser, south_organiser, smtp_server
):
    base = live_server.url
    _south_and_past_world(areas)
    run_worker()  # the set-up RSVPs' confirmations
    with smtp_server.lock:
        smtp_server.messages.clear()
    member = factories.person(
        postcode="LS1 4AP", first_name="Mo", last_name="Member", email="mo@example.net"
    )
    Person.objects.filter(pk=member.pk).update(
        membership_status="active", joined_on=timezone.localdate()
    )
    factories.person(
        postcode="LS1 4AP", first_name="Cal", last_name="Doorstep", email="cal@example.net"
    )

    # 1. A member proposes a canvass.
    start = timezone.localtime(timezone.now() + datetime.timedelta(days=3)).replace(
        second=0, microsecond=0
    )
    page.goto(f"{base}/events/propose/")
    page.locator("#id_kind").select_option("canvass")
    page.locator("#id_title").fill("Saturday doorstep in City Ward")
    page.locator("#id_description").fill("Meet at the **library** steps.")
    page.locator("#id_venue").fill("Central Library")
    page.locator("#id_postcode").fill("LS1 4AP")
    page.locator("#id_starts_at").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.locator("#id_ends_at").fill(
        (start + datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    )
    page.locator("#id_capacity").fill("1")
    page.locator("#id_host_first_name").fill("Mo")
    page.locator("#id_host_email").fill("mo@example.net")
    page.get_by_role("button", name="Propose my event").click()
    page.wait_for_load_state()
    assert "An organiser will look at it soon" in page.content()
    event = Event.objects.get(title="Saturday doorstep in City Ward")
    assert event.status == Event.Status.PROPOSED and event.area == areas.leeds_central
    assert event.host_person_id == member.pk

    # 2. The area organiser approves it; the host gets their link by email.
    login(page, base, organiser.email, PASSWORD)
    page.goto(f"{base}/staff/events/approvals/")
    page.locator("section", has_text="Saturday doorstep in City Ward").get_by_role(
        "button", name="Approve"
    ).click()
    page.wait_for_load_state()
    assert "Nothing is waiting for approval." in page.content()
    run_worker()
    [host_mail] = smtp_server.wait_for(1)
    assert host_mail.envelope_to == ["mo@example.net"]
    host_link = link_in(host_mail, r"/events/\d+/host/", base)

    # 3. Two supporters find it by postcode and RSVP; the second is waitlisted.
    def find_and_rsvp(first_name: str, email: str, button: str):
        supporter = browser.new_context().new_page()
        supporter.set_default_timeout(10_000)
        supporter.goto(f"{base}/events/")
        supporter.get_by_label("Your postcode").fill("ls2 7ey")
        supporter.get_by_role("button", name="Search").click()
        supporter.wait_for_url("**/events/?postcode=*")
        assert "1 event near LS2 7EY" in supporter.content()
        assert "Easton doorstep" not in supporter.content()
        supporter.get_by_role("link", name="Saturday doorstep in City Ward").click()
        supporter.get_by_role("textbox", name="First name").fill(first_name)
        supporter.get_by_role("textbox", name="Email").fill(email)
        supporter.get_by_role("textbox", name="Postcode").fill("LS2 7EY")
        supporter.get_by_role("button", name=button).click()
        supporter.wait_for_url("**/rsvp/**")
        return supporter

    ada = find_and_rsvp("Ada", "ada@example.net", "RSVP")
    assert "Ada, you're going." in ada.locator(".event-status").inner_text()
    bea = find_and_rsvp("Bea", "bea@example.net", "Join the waiting list")
    assert "waiting list" in bea.locator(".event-status").inner_text()
    bea_manage = bea.url
    run_worker()
    smtp_server.wait_for(3)
    [ada_confirm] = smtp_server.to("ada@example.net")
    assert "You’re going: Saturday doorstep in City Ward" in ada_confirm["Subject"]
    [bea_waitlist] = smtp_server.to("bea@example.net")
    assert "waiting list" in bea_waitlist["Subject"]

    # 4. Ada cancels through the link in her email; Bea is promoted and told.
    ada.goto(link_in(ada_confirm, r"/events/\d+/rsvp/", base))
    ada.get_by_role("button", name="Cancel my RSVP").click()
    ada.get_by_role("button", name="Yes, cancel my RSVP").click()
    ada.wait_for_load_state()
    assert "Your RSVP is cancelled." in ada.content()
    ada.context.close()
    run_worker()
    smtp_server.wait_for(4)
    promoted = [m for m in smtp_server.to("bea@example.net") if "A place came free" in m["Subject"]]
    assert len(promoted) == 1
    bea.goto(bea_manage)
    assert "Bea, you're going." in bea.locator(".event-status").inner_text()
    bea.context.close()

    # 5. Reminders: the day-before reminder is due; running the command twice sends it once.
    soon = timezone.now() + datetime.timedelta(hours=20)
    Event.objects.filter(pk=event.pk).update(
        starts_at=soon, ends_at=soon + datetime.timedelta(hours=2)
    )
    for _ in range(2):
        call_command("send_event_reminders")
        run_worker()
    reminders = [
        m for m in smtp_server.messages if m["Subject"].startswith("Reminder: Saturday doorstep")
    ]
    assert [m.envelope_to for m in reminders] == [["bea@example.net"]]

    # 6. The host checks Bea in on a phone, through the emailed host link.
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    phone.set_default_timeout(10_000)
    phone.goto(host_link)
    assert "Host tools" in phone.content()
    assert phone.locator(".checkin-row", has_text="Ada").count() == 0  # cancelled
    phone.locator(".checkin-row", has_text="Bea").get_by_role("button", name="Attended").click()
    phone.wait_for_load_state()
    assert (
        "Attended"
        in phone.locator(".checkin-row", has_text="Bea").locator(".badge").all_inner_texts()
    )
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.context.close()
    assert (
        Rsvp.objects.get(event=event, person__email="bea@example.net").attendance
        == Rsvp.Attendance.ATTENDED
    )

    # 7. The host records canvass results on the phone, through the same host link:
    # the contact is named by what they said on the doorstep; nothing stored is shown.
    canvasser = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    canvasser.set_default_timeout(10_000)
    canvasser.goto(host_link)
    canvasser.get_by_role("link", name="Record canvass results").click()
    canvasser.get_by_label("First name").fill("Cal")
    canvasser.get_by_label("Email").fill("cal@example.net")
    canvasser.get_by_label("Spoke").check()
    canvasser.get_by_label("Support (1 = strongly against, 5 = strongly for)").select_option("4")
    canvasser.get_by_role("button", name="Save result").click()
    canvasser.wait_for_load_state()
    assert "Result recorded" in canvasser.content() and "1 contact" in canvasser.content()
    assert "Doorstep" not in canvasser.content()  # Cal's stored surname stays private
    assert canvasser.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    canvasser.context.close()

    # 8. The person pages show it all to the organiser.
    def person_page(email: str) -> str:
        person = Person.objects.get(email=email)
        page.goto(f"{base}/staff/people/{person.pk}/")
        return page.locator("main").inner_text()

    title = "“Saturday doorstep in City Ward”"
    bea_page = person_page("bea@example.net")
    assert f"Joined the waiting list for {title}" in bea_page
    assert f"Got a place at {title} from the waiting list" in bea_page
    assert f"Attended {title}" in bea_page
    ada_page = person_page("ada@example.net")
    assert f"RSVP'd to {title}" in ada_page and f"Cancelled their RSVP to {title}" in ada_page
    assert f"Canvassed at {title}: Spoke · support 4/5" in person_page("cal@example.net")
    assert f"Proposed an event: {title}" in person_page("mo@example.net")

    # 9. The organiser dashboard shows the North's figures, and none of the South's.
    page.goto(f"{base}/staff/dashboard/")
    # Mo, Cal, Ada, Bea and the North no-show joined this week; Mo became a member.
    assert stat(page, "new-supporters") == 5
    assert stat(page, "new-members") == 1
    assert stat(page, "never-attended") == 1
    row = page.locator(f'tr[data-event="{event.pk}"]')
    assert row.locator('[data-stat="going"]').inner_text() == "1"
    assert row.locator('[data-stat="waitlisted"]').inner_text() == "0"
    assert "Easton doorstep" not in page.content()
    page.get_by_role("link", name="See who").click()
    assert "noshow.north@example.net" in page.content()
    assert "noshow.south" not in page.content()
    assert page.locator("tbody tr").count() == 1

    south = browser.new_context().new_page()
    south.set_default_timeout(10_000)
    login(south, base, south_organiser.email, PASSWORD)
    south.goto(f"{base}/staff/dashboard/")
    assert stat(south, "new-supporters") == 3 + 2  # three supporters, s1 and the South no-show
    assert stat(south, "new-members") == 1
    assert stat(south, "never-attended") == 1
    assert (
        "Easton doorstep" in south.content()
        and "Saturday doorstep in City Ward" not in south.content()
    )
    south.context.close()
