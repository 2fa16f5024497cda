"""The step-type registry: what a journey can do to a person, one type per kind of step.

As with segment conditions (``people.segments.registry``), a step type declares a
stable ``name`` (stored on ``Step.type``; never rename a shipped one), a ``label``, a
``Form`` whose fields are its settings (the same form validates the JSON of an
imported journey and the staff form, so bad input is a form error, never a 500),
``branches`` (``("next",)`` or ``("yes", "no")`` or ``()`` for the last step),
``run(ctx)``, which does the step for one person and says where to go, and
``run_many(ctxs)``, the same for many people at the same step at once: the engine
calls it with everyone of a batch who stands at the step, so a type whose work can be
done for a set (one insert of taggings, one segment query) does it in a few
statements. The default runs ``run`` for each. ``run_many`` must give the results that
``run`` would have given, person by person, in the order of ``ctxs``: if it raises,
the engine runs ``run`` for each person instead, so one bad person stalls no one else.

``run`` is called by the engine inside the transaction that also records the step's
run and moves the enrolment on (``engine``), with the enrolment row locked. So a step
must do its work only through the database in that transaction (people services, the
mailing ledger), never by talking to the outside world: then a worker killed
mid-step leaves no trace of it, and a committed step is never run again.

``rehearse(ctx)`` is what the step does in a *test run* (``testruns``): it reads but
never writes what is stored about the person, and says in ``detail`` what it would
have done ("Would add the tag …"). Its outcome is a ``TestRunEntry.Outcome``. The
default changes nothing and goes on by ``next``; types whose work is only reading
(wait, decision, split, goal, end) rehearse by running.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clarion.mailings.models import Mailing
from clarion.people.models import Person, Tag
from clarion.people.segments.compiler import compile_definition, validate_definition
from clarion.people.segments.registry import SegmentDefinitionError

from .configs import settings_clean
from .models import StepRun, TestRunEntry


class DefinitionField(forms.Field):
    """A segment definition (a JSON object), validated by the segment compiler."""

    def to_python(self, value):
        if value in (None, "", {}):
            return {"op": "all", "conditions": []}
        if isinstance(value, str):
            import json

            try:
                value = json.loads(value)
            except ValueError:
                raise ValidationError(_("Enter a valid JSON object."), code="invalid") from None
        try:
            return validate_definition(value)
        except SegmentDefinitionError as exc:
            raise ValidationError(exc.messages) from None


@dataclass
class Context:
    """What a step sees: the enrolment (locked), its person, the step, the time."""

    enrolment: Any
    person: Person
    step: Any
    now: datetime.datetime
    # mailing id -> ledger rows queued in this transaction (woken once, at the end)
    ledger: dict[int, int] = field(default_factory=dict)


@dataclass
class Result:
    outcome: str
    follow: str | None = "next"  # "next", "yes", "no", or None to stop here
    detail: str = ""
    wait_until: datetime.datetime | None = None
    state: str | None = None  # an Enrolment.State to end in
    recipient: Any = None


class StepType:
    name: ClassVar[str] = ""
    label: ClassVar[Any] = ""
    branches: ClassVar[tuple[str, ...]] = ("next",)
    Form: ClassVar[type[forms.Form]] = forms.Form

    def clean(self, config: Any) -> dict[str, Any]:
        """The stored form of ``config`` (raises ValidationError with the messages)."""
        cleaned = settings_clean(
            self.Form, config, not_object=_("A step's settings must be an object.")
        )
        return {k: _jsonable(v) for k, v in cleaned.items()}

    def run(self, ctx: Context) -> Result:
        raise NotImplementedError

    def run_many(self, ctxs: list[Context]) -> list[Result]:
        """``run`` for each of ``ctxs`` (all at the same step); types override it with a
        set-based form."""
        return [self.run(ctx) for ctx in ctxs]

    def rehearse(self, ctx: Context) -> Result:
        """What a test run records for this step (see the module docstring)."""
        return Result(
            TestRunEntry.Outcome.WOULD,
            follow=self.branches[0] if self.branches else None,
            detail=_("Not run in a test: %(step)s") % {"step": self.describe(ctx.step.config)},
        )

    def describe(self, config: dict[str, Any]) -> str:
        return str(self.label)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, datetime.time):
        return value.strftime("%H:%M")
    return value


_REGISTRY: dict[str, StepType] = {}


def register(cls: type[StepType]) -> type[StepType]:
    if cls.name in _REGISTRY and type(_REGISTRY[cls.name]) is not cls:
        raise ImproperlyConfigured(f"A journey step named {cls.name!r} is already registered.")
    _REGISTRY[cls.name] = cls()
    return cls


def step_type(name: Any) -> StepType | None:
    return _REGISTRY.get(name) if isinstance(name, str) else None


def step_types() -> list[StepType]:
    return list(_REGISTRY.values())


def person_matches(person: Person, definition: dict) -> bool:
    """Whether ``person`` meets a (validated) segment definition right now."""
    return Person.objects.filter(pk=person.pk).filter(compile_definition(definition)).exists()


def people_matching(person_ids: list[int], definition: dict) -> set[int]:
    """Which of ``person_ids`` meet a (validated) segment definition right now: one
    query, the segment's own, restricted to those ids."""
    if not person_ids:
        return set()
    return set(
        Person.objects.filter(pk__in=person_ids)
        .filter(compile_definition(definition))
        .values_list("pk", flat=True)
    )


