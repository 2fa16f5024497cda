"""Journeys: automation that moves people from step to step (docs/journeys.md).

- ``Journey``: a named automation owned by an area (None: national), with one trigger
  and a status (draft → test → published → paused → archived). ``version`` is the
  version new entrants start on; editing a published journey copies its steps to a
  new version, so people already on the way stay on the steps they started.
- ``Step``: one step of one version, typed through the step registry (``steps``);
  ``config`` is what that type's form cleaned. ``next`` / ``yes`` / ``no`` are the
  branches (yes/no for decisions and random splits).
- ``Enrolment``: one person's way through a journey. ``step`` is the step to run
  when ``next_run_at`` is due; ``seq`` counts the steps run, so the engine's update of
  an enrolment is conditional on the ``seq`` it read (a step is never run twice).
  One active enrolment per (journey, person) always; one at all when the journey does
  not allow re-entry (``once``, copied from the journey when the person entered).
- ``StepRun``: what happened at a step, one row per step run (the per-step figures).
- ``Todo``: an "ask a human" step's task for an organiser of the person's area.
- ``SegmentPresence``: who met a segment trigger's definition at its last check.
- ``TestRun`` / ``TestRunEntry``: a journey in *test* run for one chosen person, with
  waits shortened and emails to the staff member (``testing``); kept apart from the
  enrolments so a test never counts in the journey's figures or its segment condition.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Journey(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        TEST = "test", _("Testing")
        PUBLISHED = "published", _("Published")
        PAUSED = "paused", _("Paused")
        ARCHIVED = "archived", _("Archived")

    name = models.CharField(_("name"), max_length=150)
    description = models.TextField(_("description"), blank=True, max_length=2000)
    area = models.ForeignKey(
        "areas.Area",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The scope of the organiser who made it; None for national journeys."),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.DRAFT)
    reentry_allowed = models.BooleanField(
        _("people may go through it more than once"), default=False
    )
    version = models.PositiveIntegerField(default=1)
    trigger_type = models.CharField(_("trigger"), max_length=40)
    trigger_config = models.JSONField(default=dict, blank=True)
    # Scheduled triggers' cursor (``triggers.ScheduledTrigger``): how far they have
    # looked, so each event, click or RSVP is considered once.
    trigger_state = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    modified_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "trigger_type"], name="journey_listen_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_running(self) -> bool:
        return self.status in (self.Status.PUBLISHED, self.Status.TEST)


class Step(models.Model):
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="steps")
    version = models.PositiveIntegerField()
    key = models.SlugField(max_length=40)
    position = models.PositiveSmallIntegerField(default=0)
    type = models.CharField(max_length=20)
    config = models.JSONField(default=dict, blank=True)
    next = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    yes = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    no = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # An email step's standing mailing (mailings.single), made when the version is
    # published; its ledger is where the step's messages go.
    mailing = models.ForeignKey(
        "mailings.Mailing", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["journey", "version", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["journey", "version", "key"], name="step_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.journey_id} v{self.version} {self.key} ({self.type})"


class Enrolment(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active", _("In the journey")
        COMPLETED = "completed", _("Completed")
        LEFT = "left", _("Left")
        CONVERTED = "converted", _("Reached the goal")

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="enrolments")
    person = models.ForeignKey(
        "people.Person", on_delete=models.CASCADE, related_name="journey_enrolments"
    )
    version = models.PositiveIntegerField()
    step = models.ForeignKey(
        Step, null=True, blank=True, on_delete=models.SET_NULL, related_name="enrolments"
    )
    state = models.CharField(max_length=10, choices=State, default=State.ACTIVE)
    once = models.BooleanField(default=True)
    waiting = models.BooleanField(default=False)
    seq = models.PositiveIntegerField(default=0)
    next_run_at = models.DateTimeField(null=True, blank=True)
    entered_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)
    # The activity that started it (kept as data: the timeline row may be erased).
    source = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "person"],
                condition=Q(state="active"),
                name="enrolment_one_active",
            ),
            models.UniqueConstraint(
                fields=["journey", "person"],
                condition=Q(once=True),
                name="enrolment_once_unless_reentry",
            ),
        ]
        indexes = [
            # The engine's claim: due rows in (next_run_at, id) order, read from the
            # index in order and stopped at the batch size (no sort of all due rows).
            models.Index(
                fields=["next_run_at", "id"],
                condition=Q(state="active"),
                name="enrolment_due_order_idx",
            ),
            models.Index(fields=["journey", "state"], name="enrolment_journey_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.journey_id}:{self.person_id}:{self.state}"


class StepRun(models.Model):
    class Outcome(models.TextChoices):
        DONE = "done", _("Passed")
        WAITING = "waiting", _("Started waiting")
        YES = "yes", _("Yes")
        NO = "no", _("No")
        QUEUED = "queued", _("Email queued")
        SKIPPED = "skipped", _("Skipped")
        CONVERTED = "converted", _("Reached the goal")
        COMPLETED = "completed", _("Completed the journey")
        LEFT = "left", _("Left")

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="runs")
    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="runs")
    seq = models.PositiveIntegerField()
    outcome = models.CharField(max_length=10, choices=Outcome)
    detail = models.CharField(max_length=300, blank=True)
    recipient = models.ForeignKey(
        "mailings.Recipient", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrolment", "seq"], name="steprun_once_per_seq")
        ]
        indexes = [models.Index(fields=["step", "outcome"], name="steprun_stats_idx")]

    def __str__(self) -> str:
        return f"{self.enrolment_id}#{self.seq} {self.outcome}"


class Todo(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("To do")
        DONE = "done", _("Done")
        NOT_REACHED = "not_reached", _("Not reached")

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="todos")
    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="todos")
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="+")
    area = models.ForeignKey(
        "areas.Area", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="journey_todos",
    )
    note = models.TextField(blank=True, max_length=2000)
    status = models.CharField(max_length=12, choices=Status, default=Status.OPEN)
    outcome_note = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["assignee", "status"], name="todo_assignee_idx")]

    def __str__(self) -> str:
        return f"{self.person_id}: {self.note[:40]}"


class SegmentPresence(models.Model):
    """Who met a "entered a segment" journey's definition at its last check, so the
    next check enters only those who newly meet it (and, with re-entry allowed, enters
    again someone who left the segment and came back)."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["journey", "person"], name="segment_presence_once")
        ]

    def __str__(self) -> str:
        return f"{self.journey_id}:{self.person_id}"


