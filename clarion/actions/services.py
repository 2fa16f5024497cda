"""Writes for action pages: building pages and recording what people do on them."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from clarion.core import tokens
from clarion.core.content import render_markdown
from clarion.core.rowinsert import insert_row
from clarion.core.services import audit_record
from clarion.people.models import Activity, EmailStatus, Person, Suppression
from clarion.people.normalise import InvalidEmail, canonical_email, email_hash, normalise_email
from clarion.people.services import (
    ConsentInput,
    activity_record,
    consent_record,
    email_status_set,
    new_share_code,
    person_upsert,
    person_upsert_check,
)

from .models import ActionPage, Submission

logger = logging.getLogger(__name__)

# --- Pages ----------------------------------------------------------------------------


def page_save(*, page: ActionPage, actor=None) -> ActionPage:
    """Save a page built or edited by staff, rendering its Markdown body."""
    page.body_html = render_markdown(page.body)
    page.modified_at = timezone.now()
    if page.pk is None and actor is not None and getattr(actor, "pk", None):
        page.created_by = actor
    if page.status == ActionPage.Status.CLOSED and page.closed_at is None:
        page.closed_at = page.modified_at
    page.save()
    return page


def _free_slug(base: str) -> str:
    base = slugify(base)[:70] or "page"
    slug, n = base, 1
    while ActionPage.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def page_duplicate(*, page: ActionPage, actor=None) -> ActionPage:
    """A draft copy of ``page`` (same content and settings, no submissions)."""
    copy = ActionPage.objects.get(pk=page.pk)
    copy.pk = None
    copy.id = None
    copy.slug = _free_slug(f"{page.slug}-copy")
    copy.title = _("Copy of %(title)s") % {"title": page.title}
    copy.title = copy.title[:200]
    copy.status = ActionPage.Status.DRAFT
    copy.closed_at = None
    copy.created_at = timezone.now()
    copy.created_by = None
    return page_save(page=copy, actor=actor)


def page_publish(*, page: ActionPage, actor=None) -> ActionPage:
    """Set a draft live: it starts taking actions (within its opening times)."""
    page.status = ActionPage.Status.LIVE
    return page_save(page=page, actor=actor)


def page_close(*, page: ActionPage, actor=None) -> ActionPage:
    """Stop a page taking actions. It stays online and still shows its count."""
    page.status = ActionPage.Status.CLOSED
    page.closed_at = timezone.now()
    return page_save(page=page, actor=actor)


# --- Attribution helpers --------------------------------------------------------------


def mailing_token_sign(value: str) -> str:
    """A ``?mt=`` token for the verified payload ``value``: the next step a supporter
    takes after acting carries the mailing that brought them, so the mailing's report
    counts the gift too."""
    return tokens.sign(value, salt=tokens.MAILING_LINK)


def mailing_token_value(token: str) -> str:
    """The verified payload of a mailing link token (``?mt=``), or '' if it does not
    verify (mailings sign with the same salt, ``tokens.MAILING_LINK``)."""
    value = tokens.unsign(token, salt=tokens.MAILING_LINK)
    return str(value)[:200] if value is not None else ""


def thanks_token(person: Person) -> str:
    return tokens.sign(person.pk, salt=tokens.ACTIONS_THANKS, compress=True)


def thanks_person(token: str) -> Person | None:
    """The person a thank-you link was made for (links last 90 days)."""
    pk = tokens.unsign(token, salt=tokens.ACTIONS_THANKS, max_age=90 * 86400)
    return Person.objects.filter(pk=pk).first() if isinstance(pk, int) else None


def thanks_submission_token(submission: Submission) -> str:
    """The thank-you page's token for a submission still in intake (``?s=``): it names
    the row. The page shows the share code the row promises (``intake_share_code``)
    while it is in intake, and its person's only once processing has created them
    (``person_created``)."""
    return tokens.sign(f"s{submission.pk}", salt=tokens.ACTIONS_THANKS)


def thanks_submission(token: str, page: ActionPage) -> Submission | None:
    """The submission on ``page`` a ``?s=`` thank-you token names (links last 90 days)."""
    value = tokens.unsign(token, salt=tokens.ACTIONS_THANKS, max_age=90 * 86400)
    if not isinstance(value, str) or not value.startswith("s") or not value[1:].isdigit():
        return None
    return (
        Submission.objects.select_related("person")
        .filter(pk=int(value[1:]), page_id=page.pk)
        .first()
    )


def intake_share_code(submission: Submission) -> str:
    """The share code a row still in intake promises its submitter: the person it
    creates gets it (``person_upsert(share_code=…)``). A row that turns out to be an
    existing person's never hands it to anyone, so a link carrying it then credits
    nobody, and nothing of the existing person is shown. Blank once processed."""
    if submission.processed_at is not None:
        return ""
    return str((submission.intake or {}).get("share_code") or "")


def confirm_token(submission: Submission) -> str:
    return tokens.sign(submission.pk, salt=tokens.ACTIONS_CONFIRM)


# --- Submissions ----------------------------------------------------------------------


@dataclass
class SubmissionInput:
    email: str
    first_name: str = ""
    last_name: str = ""
    postcode: str = ""
    comment: str = ""
    answers: dict[str, Any] = field(default_factory=dict)
    custom_fields: dict[str, Any] = field(default_factory=dict)
    email_consent: bool = False
    show_name: bool = False
    letter_subject: str = ""
    letter_body: str = ""
    source: str = ""
    referrer: str = ""
    utm: dict[str, str] = field(default_factory=dict)
    mailing_token: str = ""
    recruiter: Person | None = None
    # A share code (``?ref=``) still to be looked up: intake keeps the code and the
    # worker finds the recruiter, so the public request makes no query for it.
    recruiter_code: str = ""
    embedded: bool = False
    ip_hash: str = ""
    user_agent: str = ""


@dataclass
class IntakeResult:
    """What ``submission_intake`` committed: the row (``duplicate``: the mailbox's
    earlier row on the page, processed or still in intake)."""

    submission: Submission
    duplicate: bool


@dataclass
class SubmissionResult:
    submission: Submission
    person: Person
    duplicate: bool
    # True when this submission created the person. Only then may the submitter be
    # shown anything stored about them (their share link, recruits): a public form
    # proves nothing about who typed an existing person's email.
    person_created: bool = False


_ACTION_SUMMARY = {
    ActionPage.Kind.PETITION: gettext_noop("Signed the petition “%(title)s”"),
    ActionPage.Kind.PLEDGE: gettext_noop("Pledged: “%(title)s”"),
    ActionPage.Kind.SIGNUP: gettext_noop("Filled in the form “%(title)s”"),
    ActionPage.Kind.LETTER: gettext_noop("Wrote to %(target)s: “%(title)s”"),
    ActionPage.Kind.SURVEY: gettext_noop("Answered the survey “%(title)s”"),
}


def _referrer_domain(referrer: str) -> str:
    from urllib.parse import urlsplit

    try:
        host = urlsplit(referrer).hostname or ""
    except ValueError:
        host = ""
    return host.lower()[:200]


class _ErasedInIntake(Exception):
    """The address was erased after the row entered intake: drop it, create nobody."""


def _email_checked(data: SubmissionInput) -> tuple[str, str]:
    """The normalised and canonical email of ``data``; ValidationError if bad."""
    try:
        email = normalise_email(data.email)
    except InvalidEmail:
        raise ValidationError({"email": _("Enter a valid email address.")}) from None
    if not email:
        raise ValidationError({"email": _("Enter your email address.")})
    return email, canonical_email(email)


def submission_intake(*, page: ActionPage, data: SubmissionInput) -> IntakeResult:
    """Take one public action on ``page`` into intake: one row, one short transaction.

    The row holds the page, the cleaned fields, the canonical email under the page's
    uniqueness constraint, the consent wording, the attribution and the IP hash;
    everything else — matching the person (``person_upsert``), tags, lists, the
    timeline entry (journeys, engagement, webhooks), emails and letters — is done by
    the workers (``submissions_process``). The row is committed when this returns, so
    the caller may answer 2xx (invariant 1), and it counts at once.

    The same mailbox acting again on the page, whether its first row is processed or
    still in intake, is a duplicate: nothing is written and the first row is returned.
    Raises ValidationError (field → message) for anything ``person_upsert`` would
    refuse, before writing: the answer is final, processing cannot fail on input.
    """
    email, canon = _email_checked(data)
    person_upsert_check(
        email=email, postcode=data.postcode or None, custom_fields=data.custom_fields or None
    )
    submission = _submission_build(page=page, data=data, person=None, email=email, canon=canon)
    submission.intake = {
        "email": email,
        "first_name": data.first_name,
        "last_name": data.last_name,
        "postcode": data.postcode,
        "custom_fields": data.custom_fields,
        "recruiter_code": data.recruiter_code[:16],
        "recruiter_id": data.recruiter.pk if data.recruiter is not None else None,
        # The share code the person gets if this row creates them: the thank-you page
        # shows it at once, before any worker has made the person.
        "share_code": new_share_code(),
    }
    try:
        if transaction.get_connection().in_atomic_block:
            # Inside a caller's transaction: a savepoint, so a clash undoes only this.
            with transaction.atomic():
                insert_row(submission)
        else:
            # One INSERT in autocommit is the whole transaction: committed when it
            # returns, without BEGIN and COMMIT round trips of its own. The statement
            # is built once per process (``core.rowinsert``), not compiled per row.
            insert_row(submission)
    except IntegrityError:
        existing = Submission.objects.filter(page=page, email_canonical=canon).first()
        if existing is None:  # pragma: no cover - the clash was with a row since erased
            raise
        return IntakeResult(submission=existing, duplicate=True)
    from .selectors import page_count_add, page_count_add_and_mark

    if submission.counted and not transaction.get_connection().in_atomic_block:
        # Committed already (autocommit): the count and the kick's mark in one Redis
        # round trip (the hot path of a public signature).
        marked = page_count_add_and_mark(page, 1, INTAKE_KICK_KEY, INTAKE_KICK_SECONDS)
        if marked is not None:
            if marked:
                try:
                    _intake_enqueue()
                except Exception:  # as on_commit(robust=True): the row is safe in intake
                    logger.exception("Could not queue the intake run (the clock job will)")
            return IntakeResult(submission=submission, duplicate=False)
    transaction.on_commit(intake_kick, robust=True)
    if submission.counted:
        page_count_add(page, 1)
    return IntakeResult(submission=submission, duplicate=False)


# Tests that drive the public form and then look at the person set this (see
# clarion/conftest.py); production never does: the workers process intake.
INTAKE_INLINE = False


def intake_inline() -> bool:
    """Whether a public form processes its own intake row straight after committing
    it (tests only; ``INTAKE_INLINE``)."""
    return INTAKE_INLINE


INTAKE_KICK_KEY = "actions:intake:kick"
INTAKE_KICK_SECONDS = 30


def intake_kick() -> None:
    """Make sure a worker is coming for the rows in intake: queue the processing task,
    at most once while one is queued and not yet started (a cache key marks it; the
    task clears it when it starts), ahead of other queued tasks where the backend
    orders by priority (the database backend; on RQ, ``OutboxRQBackend`` puts it at
    the front of the queue). The ``actions.intake`` clock job collects anything a lost
    queue or key left behind."""
    from django.core.cache import cache

    if cache.add(INTAKE_KICK_KEY, 1, timeout=INTAKE_KICK_SECONDS):
        _intake_enqueue()


def _intake_enqueue() -> None:
    """Queue the intake run; the caller has just set the kick's mark."""
    from django.core.cache import cache
    from django_tasks.base import TASK_MAX_PRIORITY

    from . import tasks

    task = tasks.submissions_intake_process
    if task.get_backend().supports_priority:
        # Ahead of the queue: the thank-you emails, journeys and webhooks of the
        # rows in intake wait for it, and under a backlog of those emails a run
        # queued behind them would leave new signatures unprocessed for minutes.
        task = task.using(priority=TASK_MAX_PRIORITY)
    try:
        task.enqueue()
    except Exception:
        cache.delete(INTAKE_KICK_KEY)
        raise


