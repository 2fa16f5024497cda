"""Reads for Q&A. ``public_questions`` is the ONLY query public pages, the live feed and
the published page use, and it returns approved questions only (pre-moderation).
Staff reach sessions only through ``sessions_for`` / ``access_session``."""

from __future__ import annotations

from collections import Counter

from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Q, QuerySet
from django.http import Http404

from clarion.areas.selectors import area_subtree_q

from .models import Question, QuestionGroup, Session, public_name
from .screening import REASONS, fold_text, reason_labels

# Different wordings of a wave shown to the moderator (the headline one included).
WAVE_SAMPLES = 5


def public_questions(session: Session) -> QuerySet[Question]:
    return Question.objects.filter(session=session, status=Question.Status.APPROVED)


def public_session(slug: str) -> Session | None:
    """A session the public may see (anything but a draft)."""
    return Session.objects.exclude(status=Session.Status.DRAFT).filter(slug=slug).first()


def sort_questions(questions, order: str) -> list[Question]:
    items = list(questions)
    if order == "new":
        return sorted(items, key=lambda q: (q.created_at, q.pk), reverse=True)
    return sorted(items, key=lambda q: (-q.votes_count, q.created_at, q.pk))


def live_feed(slug: str) -> dict | None:
    """The public live feed of a session as a JSON-ready dict (approved questions only)."""
    session = public_session(slug)
    if session is None:
        return None
    # Tuples, not model instances: the feed is rebuilt every couple of seconds in a
    # busy session, while the other pollers of that process wait on the GIL.
    rows = public_questions(session).values_list(
        "id",
        "display_name",
        "text",
        "votes_count",
        "also_asked",
        "answer_text",
        "answer_seconds",
        "answered_at",
        "created_at",
    )
    questions = [
        {
            "id": pk,
            "name": public_name(name),
            "text": text,
            "votes": votes,
            "also": also,
            "answer": answer,
            "at": at,
            "answered": answered_at is not None,
            "created": created_at.timestamp(),
        }
        for pk, name, text, votes, also, answer, at, answered_at, created_at in rows
    ]
    questions.sort(key=lambda q: (-q["votes"], q["created"], q["id"]))
    return {
        "status": session.status,
        "answering": session.answering_now_id,
        "questions": questions,
    }


# --- staff -----------------------------------------------------------------------


def sessions_for(user) -> QuerySet[Session]:
    """Sessions ``user`` may open: every one for national staff; for an organiser or
    area analyst, local sessions inside their area and sessions they moderate."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Session.objects.none()
    scope = user.scope_area
    if scope is None:
        return Session.objects.all()
    return Session.objects.filter(area_subtree_q(scope) | Q(moderators=user)).distinct()


def access_session(user, session_id, *, write: bool = False) -> Session:
    try:
        pk = int(session_id)
    except (TypeError, ValueError):
        raise Http404 from None
    session = sessions_for(user).filter(pk=pk).first()
    if session is None:
        raise Http404
    if write and not can_moderate(user, session):
        raise PermissionDenied
    return session


def can_moderate(user, session: Session) -> bool:
    """Admins; named moderators who may write; organisers whose area covers the
    session's (local) area. Analysts never."""
    if not user.can_write:
        return False
    if user.is_admin:
        return True
    if session.moderators.filter(pk=user.pk).exists():
        return True
    scope = user.scope_area
    return bool(session.area_id and scope is not None and session.area.path.startswith(scope.path))


def access_question(user, session: Session, question_id, *, write: bool = False) -> Question:
    try:
        pk = int(question_id)
    except (TypeError, ValueError):
        raise Http404 from None
    question = Question.objects.filter(session=session, pk=pk).select_related("group").first()
    if question is None:
        raise Http404
    if write and not can_moderate(user, session):
        raise PermissionDenied
    return question


def access_group(user, session: Session, group_id, *, write: bool = False) -> QuestionGroup:
    try:
        pk = int(group_id)
    except (TypeError, ValueError):
        raise Http404 from None
    group = QuestionGroup.objects.filter(session=session, pk=pk).first()
    if group is None:
        raise Http404
    if write and not can_moderate(user, session):
        raise PermissionDenied
    return group


def moderation_queue(session: Session) -> dict:
    """Pending questions for the console: clean ones first, then flagged ones, with
    near duplicates collapsed to one card (with a count) and waves listed apart, the
    biggest first, each with its distinct askers, email domains (the commonest
    three), networks and a few different wordings."""
    pending = list(
        Question.objects.filter(session=session, status=Question.Status.PENDING)
        .select_related("group", "claimed_by")
        .annotate(email=F("person__email"))
        .order_by("created_at", "id")
    )
    waves: dict[int, dict] = {}
    cards: dict[object, dict] = {}
    for q in pending:
        if q.group_id and q.group.wave:
            wave = waves.setdefault(
                q.group_id,
                {
                    "group": q.group,
                    "count": 0,
                    "sample": q,
                    "reasons": Counter(),
                    "people": set(),
                    "domains": Counter(),
                    "nets": set(),
                    "samples": {},
                },
            )
            wave["count"] += 1
            wave["reasons"].update(q.reasons)
            wave["people"].add(q.person_id)
            wave["domains"][(q.email or "").rpartition("@")[2]] += 1
            if q.net_hash:
                wave["nets"].add(q.net_hash)
            if len(wave["samples"]) < WAVE_SAMPLES:
                wave["samples"].setdefault(fold_text(q.text), q)
            continue
        key = ("g", q.group_id) if q.group_id else ("q", q.pk)
        card = cards.get(key)
        if card is None:
            cards[key] = {"question": q, "count": 1, "others": []}
        else:
            card["count"] += 1
            card["others"].append(q)
    for q in pending:
        q.reason_labels = reason_labels(q.reasons)
    for wave in waves.values():
        wave["labels"] = reason_labels(wave["reasons"].keys())
        wave["askers"] = len(wave.pop("people"))
        wave["networks"] = len(wave.pop("nets"))
        domains = wave.pop("domains")
        wave["domains"] = len(domains)
        wave["top_domains"] = domains.most_common(3)
        # The headline wording is shown apart; the samples are the other ones.
        wave["samples"] = list(wave["samples"].values())[1:]
    clean = [c for c in cards.values() if not c["question"].reasons]
    flagged = [c for c in cards.values() if c["question"].reasons]
    return {
        "clean": clean,
        "flagged": flagged,
        "waves": sorted(waves.values(), key=lambda w: -w["count"]),
        "pending": len(pending),
    }


def approved_for_host(session: Session) -> list[Question]:
    return sort_questions(public_questions(session), "votes")


def session_report(session: Session) -> dict:
    qs = Question.objects.filter(session=session)
    totals = qs.aggregate(
        received=Count("id"),
        approved=Count("id", filter=Q(status=Question.Status.APPROVED)),
        rejected=Count("id", filter=Q(status=Question.Status.REJECTED)),
        merged=Count("id", filter=Q(status=Question.Status.MERGED)),
        pending=Count("id", filter=Q(status=Question.Status.PENDING)),
        answered=Count("id", filter=Q(answered_at__isnull=False)),
        new_people=Count("person", filter=Q(person_was_new=True), distinct=True),
        askers=Count("person", distinct=True),
    )
    held: Counter = Counter()
    for reasons in qs.values_list("reasons", flat=True):
        held.update(set(reasons or []))
    totals["held"] = [(code, str(label), held.get(code, 0)) for code, label in REASONS.items()]
    totals["waves"] = QuestionGroup.objects.filter(session=session, wave=True).count()
    return totals
