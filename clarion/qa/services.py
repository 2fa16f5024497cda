"""Writes for Q&A: asking, screening, moderating, voting, answering, publishing.

Locking rules:
- ``question_ask`` locks the session row while it groups the new question with near
  duplicates, so a burst of copies lands in one group (asks in one session queue for
  a few milliseconds each; other sessions are not affected).
- Moderation decisions change a question with one conditional UPDATE that succeeds
  only while the question is pending and unclaimed (or claimed by the same moderator,
  or the claim has lapsed). Two moderators can never both decide one question; the
  loser gets ``ModerationConflict``. No in-process locks anywhere.
- Public-visible changes bump the live feed version after commit (``live.live_bump``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from clarion.core.hashing import ip_hash, network_hash
from clarion.core.models import AuditEntry, User
from clarion.core.ratelimit import ratelimit_hit
from clarion.core.services import audit_record
from clarion.people.models import Activity, ConsentRecord, MembershipStatus, Person
from clarion.people.normalise import InvalidEmail, email_hash, normalise_email
from clarion.people.services import ConsentInput, activity_record, person_find, person_upsert

from . import grouping, live, screening
from .models import Ban, BannedPhrase, ModerationDecision, Question, QuestionGroup, Session, Vote

CLAIM_SECONDS = 120
WAVE_WINDOW = dt.timedelta(minutes=10)
WAVE_MIN_PEOPLE = 8
WAVE_MIN_PEOPLE_CROWDED = 5
# Rate-limit windows (seconds) and how many questions each allows before a flag.
RATE_WINDOW = 600
RATE_PERSON = 3
RATE_IP = 10
RATE_DOMAIN = 20
RATE_DOMAIN_WEBMAIL = 200
WEBMAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "hotmail.co.uk",
        "yahoo.com",
        "yahoo.co.uk",
        "icloud.com",
        "live.com",
        "btinternet.com",
        "aol.com",
        "protonmail.com",
        "proton.me",
    }
)
# Beyond this many asks a minute from one address the form refuses outright (429).
HARD_IP_PER_MINUTE = 30
VOTES_PER_MINUTE_PERSON = 30
VOTES_PER_MINUTE_IP = 120

CONSENT_WORDING = _("Keep me updated by email about the campaign. I can unsubscribe at any time.")


class AskRefused(ValidationError):
    """The form must show this to the asker; nothing was stored."""


class Throttled(Exception):
    """Too many requests from one address; answer 429."""


class ModerationConflict(Exception):
    """Another moderator holds or already decided this question; ``str()`` is for staff."""


def _legacy_ban_ip_hash(ip: str | None) -> str:
    """The unkeyed-prefix hash Q&A stored before it shared ``core.hashing.ip_hash``
    (64 hex digits; the shared one has 32). Bans never expire, so a ban made then is
    still matched by it; drop this once no ``Ban.ip_hash`` is 64 characters long."""
    if not ip:
        return ""
    return hashlib.sha256(f"qa-ip:{settings.SECRET_KEY}:{ip}".encode()).hexdigest()


def _banned_pattern(session: Session):
    """The national list, plus those of the session's area and every area above it."""
    scope = Q(area__isnull=True)
    if session.area_id:
        ancestors = [int(pk) for pk in session.area.path.strip("/").split("/") if pk]
        scope |= Q(area_id__in=ancestors)
    return screening.phrase_pattern(
        BannedPhrase.objects.filter(scope).values_list("phrase", flat=True)
    )


def _split_name(name: str) -> tuple[str, str]:
    parts = name.split()
    if not parts:
        return "", ""
    return parts[0], " ".join(parts[1:])


@dataclass
class AskResult:
    question: Question
    person: Person


def _ask_input(*, session: Session, name: str, email: str, text: str) -> tuple[str, str, str]:
    """The asker's name, normalised email and question text, or AskRefused (nothing
    stored) when the session is closed or a field is missing or out of bounds."""
    name = " ".join(name.split())[:100]
    text = text.strip()
    if not session.accepting_questions():
        raise AskRefused({"text": _("This session is not taking questions now.")})
    if len(text) < 5:
        raise AskRefused({"text": _("Write a question of at least 5 characters.")})
    if len(text) > session.max_length:
        raise AskRefused(
            {"text": _("Keep your question under %(n)s characters.") % {"n": session.max_length}}
        )
    if not name:
        raise AskRefused({"name": _("Enter your name.")})
    try:
        email_n = normalise_email(email)
    except InvalidEmail:
        raise AskRefused({"email": _("Enter a valid email address.")}) from None
    if not email_n:
        raise AskRefused({"email": _("Enter your email address.")})
    return name, email_n, text