def submissions_process(*, limit: int = 100, ids=None) -> int:
    """Process up to ``limit`` rows still in intake (only ``ids``, when given), oldest
    first; returns how many rows were claimed.

    The rows are claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL (so
    workers share the queue without waiting on each other; SQLite's one writer needs
    no claim), and each row's processing and its ``processed_at`` commit in the same
    transaction: a worker killed at any point leaves its rows in intake for the next
    one, and a processed row is never claimed again. A row whose processing raises is
    rolled back alone (its savepoint), logged, and tried again after a back-off
    (``INTAKE_RETRY_MINUTES``: 1, 2, 4… minutes, at most an hour), noted in its
    ``intake`` as ``failures`` and ``retry_at``: so rows that keep failing never
    hold the batch's places and stall the signatures behind them.
    """
    with transaction.atomic():
        claim = Submission.objects.filter(processed_at__isnull=True)
        if ids is not None:
            claim = claim.filter(pk__in=list(ids))
        else:
            claim = claim.filter(
                Q(intake__retry_at__isnull=True) | Q(intake__retry_at__lte=int(time.time()))
            )
        rows = list(
            claim.select_for_update(skip_locked=True, of=("self",))
            .select_related("page")
            .order_by("pk")[:limit]
        )
        for row in rows:
            try:
                with transaction.atomic():
                    _intake_process(row)
            except _ErasedInIntake:
                Submission.objects.filter(pk=row.pk).delete()
            except Exception:
                failures = int(row.intake.get("failures") or 0) + 1
                wait = min(INTAKE_RETRY_MINUTES * 2 ** (failures - 1), INTAKE_RETRY_MAX_MINUTES)
                Submission.objects.filter(pk=row.pk).update(
                    intake={
                        **row.intake,
                        "failures": failures,
                        "retry_at": int(time.time()) + wait * 60,
                    }
                )
                logger.exception(
                    "Submission %s stays in intake: processing failed (%s times; next try in "
                    "%s minutes)",
                    row.pk,
                    failures,
                    wait,
                )
    return len(rows)


