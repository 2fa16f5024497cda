"""Writes for action pages: building pages and recording what people do on them."""

from __future__ import annotations

import logging
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
from clarion.core.services import audit_record
from clarion.people.models import Activity, EmailStatus, Person
from clarion.people.normalise import InvalidEmail, canonical_email, normalise_email
from clarion.people.services import (
    ConsentInput,
    activity_record,
    consent_record,
    email_status_set,
    person_upsert,
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
    embedded: bool = False
    ip_hash: str = ""
    user_agent: str = ""


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


class _AlreadyActed(Exception):
    """The (page, canonical email) row exists: undo this attempt's writes."""


def submission_record(*, page: ActionPage, data: SubmissionInput) -> SubmissionResult:
    """Record one action on ``page``: the person (through ``person_upsert``), the
    submission row, the page's tags and list, and the timeline entry, in one
    transaction.

    Everything is committed when this returns (the caller answers 2xx only then —
    invariant 1). The confirmation or thank-you email (and a letter to the target) is
    queued in the same transaction when tasks live in this database, otherwise on
    commit. The same mailbox (``canonical_email``) acting again on the page is a
    duplicate: nothing is written and the first submission is returned.
    Raises ValidationError (field → message) for bad person details, before writing.

    The first action of a mailbox is the common case under a spike, so there is no
    look-up before writing: the unique (page, email_canonical) constraint decides,
    and a duplicate rolls the whole attempt back (person changes included) before the
    first submission is read. Concurrent duplicates wait on that index entry, never
    on a page-wide lock.
    """
    try:
        email = normalise_email(data.email)
    except InvalidEmail:
        raise ValidationError({"email": _("Enter a valid email address.")}) from None
    if not email:
        raise ValidationError({"email": _("Enter your email address.")})
    canon = canonical_email(email)
    try:
        with transaction.atomic():
            return _submission_write(page=page, data=data, email=email, canon=canon)
    except _AlreadyActed:
        existing = Submission.objects.select_related("person").get(page=page, email_canonical=canon)
        return SubmissionResult(submission=existing, person=existing.person, duplicate=True)


def _submitter_upsert(*, page: ActionPage, data: SubmissionInput, email: str):
    """Find or create the person acting on ``page`` through ``person_upsert`` as a
    public write (invariant 8), subscribing them when they consent on a page without
    double opt-in. Returns person_upsert's result."""
    pending = page.double_opt_in
    consent = None
    email_status = None
    if data.email_consent and not pending:
        email_status = EmailStatus.SUBSCRIBED
        consent = ConsentInput(
            channel="email", wording=page.consent_wording, source=f"action:{page.slug}"
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
    *, page: ActionPage, data: SubmissionInput, person: Person, email: str, canon: str
) -> Submission:
    """The unsaved Submission of ``person`` on ``page``, pending when the page asks for
    double opt-in; a recruiter never recruits themselves."""
    pending = page.double_opt_in
    recruiter = (
        data.recruiter if data.recruiter is not None and data.recruiter.pk != person.pk else None
    )
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
        recruiter=recruiter,
        embedded=data.embedded,
        ip_hash=data.ip_hash,
        user_agent=data.user_agent[:300],
        created_at=now,
        confirmed_at=None if pending else now,
    )


def _submission_write(
    *, page: ActionPage, data: SubmissionInput, email: str, canon: str
) -> SubmissionResult:
    # Runs inside submission_record's transaction; raises _AlreadyActed to undo it.
    result = _submitter_upsert(page=page, data=data, email=email)
    person = result.person
    submission = _submission_build(page=page, data=data, person=person, email=email, canon=canon)
    try:
        # No savepoint of its own: a clash undoes the whole attempt (see the caller).
        submission.save(force_insert=True)
    except IntegrityError:
        # The same mailbox acted before (or in a concurrent request); theirs counts.
        raise _AlreadyActed from None

    summary = _ACTION_SUMMARY.get(page.kind, gettext_noop("Took action on “%(title)s”"))
    activity_record(
        person=person,
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
    _queue_emails(submission)
    return SubmissionResult(
        submission=submission, person=person, duplicate=False, person_created=result.created
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
