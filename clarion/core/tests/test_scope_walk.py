"""Invariant 4: a staff user reaches only the people in their scope.

This test walks EVERY URL pattern the project serves, as an organiser of the North,
and proves that nothing about a person of the South can be read, listed, counted,
exported, edited or merged through it:

- every page is fetched with GET, with hostile query parameters that name the South
  person (search terms, ids, a South segment, the South area), and with POST (empty,
  and with South ids in every likely field);
- no answer may contain the South person's last name, email or phone (the markers),
  and no answer may be a 5xx;
- after all of it, the South person's row and every row hanging off them are
  unchanged.

A URL that takes parameters must be listed in ``URL_KWARGS`` (how to fill them with
South objects; an app can keep its own entries in ``<app>/tests/scope_walk.py``) — a new URL the walk does not know fails the test, so it cannot be
forgotten. A positive control proves the markers are visible to the South's own
organiser, so the check could fail.
"""

from __future__ import annotations

import datetime
import importlib
import json
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from clarion.actions.models import ActionPage
from clarion.actions.services import SubmissionInput, submission_record
from clarion.api.models import ApiKey
from clarion.api.services import api_key_create
from clarion.core.models import AuditEntry, User
from clarion.core.testing import factories
from clarion.donations.models import Donation, RecurringPlan
from clarion.events.models import Event, Rsvp
from clarion.events.services import RsvpInput, event_save, rsvp_create
from clarion.mailings.models import Mailing
from clarion.people.models import (
    Activity,
    ConsentRecord,
    CustomField,
    ImportJob,
    ListMembership,
    Person,
    PersonList,
    Segment,
    Tag,
    Tagging,
)
from clarion.people.services import ConsentInput, list_add, note_add, person_upsert, tag_add
from clarion.qa.models import Question, QuestionGroup
from clarion.qa.models import Session as QaSession
from clarion.qa.staff_views import ACTIONS as QA_QUESTION_ACTIONS
from clarion.qa.staff_views import GROUP_ACTIONS as QA_GROUP_ACTIONS

SOUTH_LAST = "Southworthington"
SOUTH_EMAIL = "zeb.southworthington@example.net"
SOUTH_PHONE = "+447911000999"
MARKERS = (SOUTH_LAST, SOUTH_EMAIL, SOUTH_PHONE, "zeb.southworthington")