INTAKE_RETRY_MINUTES = 1
INTAKE_RETRY_MAX_MINUTES = 60


def _intake_recruiter(intake: dict) -> Person | None:
    if intake.get("recruiter_id"):
        return Person.objects.filter(pk=intake["recruiter_id"]).first()
    code = (intake.get("recruiter_code") or "").strip()
    return Person.objects.filter(share_code=code).first() if code else None


def _erased_since(email: str, since) -> bool:
    """Whether ``email`` was erased (invariant 7) at or after ``since``."""
    return Suppression.objects.filter(
        email_hash=email_hash(email), reason="erased", created_at__gte=since
    ).exists()


def _intake_process(row: Submission) -> None:
    """Do for one intake row what the form left to the workers (see
    ``submission_intake``). Runs inside ``submissions_process``'s savepoint."""
    page = row.page
    intake = row.intake
    email = intake["email"]
    data = SubmissionInput(
        email=email,
        first_name=intake.get("first_name") or "",
        last_name=intake.get("last_name") or "",
        postcode=intake.get("postcode") or "",
        custom_fields=intake.get("custom_fields") or {},
        email_consent=row.consent_given,
        source=row.source,
        recruiter=_intake_recruiter(intake),
    )
    result = _submitter_upsert(
        page=page,
        data=data,
        email=email,
        wording=row.consent_wording,
        share_code=intake.get("share_code") or "",
    )
    # After the upsert: an erasure committed meanwhile (which the upsert's lock on the
    # person waited for) is seen here, and nobody is made again from this row.
    if _erased_since(email, row.created_at):
        raise _ErasedInIntake
    person = result.person
    recruiter = (
        data.recruiter if data.recruiter is not None and data.recruiter.pk != person.pk else None
    )
    row.person = person
    row.recruiter = recruiter
    row.person_created = result.created
    row.processed_at = timezone.now()
    row.intake = {}
    row.save(update_fields=["person", "recruiter", "person_created", "processed_at", "intake"])
    _submission_timeline(row)
    _queue_emails(row)


