"""Coordinated brigades against a genuine audience: what the moderator's queue shows.

The fixtures (crowd.py) reword each talking point with synonyms, reordered clauses,
filler, shouting, emoji, invisible characters and look-alike letters, from a fresh
address on one of a dozen domains and a home connection of its own per member.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from clarion.qa import grouping, screening, selectors
from clarion.qa.models import Question, QuestionGroup

from . import crowd
from .conftest import ask


def _run(session, askers):
    session.max_length = 280
    session.save()
    placed = {}
    for asker in askers:
        q = ask(session, name=asker.name, email=asker.email, text=asker.text, ip=asker.ip)
        placed[q.pk] = asker
    return placed


def _queue_items(session, placed):
    """For each brigade, the queue items (waves and cards) its questions appear in;
    and the genuine questions that were flagged or swallowed by a brigade."""
    queue = selectors.moderation_queue(session)
    items: dict[str, set] = defaultdict(set)
    by_group = defaultdict(list)
    for q in Question.objects.filter(session=session):
        by_group[q.group_id].append(q)
    for wave in queue["waves"]:
        for q in by_group[wave["group"].pk]:
            if placed[q.pk].brigade:
                items[placed[q.pk].brigade].add(("wave", wave["group"].pk))
    for card in queue["clean"] + queue["flagged"]:
        members = [card["question"], *card["others"]]
        for q in members:
            if placed[q.pk].brigade:
                items[placed[q.pk].brigade].add(("card", card["question"].pk))
    harmed = []
    for q in Question.objects.filter(session=session):
        if placed[q.pk].brigade:
            continue
        swallowed = any(placed[o.pk].brigade for o in by_group[q.group_id])
        if swallowed or {"wave", "duplicate"} & set(q.reasons):
            harmed.append(q.text)
    return items, harmed, queue


@pytest.mark.parametrize("seed", [3, 11])
def test_three_brigades_land_in_a_handful_of_waves_and_genuine_questions_stay_cards(session, seed):
    askers = crowd.mixed_session(seed=seed, brigades={"fishing": 60, "donor": 60, "pensions": 40})
    placed = _run(session, askers)
    items, harmed, queue = _queue_items(session, placed)

    for name in ("fishing", "donor", "pensions"):
        assert 1 <= len(items[name]) <= 3, (name, items[name])
        # Most of the brigade sits in one flagged wave the moderator handles at once.
        biggest = max(
            (w for w in queue["waves"] if ("wave", w["group"].pk) in items[name]),
            key=lambda w: w["count"],
        )
        assert biggest["count"] >= 0.9 * sum(1 for a in askers if a.brigade == name)
    genuine = [a for a in askers if not a.brigade]
    assert len(harmed) * 25 <= len(genuine), harmed
    # The genuine audience is a list of ordinary cards ready for a decision.
    clean_texts = {c["question"].text for c in queue["clean"]}
    assert sum(a.text in clean_texts for a in genuine) >= len(genuine) - len(genuine) // 25


def test_a_wave_card_shows_count_askers_domains_networks_and_sample_wordings(session):
    askers = crowd.mixed_session(seed=5, brigades={"donor": 30})
    placed = _run(session, askers)
    queue = selectors.moderation_queue(session)
    wave = max(queue["waves"], key=lambda w: w["count"])
    assert wave["count"] >= 27
    assert wave["askers"] == wave["count"]
    assert wave["domains"] == 12
    assert wave["networks"] >= 25  # home connections: almost one network each
    assert 3 <= len(wave["samples"]) <= 5
    assert len({s.text for s in wave["samples"]}) == len(wave["samples"])
    assert all(placed[s.pk].brigade == "donor" for s in wave["samples"])
    assert wave["top_domains"][0][1] >= 2


def test_genuine_questions_on_buses_stay_separate_cards(session):
    bus = [a for a in crowd.genuine(seed=1) if "bus" in a.text.lower()]
    assert len(bus) >= 6
    _run(session, bus)
    assert QuestionGroup.objects.filter(session=session).count() == len(bus)
    queue = selectors.moderation_queue(session)
    assert len(queue["clean"]) == len(bus) and not queue["waves"]


def test_look_alike_letters_emoji_and_invisible_characters_fold_to_the_same_words():
    plain = "Why did Mayor Hartley betray Grimsby fishermen over the quota?"
    disguised = (
        "\U0001f621 Wh\u0443 d\u0456d \u041c\u0430\u0443\u043er H\u0430rtl\u0435\u0443 "
        "B\u0395TR\u0410\u0423 Gr\u0456m\u200bsby   fiiiishermen \u03bfver the qu\u03bfta??? \U0001f525"
    )
    assert screening.fold_text(disguised) == screening.fold_text(plain)
    assert screening.content_terms(disguised) == screening.content_terms(plain)
    assert "hartley" in screening.content_terms(disguised)
    # A banned phrase matches through the disguise too.
    pattern = screening.phrase_pattern(["hartley"])
    assert "banned_word" in screening.text_reasons(disguised, banned=pattern)


def test_paraphrases_join_a_bursting_group_that_plain_shingles_would_have_split(session):
    askers = crowd.brigade("fishing", 20, seed=4)
    placed = _run(session, askers)
    groups = {q.group_id for q in Question.objects.filter(pk__in=placed)}
    assert len(groups) <= 2
    # Today's first-member shingle screen scores these paraphrases far below its cut-off.
    texts = [a.text for a in askers]
    first = screening.shingles(texts[0])
    below = sum(
        screening.jaccard(first, screening.shingles(t)) < screening.DUPLICATE_THRESHOLD
        for t in texts[1:]
    )
    assert below >= len(texts) - 3
    assert grouping.index_for(session).n == 20
