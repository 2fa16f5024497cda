"""A year of history for the demo (``clarion load_demo``): people signing the live
pages, coming to past events, hosting a few, giving money, then a full engagement
recompute, so the funnel, the dashboard's rising and cooling lists, the person page's
engagement panel and the activity segment conditions show something.

The rows are the ones the apps' services write (a submission and its "action" entry,
an RSVP with its "RSVP'd", "cancelled" and check-in entries, a proposed event's
"proposed" entry, a gift and its "donation" entry), but backdated, which no service
allows, so they are written here in bulk. Nothing is queued or sent: no thank-you,
confirmation, letter, reminder, receipt or follow-up (thank-yous, letters and receipts
are marked sent when they would have been; past events have no follow-up text), and
no activity listener runs (the recompute scores everything at the end).

Deterministic (seeded), and once: a database that already holds the history's past
events is left alone.
"""

from __future__ import annotations

import datetime as dt
import random

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from clarion.actions.models import ActionPage, Submission
from clarion.areas.models import Area, Postcode
from clarion.areas.selectors import area_subtree_q
from clarion.core.money import format_money
from clarion.donations.models import Donation, RecurringPlan
from clarion.engagement.services import recompute
from clarion.events.models import Event, Rsvp
from clarion.events.services import event_save
from clarion.people.models import Activity, MembershipStatus, Person
from clarion.people.normalise import canonical_email

SEED = 2026
DAY = dt.timedelta(days=1)
YEAR_DAYS = 350  # inside the funnel's default period (this month and the 11 before)
SHARE = 0.2  # of a region's people with an email address, who did something this year
MIN_PEOPLE = 10  # per region, so a small demo still shows every stage
EVENT_GOERS = 0.4  # of those, who also came (or meant to come) to events
CORE = 3  # per region: regulars who come to every event (the "came back" stage)

# (days ago, hour, kind, title, branch code, hosted by a member)
PAST_EVENTS = {
    "R-N": [
        (300, 10, Event.Kind.CANVASS, "Doorstep in Leeds Riverside", "B-LDS2", False),
        (215, 19, Event.Kind.MEETING, "Newcastle branch meeting", "B-NCL1", False),
        (130, 18, Event.Kind.PHONE_BANK, "Phone bank for the library campaign", "B-MAN2", True),
        (60, 19, Event.Kind.SOCIAL, "Curry and politics in Leeds", "B-LDS1", True),
        (6, 10, Event.Kind.CANVASS, "Doorstep in Manchester Central", "B-MAN1", False),
    ],
    "R-M": [
        (280, 19, Event.Kind.MEETING, "Birmingham branch meeting", "B-BHM2", False),
        (170, 10, Event.Kind.CANVASS, "Nottingham doorstep day", "B-NOT1", True),
        (75, 18, Event.Kind.FUNDRAISER, "Leicester quiz fundraiser", "B-LEI2", False),
        (8, 19, Event.Kind.SOCIAL, "Birmingham pub social", "B-BHM1", False),
    ],
    "R-S": [
        (260, 10, Event.Kind.CANVASS, "Bristol doorstep day", "B-BRS2", False),
        (150, 19, Event.Kind.MEETING, "Southampton branch meeting", "B-SOT1", True),
        (90, 18, Event.Kind.PHONE_BANK, "Brighton phone bank", "B-BTN2", False),
        (9, 10, Event.Kind.CANVASS, "Doorstep in Bristol Central", "B-BRS1", False),
    ],
}
TITLES = [e[3] for events in PAST_EVENTS.values() for e in events]

# The msgids the actions service writes its timeline summaries with.
ACTION_SUMMARY = {
    ActionPage.Kind.PETITION: gettext_noop("Signed the petition “%(title)s”"),
    ActionPage.Kind.PLEDGE: gettext_noop("Pledged: “%(title)s”"),
    ActionPage.Kind.SIGNUP: gettext_noop("Filled in the form “%(title)s”"),
    ActionPage.Kind.LETTER: gettext_noop("Wrote to %(target)s: “%(title)s”"),
    ActionPage.Kind.SURVEY: gettext_noop("Answered the survey “%(title)s”"),
}