def submission_record(*, page: ActionPage, data: SubmissionInput) -> SubmissionResult:
    """Record one action on ``page`` and process it at once: the intake row and its
    processing (``submission_intake``, ``submissions_process``) in one transaction.

    For callers that need the person straight away (the API's record helpers, which
    answer with the person's documents, and tests); public forms use the intake.
    Everything is committed when this returns. The same mailbox acting again on the
    page is a duplicate: nothing is written and the first submission is returned
    (processed first if it was still in intake). Raises ValidationError (field →
    message) for bad person details, before writing.
    """
    with transaction.atomic():
        taken = submission_intake(page=page, data=data)
        submission = taken.submission
        if submission.processed_at is None:
            submissions_process(ids=[submission.pk], limit=1)
            submission = Submission.objects.select_related("person").get(pk=submission.pk)
        if submission.person is None:
            raise ValidationError(
                {"email": _("This action could not be recorded. Please try again later.")}
            )
    return SubmissionResult(
        submission=submission,
        person=submission.person,
        duplicate=taken.duplicate,
        person_created=submission.person_created and not taken.duplicate,
    )


def _submitter_upsert(
    *, page: ActionPage, data: SubmissionInput, email: str, wording: str = "", share_code: str = ""
):
    """Find or create the person acting on ``page`` through ``person_upsert`` as a
    public write (invariant 8), subscribing them when they consent on a page without
    double opt-in (``wording``: the consent words they saw, the page's by default;
    ``share_code``: the code their thank-you page promised, should they be new).
    Returns person_upsert's result."""
    pending = page.double_opt_in
    consent = None
    email_status = None
    if data.email_consent and not pending:
        email_status = EmailStatus.SUBSCRIBED
        consent = ConsentInput(
            channel="email", wording=wording or page.consent_wording, source=f"action:{page.slug}"
        )
    result = person_upsert(
        email=email,
        first_name=data.first_name,
        last_name=data.last_name,
        postcode=data.postcode or None,
        custom_fields=data.custom_fields or None,
        tags=page.tag_names(),
        lists=[page.list_name] if page.list_name else (),
        email_status=email_status,
        email_status_reason=_("Opted in on %(page)s") % {"page": page.slug} if email_status else "",
        consent=consent,
        recruiter=data.recruiter,
        source_code=data.source or f"action:{page.slug}",
        public=True,
        share_code=share_code,
    )
    return result


