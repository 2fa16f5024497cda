from __future__ import annotations

from clarion.qa import screening


def test_normalised_text_ignores_case_accents_punctuation_and_digits():
    assert screening.normalise_text("  Café TAXES?!  2024 —  now ") == "cafe taxes now"


def test_near_identical_questions_are_similar_and_different_ones_are_not():
    a = screening.shingles("Why did you betray the voters of the north on the rail line?")
    b = screening.shingles("why did YOU betray the voters of the North on the rail line??? 42")
    c = screening.shingles("Will you build more council houses in Leeds?")
    assert screening.jaccard(a, b) >= screening.DUPLICATE_THRESHOLD
    assert screening.jaccard(a, c) < 0.2


def test_banned_phrases_match_whole_words_ignoring_case():
    pattern = screening.phrase_pattern(["traitor", "sell out"])
    assert "banned_word" in screening.text_reasons("You are a TRAITOR", banned=pattern)
    assert "banned_word" in screening.text_reasons("a total sell  out", banned=pattern)
    assert "banned_word" not in screening.text_reasons("traitorous weather today", banned=pattern)
    assert screening.text_reasons("A fair question about trains?", banned=pattern) == []


def test_links_capitals_and_repetition_are_reasons():
    assert "link" in screening.text_reasons("see https://spam.example now", banned=None)
    assert "link" in screening.text_reasons("visit wreck-it.xyz for more", banned=None)
    assert "capitals" in screening.text_reasons("WHY WON'T YOU ANSWER THE QUESTION", banned=None)
    assert "repetition" in screening.text_reasons("answer answer answer me", banned=None)
    assert "repetition" in screening.text_reasons("whyyyyyyy though", banned=None)
    assert [str(x) for x in screening.reason_labels(["link"])] == ["Contains a link"]