def _audience_check(
    *, session: Session, existing: Person | None, confirmed_person_id: int | None
) -> None:
    """AskRefused unless the asker may ask in a session for confirmed supporters or
    members only (``existing`` is the person the email belongs to, if any)."""
    if session.audience != Session.Audience.ANYONE:
        if existing is None or existing.pk != confirmed_person_id:
            raise AskRefused(
                {
                    "email": _(
                        "This session is for confirmed supporters: confirm your email address first."
                    )
                }
            )
        if (
            session.audience == Session.Audience.MEMBERS
            and existing.membership_status != MembershipStatus.ACTIVE
        ):
            raise AskRefused({"email": _("This session is for members only.")})


def _asked_limit_check(*, session: Session, existing: Person | None) -> None:
    """AskRefused when a known asker reached the session's limit (session locked)."""
    if existing is not None:
        asked = Question.objects.filter(session=session, person=existing).count()
        if asked >= session.max_per_person:
            raise AskRefused(
                {
                    "text": _("You have asked %(n)s questions in this session, the most allowed.")
                    % {"n": session.max_per_person}
                }
            )


def _asker_upsert(*, session: Session, email_n: str, name: str, existing, consent: bool):
    """Find or create the asker through ``person_upsert`` as a public write
    (invariant 8). Returns person_upsert's result."""
    first, last = _split_name(name)
    # The public form never renames a known person (anyone can type an address).
    return person_upsert(
        email=email_n,
        first_name=None if existing else first,
        last_name=None if existing else last,
        consent=ConsentInput(
            channel=ConsentRecord.Channel.EMAIL,
            wording=str(CONSENT_WORDING),
            source=f"qa:{session.slug}",
        )
        if consent
        else None,
        source_code=f"qa:{session.slug}",
        public=True,
    )


def _ask_screening(
    *, session: Session, person: Person, email_n: str, text: str, ip: str | None, iph: str
) -> tuple[list[str], str, str]:
    """The moderators' reasons to look twice at a question (bans, banned words and
    links, rate limits), its starting status and any reject reason. A banned person's
    or email's question starts rejected. Counts the rate limits' hits."""
    reasons: list[str] = []
    status = Question.Status.PENDING
    reject_reason = ""
    ban_q = Q(person=person) | Q(email_hash=email_hash(email_n))
    bans = Ban.objects.filter(Q(session__isnull=True) | Q(session=session))
    if bans.filter(ban_q).exists():
        reasons.append("banned")
        status = Question.Status.REJECTED
        reject_reason = "banned"
    elif iph and bans.filter(ip_hash__in=[iph, _legacy_ban_ip_hash(ip)]).exists():
        reasons.append("banned")
    reasons += screening.text_reasons(text, banned=_banned_pattern(session))
    if ratelimit_hit(scope="qa-person", ident=str(person.pk), window=RATE_WINDOW) > RATE_PERSON:
        reasons.append("rate_person")
    if iph and ratelimit_hit(scope="qa-ip", ident=iph, window=RATE_WINDOW) > RATE_IP:
        reasons.append("rate_ip")
    domain = email_n.rpartition("@")[2]
    limit = RATE_DOMAIN_WEBMAIL if domain in WEBMAIL else RATE_DOMAIN
    if ratelimit_hit(scope="qa-domain", ident=f"{session.pk}:{domain}", window=RATE_WINDOW) > limit:
        reasons.append("rate_domain")
    return reasons, status, reject_reason


