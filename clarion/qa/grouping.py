"""Topic grouping: which earlier questions of a session a new one says the same as.

A question is reduced to its content terms (``screening.content_terms``: look-alikes
folded, stop words dropped, stemmed). It joins the group whose *whole membership* it
resembles most, by a weighted cosine between the question's terms and the group's
centroid (each term weighted by how many of the group's members use it), when that
similarity reaches ``THRESHOLD``; otherwise it starts a new group.

Each term is weighted by how rare it is in the session *outside the group being
compared* (an inverse document frequency against the session's own baseline). A word
that many genuine askers use in different questions ("bus", "housing") weighs little;
a word that suddenly appears in dozens of questions of one group and nowhere else
(a name, a place, "quota") keeps its full weight however often the burst repeats it,
which is what lets a reworded talking point still find its group. docs/qa.md gives
the measurements behind the choice.

The index is a per-process cache derived from the database, never state of its own:
questions never change group except through ``regroup`` (which bumps
``Session.regroup_epoch``), so each process catches up with one indexed query for the
questions added since it last looked (``id > last_id``) and rebuilds when the epoch
moved. Callers hold the session row lock (``services.question_ask``), which also keeps
two threads of one process from updating one session's index at once.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter, OrderedDict

from django.db import connection, models
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from . import screening
from .models import Question, QuestionGroup, Session

# A question joins a group at this weighted cosine or above (see docs/qa.md) ...
THRESHOLD = 0.5
# ... or at this lower one when the group is bursting: at least BURST_PEOPLE people
# new to the database sent it within BURST_WINDOW. A brigade's paraphrases score
# 0.3-0.5 against each other at first; genuine questions on one subject rarely
# reach 0.5, and never meet a bursting group unless a brigade is under way.
BURST_THRESHOLD = 0.3
# ... provided the group already uses the question's words: this share of the
# question's weight at least. A paraphrase reuses the brigade's vocabulary (the group
# gathers every synonym it tries); a genuine question on the same subject brings
# words of its own ("keep the triple lock *for the whole parliament*").
BURST_COVERAGE = 0.7
BURST_PEOPLE = 3
BURST_WINDOW = dt.timedelta(minutes=10)
# Two groups whose centroids reach this cosine are one topic split early; when one is
# bursting, it absorbs the other (``absorb_splinters``).
MERGE_THRESHOLD = 0.4
# Unrelated questions assumed before the session's first, so early weights are sane.
BACKGROUND = 10
# How many groups, found through shared terms, are scored exactly.
CANDIDATES = 24
# Sessions whose index a process keeps (live sessions are few at a time).
SESSIONS_KEPT = 16
# The first release's screen, kept as the benchmark's baseline.
SHINGLE_CANDIDATES = 300


class _Group:
    __slots__ = ("df", "n", "new_people", "norm", "norm_at")

    def __init__(self) -> None:
        self.n = 0
        self.df: Counter[str] = Counter()
        self.norm = 0.0
        self.norm_at = -1.0
        # The last BURST_PEOPLE distinct askers new to the database: person id -> when
        # they last asked, oldest first (enough to tell a burst, in constant time).
        self.new_people: OrderedDict[int, dt.datetime] = OrderedDict()

    def note_new_person(self, person_id: int, at: dt.datetime) -> None:
        self.new_people.pop(person_id, None)
        self.new_people[person_id] = at
        while len(self.new_people) > BURST_PEOPLE:
            self.new_people.popitem(last=False)

    def bursting(self, since: dt.datetime, extra: int | None = None) -> bool:
        """BURST_PEOPLE distinct new askers since ``since`` (``extra``: one more asker,
        not yet in the index, asking now)."""
        people = [p for p, at in self.new_people.items() if at >= since]
        if extra is not None and extra not in people:
            people.append(extra)
        return len(people) >= BURST_PEOPLE


class TopicIndex:
    """Term statistics of one session: document frequencies overall and per group, and
    which groups use each term."""

    def __init__(self, stamp: tuple) -> None:
        self.stamp = stamp
        self.last_id = 0
        self.n = 0
        self.df: Counter[str] = Counter()
        self.postings: dict[str, set[int]] = {}
        self.groups: dict[int, _Group] = {}

    def add(
        self,
        *,
        group_id: int,
        terms: list[str],
        new_person_id: int | None = None,
        at: dt.datetime | None = None,
    ) -> None:
        self.n += 1
        self.df.update(terms)
        group = self.groups.get(group_id)
        if group is None:
            group = self.groups[group_id] = _Group()
        group.n += 1
        group.df.update(terms)
        group.norm_at = -1.0
        if new_person_id is not None and at is not None:
            group.note_new_person(new_person_id, at)
        for term in terms:
            self.postings.setdefault(term, set()).add(group_id)

    def _weight(self, term: str, group: _Group | None) -> float:
        """Rarity of ``term`` in the session: in how few of its groups it appears,
        leaving ``group`` out."""
        groups = len(self.postings.get(term, ()))
        if group is not None and term in group.df:
            groups -= 1
        rarity = screening.term_rarity(term)
        return rarity * math.log((len(self.groups) + BACKGROUND) / (groups + 1))

    def _norm(self, group: _Group) -> float:
        # Weights drift slowly as the session grows: recompute after 5% more questions.
        if group.norm_at < 0 or self.n > group.norm_at * 1.05:
            total = 0.0
            for term, count in group.df.items():
                total += (self._weight(term, group) * count / group.n) ** 2
            group.norm = math.sqrt(total)
            group.norm_at = float(self.n)
        return group.norm

    def similarity(self, terms: list[str], group_id: int) -> float:
        """Weighted cosine between ``terms`` and the centroid of the group."""
        return self._score(terms, group_id)[0]

    def _score(self, terms: list[str], group_id: int) -> tuple[float, float]:
        """(weighted cosine with the group's centroid, share of the question's weight
        in words the group uses)."""
        group = self.groups[group_id]
        dot = q_norm = covered = 0.0
        for term in terms:
            w = self._weight(term, group)
            q_norm += w * w
            count = group.df.get(term)
            if count:
                covered += w * w
                dot += w * w * count / group.n
        if not dot:
            return 0.0, 0.0
        return dot / (math.sqrt(q_norm) * self._norm(group)), covered / q_norm

    def joins(self, terms: list[str], group_id: int, *, bursting: bool) -> tuple[bool, float]:
        """Whether ``terms`` belong in the group, and the cosine."""
        score, coverage = self._score(terms, group_id)
        if score >= THRESHOLD:
            return True, score
        ok = bursting and score >= BURST_THRESHOLD and coverage >= BURST_COVERAGE
        return ok, score

    def centroid_similarity(self, a: int, b: int) -> float:
        """Cosine between the centroids of two groups (session-wide term weights)."""
        ga, gb = self.groups[a], self.groups[b]
        if ga.n > gb.n:
            ga, gb = gb, ga
        dot = na = nb = 0.0
        for term, count in ga.df.items():
            w = self._weight(term, None)
            x = w * count / ga.n
            na += x * x
            other = gb.df.get(term)
            if other:
                dot += x * w * other / gb.n
        if not dot:
            return 0.0
        for term, count in gb.df.items():
            y = self._weight(term, None) * count / gb.n
            nb += y * y
        return dot / math.sqrt(na * nb)

    def _candidates(self, terms) -> Counter[int]:
        shared: Counter[int] = Counter()
        for term in terms:
            groups = self.postings.get(term)
            if groups:
                w = self._weight(term, None)
                for gid in groups:
                    shared[gid] += w
        return shared

    def best(self, terms: list[str], *, now: dt.datetime | None = None) -> tuple[int | None, float]:
        """The group ``terms`` should join and its score, or (None, best score seen).
        A group that is bursting at ``now`` is joined at BURST_THRESHOLD."""
        since = (now or timezone.now()) - BURST_WINDOW
        best, best_margin, best_score, top = None, -1.0, 0.0, 0.0
        for gid, _ in self._candidates(terms).most_common(CANDIDATES):
            bursting = self.groups[gid].bursting(since)
            ok, score = self.joins(terms, gid, bursting=bursting)
            top = max(top, score)
            margin = score - (BURST_THRESHOLD if bursting else THRESHOLD)
            if ok and margin > best_margin:
                best, best_margin, best_score = gid, margin, score
        return (best, best_score) if best is not None else (None, top)

    def splinters(self, group_id: int) -> list[int]:
        """Other groups that say what ``group_id`` says: groups of two or more whose
        centroid reaches MERGE_THRESHOLD, single questions that reach BURST_THRESHOLD."""
        group = self.groups[group_id]
        core = [t for t, c in group.df.items() if c * 3 >= group.n]
        found = []
        for gid, _ in self._candidates(core).most_common(CANDIDATES * 2):
            if gid == group_id:
                continue
            other = self.groups[gid]
            if other.n > 1:
                hit = self.centroid_similarity(group_id, gid) >= MERGE_THRESHOLD
            else:
                hit = self.joins(list(other.df), group_id, bursting=True)[0]
            if hit:
                found.append(gid)
        return found


_indexes: OrderedDict[int, TopicIndex] = OrderedDict()


def index_for(session: Session) -> TopicIndex:
    """This session's index, caught up with every question committed so far."""
    stamp = (session.created_at, session.regroup_epoch)
    index = _indexes.get(session.pk)
    if index is None or index.stamp != stamp:
        index = TopicIndex(stamp)
    _indexes[session.pk] = index
    _indexes.move_to_end(session.pk)
    while len(_indexes) > SESSIONS_KEPT:
        _indexes.popitem(last=False)
    # Plain SQL: this runs on every ask, and building the ORM query cost more than
    # running it (see bench/qa_screen.py).
    with connection.cursor() as cursor:
        cursor.execute(_CATCH_UP, [session.pk, index.last_id])
        rows = cursor.fetchall()
    for pk, group_id, terms, person_id, was_new, created_at in rows:
        if isinstance(terms, str):
            terms = json.loads(terms)
        if isinstance(created_at, str):
            created_at = parse_datetime(created_at)
        if created_at is not None and timezone.is_naive(created_at):
            created_at = timezone.make_aware(created_at, dt.UTC)
        index.add(
            group_id=group_id,
            terms=terms or [],
            new_person_id=person_id if was_new else None,
            at=created_at,
        )
        index.last_id = pk
    return index


