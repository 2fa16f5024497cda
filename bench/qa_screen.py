"""Benchmark: topic-grouping cost per question with 5,000 questions already in a session.

    .venv/bin/python bench/qa_screen.py [--questions 5000] [--probes 500]

Uses a fresh SQLite file in a temporary folder (or DATABASE_URL when set, e.g. a
PostgreSQL database made for the purpose). Fills one session with ``--questions``
questions: the genuine audience of the brigade tests reworded, and three paraphrased
brigades, grouped as the screen groups them, each group keeping its first question's
shingles for the baseline. Then times, for ``--probes`` new questions (genuine and
brigade), what the ask path runs to choose a group:

- the screen (``grouping``): content terms, the index caught up with the database
  (one indexed query), scoring against the candidate groups;
- the baseline, today's screen as it was (``grouping.shingle_group_for``): shingles,
  the 300 newest groups from the database, Jaccard against each first question.

Nothing is written while timing, so every probe sees the same 5,000 questions. The
index's first build in a fresh process is reported apart (``cold_ms``). Last line:

    p50_us=... p99_us=... baseline_us=... (baseline p50; baseline_p99_us follows)
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _setup() -> None:
    tmp = tempfile.mkdtemp(prefix="qa-screen-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    os.environ.setdefault(
        "CLARION_SECRET_KEY", "bench-only-secret-key-not-for-production-use-123456"
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clarion.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _texts(n: int, rng: random.Random) -> list[tuple[str, bool]]:
    from clarion.qa.tests import crowd

    openers = ["", "Quick one:", "Thanks for doing this.", "From Hull:", "As a nurse,"]
    texts = []
    attack = [(name, 0) for name in ("fishing", "donor", "pensions")]
    for i in range(n):
        if i % 4 == 3:
            name, _ = attack[i % 3]
            texts.append((crowd.paraphrase(crowd.BRIGADES[name], rng, lookalikes=i % 3 == 0), True))
        else:
            base = rng.choice(crowd.GENUINE)
            texts.append((f"{rng.choice(openers)} {base}".strip(), False))
    return texts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=5000)
    parser.add_argument("--probes", type=int, default=500)
    args = parser.parse_args()
    _setup()

    from django.utils import timezone

    from clarion.people.services import person_upsert
    from clarion.qa import grouping, screening
    from clarion.qa.models import Question, QuestionGroup, Session

    rng = random.Random(42)
    session = Session.objects.create(
        slug=f"bench-screen-{int(time.time())}", title="Bench", host="Host", status="open"
    )
    people = [
        person_upsert(email=f"bench{i}@example.net", first_name="Bench", last_name=str(i)).person
        for i in range(200)
    ]
    # Group the way the screen does, in memory, then write it all in bulk.
    index = grouping.TopicIndex(None)
    now = timezone.now()
    texts = _texts(args.questions, rng)
    assigned: list[tuple[int, str, list[str]]] = []
    first_text: dict[int, str] = {}
    next_group = 0
    for i, (text, brigade) in enumerate(texts):
        terms = grouping.question_terms(text)
        gid, _ = index.best(terms, now=now)
        if gid is None:
            next_group += 1
            gid = next_group
            first_text[gid] = text
        index.add(group_id=gid, terms=terms, new_person_id=i if brigade else None, at=now)
        assigned.append((gid, text, terms))
    groups = QuestionGroup.objects.bulk_create(
        [
            QuestionGroup(session=session, shingles=screening.shingles(first_text[g]))
            for g in range(1, next_group + 1)
        ]
    )
    Question.objects.bulk_create(
        [
            Question(
                session=session,
                person=people[i % len(people)],
                display_name="Bench",
                text=text,
                terms=terms,
                group=groups[gid - 1],
            )
            for i, (gid, text, terms) in enumerate(assigned)
        ],
        batch_size=500,
    )
    print(f"questions={len(assigned)} groups={next_group}")

    probes = [t for t, _ in _texts(args.probes, random.Random(7))]
    session.refresh_from_db()
    started = time.perf_counter()
    grouping.index_for(session)
    cold_ms = (time.perf_counter() - started) * 1000

    def screen(text: str) -> None:
        terms = grouping.question_terms(text)
        grouping.index_for(session).best(terms)

    def baseline(text: str) -> None:
        grouping.shingle_group_for(session=session, text=text)

    timings: dict[str, list[float]] = {"screen": [], "baseline": []}
    for text in probes:  # interleaved, so both see the same machine load
        for name, fn in (("screen", screen), ("baseline", baseline)):
            t0 = time.perf_counter()
            fn(text)
            timings[name].append((time.perf_counter() - t0) * 1e6)

    def pct(values: list[float], p: float) -> float:
        values = sorted(values)
        return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]

    if os.environ.get("QA_SCREEN_PROFILE"):
        import cProfile

        cProfile.runctx("for t in probes: screen(t)", globals(), locals(), sort="cumtime")
    s, b = timings["screen"], timings["baseline"]
    print(f"cold_ms={cold_ms:.1f} screen_mean_us={statistics.mean(s):.0f}")
    print(
        f"p50_us={pct(s, 50):.0f} p99_us={pct(s, 99):.0f} baseline_us={pct(b, 50):.0f} "
        f"baseline_p99_us={pct(b, 99):.0f}"
    )


if __name__ == "__main__":
    main()