def history_loaded() -> bool:
    """The marker: the history's past events exist (one indexed query)."""
    return Event.objects.filter(title__in=TITLES, starts_at__lt=timezone.now()).exists()


def demo_history_create(*, now: dt.datetime | None = None) -> bool:
    """Write the demo's year of history and recompute every engagement score, in one
    transaction. Returns False (and writes nothing) when it is there already or there
    is nobody to give it to. Queues no task and sends no email."""
    if history_loaded():
        return False
    now = now or timezone.now()
    rng = random.Random(SEED)
    pages = list(
        ActionPage.objects.filter(status=ActionPage.Status.LIVE)
        .exclude(kind=ActionPage.Kind.DONATION)
        .order_by("pk")
    )
    donation_page = (
        ActionPage.objects.filter(status=ActionPage.Status.LIVE, kind=ActionPage.Kind.DONATION)
        .order_by("pk")
        .first()
    )
    regions = list(Area.objects.filter(code__in=list(PAST_EVENTS)).order_by("code"))
    if not pages or not regions:
        return False
    with transaction.atomic():
        # Timeline entries, gathered for one bulk insert (no listener runs for them).
        activities: list[Activity] = []
        actors: dict[str, list[Person]] = {}
        for region in regions:
            people = _region_people(region, now=now, rng=rng)
            if not people:
                continue
            goers = people[: max(CORE + 2, round(len(people) * EVENT_GOERS))]
            first_rsvp = _events_write(region, goers, now=now, rng=rng, activities=activities)
            _submissions_write(people, pages, first_rsvp, now=now, rng=rng, activities=activities)
            actors[region.code] = people
        if donation_page is not None and actors:
            _donations_write(actors, donation_page, now=now, rng=rng, activities=activities)
        Activity.objects.bulk_create(activities, batch_size=500)
        recompute(now=now)
    return True


def _region_people(region: Area, *, now: dt.datetime, rng: random.Random) -> list[Person]:
    """A seeded sample of the region's people with an email address who joined more
    than a month ago, members first among the first few (the regulars and hosts)."""
    pool = list(
        Person.objects.filter(
            area_subtree_q(region), email__isnull=False, created_at__lt=now - 30 * DAY
        )
        .only(
            "pk",
            "email",
            "first_name",
            "last_name",
            "postcode",
            "membership_status",
            "created_at",
        )
        .order_by("pk")
    )
    rng.shuffle(pool)
    wanted = min(len(pool), max(MIN_PEOPLE, round(len(pool) * SHARE)))
    chosen = pool[:wanted]
    # Regulars are likelier to be members, and member hosts are drawn from them.
    members = [p for p in chosen if p.membership_status == MembershipStatus.ACTIVE]
    others = [p for p in chosen if p.membership_status != MembershipStatus.ACTIVE]
    return members[:1] + others[: CORE - 1] + members[1:] + others[CORE - 1 :]


def _at(day: dt.datetime, rng: random.Random) -> dt.datetime:
    """A believable time of day on ``day``'s date (organisation's time zone)."""
    local = timezone.localtime(day)
    return local.replace(hour=rng.randint(8, 21), minute=rng.randint(0, 59), second=0)


def _after_joining(person: Person, when: dt.datetime) -> dt.datetime:
    return max(when, person.created_at + dt.timedelta(hours=1))


