"""Every public form is evidence, never an edit (see docs/personal-data.md).

The walk opens every public page a supporter can reach (action pages of every kind and
their embeds, event pages, the event proposal form, a host's link, group pages, Q&A
sessions and whatever they link to), fills each form it finds that asks for an email
address with an existing person's address and *different* details (another name, a
postcode in another region, a phone, consent ticked), submits it anonymously, and
fails if the person's stored name, address, postcode, phone, area or email status
changed. It also fails when a public URL accepts POST but is neither reached by the
walk nor listed below with the reason it takes no person details, so a new public form
cannot slip past it.
"""

from __future__ import annotations

import datetime
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.utils import timezone

from clarion.actions.models import ActionPage
from clarion.actions.services import page_save
from clarion.core.testing import factories
from clarion.core.tests.test_scope_walk import iter_patterns
from clarion.events.models import Event
from clarion.events.selectors import host_token
from clarion.events.services import event_save
from clarion.members.models import MembershipType
from clarion.people.models import EmailStatus, Person, ProposedChange
from clarion.qa.models import Session

# Public URLs that accept POST but take no person details, each with the reason.
NOT_PERSON_FORMS = {
    "actions:confirm": "confirms a double-opt-in action by its emailed, signed token",
    "donations:test_checkout": "the built-in test gateway's pay button for a started gift",
    "donations:checkout_cancelled": "the gateway's cancel return for a started gift",
    "donations:stripe_webhook": "gateway webhook, authenticated by its signature",
    "members_join:stripe_webhook": "membership dues webhook, authenticated by its signature",
    "members_join:gocardless_webhook": "membership dues webhook, authenticated by its signature",
    "qa:vote": "an upvote on a published question",
    "qa:confirm": "confirms a Q&A email address by its emailed, signed token",
    "mailings:unsubscribe": "the mailbox owner's signed unsubscribe link",
    "mailings:preferences": "the mailbox owner's signed preferences link",
    "mailings:open": "the open-tracking pixel (a signed token, no form)",
    "mailings:click": "the click-tracking redirect (a signed token, no form)",
    "mailings:esp_tracking": "email provider webhook, authenticated by its secret",
    "events:manage": "changes the RSVP the signed link was sent for; no person details",
    "events:host_checkin": "the host marks an RSVP attended; no person details",
    "events:host_find": "the host finds an attendee by name or membership card; no person details",
    "events:host_message": "the host messages attendees; no person details",
    "events:host_questions": "the host edits RSVP questions; no person details",
    "events:host": "the host tools page; its forms post to the host_* URLs",
    "people_public:proposal": "the mailbox owner confirms a proposed change by its link",
    "reports:home": "the home page; no form",
    "core:login": "staff sign-in",
    "core:logout": "staff sign-out",
    "core:password_set": "a staff member sets a password from an emailed, signed link",
    "members:sign_in_link": "spends an emailed sign-in link in the browser that asked for it",
    "members:sign_out": "ends the member session its cookie names",
    "members:details": "a signed-in member's own details (mailbox proven by the link)",
    "members:proposal_decide": "a signed-in member decides a change proposed for them",
    "members:preferences": "a signed-in member's own subscription and consent",
    "members:event_cancel": "a signed-in member cancels their own RSVP",
    "members:membership_cancel": "a signed-in member cancels their own membership",
    "members:membership": "a signed-in member changes their own membership type",
    "members:local": "a signed-in member writes to their organisers; stores nothing of them",
    "members:recruiters_table": "a signed-in member shows or hides themselves in the table",
    "members:volunteering": "a signed-in member's own volunteering choices (their tags)",
    "members:passkeys": "a signed-in member names one of their own passkeys",
    "members:passkey_remove": "a signed-in member removes one of their own passkeys",
    "members:passkey_add_options": "a challenge for a signed-in member's new passkey",
    "members:passkey_add": "a signed-in member's new passkey, checked against its challenge",
    "members:passkey_sign_in_options": "a challenge for signing in with a passkey",
    "members:passkey_sign_in": "signs in with a passkey's signed answer; no person details",
}

STAFF_PREFIXES = ("staff/", "api/", "django-admin/", "media/", "static/")


def _public_routes():
    for route, name, params in iter_patterns():
        if name and not route.startswith(STAFF_PREFIXES):
            yield route, name, params