def question_ask(
    *,
    session: Session,
    name: str,
    email: str,
    text: str,
    ip: str | None,
    consent: bool = False,
    confirmed_person_id: int | None = None,
) -> AskResult:
    """Store a question for moderation and return it. Never publishes it.

    Raises AskRefused (shown on the form, nothing stored) when the session is not
    taking questions, the text is too long or short, the asker reached the session's
    limit, or the session needs a confirmed supporter or member; Throttled when one
    address floods the form. Everything else (banned words, links, rate limits,
    duplicates, waves, bans) is stored with reasons for the moderators. A banned
    person's or email's question is stored already rejected, without telling them.
    """
    name, email_n, text = _ask_input(session=session, name=name, email=email, text=text)
    iph = ip_hash(ip)
    if iph and ratelimit_hit(scope="qa-ask-hard", ident=iph, window=60) > HARD_IP_PER_MINUTE:
        raise Throttled

    existing = person_find(email=email_n)
    _audience_check(session=session, existing=existing, confirmed_person_id=confirmed_person_id)
    with transaction.atomic():
        # Lock the session: near-duplicate grouping must see every earlier question.
        session = Session.objects.select_for_update().get(pk=session.pk)
        _asked_limit_check(session=session, existing=existing)
        result = _asker_upsert(
            session=session, email_n=email_n, name=name, existing=existing, consent=consent
        )
        person = result.person
        reasons, status, reject_reason = _ask_screening(
            session=session, person=person, email_n=email_n, text=text, ip=ip, iph=iph
        )
        terms = grouping.question_terms(text)
        group, joined = grouping.group_for(session=session, terms=terms)
        if joined:
            reasons.append("duplicate")
        question = Question.objects.create(
            session=session,
            person=person,
            display_name=name,
            text=text,
            status=status,
            reasons=reasons,
            reject_reason=reject_reason,
            group=group,
            ip_hash=iph,
            net_hash=network_hash(ip),
            terms=terms,
            person_was_new=result.created,
            decided_at=timezone.now() if status == Question.Status.REJECTED else None,
        )
        absorbed = grouping.absorb_splinters(session=session, question=question)
        if absorbed:
            group.refresh_from_db()
        _wave_check(group=group, question=question, sweep=bool(absorbed))
        activity_record(
            person=person,
            kind=Activity.Kind.QUESTION,
            summary=_("Asked a question in %(title)s") % {"title": session.title},
            data={"session": session.slug, "question": question.pk},
        )
        live.queue_bump(session_id=session.pk)
    return AskResult(question=question, person=person)


def _wave_check(*, group: QuestionGroup, question: Question, sweep: bool = False) -> None:
    """Flag ``group`` as a coordinated wave when many people new to the database sent
    it lately, and hold its pending questions with the reason ``wave``.

    The content decides: WAVE_MIN_PEOPLE distinct new askers on one topic within
    WAVE_WINDOW make a wave from any number of domains and home connections. Askers
    crowded on few email domains or few networks (/24, /48) are extra evidence that
    lets WAVE_MIN_PEOPLE_CROWDED suffice. ``sweep``: questions just moved into the
    group (``grouping.absorb_splinters``) need the reason too."""
    if not group.wave:
        since = timezone.now() - WAVE_WINDOW
        recent = Question.objects.filter(group=group, created_at__gte=since, person_was_new=True)
        people = recent.values("person").distinct().count()
        if people < WAVE_MIN_PEOPLE_CROWDED:
            return
        if people < WAVE_MIN_PEOPLE:
            rows = list(recent.values_list("person__email", "net_hash"))
            domains = {email.rpartition("@")[2] for email, _ in rows}
            nets = {net for _, net in rows if net}
            if len(domains) * 2 > people and len(nets) * 2 > people:
                return
        group.wave = True
        group.wave_flagged_at = timezone.now()
        group.save(update_fields=["wave", "wave_flagged_at"])
        sweep = True
    members = (
        Question.objects.filter(group=group, status=Question.Status.PENDING)
        if sweep
        else Question.objects.filter(pk=question.pk)
    )
    for member in members:
        if "wave" not in member.reasons:
            member.reasons = [*member.reasons, "wave"]
            member.save(update_fields=["reasons"])
    question.refresh_from_db(fields=["reasons"])


# --- claims and decisions ----------------------------------------------------------


def _claimable(user: User, now) -> Q:
    return Q(claimed_by__isnull=True) | Q(claimed_until__lt=now) | Q(claimed_by=user)