def _events_write(
    region: Area,
    goers: list[Person],
    *,
    now: dt.datetime,
    rng: random.Random,
    activities: list[Activity],
) -> dict[int, dt.datetime]:
    """The region's past events, their RSVPs, check-ins and member hosts. Returns each
    person's first RSVP time."""
    core, rest = goers[:CORE], goers[CORE:]
    first_rsvp: dict[int, dt.datetime] = {}
    host_turn = 0
    today = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    for days, hour, kind, title, code, hosted in PAST_EVENTS[region.code]:
        starts = (today - days * DAY).replace(hour=hour)
        host = core[host_turn % len(core)] if hosted and core else None
        host_turn += bool(host)
        event = _event_create(
            title=title, kind=kind, code=code, region=region, starts=starts, host=host, rng=rng
        )
        if host is not None:
            activities.append(
                Activity(
                    person=host,
                    kind=Activity.Kind.EVENT,
                    summary=_("Proposed an event: “%(title)s”") % {"title": title},
                    data={"event": event.pk},
                    created_at=event.created_at,
                )
            )
        invited = [p for p in core if p != host] + rng.sample(rest, k=round(len(rest) * 0.5))
        invited = [p for p in invited if p.created_at < starts - 3 * DAY]
        rsvps = []
        for person in invited:
            made = _after_joining(person, _at(starts - rng.randint(2, 20) * DAY, rng))
            made = min(made, starts - dt.timedelta(hours=3))
            regular = person in core
            roll = rng.random()
            if not regular and roll < 0.12:
                status, attendance = Rsvp.Status.CANCELLED, Rsvp.Attendance.UNKNOWN
            elif regular or roll < 0.75:
                status, attendance = Rsvp.Status.GOING, Rsvp.Attendance.ATTENDED
            else:
                status, attendance = Rsvp.Status.GOING, Rsvp.Attendance.NO_SHOW
            rsvps.append(
                Rsvp(
                    event=event,
                    person=person,
                    submitted=_typed(person),
                    status=status,
                    attendance=attendance,
                    source="email" if rng.random() < 0.6 else "web",
                    created_at=made,
                    cancelled_at=(made + (starts - made) / 2) if status == "cancelled" else None,
                    checked_in_at=(
                        starts + dt.timedelta(minutes=rng.randint(0, 40))
                        if attendance == Rsvp.Attendance.ATTENDED
                        else None
                    ),
                )
            )
            if status != Rsvp.Status.CANCELLED and (
                person.pk not in first_rsvp or made < first_rsvp[person.pk]
            ):
                first_rsvp[person.pk] = made
        Rsvp.objects.bulk_create(rsvps)
        for rsvp in rsvps:
            activities.extend(_rsvp_activities(event, rsvp))
    return first_rsvp


def _event_create(
    *,
    title: str,
    kind: str,
    code: str,
    region: Area,
    starts: dt.datetime,
    host: Person | None,
    rng: random.Random,
) -> Event:
    area = Area.objects.filter(code=code).first() or region
    postcode = (
        Postcode.objects.filter(area=area).order_by("postcode").values_list("postcode", flat=True)
    ).first()
    event = Event(
        title=title,
        kind=kind,
        area=area,
        postcode=postcode or "",
        online_url="" if postcode else "https://meet.example.org/demo",
        venue="Community centre",
        description="Everyone is welcome. We'll pair you with someone experienced.",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2),
        capacity=60,
        status=Event.Status.PUBLISHED,
        visibility=Event.Visibility.PUBLIC,
        host_person=host,
        proposed_by=host,
        follow_up="",  # a follow-up would be queued for an event that ended lately
        created_at=starts - rng.randint(21, 35) * DAY,
    )
    return event_save(event=event)


def _typed(person: Person) -> dict[str, str]:
    """What a form would have kept as typed (see actions.Submission.submitted)."""
    fields = {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "postcode": person.postcode,
    }
    return {k: v for k, v in fields.items() if v}


