"""The whole live session in headless Chromium, with a hostile wave held back."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from clarion.core.testing.browser import login
from clarion.core.testing.factories import PASSWORD
from clarion.qa import services, voting
from clarion.qa.models import Question, QuestionGroup

from . import crowd
from .conftest import make_session

WAVE_TEXT = "Why are you covering up the secret donor deal, you liar"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_live_session_end_to_end(page, browser, live_server, admin):
    session = make_session(slug="ask-alex", join_url="https://example.org/join")
    url = f"{live_server.url}/qa/{session.slug}/"

    # Supporters ask through the public form.
    asks = [
        ("Nora North", "nora@example.net", "Will you freeze bus fares in the north?"),
        ("Sid South", "sid@example.net", "What is your plan for council housing?"),
    ]
    for name, email, text in asks:
        page.goto(url)
        page.get_by_label("Your name").fill(name)
        page.get_by_label("Email").first.fill(email)
        page.get_by_label("Your question").fill(text)
        page.get_by_role("button", name="Send my question").click()
        expect(page.get_by_role("heading", name="Thank you for your question")).to_be_visible()

    # A scripted wave: 200 near-identical questions from 200 new addresses.
    for i in range(200):
        services.question_ask(
            session=session,
            name=f"Wrecker {i}",
            email=f"w{i}@wreck-{i % 7}.test",
            text=f"{WAVE_TEXT}{'!' * (i % 3)} {'?' * (i % 2)}",
            ip=f"10.66.{i // 250}.{i % 250}",
        )
    assert QuestionGroup.objects.filter(wave=True).count() == 1
    assert QuestionGroup.objects.get(wave=True).questions.count() >= 190

    audience = browser.new_context().new_page()
    audience.goto(url)
    expect(audience.locator("#qa-empty")).to_be_visible()

    # The moderator approves the real questions with the keyboard.
    login(page, live_server.url, admin.email, PASSWORD)
    page.goto(f"{live_server.url}/staff/qa/{session.pk}/")
    waves = page.locator("#qa-waves > li")
    expect(waves).to_have_count(1)
    expect(waves.first).to_contain_text("Flagged wave")
    expect(page.locator("#qa-clean > li")).to_have_count(2)
    # Hold the claim that selecting sends until the approval has answered: a fast
    # moderator's "j a" can decide the question before the claim arrives, and the
    # claim's late refusal must not replace "Approved" with "someone else has it".
    held = []
    page.route("**/claim/", lambda route: held.append(route))
    page.keyboard.press("j")
    expect(page.locator("#qa-clean > li").first).to_have_class(re.compile("qa-card--selected"))
    page.keyboard.press("a")
    expect(page.locator("#qa-console-message")).to_contain_text("Approved")
    assert len(held) == 1
    with page.expect_response("**/claim/") as late:
        held[0].continue_()
    page.unroute("**/claim/")
    assert late.value.status == 409
    page.wait_for_timeout(200)
    expect(page.locator("#qa-console-message")).to_contain_text("Approved")
    expect(page.locator("#qa-clean > li")).to_have_count(1)
    page.keyboard.press("a")
    expect(page.locator("#qa-clean > li")).to_have_count(0)
    assert Question.objects.filter(status="approved").count() == 2

    # The audience page updates without a reload.
    items = audience.locator("#qa-questions > li")
    expect(items).to_have_count(2, timeout=15_000)
    expect(items.first).to_contain_text("freeze bus fares")
    assert WAVE_TEXT not in audience.content()

    # A confirmed supporter's vote reorders the questions.
    housing = Question.objects.get(text__contains="council housing")
    voter = browser.new_context().new_page()
    voter.goto(
        f"{live_server.url}/qa/confirm/{voting.confirm_token(person_id=housing.person_id, slug=session.slug)}/"
    )
    voter.locator(f"#q{housing.pk}").get_by_role("button", name="Upvote").click()
    expect(items.first).to_contain_text("council housing", timeout=15_000)
    expect(items.first.locator(".qa-q__count")).to_have_text("1")

    # The host marks the question being answered, then the answer.
    page.goto(f"{live_server.url}/staff/qa/{session.pk}/host/")
    card = page.locator(f"#host-{housing.pk}")
    card.get_by_role("button", name="Answering now").click()
    expect(audience.locator("#qa-answering")).to_contain_text("council housing", timeout=15_000)
    page.locator(f"#host-{housing.pk}").get_by_label("Answer").fill(
        "We will build 100,000 homes a year."
    )
    page.locator(f"#host-{housing.pk}").get_by_label("Starts in the video").fill("12:30")
    page.locator(f"#host-{housing.pk}").get_by_role("button", name="Save answer").click()
    expect(audience.locator(f"#q{housing.pk}")).to_contain_text("100,000 homes", timeout=15_000)
    expect(audience.locator(f"#q{housing.pk}")).to_contain_text("12:30")
    expect(audience.locator("#qa-answering")).to_be_hidden()

    # Close and publish.
    page.goto(f"{live_server.url}/staff/qa/{session.pk}/")
    page.get_by_role("button", name="Close questions").click()
    page.get_by_role("button", name="Publish questions and answers").click()
    page.goto(url)
    expect(page.get_by_text("This session is over")).to_be_visible()
    expect(page.locator("#qa-questions > li")).to_have_count(2)
    expect(page.locator(f"#q{housing.pk}")).to_contain_text("100,000 homes")
    assert WAVE_TEXT not in page.content()
    expect(page.locator("#next-steps")).to_contain_text("Join us")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_paraphrased_look_alike_brigade_through_the_public_form_is_one_wave(
    page, browser, live_server, admin, settings
):
    """Genuine supporters and a brigade (reworded, look-alike letters, emoji, one fresh
    address and home connection each) ask through the public form over real HTTP; the
    moderator sees the brigade as one wave and the genuine questions as ordinary cards."""
    settings.BEHIND_PROXY = True  # each asker's own address arrives in X-Forwarded-For
    session = make_session(slug="ask-brigade", max_length=280)
    askers = crowd.mixed_session(seed=21, brigades={"fishing": 30})
    genuine = [a for a in askers if not a.brigade][:20]
    attack = [a for a in askers if a.brigade]
    arriving = genuine[:8] + [
        x for pair in zip(attack, genuine[8:] + [None] * 30, strict=False) for x in pair if x
    ]
    public = browser.new_context().new_page()
    for asker in arriving:
        public.set_extra_http_headers({"X-Forwarded-For": asker.ip})
        public.goto(f"{live_server.url}/qa/{session.slug}/")
        public.get_by_label("Your name").fill(asker.name)
        public.get_by_label("Email").first.fill(asker.email)
        public.get_by_label("Your question").fill(asker.text)
        public.get_by_role("button", name="Send my question").click()
        expect(public.get_by_role("heading", name="Thank you for your question")).to_be_visible()
    assert Question.objects.filter(session=session).count() == len(arriving)

    login(page, live_server.url, admin.email, PASSWORD)
    page.goto(f"{live_server.url}/staff/qa/{session.pk}/")
    waves = page.locator("#qa-waves > li")
    expect(waves).to_have_count(1)
    wave = waves.first
    expect(wave.locator(".qa-wave__count")).to_have_text(re.compile(r"^(2[89]|30)$"))
    expect(wave.locator(".qa-wave__domains")).to_have_text("12")
    expect(wave.locator(".qa-wave__samples > li")).to_have_count(4)
    clean = page.locator("#qa-clean > li")
    expect(clean).to_have_count(len(genuine))
    for asker in genuine:
        expect(page.locator("#qa-clean")).to_contain_text(asker.text)
    # Badges marked hidden stay hidden: nothing is starred, claimed or copied yet.
    first = clean.first
    expect(first.locator(".qa-card__star")).to_be_hidden()
    expect(first.locator(".qa-card__claim")).to_be_hidden()
    expect(first.locator(".qa-card__count")).to_be_hidden()

    # Star with the keyboard: the card keeps the focus, so "a" then approves it.
    page.keyboard.press("j")
    expect(first).to_have_class(re.compile("qa-card--selected"))
    starred_id = first.get_attribute("data-id")
    page.keyboard.press("s")
    expect(page.locator("#qa-console-message")).to_contain_text("Starred")
    card = page.locator(f"#card-{starred_id}")
    expect(card.locator(".qa-card__star")).to_be_visible()
    expect(card).to_be_focused()
    page.keyboard.press("a")
    expect(page.locator("#qa-console-message")).to_contain_text("Approved")
    approved = Question.objects.get(pk=starred_id)
    assert approved.status == "approved" and approved.starred

    # One key bans the whole wave.
    page.locator("#qa-waves > li").first.get_by_role("button", name="Ban all senders").click()
    expect(page.locator("#qa-waves > li")).to_have_count(0)
    assert not Question.objects.filter(
        session=session, status="pending", text__in=[a.text for a in attack]
    ).exists()