def _typed(**fields: str) -> dict[str, str]:
    """The person details a form gave, as typed (trimmed, blanks left out, capped)."""
    return {k: str(v).strip()[:200] for k, v in fields.items() if v and str(v).strip()}


def _submission_answers(page: ActionPage, data: SubmissionInput) -> dict:
    if page.kind == ActionPage.Kind.LETTER:
        return {"subject": data.letter_subject, "letter": data.letter_body}
    return dict(data.answers)


def _submission_build(
    *, page: ActionPage, data: SubmissionInput, person: Person | None, email: str, canon: str
) -> Submission:
    """The unsaved Submission on ``page`` (of ``person``, or None for an intake row),
    pending when the page asks for double opt-in."""
    pending = page.double_opt_in
    now = timezone.now()
    return Submission(
        page=page,
        person=person,
        email_canonical=canon,
        email_domain=email.rpartition("@")[2],
        status=Submission.Status.PENDING if pending else Submission.Status.CONFIRMED,
        answers=_submission_answers(page, data),
        submitted=_typed(
            first_name=data.first_name, last_name=data.last_name, postcode=data.postcode
        ),
        comment=data.comment,
        show_name=data.show_name,
        consent_given=data.email_consent,
        consent_wording=page.consent_wording if data.email_consent else "",
        source=data.source[:100],
        referrer=data.referrer[:500],
        referrer_domain=_referrer_domain(data.referrer),
        utm={k: str(v)[:100] for k, v in list(data.utm.items())[:5]},
        mailing_token=data.mailing_token[:200],
        embedded=data.embedded,
        ip_hash=data.ip_hash,
        user_agent=data.user_agent[:300],
        created_at=now,
        confirmed_at=None if pending else now,
    )


def _submission_timeline(submission: Submission) -> None:
    """The person's timeline entry for ``submission`` (its listeners run journeys,
    the engagement score and webhooks after commit)."""
    page = submission.page
    summary = _ACTION_SUMMARY.get(page.kind, gettext_noop("Took action on “%(title)s”"))
    activity_record(
        person=submission.person,
        kind=Activity.Kind.ACTION,
        summary=_(summary) % {"title": page.title, "target": page.target_name or _("the target")},
        data={
            "page": page.pk,
            "slug": page.slug,
            "kind": page.kind,
            "submission": submission.pk,
            "status": submission.status,
            **({"letter": submission.answers} if page.kind == ActionPage.Kind.LETTER else {}),
        },
    )


def _tasks_in_this_database() -> bool:
    """True when the task queue is the database backend on the default database: then
    a task row written inside the submission's transaction commits (or rolls back)
    with it, costing no extra commit and never losing the email between commit and
    enqueue. Other backends (RQ on Redis) must wait for the commit, or a worker could
    look for the submission before it exists."""
    from django_tasks import task_backends

    try:
        from django_tasks_db.backend import DatabaseBackend
    except ImportError:  # pragma: no cover - the database backend is a dependency
        return False
    return isinstance(task_backends["default"], DatabaseBackend)