def _rsvp_activities(event: Event, rsvp: Rsvp) -> list[Activity]:
    """The entries ``rsvp_create``, ``rsvp_cancel`` and ``checkin_mark`` write."""
    title = {"title": event.title}
    made = [
        Activity(
            person=rsvp.person,
            kind=Activity.Kind.EVENT,
            summary=_("RSVP'd to “%(title)s”") % title,
            data={"event": event.pk, "rsvp": rsvp.pk, "status": "going", "guests": 0},
            created_at=rsvp.created_at,
        )
    ]
    if rsvp.status == Rsvp.Status.CANCELLED:
        made.append(
            Activity(
                person=rsvp.person,
                kind=Activity.Kind.EVENT,
                summary=_("Cancelled their RSVP to “%(title)s”") % title,
                data={"event": event.pk, "rsvp": rsvp.pk, "status": rsvp.status},
                created_at=rsvp.cancelled_at,
            )
        )
    elif rsvp.attendance != Rsvp.Attendance.UNKNOWN:
        attended = rsvp.attendance == Rsvp.Attendance.ATTENDED
        made.append(
            Activity(
                person=rsvp.person,
                kind=Activity.Kind.EVENT,
                summary=(
                    _("Attended “%(title)s”") if attended else _("Did not come to “%(title)s”")
                )
                % title,
                data={"event": event.pk, "rsvp": rsvp.pk, "attendance": rsvp.attendance},
                created_at=rsvp.checked_in_at or event.ends_at + dt.timedelta(hours=1),
            )
        )
    return made


def _answers(page: ActionPage, rng: random.Random) -> dict:
    if page.kind == ActionPage.Kind.LETTER:
        return {"subject": page.letter_subject, "letter": page.letter_body}
    answers = {}
    for question in page.questions or []:
        choices = question.get("choices") or []
        if question.get("kind") == "multi" and choices:
            answers[question["key"]] = rng.sample(choices, k=rng.randint(1, len(choices)))
        elif question.get("kind") == "choice" and choices:
            answers[question["key"]] = rng.choice(choices)
        elif question.get("kind") == "yesno":
            answers[question["key"]] = rng.random() < 0.4
    return answers


def _submissions_write(
    people: list[Person],
    pages: list[ActionPage],
    first_rsvp: dict[int, dt.datetime],
    *,
    now: dt.datetime,
    rng: random.Random,
    activities: list[Activity],
) -> None:
    """One to three confirmed submissions per person, more in recent months; someone
    who RSVP'd acted online first (the funnel's order)."""
    earliest = now - YEAR_DAYS * DAY
    submissions = []
    for person in people:
        count = 1 + (rng.random() < 0.5) + (rng.random() < 0.2)
        for n, page in enumerate(rng.sample(pages, k=min(count, len(pages)))):
            if n == 0 and person.pk in first_rsvp:
                when = first_rsvp[person.pk] - rng.randint(3, 45) * DAY
            else:
                # Density rising towards today: the campaign is growing.
                when = now - YEAR_DAYS * rng.random() ** 1.6 * DAY
            when = _after_joining(person, max(_at(when, rng), earliest))
            when = min(when, now - dt.timedelta(hours=1))
            letter = page.kind == ActionPage.Kind.LETTER
            submissions.append(
                Submission(
                    page=page,
                    person=person,
                    submitted=_typed(person),
                    email_canonical=canonical_email(person.email),
                    email_domain=person.email.rpartition("@")[2],
                    status=Submission.Status.CONFIRMED,
                    answers=_answers(page, rng),
                    source="email" if rng.random() < 0.5 else "web",
                    created_at=when,
                    confirmed_at=when,
                    # The thank-you (and letter) went out back then: nothing is queued.
                    email_sent_at=when,
                    letter_sent_at=when if letter else None,
                )
            )
    Submission.objects.bulk_create(submissions)
    for submission in submissions:
        page = submission.page
        summary = _(ACTION_SUMMARY.get(page.kind, gettext_noop("Took action on “%(title)s”"))) % {
            "title": page.title,
            "target": page.target_name or _("the target"),
        }
        activities.append(
            Activity(
                person=submission.person,
                kind=Activity.Kind.ACTION,
                summary=summary[:500],
                data={
                    "page": page.pk,
                    "slug": page.slug,
                    "kind": page.kind,
                    "submission": submission.pk,
                    "status": submission.status,
                    **(
                        {"letter": submission.answers}
                        if page.kind == ActionPage.Kind.LETTER
                        else {}
                    ),
                },
                created_at=submission.created_at,
            )
        )