# URL name -> function(world) -> kwargs. Every pattern with parameters must be here.
URL_KWARGS = {
    "core:password_set": lambda w: {"uidb64": "MTIz", "token": "bad-token"},
    "core:user_edit": lambda w: {"pk": w.south_organiser.pk},
    "core:user_set_active": lambda w: {"pk": w.south_organiser.pk},
    "core:user_two_factor_reset": lambda w: {"pk": w.south_organiser.pk},
    "core:user_password_link": lambda w: {"pk": w.south_organiser.pk},
    "areas:detail": lambda w: {"pk": w.areas.bristol.pk},
    "people:detail": lambda w: {"person_id": w.south.pk},
    "people:edit": lambda w: {"person_id": w.south.pk},
    "people:tag_add": lambda w: {"person_id": w.south.pk},
    "people:tag_remove": lambda w: {"person_id": w.south.pk, "tag_id": w.tag.pk},
    "people:list_add": lambda w: {"person_id": w.south.pk},
    "people:list_remove": lambda w: {"person_id": w.south.pk, "list_id": w.plist.pk},
    "people:note_add": lambda w: {"person_id": w.south.pk},
    "people:merge": lambda w: {"person_id": w.south.pk},
    "people:merge_confirm": lambda w: {"person_id": w.north.pk, "other_id": w.south.pk},
    "people:export": lambda w: {"person_id": w.south.pk},
    "people:erase": lambda w: {"person_id": w.south.pk},
    "people:tag_edit": lambda w: {"tag_id": w.tag.pk},
    "people:tag_delete": lambda w: {"tag_id": w.tag.pk},
    "people:list_edit": lambda w: {"list_id": w.plist.pk},
    "people:list_delete": lambda w: {"list_id": w.plist.pk},
    "people:customfield_edit": lambda w: {"field_id": w.field.pk},
    "people:import_detail": lambda w: {"pk": w.south_import.pk},
    "people:import_progress": lambda w: {"pk": w.south_import.pk},
    "people:import_rejects": lambda w: {"pk": w.south_import.pk},
    # A South organiser's segment (out of reach) and a national one (in reach, but its
    # count and people must be the North's only).
    **{
        f"people:segment_{name}": (
            lambda w: [{"pk": w.south_segment.pk}, {"pk": w.national_segment.pk}]
        )
        for name in ("detail", "edit", "copy", "delete")
    },
    # Action pages: the South's own page, and a national page a South person signed.
    **{
        f"actions_staff:{name}": (lambda w: [{"pk": w.south_page.pk}, {"pk": w.national_page.pk}])
        for name in ("detail", "edit", "preview", "duplicate", "close", "invalidate", "results")
    },
    **{
        f"actions:{name}": (lambda w: [{"slug": w.south_page.slug}, {"slug": w.national_page.slug}])
        for name in ("page", "thanks", "next", "embed", "count", "share_image")
    },
    "actions:confirm": lambda w: {"slug": w.national_page.slug, "token": "bad-token"},
    # A South person's gift on a national page, and their monthly plan.
    "donations_staff:detail": lambda w: {"pk": w.south_donation.pk},
    "donations_staff:permissibility": lambda w: {"pk": w.south_donation.pk},
    "donations_staff:plan_renew": lambda w: {"pk": w.south_plan.pk},
    "donations_staff:plan_cancel": lambda w: {"pk": w.south_plan.pk},
    "donations:test_checkout": lambda w: {"token": "bad-token"},
    "donations:checkout_cancelled": lambda w: {"token": "bad-token"},
    # Q&A: a South session with a South person's question waiting for moderation, and
    # a national session where the same person asked too.
    **{
        f"qa_staff:{name}": (
            lambda w: [{"session_id": w.south_session.pk}, {"session_id": w.national_session.pk}]
        )
        for name in ("console", "edit", "status", "queue", "host", "report")
    },
    "qa_staff:question": lambda w: [
        {"session_id": w.south_session.pk, "question_id": w.south_question.pk},
        {"session_id": w.national_session.pk, "question_id": w.national_question.pk},
    ],
    "qa_staff:question_action": lambda w: [
        {"session_id": session.pk, "question_id": question.pk, "action": action}
        for session, question in (
            (w.south_session, w.south_question),
            (w.national_session, w.national_question),
        )
        for action in sorted(QA_QUESTION_ACTIONS)
    ],
    "qa_staff:group_action": lambda w: [
        {"session_id": w.south_session.pk, "group_id": w.south_group.pk, "action": action}
        for action in sorted(QA_GROUP_ACTIONS)
    ],
    "qa:confirm": lambda w: {"token": "bad-token"},
    **{
        f"qa:{name}": (
            lambda w: [{"slug": w.south_session.slug}, {"slug": w.national_session.slug}]
        )
        for name in ("session", "ask", "thanks", "live", "present", "confirm_request")
    },
    "qa:vote": lambda w: {"slug": w.south_session.slug, "question_id": w.south_question.pk},
    # The API (no token: every URL must answer 401/404 and leak nothing).
    "api:person": lambda w: {"person_id": w.south.pk},
    "api:tag": lambda w: {"tag_id": w.tag.pk},
    "api:taggings": lambda w: {"tag_id": w.tag.pk},
    "api:tagging": lambda w: {"tag_id": w.tag.pk, "tagging_id": w.south.taggings.get().pk},
    "api:unsupported": lambda w: {"rest": "no-such-collection"},
    "api_staff:key_revoke": lambda w: {"pk": w.south_key.pk},
    # Events: a South event and a North event, the South person going to both.
    **{
        f"events_staff:{name}": (lambda w: [{"pk": w.south_event.pk}, {"pk": w.north_event.pk}])
        for name in ("detail", "edit", "checkin", "walkin", "canvass", "approve", "decline")
    },
    "events_staff:attendance": lambda w: [
        {"pk": w.south_event.pk, "rsvp_id": w.south_rsvp.pk},
        {"pk": w.north_event.pk, "rsvp_id": w.south_north_rsvp.pk},
    ],
    **{
        f"events:{name}": (lambda w: [{"pk": w.south_event.pk}, {"pk": w.north_event.pk}])
        for name in ("detail", "ics")
    },
    **{
        f"events:{name}": (lambda w: {"pk": w.south_event.pk, "token": "bad-token"})
        for name in ("manage", "host", "host_walkin")
    },
    "events:host_checkin": lambda w: {
        "pk": w.south_event.pk,
        "token": "bad-token",
        "rsvp_id": w.south_rsvp.pk,
    },
    "events:area_feed": lambda w: {"area_id": w.areas.south.pk},
    # A South organiser's mailing to their segment.
    **{
        f"mailings_staff:{name}": (lambda w: {"pk": w.south_mailing.pk})
        for name in (
            "detail",
            "edit",
            "preview",
            "preview_frame",
            "test",
            "send",
            "control",
            "winner",
        )
    },
}