def question_claim(*, question: Question, moderator: User) -> bool:
    """Claim a pending question for ``moderator`` for CLAIM_SECONDS; False if another
    moderator holds it. One conditional UPDATE; safe across processes."""
    now = timezone.now()
    done = (
        Question.objects.filter(pk=question.pk, status=Question.Status.PENDING)
        .filter(_claimable(moderator, now))
        .update(claimed_by=moderator, claimed_until=now + dt.timedelta(seconds=CLAIM_SECONDS))
    )
    if done:
        live.queue_bump(session_id=question.session_id)
    return bool(done)


def question_release(*, question: Question, moderator: User) -> None:
    Question.objects.filter(pk=question.pk, claimed_by=moderator).update(
        claimed_by=None, claimed_until=None
    )
    live.queue_bump(session_id=question.session_id)


def _record(
    *,
    session_id: int,
    moderator: User,
    action: str,
    question: Question | None = None,
    group: QuestionGroup | None = None,
    reason: str = "",
    detail: dict | None = None,
) -> None:
    ModerationDecision.objects.create(
        session_id=session_id,
        question=question,
        group=group,
        moderator=moderator,
        action=action,
        reason=reason[:200],
        detail=detail or {},
    )


def _decide(*, question: Question, moderator: User, status: str, reason: str = "") -> None:
    now = timezone.now()
    done = (
        Question.objects.filter(pk=question.pk, status=Question.Status.PENDING)
        .filter(_claimable(moderator, now))
        .update(
            status=status,
            reject_reason=reason[:200],
            decided_at=now,
            claimed_by=None,
            claimed_until=None,
        )
    )
    if not done:
        current = Question.objects.select_related("claimed_by").get(pk=question.pk)
        if current.status != Question.Status.PENDING:
            raise ModerationConflict(_("Another moderator has already decided this question."))
        raise ModerationConflict(
            _("%(who)s is handling this question.") % {"who": current.claimed_by}
        )
    question.status = status
    question.reject_reason = reason[:200]


def question_approve(*, question: Question, moderator: User) -> Question:
    """Approve a question; pending near duplicates of it are merged into it (the card
    showed them as one, with a count)."""
    with transaction.atomic():
        _decide(question=question, moderator=moderator, status=Question.Status.APPROVED)
        merged = 0
        if question.group_id:
            merged = (
                Question.objects.filter(group_id=question.group_id, status=Question.Status.PENDING)
                .exclude(pk=question.pk)
                .filter(_claimable(moderator, timezone.now()))
                .update(
                    status=Question.Status.MERGED, merged_into=question, decided_at=timezone.now()
                )
            )
            if merged:
                Question.objects.filter(pk=question.pk).update(also_asked=F("also_asked") + merged)
        _record(
            session_id=question.session_id,
            moderator=moderator,
            action=ModerationDecision.Action.APPROVE,
            question=question,
            detail={"merged_copies": merged},
        )
        live.live_bump(slug=question.session.slug)
        live.queue_bump(session_id=question.session_id)
    question.refresh_from_db()
    return question


def question_reject(*, question: Question, moderator: User, reason: str) -> Question:
    with transaction.atomic():
        _decide(
            question=question, moderator=moderator, status=Question.Status.REJECTED, reason=reason
        )
        _record(
            session_id=question.session_id,
            moderator=moderator,
            action=ModerationDecision.Action.REJECT,
            question=question,
            reason=reason,
        )
        live.queue_bump(session_id=question.session_id)
    return question


def question_star(*, question: Question, moderator: User) -> Question:
    with transaction.atomic():
        starred = not question.starred
        Question.objects.filter(pk=question.pk).update(starred=starred)
        question.starred = starred
        _record(
            session_id=question.session_id,
            moderator=moderator,
            action=ModerationDecision.Action.STAR if starred else ModerationDecision.Action.UNSTAR,
            question=question,
        )
        live.queue_bump(session_id=question.session_id)
    return question