def _done(did: bool, otherwise: str) -> Result:
    return Result(StepRun.Outcome.DONE, detail="" if did else otherwise)


# --- the built-in steps ---------------------------------------------------------------


class EmailForm(forms.Form):
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=250)
    body = forms.CharField(label=gettext_lazy("Body (Markdown)"), max_length=50_000)
    from_name = forms.CharField(label=gettext_lazy("From name"), max_length=100)
    from_email = forms.EmailField(label=gettext_lazy("From address"))
    # Staff's email categories (``mailings.categories``), or none: general mail,
    # which only unsubscribing stops. The choices are read when the form is made.
    category = forms.ChoiceField(label=gettext_lazy("Category"), choices=(), required=False)
    frequency_cap_hours = forms.IntegerField(
        label=gettext_lazy("Skip anyone mailed in the last N hours"),
        min_value=0,
        max_value=24 * 30,
        required=False,
    )

    def __init__(self, *args, **kwargs):
        from clarion.mailings.categories import composer_choices

        super().__init__(*args, **kwargs)
        self.fields["category"].choices = composer_choices()

    def clean_category(self):
        return self.cleaned_data.get("category") or ""

    def clean_frequency_cap_hours(self):
        return self.cleaned_data.get("frequency_cap_hours") or 0


@register
class SendEmail(StepType):
    """Queues the step's message in its standing mailing's ledger (``mailings.single``)
    in the engine's transaction; the mailing senders deliver it. Someone who is not
    subscribed skips the step (and goes on)."""

    name = "email"
    label = gettext_lazy("Send an email")
    Form = EmailForm

    def clean(self, config):
        # Settings that name no category at all (written before categories were
        # staff's) meant news, as they still do while that category exists; an empty
        # category is general mail.
        if isinstance(config, dict) and "category" not in config:
            from clarion.mailings.models import EmailCategory

            news = Mailing.Category.NEWS
            config = {
                **config,
                "category": news if EmailCategory.objects.filter(key=news).exists() else "",
            }
        return super().clean(config)

    def run(self, ctx: Context) -> Result:
        from clarion.mailings.single import ledger_add

        step = ctx.step
        if step.mailing_id is None:
            return Result(StepRun.Outcome.SKIPPED, detail="The email has not been prepared.")
        if not ctx.person.email:
            return Result(StepRun.Outcome.SKIPPED, detail="No email address.")
        if ctx.person.email_status != "subscribed":
            return Result(
                StepRun.Outcome.SKIPPED, detail=f"Email status is {ctx.person.email_status}."
            )
        row = ledger_add(mailing_id=step.mailing_id, person=ctx.person)
        if row is None:
            return Result(StepRun.Outcome.SKIPPED, detail="Already sent this email before.")
        ctx.ledger[step.mailing_id] = ctx.ledger.get(step.mailing_id, 0) + 1
        return Result(StepRun.Outcome.QUEUED, recipient=row)

    def run_many(self, ctxs: list[Context]) -> list[Result]:
        from clarion.mailings.single import ledger_add_many

        step = ctxs[0].step
        if step.mailing_id is None:
            return [self.run(ctx) for ctx in ctxs]
        rows = ledger_add_many(
            mailing_id=step.mailing_id,
            people=[
                c.person for c in ctxs if c.person.email and c.person.email_status == "subscribed"
            ],
        )
        results = []
        for ctx in ctxs:
            row = rows.get(ctx.person.pk)
            if row is None:
                # Not queued: the reason, as ``run`` gives it (no address, not subscribed,
                # or a row already in the ledger).
                if not ctx.person.email or ctx.person.email_status != "subscribed":
                    results.append(self.run(ctx))
                else:
                    results.append(
                        Result(StepRun.Outcome.SKIPPED, detail="Already sent this email before.")
                    )
                continue
            ctx.ledger[step.mailing_id] = ctx.ledger.get(step.mailing_id, 0) + 1
            results.append(Result(StepRun.Outcome.QUEUED, recipient=row))
        return results

    def rehearse(self, ctx: Context) -> Result:
        # The test copy is sent by ``testruns`` after the commit; this says what a
        # real run would have done with the person.
        person = ctx.person
        if not person.email:
            real = _("for real, skipped: no email address")
        elif person.email_status != "subscribed":
            real = _("for real, skipped: email status is %(status)s") % {
                "status": person.email_status
            }
        else:
            real = _("for real, sent to the person")
        return Result(TestRunEntry.Outcome.SENT, detail=real)

    def describe(self, config):
        return _("Email: %(subject)s") % {"subject": config.get("subject", "")}