class _Forms(HTMLParser):
    """The <form method=post> elements of a page, with their inputs, and its links."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self.links: list[str] = []
        self._form: dict | None = None
        self._select: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form" and (a.get("method") or "get").lower() == "post":
            self._form = {"action": a.get("action") or "", "fields": []}
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag in ("input", "textarea"):
            self._form["fields"].append(
                {
                    "tag": tag,
                    "type": (a.get("type") or "text").lower(),
                    "name": a.get("name") or "",
                    "value": a.get("value") or "",
                    "required": "required" in a,
                    "min": a.get("min"),
                }
            )
        elif tag == "select":
            self._select = {"tag": "select", "name": a.get("name") or "", "options": []}
            self._form["fields"].append(self._select)
        elif tag == "option" and self._select is not None:
            self._select["options"].append(a.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def _fill(form: dict, victim_email: str, n: int, other_postcode: str) -> dict:
    """Values for every field: the victim's email, details that differ, consent ticked."""
    future = timezone.localtime() + datetime.timedelta(days=5)
    data: dict[str, list[str] | str] = {}
    radios_done: set[str] = set()
    for field in form["fields"]:
        name = field["name"]
        key = name.lower()
        if not name:
            continue
        if field["tag"] == "select":
            options = [o for o in field["options"] if o]
            if options:
                data[name] = options[0]
            continue
        kind = field["type"]
        if kind in ("submit", "button", "reset", "file"):
            continue
        if kind == "hidden":
            data[name] = field["value"]
        elif kind == "radio":
            if name not in radios_done:
                data[name] = field["value"]
                radios_done.add(name)
        elif kind == "checkbox":
            if field["required"] or "consent" in key or "shift" in key:
                data.setdefault(name, field["value"] or "on")
        elif key == "website":
            data[name] = ""  # the honeypot
        elif "email" in key:
            data[name] = victim_email.upper()
        elif "first_name" in key:
            data[name] = f"Mallory{n}"
        elif "last_name" in key:
            data[name] = "Intruder"
        elif key == "name":
            data[name] = f"Mallory{n} Intruder"
        elif "postcode" in key:
            data[name] = other_postcode
        elif "phone" in key:
            data[name] = "07911 123456"
        elif "address" in key:
            data[name] = "1 Walk Street"
        elif key == "town":
            data[name] = "Walkton"
        elif kind == "datetime-local" or key in ("starts_at", "ends_at"):
            at = future + datetime.timedelta(hours=2 if key == "ends_at" else 0)
            data[name] = at.strftime("%Y-%m-%dT%H:%M")
        elif kind == "date":
            data[name] = future.strftime("%Y-%m-%d")
        elif kind == "number":
            data[name] = field["min"] or "1"
        elif kind == "url":
            data[name] = "https://example.org/walk"
        elif field["value"]:
            data[name] = field["value"]
        else:
            data[name] = f"Walk text about the library and buses, number {n}."
    return data


def _route_name(path: str) -> str | None:
    try:
        match = resolve(urlsplit(path).path)
    except Resolver404:
        return None
    return match.view_name


@pytest.fixture
def public_world(areas):
    victim = factories.person(
        email="victim@example.net",
        first_name="Vera",
        last_name="Victim",
        postcode=areas.postcodes["south"],
        phone="07400 123456",
        address_line1="2 Stored Road",
        town="Storedville",
    )
    Person.objects.filter(pk=victim.pk).update(email_status=EmailStatus.UNSUBSCRIBED)
    host = factories.person(email="host@example.net", postcode=areas.postcodes["north"])
    for kind in ActionPage.Kind.values:
        extra = {}
        if kind == ActionPage.Kind.LETTER:
            extra = {
                "target_name": "The Mayor",
                "target_email": "mayor@example.org",
                "letter_subject": "Save the library",
                "letter_body": "Please keep it open.",
            }
        elif kind == ActionPage.Kind.SURVEY:
            extra = {"questions": [{"key": "why", "label": "Why?", "kind": "text"}]}
        elif kind == ActionPage.Kind.DONATION:
            extra = {"suggested_amounts": [500, 1000], "allow_monthly": True}
        # One page to sign directly and one through its embed: the same mailbox acting
        # twice on one page is a duplicate, which writes nothing at all.
        for slug in (f"walk-{kind}", f"walk-embed-{kind}"):
            page_save(
                page=ActionPage(
                    kind=kind,
                    slug=slug,
                    title=f"Walk {kind}",
                    status=ActionPage.Status.LIVE,
                    body="Walk page",
                    **extra,
                )
            )
    start = (timezone.now() + datetime.timedelta(days=3)).replace(microsecond=0)
    canvass = event_save(
        event=Event(
            area=areas.leeds_central,
            postcode=areas.postcodes["north"],
            title="Walk canvass",
            kind=Event.Kind.CANVASS,
            venue="Library",
            starts_at=start,
            ends_at=start + datetime.timedelta(hours=2),
            status=Event.Status.PUBLISHED,
            host_person=host,
        )
    )
    Session.objects.create(slug="walk-qa", title="Walk Q&A", host="Leader", status="open")
    seeds = [f"/act/walk-{kind}/" for kind in ActionPage.Kind.values]
    seeds += [f"/act/walk-embed-{kind}/embed/" for kind in ActionPage.Kind.values]
    seeds += [
        "/",
        "/events/",
        "/events/propose/",
        f"/events/{canvass.pk}/",
        f"/events/{canvass.pk}/host/{host_token(canvass)}/",
        "/groups/",
        "/qa/walk-qa/",
        "/members/join/",
    ]
    # The Join page offers a membership type (joining as someone known only emails them).
    MembershipType.objects.create(name="Walk membership", rate_pence=500, period="monthly")
    return victim, seeds, areas.postcodes["north"]