class TestRun(models.Model):
    """One chosen person run through a journey in *test* (``testing``): waits shortened,
    emails sent to ``send_to`` (the staff member who started it), tags, lists and to-dos
    only written in the log. ``step``/``waiting``/``seq``/``next_run_at`` mean what they
    mean on ``Enrolment``. At most one test run of a journey is running at a time."""

    __test__ = False  # not a pytest test class

    class State(models.TextChoices):
        RUNNING = "running", _("Running")
        COMPLETED = "completed", _("Completed")
        CONVERTED = "converted", _("Reached the goal")
        STOPPED = "stopped", _("Stopped")

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="test_runs")
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="+")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    send_to = models.EmailField()
    version = models.PositiveIntegerField()
    step = models.ForeignKey(
        Step, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(max_length=10, choices=State, default=State.RUNNING)
    waiting = models.BooleanField(default=False)
    seq = models.PositiveIntegerField(default=0)
    next_run_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["journey"], condition=Q(state="running"), name="testrun_one_running"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_run_at"], condition=Q(state="running"), name="testrun_due_idx"
            )
        ]

    def __str__(self) -> str:
        return f"test {self.journey_id}:{self.person_id}:{self.state}"


class TestRunEntry(models.Model):
    """One line of a test run's log: a step the person passed, when, and what happened
    (or would have happened, for steps a test only describes). The step is named by
    key and type, not linked, so the log outlives edits of a draft's steps."""

    __test__ = False

    class Outcome(models.TextChoices):
        DONE = "done", _("Passed")
        WAITING = "waiting", _("Started waiting")
        WAITED = "waited", _("Wait over")
        YES = "yes", _("Yes")
        NO = "no", _("No")
        SENT = "sent", _("Test email sent")
        FAILED = "failed", _("Test email not sent")
        SKIPPED = "skipped", _("Skipped")
        WOULD = "would", _("Not done in a test")
        CONVERTED = "converted", _("Reached the goal")
        COMPLETED = "completed", _("Completed the journey")
        STOPPED = "stopped", _("Stopped")

    run = models.ForeignKey(TestRun, on_delete=models.CASCADE, related_name="entries")
    seq = models.PositiveIntegerField()
    step_key = models.CharField(max_length=40, blank=True)
    step_type = models.CharField(max_length=20, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome)
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["run", "seq"], name="testrunentry_once_per_seq")
        ]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.seq} {self.outcome}"