WEEKDAYS = [
    ("monday", gettext_lazy("Monday")),
    ("tuesday", gettext_lazy("Tuesday")),
    ("wednesday", gettext_lazy("Wednesday")),
    ("thursday", gettext_lazy("Thursday")),
    ("friday", gettext_lazy("Friday")),
    ("saturday", gettext_lazy("Saturday")),
    ("sunday", gettext_lazy("Sunday")),
]


def next_local_time(now: datetime.datetime, at: str, weekday: str | None = None):
    """The first moment after ``now`` when the organisation's clock (``TIME_ZONE``)
    shows ``at`` ("HH:MM"), on ``weekday`` if given. Worked out on the wall clock, so
    "Monday 09:00" stays 09:00 across a change to or from summer time; a time that a
    spring-forward skips is read as the same time before the change."""
    tz = timezone.get_default_timezone()
    local = now.astimezone(tz)
    hour, minute = (int(x) for x in at.split(":")[:2])
    wanted = datetime.time(hour, minute)
    day = local.date()
    if weekday:
        index = [d for d, _label in WEEKDAYS].index(weekday)
        day += datetime.timedelta(days=(index - day.weekday()) % 7)
    step = datetime.timedelta(days=7 if weekday else 1)
    while True:
        candidate = datetime.datetime.combine(day, wanted, tzinfo=tz)
        if candidate > local:
            return candidate.astimezone(datetime.UTC)
        day += step