def _queue_emails(submission: Submission) -> None:
    from . import tasks

    submission_id = submission.pk
    jobs = [lambda: tasks.submission_email.enqueue(submission_id=submission_id)]
    if (
        submission.page.kind == ActionPage.Kind.LETTER
        and submission.status == Submission.Status.CONFIRMED
    ):
        jobs.append(lambda: tasks.letter_deliver.enqueue(submission_id=submission_id))
    in_transaction = _tasks_in_this_database()
    for job in jobs:
        if in_transaction:
            job()
        else:
            transaction.on_commit(job, robust=True)


@transaction.atomic
def submission_confirm(*, submission: Submission) -> bool:
    """Count a double-opt-in submission after its email link was followed.

    Applies the email consent the person gave on the form. Idempotent: returns False
    when it was already confirmed (or was invalidated).
    """
    updated = Submission.objects.filter(pk=submission.pk, status=Submission.Status.PENDING).update(
        status=Submission.Status.CONFIRMED, confirmed_at=timezone.now()
    )
    if not updated:
        return False
    submission.refresh_from_db()
    person = submission.person
    if submission.consent_given:
        email_status_set(
            person=person,
            status=EmailStatus.SUBSCRIBED,
            reason=_("Confirmed on %(page)s") % {"page": submission.page.slug},
        )
        consent_record(
            person=person,
            consent=ConsentInput(
                channel="email",
                wording=submission.consent_wording,
                source=f"action:{submission.page.slug}",
            ),
        )
    activity_record(
        person=person,
        kind=Activity.Kind.ACTION,
        summary=_("Confirmed their action on “%(title)s”") % {"title": submission.page.title},
        data={"page": submission.page_id, "submission": submission.pk, "status": "confirmed"},
    )
    if submission.page.kind == ActionPage.Kind.LETTER:
        from . import tasks

        transaction.on_commit(
            lambda: tasks.letter_deliver.enqueue(submission_id=submission.pk), robust=True
        )
    return True


def submission_next_step(*, submission: Submission) -> None:
    """Note that the person followed the next-step ask (first time only)."""
    Submission.objects.filter(pk=submission.pk, next_step_at__isnull=True).update(
        next_step_at=timezone.now()
    )


@dataclass(frozen=True)
class InvalidationFilter:
    ip_hash: str = ""
    email_domain: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def q(self) -> Q:
        q = Q()
        if self.ip_hash:
            q &= Q(ip_hash=self.ip_hash)
        if self.email_domain:
            q &= Q(email_domain=self.email_domain.lower().lstrip("@"))
        if self.since:
            q &= Q(created_at__gte=self.since)
        if self.until:
            q &= Q(created_at__lt=self.until)
        return q

    @property
    def empty(self) -> bool:
        return not (self.ip_hash or self.email_domain or self.since or self.until)


@transaction.atomic
def submissions_invalidate(
    *, page: ActionPage, match: InvalidationFilter, reason: str, actor, request=None
) -> int:
    """Stop counting the submissions on ``page`` that ``match`` selects (a flood from
    one address, a throwaway domain, a time window). Returns how many changed.

    The page's cached count is dropped, so the shown count is right on the next view.
    """
    if match.empty:
        raise ValidationError(_("Choose an IP address, an email domain or a time window."))
    now = timezone.now()
    changed = (
        Submission.objects.filter(page=page)
        .exclude(status=Submission.Status.INVALID)
        .filter(match.q())
        .update(status=Submission.Status.INVALID, invalidated_at=now, invalid_reason=reason[:200])
    )
    audit_record(
        actor=actor,
        action="other",
        summary=f"Invalidated {changed} submissions on {page.slug}",
        object_type="action_page",
        object_id=page.pk,
        detail={
            "ip_hash": match.ip_hash,
            "email_domain": match.email_domain,
            "since": match.since.isoformat() if match.since else None,
            "until": match.until.isoformat() if match.until else None,
            "reason": reason[:200],
        },
        request=request,
    )
    from .selectors import page_count_forget

    # Forget now and again after commit, so a view that cached the old count while
    # this transaction was open cannot keep it for the whole refresh interval.
    page_count_forget(page)
    transaction.on_commit(lambda: page_count_forget(page))
    return changed