# Apps may add their own entries, and objects to the world, in
# ``clarion/<app>/tests/scope_walk.py``: a ``URL_KWARGS`` dict like the one above and
# an optional ``extend_world(w)`` that adds South (and North) objects to ``w``, an
# optional ``snapshot(person_id)`` and an optional ``PUBLIC_NAMESPACES`` tuple.
WALK_EXTENSIONS = []
for _app in (
    "core",
    "areas",
    "people",
    "actions",
    "donations",
    "mailings",
    "events",
    "qa",
    "groups",
    "journeys",
    "members",
    "api",
):
    try:
        _module = importlib.import_module(f"clarion.{_app}.tests.scope_walk")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"clarion.{_app}.tests.scope_walk":
            raise
        continue
    WALK_EXTENSIONS.append(_module)
    _clash = set(URL_KWARGS) & set(getattr(_module, "URL_KWARGS", {}))
    assert not _clash, f"{_module.__name__} repeats URL_KWARGS entries: {sorted(_clash)}"
    URL_KWARGS.update(getattr(_module, "URL_KWARGS", {}))

# Public pages (anyone may use them, logged in or not): the walk checks their answers
# carry no South marker, but does not post the South person's details to them, since a
# public form accepting an email address is what a public form is for.
PUBLIC_NAMESPACES = ("actions", "donations", "qa", "m", "events") + tuple(
    ns for module in WALK_EXTENSIONS for ns in getattr(module, "PUBLIC_NAMESPACES", ())
)

# Patterns outside the walk, each with the reason.
SKIPPED_PREFIXES = {
    "django-admin/": "the low-level Django admin is for superusers only; covered by its own test below",
    "media/": "serves uploaded files in demo mode; not mounted in tests",
    "static/": "static assets",
}