class WaitForm(forms.Form):
    days = forms.IntegerField(
        label=gettext_lazy("Days"), min_value=0, max_value=3650, required=False
    )
    hours = forms.IntegerField(
        label=gettext_lazy("Hours"), min_value=0, max_value=1000, required=False
    )
    minutes = forms.IntegerField(
        label=gettext_lazy("Minutes"), min_value=0, max_value=100_000, required=False
    )
    until = forms.DateTimeField(label=gettext_lazy("Until (date and time)"), required=False)
    weekday = forms.ChoiceField(
        label=gettext_lazy("Until the next (day of the week)"),
        choices=[("", "—")] + [(d, label) for d, label in WEEKDAYS],
        required=False,
    )
    at = forms.TimeField(
        label=gettext_lazy("At (time of day, the organisation's time zone)"), required=False
    )

    def clean(self):
        data = super().clean()
        span = sum(data.get(k) or 0 for k in ("days", "hours", "minutes"))
        kinds = [bool(span), bool(data.get("until")), bool(data.get("at") or data.get("weekday"))]
        if sum(kinds) > 1:
            raise ValidationError(
                _("Wait either for a time, until a date, or until a day and time: one of them.")
            )
        if data.get("weekday") and not data.get("at"):
            raise ValidationError(_("Give the time of day to wait until."))
        if not any(kinds):
            raise ValidationError(_("Say how long to wait, or until when."))
        if not data.get("weekday"):
            data.pop("weekday", None)
        if data.get("at") is None:
            data.pop("at", None)
        if data.get("until") and timezone.is_naive(data["until"]):
            data["until"] = timezone.make_aware(data["until"])
        return data


@register
class Wait(StepType):
    name = "wait"
    label = gettext_lazy("Wait")
    Form = WaitForm

    def run(self, ctx: Context) -> Result:
        config = ctx.step.config
        if config.get("until"):
            until = datetime.datetime.fromisoformat(config["until"])
        elif config.get("at"):
            until = next_local_time(ctx.now, config["at"], config.get("weekday"))
        else:
            until = ctx.now + datetime.timedelta(
                days=config.get("days") or 0,
                hours=config.get("hours") or 0,
                minutes=config.get("minutes") or 0,
            )
        return Result(StepRun.Outcome.WAITING, wait_until=until)

    def run_many(self, ctxs: list[Context]) -> list[Result]:
        # The same step at the same moment: the same time to wait until, for everyone.
        return [self.run(ctxs[0])] * len(ctxs)

    def rehearse(self, ctx: Context) -> Result:
        # ``testruns`` shortens the wait; the real end is kept for the log.
        return self.run(ctx)

    def describe(self, config):
        if config.get("until"):
            return _("Wait until %(when)s") % {"when": config["until"][:16].replace("T", " ")}
        if config.get("at"):
            if config.get("weekday"):
                day = dict(WEEKDAYS).get(config["weekday"], config["weekday"])
                return _("Wait until the next %(day)s, %(at)s") % {"day": day, "at": config["at"]}
            return _("Wait until the next %(at)s") % {"at": config["at"]}
        parts = [
            f"{config[k]} {label}"
            for k, label in (("days", _("days")), ("hours", _("hours")), ("minutes", _("min")))
            if config.get(k)
        ]
        return _("Wait %(span)s") % {"span": " ".join(parts)}


class DecisionForm(forms.Form):
    definition = DefinitionField(label=gettext_lazy("Condition"))


@register
class Decision(StepType):
    name = "decision"
    label = gettext_lazy("Decision")
    branches = ("yes", "no")
    Form = DecisionForm

    def run(self, ctx: Context) -> Result:
        yes = person_matches(ctx.person, ctx.step.config["definition"])
        return (
            Result(StepRun.Outcome.YES, follow="yes")
            if yes
            else Result(StepRun.Outcome.NO, follow="no")
        )

    def run_many(self, ctxs: list[Context]) -> list[Result]:
        yes = people_matching([c.person.pk for c in ctxs], ctxs[0].step.config["definition"])
        return [
            Result(StepRun.Outcome.YES, follow="yes")
            if c.person.pk in yes
            else Result(StepRun.Outcome.NO, follow="no")
            for c in ctxs
        ]

    def rehearse(self, ctx: Context) -> Result:
        return self.run(ctx)


class SplitForm(forms.Form):
    percent = forms.IntegerField(
        label=gettext_lazy("Share going the “yes” way (%)"), min_value=1, max_value=99
    )