def donor_upsert(*, page: ActionPage, data: SubmissionInput) -> Person:
    """The person giving on a donation page, before the gift starts (the donations
    app records the gift itself). Committed on return."""
    consent = None
    email_status = None
    if data.email_consent:
        email_status = EmailStatus.SUBSCRIBED
        consent = ConsentInput(
            channel="email", wording=page.consent_wording, source=f"action:{page.slug}"
        )
    return person_upsert(
        email=data.email,
        first_name=data.first_name,
        last_name=data.last_name,
        postcode=data.postcode or None,
        email_status=email_status,
        email_status_reason=_("Opted in on %(page)s") % {"page": page.slug} if email_status else "",
        consent=consent,
        recruiter=data.recruiter,
        source_code=data.source or f"action:{page.slug}",
        tags=page.tag_names(),
        lists=[page.list_name] if page.list_name else (),
        public=True,
    ).person


# --- API (Action Network petitions and forms) -------------------------------------------


@transaction.atomic
def page_api_create(*, kind: str, fields: dict[str, Any], area, actor) -> ActionPage:
    """A page created through the API: ``fields`` are ActionPage attributes already
    checked by the caller (title, summary, body, target_name, button_label, status).
    The web address is made from the title; ``area`` is the key's reach (None for a
    national page)."""
    page = ActionPage(kind=kind, area=area, slug=_free_slug(fields.get("title", "")))
    fields = {"status": ActionPage.Status.LIVE, **fields}
    for name, value in fields.items():
        setattr(page, name, value)
    page.full_clean(exclude=["slug", "hero_image", "created_by", "next_page", "area"])
    return page_save(page=page, actor=actor)


@transaction.atomic
def page_api_update(*, page: ActionPage, fields: dict[str, Any], actor) -> ActionPage:
    """Change the attributes in ``fields`` (checked by the caller) and save; the row is
    locked while it changes so two updates do not interleave."""
    page = ActionPage.objects.select_for_update().get(pk=page.pk)
    for name, value in fields.items():
        setattr(page, name, value)
    if fields.get("status") == ActionPage.Status.LIVE:
        page.closed_at = None
    page.full_clean(exclude=["slug", "hero_image", "created_by", "next_page", "area"])
    return page_save(page=page, actor=actor)


@transaction.atomic
def submission_api_record(
    *,
    page: ActionPage,
    person: Person,
    comment: str = "",
    source: str = "api",
    tags: list[str] | tuple[str, ...] = (),
    actor=None,
) -> SubmissionResult:
    """Record ``person`` acting on ``page`` for an API client (Action Network's record
    signature / submission helpers), adding ``tags`` to them.

    ``person`` was already found or created, and scope-checked, by the caller.
    Submissions are kept once per mailbox, so a person without an email address
    cannot act (ValidationError). The page's usual follow-up (thank-you or
    confirmation email, letter) is queued exactly as for a web submission. A person
    who already acted gets their first submission back (``duplicate``). Committed on
    return.
    """
    from clarion.people.services import tag_add, tag_get_or_create

    if not person.email:
        raise ValidationError(
            {"email": _("Actions are recorded by email address, and this person has none.")}
        )
    for name in tags:
        tag, _created = tag_get_or_create(name=name)
        tag_add(person=person, tag=tag, actor=actor)
    return submission_record(
        page=page,
        data=SubmissionInput(email=person.email, comment=comment, source=source[:100]),
    )


@transaction.atomic
def outreach_api_record(
    *,
    page: ActionPage,
    person: Person,
    subject: str,
    message: str,
    tags: list[str] | tuple[str, ...] = (),
    actor=None,
) -> SubmissionResult:
    """Record ``person``'s letter on the letter page ``page`` for an API client (Action
    Network's record outreach helper), adding ``tags`` to them, as a letter sent from
    the page: its emails and the letter to its target are queued as from the web.

    ``person`` was already found or created, and scope-checked, by the caller. Letters
    are kept once per mailbox, so a person without an email address cannot write
    (ValidationError); one who already wrote gets their first letter back
    (``duplicate``). Committed on return.
    """
    from clarion.people.services import tag_add, tag_get_or_create

    if not person.email:
        raise ValidationError(
            {"email": _("Letters are recorded by email address, and this person has none.")}
        )
    for name in tags:
        tag, _created = tag_get_or_create(name=name)
        tag_add(person=person, tag=tag, actor=actor)
    return submission_record(
        page=page,
        data=SubmissionInput(
            email=person.email, letter_subject=subject, letter_body=message, source="api"
        ),
    )


def submission_api_update(*, submission: Submission, comment: str) -> Submission:
    """Change a submission's comment (Action Network lets a signature's comments be
    edited); nothing else about an action can change after the fact."""
    Submission.objects.filter(pk=submission.pk).update(comment=comment)
    submission.comment = comment
    return submission