def question_edit(*, question: Question, moderator: User, text: str) -> Question:
    """Fix a typo. The asker's own words stay in ``original_text`` (first edit only)."""
    text = text.strip()
    if not text:
        raise ValidationError({"text": _("The question cannot be empty.")})
    if len(text) > question.session.max_length:
        raise ValidationError(
            {
                "text": _("Keep the question under %(n)s characters.")
                % {"n": question.session.max_length}
            }
        )
    with transaction.atomic():
        current = Question.objects.select_for_update().get(pk=question.pk)
        if (
            current.status == Question.Status.PENDING
            and current.claimed_by_id not in (None, moderator.pk)
            and (current.claimed_until and current.claimed_until > timezone.now())
        ):
            raise ModerationConflict(
                _("%(who)s is handling this question.") % {"who": current.claimed_by}
            )
        before = current.text
        current.original_text = current.original_text or before
        current.text = text
        current.save(update_fields=["text", "original_text"])
        _record(
            session_id=current.session_id,
            moderator=moderator,
            action=ModerationDecision.Action.EDIT,
            question=current,
            detail={"before": before, "after": text},
        )
        if current.status == Question.Status.APPROVED:
            live.live_bump(slug=current.session.slug)
        live.queue_bump(session_id=current.session_id)
    return current


def question_merge(*, question: Question, into: Question, moderator: User) -> Question:
    """Merge ``question`` (pending or approved) into ``into`` (same session): it leaves
    the queue and the public list, its votes move across (one per person)."""
    if question.pk == into.pk or question.session_id != into.session_id:
        raise ValidationError({"into": _("Choose another question of this session.")})
    if into.status not in (Question.Status.PENDING, Question.Status.APPROVED):
        raise ValidationError({"into": _("That question was rejected or merged already.")})
    with transaction.atomic():
        now = timezone.now()
        done = (
            Question.objects.filter(
                pk=question.pk, status__in=[Question.Status.PENDING, Question.Status.APPROVED]
            )
            .filter(_claimable(moderator, now))
            .update(
                status=Question.Status.MERGED,
                merged_into=into,
                decided_at=now,
                claimed_by=None,
                claimed_until=None,
            )
        )
        if not done:
            raise ModerationConflict(
                _("Another moderator has this question, or it was decided already.")
            )
        voters = Vote.objects.filter(question=into).values("person_id")
        Vote.objects.filter(question=question).exclude(person_id__in=voters).update(question=into)
        Vote.objects.filter(question=question).delete()
        Question.objects.filter(pk=into.pk).update(
            also_asked=F("also_asked") + 1 + question.also_asked,
            votes_count=Vote.objects.filter(question=into).count(),
        )
        Question.objects.filter(merged_into=question).update(merged_into=into)
        _record(
            session_id=question.session_id,
            moderator=moderator,
            action=ModerationDecision.Action.MERGE,
            question=question,
            detail={"into": into.pk},
        )
        live.live_bump(slug=question.session.slug)
        live.queue_bump(session_id=question.session_id)
    into.refresh_from_db()
    return into


def person_ban(
    *, question: Question, moderator: User, reason: str, everywhere: bool = True, request=None
) -> Ban:
    """Ban the asker of ``question`` (by person, canonical email hash and IP hash) and
    reject their pending questions in the session. Audited."""
    with transaction.atomic():
        person = question.person
        ban = Ban.objects.create(
            person=person,
            email_hash=email_hash(person.email) if person.email else "",
            ip_hash=question.ip_hash,
            session=None if everywhere else question.session,
            reason=reason[:200],
            created_by=moderator,
        )
        now = timezone.now()
        Question.objects.filter(
            session=question.session, person=person, status=Question.Status.PENDING
        ).update(
            status=Question.Status.REJECTED,
            reject_reason="banned",
            decided_at=now,
            claimed_by=None,
            claimed_until=None,
        )
        _record(
            session_id=question.session_id,
            moderator=moderator,
            action=ModerationDecision.Action.BAN,
            question=question,
            reason=reason,
            detail={"ban": ban.pk, "everywhere": everywhere},
        )
        audit_record(
            actor=moderator,
            action=AuditEntry.Action.OTHER,
            summary=f"Q&A ban (question {question.pk})",
            object_type="qa.ban",
            object_id=ban.pk,
            detail={"event": "qa_ban", "reason": reason[:200]},
            request=request,
        )
        activity_record(
            person=person,
            kind=Activity.Kind.QUESTION,
            actor=moderator,
            summary=_("Banned from asking questions"),
            data={"ban": ban.pk},
        )
        live.queue_bump(session_id=question.session_id)
    return ban


# --- group actions on a flagged wave ------------------------------------------------