STORED = (
    "first_name",
    "last_name",
    "address_line1",
    "town",
    "postcode",
    "phone",
    "area_id",
    "email",
    "email_status",
)


def _stored(person_id: int) -> dict:
    return Person.objects.filter(pk=person_id).values(*STORED).get()


def test_no_public_form_changes_an_existing_person(public_world, client, settings):
    # The walk posts one address many times; per-address limits are not under test here.
    settings.CLARION_ACTION_EMAIL_LIMIT = 1000
    settings.CLARION_ACTION_IP_LIMIT = 1000
    victim, seeds, other_postcode = public_world
    before = _stored(victim.pk)
    queue, seen_pages, posted, accepted = list(seeds), set(), set(), set()
    n = 0
    while queue and len(seen_pages) < 150:
        url = queue.pop(0)
        if url in seen_pages:
            continue
        seen_pages.add(url)
        response = client.get(url)
        assert response.status_code < 500, f"GET {url} answered {response.status_code}"
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        parser = _Forms()
        parser.feed(response.content.decode())
        for link in parser.links:
            target = urljoin(url, link)
            parts = urlsplit(target)
            if parts.netloc and parts.netloc not in ("testserver",):
                continue
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            if not parts.path.startswith(tuple("/" + p for p in STAFF_PREFIXES)):
                if _route_name(parts.path) and path not in seen_pages:
                    queue.append(path)
        for form in parser.forms:
            if not any("email" in f["name"].lower() for f in form["fields"]):
                continue
            action = urljoin(url, form["action"]) if form["action"] else url
            name = _route_name(action)
            n += 1
            data = _fill(form, victim.email, n, other_postcode)
            proposals_before = ProposedChange.objects.filter(person=victim).count()
            activities_before = victim.activities.count()
            answer = client.post(urlsplit(action).path, data)
            assert answer.status_code < 500, f"POST {action} answered {answer.status_code}"
            posted.add(name)
            after = _stored(victim.pk)
            assert after == before, f"POST {action} changed the stored person: {data}"
            # Accepted: the form matched the person and recorded something (a proposal
            # for what differed, or at least the action on their timeline).
            if (
                ProposedChange.objects.filter(person=victim).count() > proposals_before
                or victim.activities.count() > activities_before
            ):
                accepted.add(name)
            client.cookies.clear()

    # The walk must really have reached and submitted the forms (a walk that posts
    # nothing proves nothing): every kind of public form that takes person details.
    expected = {
        "actions:page",
        "actions:embed",
        "events:detail",
        "events:propose",
        "events:host_walkin",
        "events:host_canvass",
        "groups:detail",
        "qa:ask",
        "members_join:join",
    }
    assert expected <= posted, f"not reached: {sorted(expected - posted)}"
    assert expected <= accepted, (
        f"submitted but no proposal recorded: {sorted(expected - accepted)}"
    )
    proposal = ProposedChange.objects.filter(person=victim).first()
    assert proposal.changes["postcode"]["new"] == other_postcode
    assert proposal.changes["email_status"]["new"] == EmailStatus.SUBSCRIBED

    # A public URL that takes POST must be walked above or listed with its reason.
    # Parameters get stand-in values: Django's method decorators answer 405 before the
    # view looks anything up, so a GET-only view says so whatever the values.
    unclassified = []
    for route, name, params in _public_routes():
        if name in posted or name in NOT_PERSON_FORMS:
            continue
        kwargs = {p: ("walk-petition" if p == "slug" else "1") for p in params}
        try:
            url = reverse(name, kwargs=kwargs)
        except NoReverseMatch:
            url = reverse(name, kwargs={p: "1" for p in params})
        response = client.post(url)
        if response.status_code != 405:
            unclassified.append(f"{route} ({name}) answers POST with {response.status_code}")
    assert not unclassified, (
        "Public URLs accepting POST that the public-write walk neither submitted nor "
        "lists in NOT_PERSON_FORMS: " + "; ".join(unclassified)
    )
