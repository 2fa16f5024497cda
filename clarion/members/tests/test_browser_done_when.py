"""The members' home from end to end, as people use it, in headless Chromium at phone
and desktop width (axe-core clean), with real SMTP on loopback and GoCardless stood in
for on loopback:

a new supporter joins as a monthly member by Direct Debit; signs in with the link the
email brings; subscribes to email; moves house into another area (the new area's
organiser reaches them, the old one's no longer does, and the audit log shows the
move); RSVPs to a local event and finds it under My events. Then, with the clock moved
on, a collection fails (a signed GoCardless webhook to the webhook URL): grace, then
the ``members.lifecycle`` job of ``clarion clock`` lapses them and exactly one win-back
email goes out however often it runs; the staff membership report counts the join and
the lapse.

Beside it: a spent link and a link opened after 15 minutes are refused; an unknown
address gets the same page, byte for byte, as a known one; and a member's session never
shows or changes another member's records on any members' URL."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import urllib.request
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from freezegun import freeze_time

from clarion.core import schedule
from clarion.core.models import User
from clarion.core.testing import factories
from clarion.core.testing.browser import AXE, DESKTOP, PHONE, check_page, login
from clarion.core.testing.smtp import body_text
from clarion.events.models import Event, Rsvp
from clarion.events.services import RsvpInput, event_save, rsvp_create
from clarion.members.membership import membership_join
from clarion.members.models import (
    MemberSession,
    Membership,
    MembershipChange,
    MembershipType,
    SignInLink,
)
from clarion.members.payments.views import RETURN_SALT
from clarion.members.services import (
    member_card_get_or_create,
    member_card_token,
    secret_hash,
    signin_link_create,
)
from clarion.people.models import ConsentRecord, EmailStatus, Person, ProposedChange
from clarion.people.services import person_upsert

from .conftest import sign_in
from .gocardless_fake import FakeGoCardless

SECRET = "gc_webhook_secret_done_when"
WEBHOOK = "/members/join/webhooks/gocardless/"
EMAIL = "ada.join@example.net"


@pytest.fixture
def monthly(db):
    return MembershipType.objects.create(name="Standard", rate_pence=500, period="monthly", order=1)


@pytest.fixture
def fake_gc(settings):
    with FakeGoCardless() as fake:
        settings.CLARION_GOCARDLESS_ACCESS_TOKEN = fake.access_token
        settings.CLARION_GOCARDLESS_API_BASE = fake.url
        settings.CLARION_GOCARDLESS_WEBHOOK_SECRET = SECRET
        yield fake


@pytest.fixture
def mail_settings(settings):
    settings.CLARION_MAILINGS_VERP_DOMAIN = "bounces.example.org"
    settings.CLARION_MAILINGS_SENDERS = 1
    settings.DEFAULT_FROM_EMAIL = "Clarion HQ <hq@clarion.example.org>"
    settings.CLARION_MEMBERSHIP_GRACE_DAYS = 14
    return settings


def _context(browser, size=PHONE):
    assert AXE.exists(), "run `npm ci` at the repository root to install axe-core"
    context = browser.new_context(viewport=size, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page


def _look(page, name: str) -> None:
    """The page as it stands, at phone then desktop width: fits, axe-clean, and kept
    as F-<name>-<width>.png when CLARION_SCREENSHOTS names a folder."""
    start = page.viewport_size
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        check_page(page, f"F-{name}")
    page.set_viewport_size(start)


def _work() -> None:
    """What the task workers do: run everything queued, and what that queues, until
    nothing is ready."""
    for _round in range(6):
        call_command("worker", "--batch")
        if not DBTaskResult.objects.ready().exists():
            return
    raise AssertionError("tasks kept queueing more tasks")


def _webhook(base_url: str, events: list[dict]) -> dict:
    """POST ``events`` to the webhook URL, signed as GoCardless signs (hex HMAC-SHA256
    of the raw body with the endpoint's secret in Webhook-Signature)."""
    body = json.dumps({"events": events, "meta": {"webhook_id": "WB000001"}}).encode()
    request = urllib.request.Request(
        base_url + WEBHOOK,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Webhook-Signature": hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return json.loads(response.read())


def _event(event_id: str, action: str, payment: str, at: dt.datetime, cause: str = "") -> dict:
    return {
        "id": event_id,
        "created_at": at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "resource_type": "payments",
        "action": action,
        "links": {"payment": payment},
        "details": {"origin": "bank", "cause": cause or action, "description": "."},
        "metadata": {},
    }


def _link_path(message) -> str:
    link = re.search(r"https?://\S+/members/sign-in/\S+/", body_text(message)).group(0)
    return urlsplit(link).path


def _clock(monkeypatch, when: dt.datetime) -> None:
    """What ``clarion clock`` does for the ``members.lifecycle`` job at ``when``
    (``schedule.run_due``: claim the period, enqueue the task), then the workers,
    with the whole process's clock at ``when``."""
    job = schedule._registry["members.lifecycle"]
    monkeypatch.setattr(schedule, "jobs", lambda: [job])
    with freeze_time(when, tick=True, real_asyncio=True):
        assert schedule.run_due(claimer="done-when") == ["members.lifecycle"]
        _work()


def _nine_am(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime(day.year, day.month, day.day, 9))


@pytest.mark.browser
def test_a_supporter_joins_signs_in_moves_goes_to_an_event_and_lapses(
    browser, live_server, areas, monthly, fake_gc, mail_settings, smtp_server, monkeypatch
):
    mail_settings.SITE_URL = live_server.url
    north = factories.staff_user(
        role=User.Role.ORGANISER, area=areas.north, email="north@example.org"
    )
    south = factories.staff_user(
        role=User.Role.ORGANISER, area=areas.south, email="south@example.org"
    )
    admin = factories.staff_user(role=User.Role.ADMIN, email="admin@example.org")
    start = (timezone.now() + dt.timedelta(days=4)).replace(hour=19, minute=0, microsecond=0)
    meeting = event_save(
        event=Event(
            area=areas.bristol_east,
            postcode=areas.postcodes["south2"],
            title="Easton Ward meeting",
            kind=Event.Kind.MEETING,
            venue="Easton Community Centre",
            starts_at=start,
            ends_at=start + dt.timedelta(hours=2),
        )
    )
    context, page = _context(browser)
    # GoCardless's hosted pages: the browser lands there; the stand-in plays the payer.
    context.route(
        "https://pay-sandbox.gocardless.com/**",
        lambda route: route.fulfill(
            status=200, content_type="text/html", body="<title>GoCardless</title>"
        ),
    )

    # --- Joining: type, Direct Debit, name, email and postcode; then GoCardless. -----
    page.goto(f"{live_server.url}/members/join/")
    _look(page, "join")
    page.get_by_label("Standard").check()
    page.get_by_label("Direct Debit").check()
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Joiner")
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Postcode").fill(areas.postcodes["north"].lower())
    page.get_by_role("button", name="Continue to payment").click()
    page.wait_for_url("https://pay-sandbox.gocardless.com/**")
    ada = Person.objects.get(email=EMAIL)
    assert ada.area_id == areas.leeds_central.pk
    [br_id] = fake_gc.billing_requests
    [flow] = fake_gc.flows.values()
    assert flow["prefilled_customer"]["email"] == EMAIL
    fake_gc.fulfil(br_id)
    page.goto(live_server.url + urlsplit(flow["redirect_uri"]).path)
    page.wait_for_url("**/members/join/thanks/**")
    assert "Your Direct Debit is set up" in page.content()
    _look(page, "join-thanks")
    [sub] = fake_gc.subscriptions.values()
    assert (sub["amount"], sub["interval_unit"]) == (500, "monthly")
    assert Membership.objects.get(person=ada).status == "pending"

    # GoCardless collects the first payment and says so.
    first = fake_gc.payment_add(sub["id"])
    joined_at = timezone.now()
    answer = _webhook(live_server.url, [_event("EVJ1", "confirmed", first, joined_at)])
    assert answer["outcomes"] == {"EVJ1": "payment received"}
    membership = Membership.objects.get(person=ada)
    assert membership.status == "active"
    renews_on = membership.renews_on

    # --- The sign-in link joining emailed, over SMTP. ----------------------------------
    _work()
    [message] = smtp_server.to(EMAIL)
    link = _link_path(message)
    page.goto(live_server.url + link)
    _look(page, "sign-in-link")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/members/")
    assert "Hello, Ada" in page.content()
    _look(page, "home")

    page.get_by_role("link", name="Membership").first.click()
    page.wait_for_url("**/members/membership/")
    text = page.content()
    assert "Standard" in text and "Direct Debit" in text and str(membership.number) in text
    _look(page, "membership")

    # Email about the party: a new joiner has not said yes yet.
    page.get_by_role("link", name="Preferences").first.click()
    page.wait_for_url("**/members/preferences/")
    page.get_by_label("Send me email about the party").check()
    page.get_by_role("button", name=re.compile("^Save")).click()
    page.wait_for_url("**/members/preferences/")
    assert "Your choices are saved." in page.content()
    _look(page, "preferences")
    ada.refresh_from_db()
    assert ada.email_status == EmailStatus.SUBSCRIBED

    # --- Moving house: North → South. -------------------------------------------------
    page.get_by_role("link", name="My details").first.click()
    page.wait_for_url("**/members/details/")
    page.get_by_label("Postcode").fill(areas.postcodes["south"])
    page.get_by_role("button", name="Save my details").click()
    page.wait_for_url("**/members/details/")
    assert "Your details are saved." in page.content()
    _look(page, "details-moved")
    ada.refresh_from_db()
    assert ada.area_id == areas.bristol_east.pk

    staff, staff_page = _context(browser, DESKTOP)
    login(staff_page, live_server.url, south.email, factories.PASSWORD)
    staff_page.goto(f"{live_server.url}/staff/people/{ada.pk}/")
    assert "Ada Joiner" in staff_page.content()
    _look(staff_page, "staff-person-new-area")
    staff.close()
    staff, staff_page = _context(browser, DESKTOP)
    login(staff_page, live_server.url, north.email, factories.PASSWORD)
    response = staff_page.goto(f"{live_server.url}/staff/people/{ada.pk}/")
    assert response.status == 404
    staff_page.goto(f"{live_server.url}/staff/people/?q=Joiner")
    assert "Ada Joiner" not in staff_page.content()
    staff_page.goto(f"{live_server.url}/staff/members/")
    assert "Joiner" not in staff_page.content()
    staff.close()
    staff, staff_page = _context(browser, DESKTOP)
    login(staff_page, live_server.url, admin.email, factories.PASSWORD)
    staff_page.goto(f"{live_server.url}/staff/audit/")
    assert f"Member {ada.pk} moved area B-LDS1 -&gt; B-BRS1" in staff_page.content()
    _look(staff_page, "audit-log")
    staff.close()

    # --- A local event: find it near the new postcode, RSVP, see it in My events. ------
    page.get_by_role("link", name="My events").first.click()
    page.wait_for_url("**/members/events/")
    assert "You have no upcoming events." in page.content()
    # "Near you" is near the postcode they gave: the finder opens on its results.
    page.get_by_role("link", name="Find an event near you").click()
    page.wait_for_url("**/events/?postcode=BS5*")
    assert page.get_by_label("Your postcode").input_value() == areas.postcodes["south"]
    assert page.get_by_label("Within").input_value() == "10"
    _look(page, "events-near")
    page.get_by_role("link", name="Easton Ward meeting").first.click()
    page.wait_for_url(f"**/events/{meeting.pk}/")
    _look(page, "event")
    page.get_by_label("First name").fill("Ada")
    page.get_by_role("textbox", name="Email", exact=True).fill(EMAIL)
    page.get_by_role("button", name="RSVP", exact=True).click()
    page.wait_for_url(f"**/events/{meeting.pk}/rsvp/**")
    _look(page, "rsvp-done")
    assert Rsvp.objects.get(event=meeting).person_id == ada.pk
    _work()
    assert "You’re going: Easton Ward meeting" in [m["Subject"] for m in smtp_server.to(EMAIL)]
    page.goto(f"{live_server.url}/members/events/")
    mine = page.locator(".member-rows").first.inner_text()
    assert "Easton Ward meeting" in mine and "Going" in mine
    _look(page, "my-events")

    # The spent link signs nobody in again.
    response = page.goto(live_server.url + link)
    assert response.status == 404
    assert "already been used or has expired" in page.content()
    _look(page, "link-spent")
    context.close()

    # --- A month on: the next collection fails. ---------------------------------------
    failed_at = _nine_am(renews_on)
    failed = fake_gc.payment_add(sub["id"], status="failed")
    with freeze_time(failed_at, tick=True, real_asyncio=True):
        answer = _webhook(
            live_server.url, [_event("EVF1", "failed", failed, failed_at, "insufficient_funds")]
        )
    assert answer["outcomes"] == {"EVF1": "payment failed"}
    membership.refresh_from_db()
    grace_until = renews_on + dt.timedelta(days=14)
    assert (membership.status, membership.grace_until) == ("grace", grace_until)
    mails_before = len(smtp_server.messages)
    _clock(monkeypatch, failed_at + dt.timedelta(hours=1))
    membership.refresh_from_db()
    assert membership.status == "grace"  # still a member while in grace
    with freeze_time(failed_at + dt.timedelta(hours=2), tick=True, real_asyncio=True):
        staff, staff_page = _context(browser, DESKTOP)
        login(staff_page, live_server.url, south.email, factories.PASSWORD)
        staff_page.goto(f"{live_server.url}/staff/members/")
        arrears = staff_page.locator("#membership-arrears").locator("xpath=..").inner_text()
        assert "Ada Joiner" in arrears
        _look(staff_page, "report-grace")
        staff.close()

    # --- Grace ends: the clock lapses the membership and one win-back goes out. -------
    lapse_at = _nine_am(grace_until + dt.timedelta(days=1))
    _clock(monkeypatch, lapse_at)
    membership.refresh_from_db()
    ada.refresh_from_db()
    assert membership.status == "lapsed" and ada.membership_status == "lapsed"
    _clock(monkeypatch, lapse_at + dt.timedelta(minutes=61))
    _clock(monkeypatch, lapse_at + dt.timedelta(days=1))
    new_mail = smtp_server.wait_for(mails_before + 1)[mails_before:]
    assert [m["Subject"] for m in new_mail] == ["We miss you"]
    assert new_mail[0].envelope_to == [EMAIL]
    assert "Rejoin from your membership page" in body_text(new_mail[0])
    assert MembershipChange.objects.filter(membership=membership, kind="lapsed").count() == 1

    # --- The staff report: the join in its month, the lapse in its month. -------------
    with freeze_time(lapse_at + dt.timedelta(days=1, hours=2), tick=True, real_asyncio=True):
        staff, staff_page = _context(browser, DESKTOP)
        login(staff_page, live_server.url, south.email, factories.PASSWORD)
        staff_page.goto(f"{live_server.url}/staff/members/")
        _look(staff_page, "report-lapsed")

        def month(when: dt.datetime) -> list[str]:
            row = staff_page.locator(f'tr[data-month="{timezone.localdate(when):%Y-%m}"]')
            return [c.strip() for c in row.locator("td").all_inner_texts()]

        assert month(joined_at)[0] == "1"  # joined
        assert month(lapse_at)[2] == "1"  # lapsed
        assert staff_page.locator('td[data-status="lapsed"]').inner_text().strip() == "1"
        staff.close()


@pytest.mark.browser
def test_spent_and_stale_links_are_refused_and_unknown_addresses_look_known(
    browser, live_server, areas, smtp_server
):
    factories.person(email="known@example.net", first_name="Kim", postcode=areas.postcodes["north"])

    def ask(address: str):
        context, page = _context(browser)
        page.goto(f"{live_server.url}/members/sign-in/")
        page.get_by_label("Your email address").fill(address)
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            page.get_by_role("button", name="Email me a sign-in link").click()
        page.wait_for_load_state()
        return context, page, answer.value

    known_context, known_page, known = ask("known@example.net")
    unknown_context, unknown_page, unknown = ask("nobody-here@example.net")
    assert known.status == unknown.status == 200
    assert known.body() == unknown.body()
    _look(known_page, "sign-in-sent")
    unknown_context.close()
    _work()
    [message] = smtp_server.wait_for(1)
    assert message.envelope_to == ["known@example.net"]
    link = _link_path(message)

    # Fifteen minutes on, the link is refused, and stays unspent.
    later = timezone.now() + dt.timedelta(minutes=15, seconds=1)
    with freeze_time(later, tick=True, real_asyncio=True):
        response = known_page.goto(live_server.url + link)
        assert response.status == 404
        assert "already been used or has expired" in known_page.content()
        _look(known_page, "link-stale")
    assert SignInLink.objects.get().used_at is None
    assert not MemberSession.objects.exists()

    # A fresh link signs in once; the same link again is refused.
    known_page.goto(f"{live_server.url}/members/sign-in/")
    known_page.get_by_label("Your email address").fill("known@example.net")
    known_page.get_by_role("button", name="Email me a sign-in link").click()
    known_page.wait_for_load_state()
    _work()
    fresh = _link_path(smtp_server.wait_for(2)[1])
    known_page.goto(live_server.url + fresh)
    known_page.get_by_role("button", name="Sign in").click()
    known_page.wait_for_url("**/members/")
    known_page.get_by_role("button", name="Sign out").click()
    known_page.wait_for_url("**/members/sign-in/")
    response = known_page.goto(live_server.url + fresh)
    assert response.status == 404
    assert "already been used or has expired" in known_page.content()
    assert MemberSession.objects.count() == 0
    known_context.close()


# --- One member's session against every members' URL, with another member's ids. -----


def _members_urls() -> list[tuple[str, str, list[str]]]:
    """(namespace:name, route, keyword names) of every URL of the members' apps."""
    found = []
    resolver = get_resolver()
    for namespace in ("members", "members_join"):
        _prefix, sub = resolver.namespace_dict[namespace]
        stack = [(sub.url_patterns, "")]
        while stack:
            patterns, ns = stack.pop()
            for p in patterns:
                if isinstance(p, URLResolver):
                    stack.append((p.url_patterns, ns))
                elif isinstance(p, URLPattern) and p.name:
                    keys = list(p.pattern.converters)
                    found.append((f"{namespace}:{p.name}", str(p.pattern), keys))
    return sorted(found)


def _snapshot(person: Person) -> dict:
    person = Person.objects.get(pk=person.pk)
    return {
        "person": (
            person.first_name,
            person.last_name,
            person.email,
            person.postcode,
            person.phone,
            person.email_status,
            person.membership_status,
            person.membership_number,
            person.renews_on,
        ),
        "membership": list(
            Membership.objects.filter(person=person).values_list(
                "status", "membership_type_id", "renews_on", "grace_until", "number"
            )
        ),
        "consents": ConsentRecord.objects.filter(person=person).count(),
        "links": list(SignInLink.objects.filter(person=person).values_list("pk", "used_at")),
        "sessions": list(
            MemberSession.objects.filter(person=person).values_list("pk", "expires_at")
        ),
        "rsvps": list(Rsvp.objects.filter(person=person).values_list("pk", "status", "guests")),
        "proposals": list(ProposedChange.objects.filter(person=person).values_list("pk", "status")),
    }


@pytest.mark.django_db
def test_a_member_never_sees_or_changes_another_members_records(client, areas, monthly, settings):
    with FakeGoCardless() as fake:
        settings.CLARION_GOCARDLESS_ACCESS_TOKEN = fake.access_token
        settings.CLARION_GOCARDLESS_API_BASE = fake.url
        settings.CLARION_GOCARDLESS_WEBHOOK_SECRET = SECRET
        _walk_as_another_member(client, areas, monthly)


def _walk_as_another_member(client, areas, monthly) -> None:
    ada = factories.person(
        email="ada@example.net",
        first_name="Ada",
        last_name="Lovelace",
        postcode=areas.postcodes["north"],
    )
    bea = factories.person(
        email="bathsheba@example.net",
        first_name="Bathsheba",
        last_name="Everdene",
        postcode=areas.postcodes["south"],
        phone="07911 123456",
    )
    for person in (ada, bea):
        membership_join(person=person, membership_type=monthly, pays_by="manual")
    bea.refresh_from_db()
    start = timezone.now() + dt.timedelta(days=3)
    meeting = event_save(
        event=Event(
            area=areas.bristol_east,
            postcode=areas.postcodes["south2"],
            title="Weatherbury meeting",
            kind=Event.Kind.MEETING,
            venue="Hall",
            starts_at=start,
            ends_at=start + dt.timedelta(hours=2),
        )
    )
    bea_rsvp = rsvp_create(event=meeting, data=RsvpInput(email=bea.email)).rsvp
    bea_proposal = person_upsert(
        email=bea.email, public=True, source_code="walk", first_name="Fanny"
    ).proposal
    assert bea_proposal is not None
    tokens = {
        "members:sign_in_link": signin_link_create(person=bea, browser_hash=secret_hash("bea")),
        "members:card_check": member_card_token(member_card_get_or_create(person=bea)),
        "members_join:dd_return": signing.dumps("BRQ-of-bathsheba", salt=RETURN_SALT),
    }
    # Bea's own session stays as it is.
    MemberSession.objects.create(
        person=bea,
        key_hash=secret_hash("bea-session"),
        expires_at=timezone.now() + dt.timedelta(days=1),
    )
    ids = {"rsvp": bea_rsvp.pk, "proposal": bea_proposal.pk, "person": bea.pk, "pk": bea.pk}
    secrets = [
        "Bathsheba",
        "Everdene",
        "bathsheba@example.net",
        "123456",
        bea.phone,
        bea.postcode,
        "Weatherbury",
    ]
    before = _snapshot(bea)

    sign_in(client, ada)
    urls = _members_urls()
    assert len(urls) >= 15
    # Signing out last, so every other URL is tried with Ada's session.
    urls.sort(key=lambda u: u[0] == "members:sign_out")
    tried = []
    for name, _route, keys in urls:
        kwargs = {
            key: tokens.get(name, "bad-token") if key == "token" else ids.get(key, bea.pk)
            for key in keys
        }
        url = reverse(name, kwargs=kwargs)
        for method in ("get", "post"):
            data = {
                **ids,
                "decision": "accept",
                "email": "on",
                "reason": "walk",
                "first_name": "Mallory",
                "postcode": areas.postcodes["north2"],
            }
            response = getattr(client, method)(url, data)
            assert response.status_code < 500, (name, method, response.status_code)
            body = response.content.decode(errors="replace")
            for secret in secrets:
                assert secret not in body, (name, method, secret)
            tried.append((name, method, response.status_code))
        if name != "members:sign_out":
            assert client.get("/members/").status_code == 200, f"{name} ended Ada's session"
    assert _snapshot(bea) == before
    names = {name for name, _m, _s in tried}
    for required in (
        "members:home",
        "members:details",
        "members:proposal_decide",
        "members:preferences",
        "members:membership",
        "members:membership_cancel",
        "members:card",
        "members:card_check",
        "members:events",
        "members:event_cancel",
        "members:sign_in_link",
        "members_join:join",
        "members_join:dd_return",
    ):
        assert required in names, required
    # Bea's RSVP, asked for directly by id, is not found for Ada.
    sign_in(client, ada)
    assert client.get("/members/events/cancel/", {"rsvp": bea_rsvp.pk}).status_code == 404
    assert client.post("/members/events/cancel/", {"rsvp": bea_rsvp.pk}).status_code == 404
    assert Rsvp.objects.get(pk=bea_rsvp.pk).status == Rsvp.Status.GOING