@register
class RandomSplit(StepType):
    """Deterministic per person and step: the same person always goes the same way
    (also in a later version of the journey, as the step keeps its key)."""

    name = "split"
    label = gettext_lazy("Random split")
    branches = ("yes", "no")
    Form = SplitForm

    def run(self, ctx: Context) -> Result:
        seed = f"{ctx.step.journey_id}:{ctx.step.key}:{ctx.person.pk}".encode()
        bucket = int.from_bytes(hashlib.sha256(seed).digest()[:8], "big") % 100
        if bucket < ctx.step.config["percent"]:
            return Result(StepRun.Outcome.YES, follow="yes")
        return Result(StepRun.Outcome.NO, follow="no")

    def rehearse(self, ctx: Context) -> Result:
        # The same bucket as for real (by journey, step key and person).
        return self.run(ctx)


class TagForm(forms.Form):
    tag = forms.CharField(label=gettext_lazy("Tag"), max_length=100)


@register
class TagAdd(StepType):
    name = "tag_add"
    label = gettext_lazy("Add a tag")
    Form = TagForm

    def run(self, ctx: Context) -> Result:
        from clarion.people.services import tag_add

        added = tag_add(person=ctx.person, tag=ctx.step.config["tag"])
        return Result(StepRun.Outcome.DONE, detail="" if added else "Had the tag already.")

    def run_many(self, ctxs: list[Context]) -> list[Result]:
        from clarion.people.services import tag_add_many, tags_by_name

        tag = tags_by_name([ctxs[0].step.config["tag"]])[0]
        added = tag_add_many(person_ids=[c.person.pk for c in ctxs], tag=tag)
        return [_done(c.person.pk in added, "Had the tag already.") for c in ctxs]

    def rehearse(self, ctx: Context) -> Result:
        tag = ctx.step.config["tag"]
        has = ctx.person.taggings.filter(tag__name__iexact=tag).exists()
        words = (
            _("Would add the tag “%(tag)s” (they have it already)")
            if has
            else _("Would add the tag “%(tag)s”")
        )
        return Result(TestRunEntry.Outcome.WOULD, detail=words % {"tag": tag})

    def describe(self, config):
        return _("Add tag “%(tag)s”") % {"tag": config.get("tag", "")}


@register
class TagRemove(StepType):
    name = "tag_remove"
    label = gettext_lazy("Remove a tag")
    Form = TagForm

    def run(self, ctx: Context) -> Result:
        from clarion.people.services import tag_remove

        tag = Tag.objects.filter(name__iexact=ctx.step.config["tag"]).first()
        removed = tag is not None and tag_remove(person=ctx.person, tag=tag)
        return Result(StepRun.Outcome.DONE, detail="" if removed else "Did not have the tag.")

    def run_many(self, ctxs: list[Context]) -> list[Result]:
        from clarion.people.services import tag_remove_many

        tag = Tag.objects.filter(name__iexact=ctxs[0].step.config["tag"]).first()
        removed = tag_remove_many(person_ids=[c.person.pk for c in ctxs], tag=tag) if tag else set()
        return [_done(c.person.pk in removed, "Did not have the tag.") for c in ctxs]

    def rehearse(self, ctx: Context) -> Result:
        tag = ctx.step.config["tag"]
        has = ctx.person.taggings.filter(tag__name__iexact=tag).exists()
        words = (
            _("Would remove the tag “%(tag)s”")
            if has
            else _("Would remove the tag “%(tag)s” (they do not have it)")
        )
        return Result(TestRunEntry.Outcome.WOULD, detail=words % {"tag": tag})

    def describe(self, config):
        return _("Remove tag “%(tag)s”") % {"tag": config.get("tag", "")}


class ListForm(forms.Form):
    list = forms.CharField(label=gettext_lazy("List"), max_length=100)