def group_reject(*, group: QuestionGroup, moderator: User, reason: str) -> int:
    with transaction.atomic():
        n = Question.objects.filter(group=group, status=Question.Status.PENDING).update(
            status=Question.Status.REJECTED,
            reject_reason=reason[:200],
            decided_at=timezone.now(),
            claimed_by=None,
            claimed_until=None,
        )
        _record(
            session_id=group.session_id,
            moderator=moderator,
            action=ModerationDecision.Action.GROUP_REJECT,
            group=group,
            reason=reason,
            detail={"questions": n},
        )
        live.queue_bump(session_id=group.session_id)
    return n


def group_ban(*, group: QuestionGroup, moderator: User, reason: str, request=None) -> int:
    """Ban every person in the group (person, email hash, IP hash) and reject it all."""
    with transaction.atomic():
        rows = list(Question.objects.filter(group=group).select_related("person").order_by("id"))
        seen: set[int] = set()
        bans = []
        for q in rows:
            if q.person_id in seen:
                continue
            seen.add(q.person_id)
            bans.append(
                Ban(
                    person=q.person,
                    email_hash=email_hash(q.person.email) if q.person.email else "",
                    ip_hash=q.ip_hash,
                    reason=reason[:200],
                    created_by=moderator,
                )
            )
        Ban.objects.bulk_create(bans)
        n = Question.objects.filter(group=group, status=Question.Status.PENDING).update(
            status=Question.Status.REJECTED,
            reject_reason="banned",
            decided_at=timezone.now(),
            claimed_by=None,
            claimed_until=None,
        )
        _record(
            session_id=group.session_id,
            moderator=moderator,
            action=ModerationDecision.Action.GROUP_BAN,
            group=group,
            reason=reason,
            detail={"questions": n, "people": len(bans)},
        )
        audit_record(
            actor=moderator,
            action=AuditEntry.Action.OTHER,
            summary=f"Q&A ban of a wave: {len(bans)} people",
            object_type="qa.group",
            object_id=group.pk,
            detail={"event": "qa_group_ban", "people": len(bans)},
            request=request,
        )
        live.queue_bump(session_id=group.session_id)
    return n


def group_approve(*, group: QuestionGroup, moderator: User) -> Question | None:
    """Publish a wave as ONE question (its earliest), the rest merged into it."""
    first = (
        Question.objects.filter(group=group, status=Question.Status.PENDING)
        .order_by("created_at", "id")
        .first()
    )
    if first is None:
        return None
    with transaction.atomic():
        question = question_approve(question=first, moderator=moderator)
        _record(
            session_id=group.session_id,
            moderator=moderator,
            action=ModerationDecision.Action.GROUP_APPROVE,
            group=group,
            question=question,
        )
    return question


# --- host: answering -----------------------------------------------------------------


def session_answering_set(*, session: Session, question: Question | None, moderator: User) -> None:
    if question is not None and (
        question.session_id != session.pk or question.status != Question.Status.APPROVED
    ):
        raise ValidationError(_("Only an approved question of this session can be answered."))
    with transaction.atomic():
        Session.objects.filter(pk=session.pk).update(answering_now=question)
        session.answering_now = question
        _record(
            session_id=session.pk,
            moderator=moderator,
            action=ModerationDecision.Action.ANSWERING,
            question=question,
        )
        live.live_bump(slug=session.slug)


def question_answer(
    *, question: Question, moderator: User, text: str = "", seconds: int | None = None
) -> Question:
    """Record the answer (text, and/or the time into the video) to an approved question."""
    if question.status != Question.Status.APPROVED:
        raise ValidationError(_("Only an approved question can be answered."))
    if not text.strip() and seconds is None:
        raise ValidationError(
            {"answer_text": _("Give the answer, or the time it starts in the video.")}
        )
    with transaction.atomic():
        Question.objects.filter(pk=question.pk).update(
            answer_text=text.strip(),
            answer_seconds=seconds,
            answered_at=question.answered_at or timezone.now(),
        )
        Session.objects.filter(pk=question.session_id, answering_now=question).update(
            answering_now=None
        )
        _record(
            session_id=question.session_id,
            moderator=moderator,
            action=ModerationDecision.Action.ANSWER,
            question=question,
            detail={"seconds": seconds},
        )
        live.live_bump(slug=question.session.slug)
    question.refresh_from_db()
    return question