def iter_patterns(patterns=None, prefix: str = "", namespace: str | None = None):
    """Yield (route, name, kwarg names) for every URL pattern, depth first."""
    patterns = get_resolver().url_patterns if patterns is None else patterns
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = namespace
            if pattern.namespace:
                ns = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from iter_patterns(pattern.url_patterns, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            params = set(getattr(pattern.pattern, "converters", {}) or {})
            regex = getattr(pattern.pattern, "regex", None)
            if regex is not None:
                params |= set(regex.groupindex)
            yield prefix + str(pattern.pattern), name, params


@dataclass
class Snapshot:
    person: dict
    tags: list
    lists: list
    activities: int
    consents: int
    donations: list
    plans: list
    questions: list
    api_keys: list
    rsvps: list
    extra: dict

    @classmethod
    def take(cls, person_id: int) -> Snapshot | None:
        row = Person.objects.filter(pk=person_id).values().first()
        if row is None:
            return None
        return cls(
            person=row,
            tags=sorted(
                Tagging.objects.filter(person_id=person_id).values_list("tag_id", flat=True)
            ),
            lists=sorted(
                ListMembership.objects.filter(person_id=person_id).values_list("list_id", flat=True)
            ),
            activities=Activity.objects.filter(person_id=person_id).count(),
            consents=ConsentRecord.objects.filter(person_id=person_id).count(),
            donations=list(
                Donation.objects.filter(person_id=person_id)
                .order_by("pk")
                .values_list("pk", "status", "permissibility", "refunded_pence")
            ),
            plans=list(
                RecurringPlan.objects.filter(person_id=person_id)
                .order_by("pk")
                .values_list("pk", "status")
            ),
            rsvps=list(
                Rsvp.objects.filter(person_id=person_id).order_by("pk").values_list("pk", "status")
            ),
            api_keys=list(ApiKey.objects.order_by("pk").values_list("pk", "revoked_at")),
            questions=list(
                Question.objects.filter(person_id=person_id)
                .order_by("pk")
                .values_list("pk", "status", "text", "answer_text")
            ),
            # An extension's ``snapshot(person_id)`` returns the rows of its app that hang
            # off the person, in a comparable form.
            extra={
                module.__name__: module.snapshot(person_id)
                for module in WALK_EXTENSIONS
                if hasattr(module, "snapshot")
            },
        )


def body_of(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


@pytest.fixture
def world(areas, organiser, south_organiser):
    south = person_upsert(
        email=SOUTH_EMAIL,
        phone=SOUTH_PHONE,
        first_name="Zeb",
        last_name=SOUTH_LAST,
        postcode=areas.postcodes["south"],
        consent=ConsentInput(channel="email", wording="Email me", source="walk"),
    ).person
    north = factories.person(
        postcode=areas.postcodes["north"], first_name="Nell", last_name="Northby"
    )
    tag = Tag.objects.create(name="South only")
    tag_add(person=south, tag=tag)
    plist = PersonList.objects.create(name="South list")
    list_add(person=south, plist=plist)
    note_add(person=south, text="Met at the Easton street stall", actor=south_organiser)
    field = CustomField.objects.create(key="ward_role", label="Ward role", kind="text")
    south_segment = Segment.objects.create(
        name="South segment",
        owner_area=areas.south,
        created_by=south_organiser,
        definition={"op": "all", "conditions": []},
    )
    national_segment = Segment.objects.create(
        name="Everyone tagged South only",
        created_by=None,
        definition={"op": "all", "conditions": [{"type": "tag", "tags": [tag.pk], "match": "any"}]},
    )
    south_import = ImportJob.objects.create(
        created_by=south_organiser,
        original_name="south.csv",
        file="imports/south.csv",
        status=ImportJob.Status.DONE,
    )
    AuditEntry.objects.create(
        actor=south_organiser, action=AuditEntry.Action.EXPORT, summary=SOUTH_EMAIL
    )
    south_page = ActionPage.objects.create(
        slug="south-page", title="South page", area=areas.bristol, status=ActionPage.Status.LIVE
    )
    national_page = ActionPage.objects.create(
        slug="national-page", title="National page", status=ActionPage.Status.LIVE
    )
    for page in (south_page, national_page):
        submission_record(
            page=page,
            data=SubmissionInput(
                email=SOUTH_EMAIL,
                first_name="Zeb",
                last_name=SOUTH_LAST,
                comment="Signed from Easton",
                show_name=True,
            ),
        )
    donation_page = ActionPage.objects.create(
        slug="fund-us",
        title="Fund us",
        kind=ActionPage.Kind.DONATION,
        status=ActionPage.Status.LIVE,
    )
    south_plan = RecurringPlan.objects.create(
        person=south, page=donation_page, amount_pence=1000, gateway="test"
    )
    south_donation = Donation.objects.create(
        person=south,
        page=donation_page,
        plan=south_plan,
        amount_pence=60000,
        recurring=True,
        status=Donation.Status.SUCCEEDED,
        gateway="test",
        permissibility="pending",
    )
    south_session = QaSession.objects.create(
        slug="south-qa",
        title="Ask the South",
        host="Regional lead",
        area=areas.bristol,
        status=QaSession.Status.OPEN,
    )
    national_session = QaSession.objects.create(
        slug="national-qa",
        title="Ask the leader",
        host="Leader",
        status=QaSession.Status.OPEN,
    )
    south_group = QuestionGroup.objects.create(session=south_session, wave=True)
    south_question = Question.objects.create(
        session=south_session,
        person=south,
        display_name="Zeb",
        group=south_group,
        text="What about the Easton bus depot?",
    )
    national_question = Question.objects.create(
        session=national_session,
        person=south,
        display_name="Zeb",
        text="When is the manifesto out?",
    )
    soon = timezone.now() + datetime.timedelta(days=3)
    south_event = event_save(
        event=Event(
            title="Easton doorstep",
            kind=Event.Kind.CANVASS,
            area=areas.bristol_east,
            postcode="BS5 6XX",
            starts_at=soon,
            ends_at=soon + datetime.timedelta(hours=2),
            capacity=10,
        )
    )
    north_event = event_save(
        event=Event(
            title="City Ward doorstep",
            kind=Event.Kind.CANVASS,
            area=areas.leeds_central,
            postcode="LS1 4AP",
            starts_at=soon,
            ends_at=soon + datetime.timedelta(hours=2),
            capacity=10,
        )
    )
    south_rsvp = rsvp_create(
        event=south_event, data=RsvpInput(email=SOUTH_EMAIL, last_name=SOUTH_LAST)
    ).rsvp
    south_north_rsvp = rsvp_create(event=north_event, data=RsvpInput(email=SOUTH_EMAIL)).rsvp
    south_key, _token = api_key_create(owner=south_organiser, actor=south_organiser)
    south_mailing = Mailing.objects.create(
        name="South mailing",
        subject="Hi",
        from_name="South",
        from_email="s@example.org",
        body="Hi",
        segment=south_segment,
        area=areas.south,
        created_by=south_organiser,
    )
    w = SimpleNamespace(
        south_mailing=south_mailing,
        south_key=south_key,
        south_event=south_event,
        north_event=north_event,
        south_rsvp=south_rsvp,
        south_north_rsvp=south_north_rsvp,
        south_session=south_session,
        national_session=national_session,
        south_group=south_group,
        south_question=south_question,
        national_question=national_question,
        south_plan=south_plan,
        south_donation=south_donation,
        areas=areas,
        organiser=organiser,
        south_organiser=south_organiser,
        south=south,
        north=north,
        tag=tag,
        plist=plist,
        field=field,
        south_segment=south_segment,
        south_import=south_import,
        south_page=south_page,
        national_page=national_page,
        national_segment=national_segment,
    )
    for module in WALK_EXTENSIONS:
        if hasattr(module, "extend_world"):
            module.extend_world(w)
    return w


def hostile_query(w) -> dict:
    return {
        "q": SOUTH_LAST,
        "email": "zeb.southworthington",
        "segment": w.south_segment.pk,
        "area": w.areas.south.pk,
        "tag": w.tag.pk,
        "list": w.plist.pk,
        "person": w.south.pk,
        "person_id": w.south.pk,
        "other": w.south.pk,
        "after": 0,
    }


def hostile_post(w) -> dict:
    return {
        **{k: str(v) for k, v in hostile_query(w).items()},
        "survivor": str(w.south.pk),
        "duplicate": str(w.south.pk),
        "name": "Walk name",
        "text": "walk note",
        "confirm": "yes",
        "definition": json.dumps({"op": "all", "conditions": []}),
    }


def test_every_url_is_covered_by_the_walk(db):
    missing = []
    for route, name, params in iter_patterns():
        if any(route.startswith(prefix) for prefix in SKIPPED_PREFIXES):
            continue
        if params and name not in URL_KWARGS:
            missing.append(f"{route} ({name})")
    assert not missing, (
        "These URLs take parameters the scope walk does not know how to fill; add them to "
        "URL_KWARGS in core/tests/test_scope_walk.py or in <app>/tests/scope_walk.py: "
        + ", ".join(missing)
    )


def test_organiser_reaches_nobody_outside_their_area_through_any_url(world, client):
    client.force_login(world.organiser)
    before = Snapshot.take(world.south.pk)
    visited = 0
    for route, name, params in iter_patterns():
        if any(route.startswith(prefix) for prefix in SKIPPED_PREFIXES) or name is None:
            continue
        if params and name not in URL_KWARGS:
            continue  # reported by test_every_url_is_covered_by_the_walk
        kwarg_sets = URL_KWARGS[name](world) if params else [None]
        if isinstance(kwarg_sets, dict):
            kwarg_sets = [kwarg_sets]
        public = name.split(":", 1)[0] in PUBLIC_NAMESPACES
        requests = [("get", {}), ("get", {"data": hostile_query(world)}), ("post", {})]
        if not public:
            requests.append(("post", {"data": hostile_post(world)}))
        for kwargs_set in kwarg_sets:
            url = reverse(name, kwargs=kwargs_set)
            for method, kwargs in requests:
                response = getattr(client, method)(url, **kwargs)
                visited += 1
                assert response.status_code < 500, (
                    f"{method.upper()} {url} answered {response.status_code}"
                )
                text = body_of(response)
                for marker in MARKERS:
                    assert marker not in text, (
                        f"{method.upper()} {url} shows {marker!r} to a North organiser"
                    )
            # Re-login in case a URL logged the organiser out.
            client.force_login(world.organiser)
    assert visited > 100
    after = Snapshot.take(world.south.pk)
    assert after == before, "a North organiser changed a South person"


def test_markers_are_visible_to_the_souths_own_organiser(world):
    """Positive control: the walk's markers do show up where the viewer is in scope."""
    south_client = Client()
    south_client.force_login(world.south_organiser)
    detail = south_client.get(reverse("people:detail", kwargs={"person_id": world.south.pk}))
    assert detail.status_code == 200
    assert SOUTH_LAST in body_of(detail) and SOUTH_EMAIL in body_of(detail)
    listing = south_client.get(reverse("people:list"), {"q": SOUTH_LAST})
    assert SOUTH_LAST in body_of(listing)


def test_django_admin_is_closed_to_organisers(world, client):
    client.force_login(world.organiser)
    response = client.get(f"/django-admin/people/person/{world.south.pk}/change/")
    assert response.status_code == 302
    assert "/django-admin/login/" in response["Location"]
    assert User.objects.get(pk=world.organiser.pk).is_staff is False
