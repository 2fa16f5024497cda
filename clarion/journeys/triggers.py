"""Triggers: which timeline entries put a person into a journey.

A trigger type names the timeline ``kind`` it listens to (``people.Activity.Kind``),
a ``Form`` for its settings (validated as step settings are) and ``matches(activity,
config)``. ``listener`` is registered in ``people.services.activity_listeners`` and
runs after the commit that wrote the entry: it finds the published journeys whose
trigger listens to that kind (one indexed query on a small table), and for those
whose trigger matches inserts an enrolment. It only inserts rows: the engine does
the rest. Insertion ignores conflicts, so a person already in the journey (or, without
re-entry, ever in it) is not entered twice, whatever the number of processes.

*Scheduled* triggers (``ScheduledTrigger``: a no-show after an event, a click on a
given mailing, entering a segment) have no timeline entry to listen to; the clock runs
``poll_all`` and each looks at what happened since its cursor (``Journey.trigger_state``),
under the journey's row lock, so two workers never consider the same rows twice.

Which trigger types published journeys use is kept in the cache (``listened``): a
timeline entry or a clock tick that no published journey listens to costs no query.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clarion.actions.models import ActionPage
from clarion.core.money import MoneyField
from clarion.donations.models import Donation
from clarion.people.models import Activity, MembershipStatus, PersonList, Tag

from .configs import settings_clean
from .steps import DefinitionField

log = logging.getLogger(__name__)


class TriggerType:
    name: ClassVar[str] = ""
    label: ClassVar[Any] = ""
    kind: ClassVar[str] = ""
    scheduled: ClassVar[bool] = False
    Form: ClassVar[type[forms.Form]] = forms.Form

    def clean(self, config: Any) -> dict[str, Any]:
        cleaned = settings_clean(
            self.Form, config, not_object=_("A trigger's settings must be an object.")
        )
        return {k: (str(v) if k == "amount" and v is not None else v) for k, v in cleaned.items()}

    def matches(self, activity: Activity, config: dict[str, Any]) -> bool:
        raise NotImplementedError

    def describe(self, config: dict[str, Any]) -> str:
        """The trigger in words, for the journey's page: its label and the settings
        given (a segment definition is not spelt out)."""
        form = self.Form()

        def shown(key, value):
            # A choice is shown by its label ("A gift of at least an amount").
            choices = getattr(form.fields.get(key), "choices", None) or ()
            return dict((str(c), label) for c, label in choices).get(str(value), value)

        parts = [
            f"{form.fields[k].label if k in form.fields else k}: {shown(k, v)}"
            for k, v in (config or {}).items()
            if v not in (None, "", [], {}) and not isinstance(v, dict)
        ]
        return f"{self.label} ({'; '.join(parts)})" if parts else str(self.label)


_REGISTRY: dict[str, TriggerType] = {}


def register(cls: type[TriggerType]) -> type[TriggerType]:
    if cls.name in _REGISTRY and type(_REGISTRY[cls.name]) is not cls:
        raise ImproperlyConfigured(f"A journey trigger named {cls.name!r} is already registered.")
    _REGISTRY[cls.name] = cls()
    return cls


def trigger_type(name: Any) -> TriggerType | None:
    return _REGISTRY.get(name) if isinstance(name, str) else None


def trigger_types() -> list[TriggerType]:
    return list(_REGISTRY.values())


def types_for_kind(kind: str) -> list[str]:
    return [t.name for t in _REGISTRY.values() if t.kind == kind and not t.scheduled]


def scheduled_types() -> list[str]:
    return [t.name for t in _REGISTRY.values() if t.scheduled]


# --- which trigger types published journeys use ---------------------------------------

LISTENED_KEY = "journeys:listened:v1"
LISTENED_SECONDS = 300
# Each process keeps the set for a few seconds on top of the shared cache, so a
# timeline entry costs no round trip at all; a journey published in another process
# starts entering people at most this long after it was published there. (One tuple,
# replaced whole: safe to share between threads.)
LOCAL_SECONDS = 5.0
_memo: tuple[frozenset[str], float] | None = None


def listened() -> frozenset[str]:
    """The trigger types of published journeys (from this process's copy, the shared
    cache, or one query on the small journeys table)."""
    from django.core.cache import cache

    from .models import Journey

    global _memo
    memo = _memo
    if memo is not None and time.monotonic() - memo[1] < LOCAL_SECONDS:
        return memo[0]
    names = cache.get(LISTENED_KEY)
    if names is None:
        names = sorted(
            set(
                Journey.objects.filter(status=Journey.Status.PUBLISHED).values_list(
                    "trigger_type", flat=True
                )
            )
        )
        cache.set(LISTENED_KEY, names, LISTENED_SECONDS)
    value = frozenset(names)
    _memo = (value, time.monotonic())
    return value


def listened_forget() -> None:
    """Call when a journey's status or trigger changes: now and again after the
    commit (so no process caches the state from before it)."""
    from django.core.cache import cache
    from django.db import transaction

    def forget():
        global _memo
        _memo = None
        cache.delete(LISTENED_KEY)

    forget()
    transaction.on_commit(forget)


class ActionForm(forms.Form):
    page = forms.IntegerField(label=gettext_lazy("On page (id)"), min_value=1, required=False)
    page_kind = forms.ChoiceField(
        label=gettext_lazy("Kind of page"),
        choices=[("", gettext_lazy("any"))] + list(ActionPage.Kind.choices),
        required=False,
    )


@register
class TookAction(TriggerType):
    """A counted action (a signature waiting for email confirmation counts once
    confirmed)."""

    name = "action"
    label = gettext_lazy("Took an action")
    kind = Activity.Kind.ACTION
    Form = ActionForm

    def matches(self, activity, config):
        data = activity.data
        if data.get("status") != "confirmed":
            return False
        if config.get("page") and data.get("page") != config["page"]:
            return False
        if config.get("page_kind"):
            kind = data.get("kind")
            if kind is None:  # a confirmation's entry does not name the kind
                kind = (
                    ActionPage.objects.filter(pk=data.get("page"))
                    .values_list("kind", flat=True)
                    .first()
                )
            if kind != config["page_kind"]:
                return False
        return True


class TagTriggerForm(forms.Form):
    tag = forms.CharField(label=gettext_lazy("Tag"), max_length=100)


@register
class TagAdded(TriggerType):
    name = "tag_added"
    label = gettext_lazy("Tag added")
    kind = Activity.Kind.TAGGED
    Form = TagTriggerForm

    def matches(self, activity, config):
        tag_id = activity.data.get("tag")
        return Tag.objects.filter(pk=tag_id, name__iexact=config["tag"]).exists()


class GaveForm(forms.Form):
    which = forms.ChoiceField(
        label=gettext_lazy("Which gifts"),
        choices=[
            ("any", gettext_lazy("Any gift")),
            ("first", gettext_lazy("Their first gift")),
            ("at_least", gettext_lazy("A gift of at least an amount")),
        ],
    )
    amount = MoneyField(label=gettext_lazy("Amount (£)"), required=False)

    def clean(self):
        data = super().clean()
        if data.get("which") == "at_least" and data.get("amount") is None:
            raise ValidationError(_("Give the amount."))
        return data


@register
class Gave(TriggerType):
    name = "gave"
    label = gettext_lazy("Gave")
    kind = Activity.Kind.DONATION
    Form = GaveForm

    def matches(self, activity, config):
        data = activity.data
        if data.get("event") not in ("succeeded", "recorded"):
            return False
        which = config.get("which")
        if which == "at_least":
            from decimal import Decimal

            pence = int(Decimal(config["amount"]) * 100)
            return (data.get("amount_pence") or 0) >= pence
        if which == "first":
            return (
                Donation.objects.filter(
                    person_id=activity.person_id, status=Donation.Status.SUCCEEDED
                ).count()
                == 1
            )
        return True


class EventTriggerForm(forms.Form):
    event = forms.IntegerField(label=gettext_lazy("Event (id)"), min_value=1, required=False)


@register
class Rsvped(TriggerType):
    """An RSVP with a place (not the waiting list), or a place given from it."""

    name = "rsvp"
    label = gettext_lazy("RSVP'd")
    kind = Activity.Kind.EVENT
    Form = EventTriggerForm

    def matches(self, activity, config):
        # RSVP entries (and a place given from the waiting list) carry the RSVP and
        # its status; check-ins carry ``attendance`` instead of a status. A change to
        # an RSVP that is going looks the same: it enters nobody already in the
        # journey (see the module docstring).
        data = activity.data
        if "rsvp" not in data or data.get("status") != "going" or "attendance" in data:
            return False
        return not config.get("event") or data.get("event") == config["event"]


@register
class Attended(TriggerType):
    name = "attended"
    label = gettext_lazy("Attended an event")
    kind = Activity.Kind.EVENT
    Form = EventTriggerForm

    def matches(self, activity, config):
        data = activity.data
        if data.get("attendance") != "attended":
            return False
        return not config.get("event") or data.get("event") == config["event"]


class ListTriggerForm(forms.Form):
    list = forms.CharField(label=gettext_lazy("List"), max_length=100)


@register
class JoinedList(TriggerType):
    name = "listed"
    label = gettext_lazy("Joined a list")
    kind = Activity.Kind.LISTED
    Form = ListTriggerForm

    def matches(self, activity, config):
        return PersonList.objects.filter(
            pk=activity.data.get("list"), name__iexact=config["list"]
        ).exists()


class _MembershipStatusBecame(TriggerType):
    """The person's membership status changed to ``status`` (the timeline entry
    ``people.services`` writes for a membership change or a staff edit names the
    fields that changed; a renewal moves ``renews_on`` only, and does not count)."""

    kind = Activity.Kind.MEMBERSHIP
    status: ClassVar[str] = ""

    def matches(self, activity, config):
        data = activity.data
        return "membership_status" in (data.get("fields") or ()) and (
            data.get("status") == self.status
        )


@register
class BecameMember(_MembershipStatusBecame):
    name = "became_member"
    label = gettext_lazy("Became a member")
    status = MembershipStatus.ACTIVE


@register
class MembershipLapsed(_MembershipStatusBecame):
    name = "membership_lapsed"
    label = gettext_lazy("Membership lapsed")
    status = MembershipStatus.LAPSED


# --- scheduled triggers -----------------------------------------------------------------

# Rows younger than this are left for the next tick: a row is written with its time
# before its transaction commits, so the newest ones may still be committing.
SETTLE = timedelta(seconds=30)


class ScheduledTrigger(TriggerType):
    """A trigger the clock runs (``poll_all``). ``poll`` is called with the journey's
    row locked, inside a transaction; it enters people with ``services.enrol_many``
    and returns how many, and keeps its cursor in ``journey.trigger_state`` (saved by
    the caller)."""

    scheduled = True

    def matches(self, activity, config):
        return False

    def poll(self, journey, *, now) -> int:
        raise NotImplementedError


def _since(journey, now) -> Any:
    """The cursor as a time: where the last poll stopped, or when the journey was
    published (nothing from before it enters anyone)."""
    from django.utils.dateparse import parse_datetime

    raw = journey.trigger_state.get("until")
    return parse_datetime(raw) if raw else journey.modified_at


class NoShowForm(forms.Form):
    event = forms.IntegerField(label=gettext_lazy("Event (id)"), min_value=1, required=False)
    hours_after = forms.IntegerField(
        label=gettext_lazy("Hours after the event ends"),
        min_value=0,
        max_value=72,
        required=False,
        help_text=gettext_lazy("Time for late check-ins to be recorded (2 if left empty)."),
    )


@register
class NoShow(ScheduledTrigger):
    """RSVP'd with a place, the event is over and they were not checked in. Each RSVP
    is considered once, ``hours_after`` the event ended."""

    name = "no_show"
    label = gettext_lazy("Did not come to an event")
    Form = NoShowForm

    def poll(self, journey, *, now):
        from django.utils.dateparse import parse_datetime

        from clarion.events.models import Event, Rsvp

        from .services import enrol_many

        hours = journey.trigger_config.get("hours_after")
        delay = timedelta(hours=2 if hours is None else hours)
        cutoff = now - delay
        # The cursor is an event end time: events that ended after it and at least
        # ``delay`` ago are looked at now, and never again.
        raw = journey.trigger_state.get("ended_until")
        since = parse_datetime(raw) if raw else journey.modified_at - delay
        if cutoff <= since:
            return 0
        rsvps = Rsvp.objects.filter(
            status=Rsvp.Status.GOING,
            event__status=Event.Status.PUBLISHED,
            event__ends_at__gt=since,
            event__ends_at__lte=cutoff,
        ).exclude(attendance=Rsvp.Attendance.ATTENDED)
        if journey.trigger_config.get("event"):
            rsvps = rsvps.filter(event_id=journey.trigger_config["event"])
        entered = 0
        for rsvp_id, person_id, event_id in rsvps.values_list("pk", "person_id", "event_id"):
            entered += enrol_many(
                journey=journey,
                person_ids=[person_id],
                source={"trigger": "no_show", "rsvp": rsvp_id, "event": event_id},
            )
        journey.trigger_state["ended_until"] = cutoff.isoformat()
        return entered


class ClickForm(forms.Form):
    mailing = forms.IntegerField(label=gettext_lazy("Mailing (id)"), min_value=1)


@register
class ClickedMailing(ScheduledTrigger):
    """A person clicked a link in the given mailing (machine clicks — scanners,
    proxies — do not count). Each click is considered once."""

    name = "clicked"
    label = gettext_lazy("Clicked a link in a mailing")
    Form = ClickForm

    def poll(self, journey, *, now):
        from clarion.mailings.models import Event

        from .services import enrol_many

        since, until = _since(journey, now), now - SETTLE
        if until <= since:
            return 0
        people = (
            Event.objects.filter(
                mailing_id=journey.trigger_config["mailing"],
                kind=Event.Kind.CLICK,
                machine=False,
                created_at__gt=since,
                created_at__lte=until,
                recipient__person__isnull=False,
            )
            .values_list("recipient__person_id", flat=True)
            .distinct()
        )
        entered = enrol_many(
            journey=journey,
            person_ids=list(people),
            source={"trigger": "clicked", "mailing": journey.trigger_config["mailing"]},
        )
        journey.trigger_state["until"] = until.isoformat()
        return entered


class SegmentTriggerForm(forms.Form):
    definition = DefinitionField(label=gettext_lazy("People who meet"))


@register
class EnteredSegment(ScheduledTrigger):
    """A person newly meets the definition (checked on the schedule). Who met it at
    the last check is kept (``SegmentPresence``), so someone is entered when they come
    in, not at every check; with re-entry allowed, again after leaving and coming
    back. Everyone who meets it when the journey is published enters at the first
    check."""

    name = "segment"
    label = gettext_lazy("Entered a segment")
    Form = SegmentTriggerForm

    def poll(self, journey, *, now):
        from clarion.people.models import Person
        from clarion.people.segments.compiler import compile_definition

        from .models import SegmentPresence
        from .services import enrol_many

        members = Person.objects.filter(compile_definition(journey.trigger_config["definition"]))
        present = SegmentPresence.objects.filter(journey=journey)
        present.exclude(person__in=members.values("pk")).delete()
        newcomers = members.exclude(pk__in=present.values("person_id")).values_list("pk", flat=True)
        entered = 0
        batch: list[int] = []
        for pk in newcomers.iterator(chunk_size=5000):
            batch.append(pk)
            if len(batch) == 5000:
                entered += _present_and_enrol(journey, batch, SegmentPresence, enrol_many)
                batch = []
        if batch:
            entered += _present_and_enrol(journey, batch, SegmentPresence, enrol_many)
        return entered


class RenewsForm(forms.Form):
    days = forms.IntegerField(
        label=gettext_lazy("Days before the renewal date"), min_value=1, max_value=90
    )


@register
class RenewsSoon(ScheduledTrigger):
    """An active member whose membership renews in ``days`` days. The cursor is a
    renewal date (``renews_until``): each check looks at the renewal dates after it
    up to ``days`` from today, so each person enters once per renewal date however
    often the clock runs, and a renewal date that was ``days`` away before the journey
    was published enters nobody. A member who renews has a later date, considered
    when it comes near (with re-entry allowed, they go through again then)."""

    name = "renews_soon"
    label = gettext_lazy("Membership renews in N days")
    Form = RenewsForm

    def describe(self, config):
        return _("Membership renews in %(days)s days") % {"days": config.get("days")}

    def poll(self, journey, *, now):
        from django.utils import timezone
        from django.utils.dateparse import parse_date

        from clarion.people.models import Person

        from .services import enrol_many

        days = journey.trigger_config["days"]
        today = timezone.localdate(now)
        ahead = today + timedelta(days=days)
        raw = journey.trigger_state.get("renews_until")
        if raw:
            since = parse_date(raw)
        else:  # published today: from the dates that are ``days`` away from now on
            since = timezone.localdate(journey.modified_at) + timedelta(days=days - 1)
        if ahead <= since:
            return 0
        # ``since`` can be more than ``days`` old when the clock stopped for a while:
        # a renewal date that has passed meanwhile is no longer "in N days".
        people = (
            Person.objects.filter(
                membership_status=MembershipStatus.ACTIVE,
                renews_on__gt=since,
                renews_on__gte=today,
                renews_on__lte=ahead,
            )
            .order_by("renews_on", "pk")
            .values_list("pk", "renews_on")
        )
        by_date: dict[Any, list[int]] = {}
        for pk, renews_on in people.iterator(chunk_size=5000):
            by_date.setdefault(renews_on, []).append(pk)
        entered = 0
        for renews_on, person_ids in by_date.items():
            for start in range(0, len(person_ids), 5000):
                entered += enrol_many(
                    journey=journey,
                    person_ids=person_ids[start : start + 5000],
                    source={"trigger": "renews_soon", "renews_on": renews_on.isoformat()},
                )
        journey.trigger_state["renews_until"] = ahead.isoformat()
        return entered


def _present_and_enrol(journey, person_ids, model, enrol_many) -> int:
    model.objects.bulk_create(
        [model(journey=journey, person_id=pk) for pk in person_ids], ignore_conflicts=True
    )
    return enrol_many(journey=journey, person_ids=person_ids, source={"trigger": "segment"})


def poll_all(*, now=None) -> int:
    """Run every published journey's scheduled trigger once; returns how many people
    were entered. No query at all when no published journey has one."""
    from django.db import transaction
    from django.utils import timezone

    from .models import Journey

    heard = listened()
    names = [n for n in scheduled_types() if n in heard]
    if not names:
        return 0
    now = now or timezone.now()
    entered = 0
    ids = Journey.objects.filter(
        status=Journey.Status.PUBLISHED, trigger_type__in=names
    ).values_list("pk", flat=True)
    for pk in list(ids):
        try:
            with transaction.atomic():
                journey = (
                    Journey.objects.select_for_update(skip_locked=True)
                    .filter(pk=pk, status=Journey.Status.PUBLISHED)
                    .first()
                )
                if journey is None:  # another worker has it, or it was paused
                    continue
                ttype = trigger_type(journey.trigger_type)
                if not isinstance(ttype, ScheduledTrigger):
                    continue
                entered += ttype.poll(journey, now=now)
                Journey.objects.filter(pk=pk).update(trigger_state=journey.trigger_state)
        except Exception:
            log.exception("journey %s: scheduled trigger failed; tried again later", pk)
    if entered:
        kick()
    return entered


def listener(activity: Activity) -> None:
    """Enter the person into every published journey this entry triggers (after the
    commit that wrote it; see the module docstring)."""
    from .services import enrol

    names = types_for_kind(activity.kind)
    if not names:
        return
    heard = listened()
    names = [n for n in names if n in heard]
    if not names:
        return
    from .models import Journey

    journeys = list(Journey.objects.filter(status=Journey.Status.PUBLISHED, trigger_type__in=names))
    entered = 0
    for journey in journeys:
        ttype = trigger_type(journey.trigger_type)
        try:
            if ttype is None or not ttype.matches(activity, journey.trigger_config):
                continue
        except Exception:  # a stored setting the trigger cannot read: skip, loudly
            log.exception("journey %s: trigger could not be read", journey.pk)
            continue
        entered += bool(
            enrol(journey=journey, person_id=activity.person_id, source={"activity": activity.pk})
        )
    if entered:
        kick()


KICK_SECONDS = 2


def kick() -> None:
    """Start the engine soon: at most one task per ``KICK_SECONDS`` across every
    process (``cache.add`` is atomic), so a burst of signups does not queue a task
    each. Someone entered just after a kicked task finished waits for the clock's
    next run (``journeys.advance``, every few seconds)."""
    from django.core.cache import cache

    from .tasks import journeys_advance

    if cache.add("journeys:kick", 1, timeout=KICK_SECONDS):
        journeys_advance.enqueue()