def session_set_status(*, session: Session, status: str, moderator: User) -> Session:
    """Open, close or publish a session. Publishing emails everyone whose question was
    answered (a background task, after commit)."""
    if status not in Session.Status.values:
        raise ValidationError(_("Unknown status."))
    with transaction.atomic():
        fields = {"status": status}
        if status == Session.Status.PUBLISHED:
            fields["published_at"] = session.published_at or timezone.now()
            fields["answering_now"] = None
        Session.objects.filter(pk=session.pk).update(**fields)
        _record(
            session_id=session.pk,
            moderator=moderator,
            action=ModerationDecision.Action.SESSION,
            detail={"status": status},
        )
        live.live_bump(slug=session.slug)
        if status == Session.Status.PUBLISHED:
            from .tasks import qa_answered_notify

            session_id = session.pk
            transaction.on_commit(lambda: qa_answered_notify.enqueue(session_id))
    session.refresh_from_db()
    return session


def session_save(*, session: Session, actor: User, moderators=None) -> Session:
    with transaction.atomic():
        creating = session.pk is None
        if creating:
            session.created_by = actor
        session.save()
        if moderators is not None:
            session.moderators.set(moderators)
        live.live_bump(slug=session.slug)
    return session


def banned_phrase_add(*, phrase: str, actor: User, area=None) -> BannedPhrase:
    """Add to the national list (``area`` None: admins only) or to ``area``'s list (its
    organisers and those above it). Raises PermissionDenied otherwise."""
    if not can_edit_phrases(actor, area):
        raise PermissionDenied
    phrase = " ".join(phrase.split()).lower()
    if not phrase:
        raise ValidationError({"phrase": _("Enter a word or phrase.")})
    try:
        with transaction.atomic():
            return BannedPhrase.objects.create(phrase=phrase[:100], area=area, created_by=actor)
    except IntegrityError:
        raise ValidationError({"phrase": _("That is on the list already.")}) from None


def banned_phrase_remove(*, phrase: BannedPhrase, actor: User) -> None:
    if not can_edit_phrases(actor, phrase.area):
        raise PermissionDenied
    phrase.delete()


def can_edit_phrases(user: User, area) -> bool:
    """Admins edit every list; organisers the lists of areas inside their own."""
    if not user.can_write:
        return False
    if user.is_admin:
        return True
    scope = user.scope_area
    return area is not None and scope is not None and area.is_within(scope)


# --- voting -----------------------------------------------------------------------


def vote_add(*, question: Question, person_id: int, ip: str | None) -> bool:
    """One upvote from a confirmed supporter. Returns False if they had voted already.

    Raises Throttled past the per-person or per-IP rate, ValidationError if the
    question is not public. The unique (question, person) constraint is what keeps
    it to one vote, even under concurrency.
    """
    if (
        question.status != Question.Status.APPROVED
        or question.session.status != Session.Status.OPEN
    ):
        raise ValidationError(_("Votes are closed for this question."))
    if ratelimit_hit(scope="qa-vote-p", ident=str(person_id), window=60) > VOTES_PER_MINUTE_PERSON:
        raise Throttled
    iph = ip_hash(ip)
    if iph and ratelimit_hit(scope="qa-vote-ip", ident=iph, window=60) > VOTES_PER_MINUTE_IP:
        raise Throttled
    try:
        with transaction.atomic():
            Vote.objects.create(question=question, person_id=person_id)
            Question.objects.filter(pk=question.pk).update(votes_count=F("votes_count") + 1)
            live.live_touch(slug=question.session.slug)
    except IntegrityError:
        return False
    return True


def supporter_for_confirmation(*, email: str, name: str = "") -> Person:
    """The person who asked to confirm ``email`` (created if new, never renamed)."""
    try:
        email_n = normalise_email(email)
    except InvalidEmail:
        raise ValidationError({"email": _("Enter a valid email address.")}) from None
    if not email_n:
        raise ValidationError({"email": _("Enter your email address.")})
    existing = person_find(email=email_n)
    if existing is not None:
        return existing
    first, last = _split_name(" ".join(name.split()))
    return person_upsert(
        email=email_n, first_name=first, last_name=last, source_code="qa:confirm", public=True
    ).person