@register
class ListAdd(StepType):
    name = "list_add"
    label = gettext_lazy("Add to a list")
    Form = ListForm

    def run(self, ctx: Context) -> Result:
        from clarion.people.services import list_add, lists_by_name

        plists = lists_by_name([ctx.step.config["list"]])
        added = bool(plists) and list_add(person=ctx.person, plist=plists[0])
        return Result(StepRun.Outcome.DONE, detail="" if added else "Was on the list already.")

    def run_many(self, ctxs: list[Context]) -> list[Result]:
        from clarion.people.services import list_add_many, lists_by_name

        plists = lists_by_name([ctxs[0].step.config["list"]])
        added = (
            list_add_many(person_ids=[c.person.pk for c in ctxs], plist=plists[0])
            if plists
            else set()
        )
        return [_done(c.person.pk in added, "Was on the list already.") for c in ctxs]

    def rehearse(self, ctx: Context) -> Result:
        name = ctx.step.config["list"]
        on = ctx.person.list_memberships.filter(list__name__iexact=name).exists()
        words = (
            _("Would add them to the list “%(list)s” (they are on it already)")
            if on
            else _("Would add them to the list “%(list)s”")
        )
        return Result(TestRunEntry.Outcome.WOULD, detail=words % {"list": name})

    def describe(self, config):
        return _("Add to list “%(name)s”") % {"name": config.get("list", "")}


class HumanForm(forms.Form):
    note = forms.CharField(label=gettext_lazy("What to ask the organiser"), max_length=2000)


@register
class AskHuman(StepType):
    """Creates a to-do for an organiser of the person's area (the nearest one above
    it) and goes on at once; the to-do's outcome (done / not reached) is recorded on
    the to-do. An unsubscribed person still gets this step."""

    name = "human"
    label = gettext_lazy("Ask a human")
    Form = HumanForm

    def run(self, ctx: Context) -> Result:
        from .services import todo_create

        todo = todo_create(step=ctx.step, person=ctx.person)
        who = todo.assignee.email if todo.assignee_id else "nobody (no organiser for the area)"
        return Result(StepRun.Outcome.DONE, detail=f"To-do {todo.pk} for {who}"[:300])

    def rehearse(self, ctx: Context) -> Result:
        from .services import organiser_for

        organiser = organiser_for(ctx.person)
        who = organiser.email if organiser else _("nobody (no organiser for the area)")
        return Result(
            TestRunEntry.Outcome.WOULD,
            detail=(
                _("Would ask %(who)s: %(note)s")
                % {"who": who, "note": ctx.step.config.get("note", "")}
            )[:300],
        )

    def describe(self, config):
        return _("Ask a human: %(note)s") % {"note": config.get("note", "")[:80]}


class GoalForm(forms.Form):
    definition = DefinitionField(label=gettext_lazy("Goal reached when"))


@register
class Goal(StepType):
    """A goal is checked before every step of the version (``engine``): the moment
    the person meets it they leave the journey as converted. Reached in sequence it
    is checked once more and, if not met, the person goes on."""

    name = "goal"
    label = gettext_lazy("Goal")
    Form = GoalForm

    def run(self, ctx: Context) -> Result:
        if person_matches(ctx.person, ctx.step.config["definition"]):
            return Result(StepRun.Outcome.CONVERTED, follow=None, state="converted")
        return Result(StepRun.Outcome.DONE)

    def run_many(self, ctxs: list[Context]) -> list[Result]:
        met = people_matching([c.person.pk for c in ctxs], ctxs[0].step.config["definition"])
        return [
            Result(StepRun.Outcome.CONVERTED, follow=None, state="converted")
            if c.person.pk in met
            else Result(StepRun.Outcome.DONE)
            for c in ctxs
        ]

    def rehearse(self, ctx: Context) -> Result:
        return self.run(ctx)


@register
class End(StepType):
    name = "end"
    label = gettext_lazy("End")
    branches = ()

    def run(self, ctx: Context) -> Result:
        return Result(StepRun.Outcome.COMPLETED, follow=None, state="completed")

    def rehearse(self, ctx: Context) -> Result:
        return self.run(ctx)