def _donations_write(
    people_by_region: dict[str, list[Person]],
    page: ActionPage,
    *,
    now: dt.datetime,
    rng: random.Random,
    activities: list[Activity],
) -> None:
    """A few one-off gifts per region and one monthly gift (in the North, so its
    organiser sees it; paid each month for five months), all succeeded with their
    receipts sent."""
    amounts = page.suggested_amounts or [500, 1000, 2500]
    gifts: list[tuple[Person, int, dt.datetime]] = []
    for people in people_by_region.values():
        for person in rng.sample(people, k=min(3, len(people))):
            when = _after_joining(person, _at(now - rng.randint(2, YEAR_DAYS) * DAY, rng))
            gifts.append((person, rng.choice(amounts), min(when, now - dt.timedelta(hours=1))))
    for person, amount, when in gifts:
        donation = _gift(person=person, page=page, amount=amount, when=when)
        activities.append(_gift_activity(donation, _("Donated %(amount)s on %(page)s")))
    people = people_by_region.get("R-N") or next(iter(people_by_region.values()))
    monthly = people[-1]
    start = _after_joining(monthly, _at(now - 140 * DAY, rng))
    first = _gift(person=monthly, page=page, amount=1000, when=start, recurring=True)
    plan = RecurringPlan.objects.create(
        person=monthly,
        page=page,
        amount_pence=first.amount_pence,
        gateway=first.gateway,
        gateway_subscription_id=f"test_sub_{first.pk}",
        created_at=start,
    )
    Donation.objects.filter(pk=first.pk).update(
        plan=plan, gateway_subscription_id=plan.gateway_subscription_id
    )
    activities.append(
        _gift_activity(first, _("Started a monthly donation of %(amount)s on %(page)s"))
    )
    month = 1
    while start + 30 * month * DAY < now:
        renewal = _gift(
            person=monthly,
            page=page,
            amount=plan.amount_pence,
            when=start + 30 * month * DAY,
            recurring=True,
            plan=plan,
            invoice=f"test_inv_{plan.pk}_{month}",
        )
        activities.append(_gift_activity(renewal, _("Donated %(amount)s on %(page)s")))
        month += 1


def _gift(
    *,
    person: Person,
    page: ActionPage,
    amount: int,
    when: dt.datetime,
    recurring: bool = False,
    plan: RecurringPlan | None = None,
    invoice: str = "",
) -> Donation:
    return Donation.objects.create(
        person=person,
        page=page,
        plan=plan,
        amount_pence=amount,
        recurring=recurring,
        status=Donation.Status.SUCCEEDED,
        gateway="test",
        gateway_subscription_id=plan.gateway_subscription_id if plan else "",
        gateway_invoice_id=invoice,
        source="web",
        created_at=when - dt.timedelta(minutes=2),
        modified_at=when,
        succeeded_at=when,
        receipt_sent_at=when,
    )


def _gift_activity(donation: Donation, summary: str) -> Activity:
    """The entry ``donations.services`` writes when a gift succeeds."""
    return Activity(
        person=donation.person,
        kind=Activity.Kind.DONATION,
        summary=summary
        % {
            "amount": format_money(donation.amount_pence, donation.currency),
            "page": donation.page.title,
        },
        data={
            "event": "succeeded",
            "donation_id": donation.pk,
            "page_id": donation.page_id,
            "amount_pence": donation.amount_pence,
            "currency": donation.currency,
            "recurring": donation.recurring,
        },
        created_at=donation.succeeded_at,
    )
