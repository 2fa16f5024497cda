"""Triggers: which timeline entries put a person into a journey.

A trigger type names the timeline ``kind`` it listens to (``people.Activity.Kind``),
a ``Form`` for its settings (validated as step settings are) and ``matches(activity,
config)``. ``listener`` is registered in ``people.services.activity_listeners`` and
runs after the commit that wrote the entry: it finds the published journeys whose
trigger listens to that kind (one indexed query on a small table), and for those
whose trigger matches inserts an enrolment. It only inserts rows: the engine does
the rest. Insertion ignores conflicts, so a person already in the journey (or, without
re-entry, ever in it) is not entered twice, whatever the number of processes.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clarion.actions.models import ActionPage
from clarion.core.money import MoneyField
from clarion.donations.models import Donation
from clarion.people.models import Activity, Tag

from .configs import settings_clean

log = logging.getLogger(__name__)


class TriggerType:
    name: ClassVar[str] = ""
    label: ClassVar[Any] = ""
    kind: ClassVar[str] = ""
    Form: ClassVar[type[forms.Form]] = forms.Form

    def clean(self, config: Any) -> dict[str, Any]:
        cleaned = settings_clean(
            self.Form, config, not_object=_("A trigger's settings must be an object.")
        )
        return {k: (str(v) if k == "amount" and v is not None else v) for k, v in cleaned.items()}

    def matches(self, activity: Activity, config: dict[str, Any]) -> bool:
        raise NotImplementedError


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
    return [t.name for t in _REGISTRY.values() if t.kind == kind]


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


def listener(activity: Activity) -> None:
    """Enter the person into every published journey this entry triggers (after the
    commit that wrote it; see the module docstring)."""
    from .services import enrol

    names = types_for_kind(activity.kind)
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