_CATCH_UP = (
    f"SELECT id, group_id, terms, person_id, person_was_new, created_at "  # noqa: S608
    f"FROM {Question._meta.db_table} "
    "WHERE session_id = %s AND id > %s AND group_id IS NOT NULL ORDER BY id"
)


def question_terms(text: str) -> list[str]:
    """The terms a question is grouped by. A question of stop words only ("Why?")
    is grouped by its whole folded text, so only its exact repeats join it."""
    terms = screening.content_terms(text)
    if not terms:
        folded = screening.fold_text(text)
        terms = [f"={folded}"] if folded else []
    return terms


def group_for(*, session: Session, terms: list[str]) -> tuple[QuestionGroup, bool]:
    """The group these terms belong to (joined: True) or a new one (False).
    Caller holds the session row lock."""
    index = index_for(session)
    best, _score = index.best(terms) if terms else (None, 0.0)
    if best is not None:
        QuestionGroup.objects.filter(pk=best).update(size=F("size") + 1)
        group = QuestionGroup.objects.filter(pk=best).first()
        if group is not None:
            return group, True
    return QuestionGroup.objects.create(session=session), False


def absorb_splinters(*, session: Session, question: Question) -> int:
    """When the group ``question`` just joined is bursting, move into it the questions
    of the groups that are the same topic split off early (``TopicIndex.splinters``),
    so a brigade stays one item for the moderator. Only groups whose questions all
    still wait for a moderator and arrived within BURST_WINDOW are absorbed. Returns
    how many questions moved.

    Call right after ``group_for`` in the same transaction, holding the session row
    lock: the index then holds every committed question and ``question`` is added for
    this check only, so a transaction that rolls back leaves nothing in the cache.
    Other processes rebuild their index when they see ``Session.regroup_epoch`` move.
    """
    index = _indexes.get(session.pk)
    group = index.groups.get(question.group_id) if index and question.group_id else None
    if index is None or group is None:
        return 0
    since = timezone.now() - BURST_WINDOW
    if not group.bursting(since, extra=question.person_id if question.person_was_new else None):
        return 0
    found = index.splinters(question.group_id)
    if not found:
        return 0
    settled = (
        Question.objects.filter(group_id__in=found)
        .filter(~models.Q(status=Question.Status.PENDING) | models.Q(created_at__lt=since))
        .values_list("group_id", flat=True)
    )
    movable = set(found) - set(settled)
    if not movable:
        return 0
    moved = Question.objects.filter(group_id__in=movable).update(group_id=question.group_id)
    QuestionGroup.objects.filter(pk=question.group_id).update(size=F("size") + moved)
    QuestionGroup.objects.filter(pk__in=movable).delete()
    Session.objects.filter(pk=session.pk).update(regroup_epoch=F("regroup_epoch") + 1)
    _indexes.pop(session.pk, None)
    return moved


def shingle_group_for(*, session: Session, text: str) -> tuple[int | None, float]:
    """The first release's screen (read only): 4-character shingles of the normalised
    text against the first question of the 300 newest groups, Jaccard similarity.
    Kept callable as the benchmark's baseline."""
    sh = screening.shingles(text)
    best, best_score = None, 0.0
    candidates = (
        QuestionGroup.objects.filter(session=session)
        .order_by("-created_at")
        .values_list("pk", "shingles")
    )[:SHINGLE_CANDIDATES]
    for pk, other in candidates:
        score = screening.jaccard(sh, other)
        if score > best_score:
            best, best_score = pk, score
    if best_score >= screening.DUPLICATE_THRESHOLD:
        return best, best_score
    return None, best_score
