"""Headless Chromium: the whole relational loop, and axe-core on every public page kind."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from clarion.actions.models import ActionPage, Submission
from clarion.core.testing.browser import AXE, axe_violations, login
from clarion.core.testing.factories import PASSWORD
from clarion.people.models import Person

from .conftest import make_page


@pytest.mark.browser
def test_sign_share_recruit_and_see_the_timeline(page, browser, live_server, admin, settings):
    settings.CLARION_ACTION_COUNT_SECONDS = 0
    make_page(goal=10)
    page.goto(f"{live_server.url}/act/save-the-library/")
    page.get_by_role("textbox", name="First name", exact=True).fill("Ada")
    page.get_by_role("textbox", name="Email", exact=True).fill("ada@example.net")
    page.get_by_label("Show my first name and town on this page").check()
    page.get_by_role("button", name="Sign the petition").click()
    page.wait_for_url("**/thanks/**")
    assert "Thank you!" in page.content()
    assert page.locator("[data-count]").inner_text() == "1"
    share_url = page.locator("#share-url").input_value()
    ada = Person.objects.get(email="ada@example.net")
    assert share_url.endswith(f"/act/save-the-library/?ref={ada.share_code}")
    assert "You've brought in 0 people" in page.locator(".act-recruits").inner_text()
    ada_thanks = page.url

    # A friend follows Ada's link in their own browser.
    friend = browser.new_context().new_page()
    friend.goto(share_url.replace("http://127.0.0.1:8000", live_server.url))
    assert "Ada invited you to take part." in friend.content()
    friend.get_by_role("textbox", name="First name", exact=True).fill("Grace")
    friend.get_by_role("textbox", name="Email", exact=True).fill("grace@example.net")
    friend.get_by_role("button", name="Sign the petition").click()
    friend.wait_for_url("**/thanks/**")
    assert friend.locator("[data-count]").inner_text() == "2"
    friend.context.close()

    grace = Person.objects.get(email="grace@example.net")
    assert grace.recruiter == ada
    page.goto(ada_thanks)
    assert "You've brought in 1 person" in page.locator(".act-recruits").inner_text()
    page.goto(f"{live_server.url}/act/save-the-library/")
    assert page.locator("[data-count]").inner_text() == "2"
    assert "Ada" in page.locator(".act-recent").inner_text()

    # Staff see it on the person's timeline and the dashboard.
    login(page, live_server.url, admin.email, PASSWORD)
    page.goto(f"{live_server.url}/staff/people/{grace.pk}/")
    assert "Signed the petition “Save the library”" in page.locator("#timeline").inner_text()
    petition = ActionPage.objects.get(slug="save-the-library")
    page.goto(f"{live_server.url}/staff/actions/{petition.pk}/")
    assert "Recruited by supporters" in page.content()
    assert Submission.objects.filter(page=petition, recruiter=ada).count() == 1


@pytest.mark.browser
def test_every_public_page_kind_has_no_serious_accessibility_violations(
    browser, live_server, settings
):
    assert AXE.exists(), "run `npm ci` at the repository root to install axe-core"
    settings.CLARION_ACTION_COUNT_SECONDS = 0
    make_page()
    make_page(
        kind=ActionPage.Kind.PLEDGE, slug="pledge", title="Pledge", pledge_text="walk to school"
    )
    make_page(
        kind=ActionPage.Kind.SIGNUP,
        slug="signup",
        title="Sign up",
        ask_comment=True,
        questions=[
            {
                "key": "role",
                "label": "How can you help?",
                "kind": "multi",
                "choices": ["Leaflets", "Phones"],
            },
            {"key": "car", "label": "Do you drive?", "kind": "yesno", "required": True},
            {"key": "hours", "label": "Hours a week", "kind": "number"},
        ],
    )
    make_page(
        kind=ActionPage.Kind.LETTER,
        slug="letter",
        title="Write",
        target_name="Mayor",
        target_role="Mayor",
        target_email="mayor@example.org",
        letter_body="Dear Mayor",
    )
    make_page(
        kind=ActionPage.Kind.SURVEY,
        slug="survey",
        title="Survey",
        questions=[
            {"key": "top", "label": "Top issue", "kind": "choice", "choices": ["Housing", "Buses"]},
        ],
    )
    make_page(
        kind=ActionPage.Kind.DONATION, slug="donate", title="Donate", suggested_amounts=[500, 1000]
    )
    context = browser.new_context(bypass_csp=True)  # lets the test inject axe itself
    page = context.new_page()
    found = {}
    for path in (
        "save-the-library/",
        "pledge/",
        "signup/",
        "letter/",
        "survey/",
        "donate/",
        "save-the-library/embed/",
        "save-the-library/thanks/",
    ):
        page.goto(f"{live_server.url}/act/{path}")
        found[path] = axe_violations(page)
    # The error state: an empty form sent back with messages tied to the fields.
    page.goto(f"{live_server.url}/act/signup/")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_load_state()
    assert "Please correct the highlighted fields." in page.content()
    found["signup/ (errors)"] = axe_violations(page)
    context.close()
    assert found == {path: [] for path in found}


@pytest.mark.browser
def test_donate_through_the_test_gateway_and_see_the_money(page, live_server, admin, settings):
    settings.CLARION_ACTION_COUNT_SECONDS = 0
    donate = make_page(
        kind=ActionPage.Kind.DONATION,
        slug="fund-us",
        title="Fund us",
        suggested_amounts=[500, 1000],
    )
    page.goto(f"{live_server.url}/act/fund-us/")
    # The second amount is chosen when the page opens; typing another amount chooses
    # "Other amount", and choosing a button again clears what was typed.
    ten = page.get_by_role("radio", name="£10")
    expect(ten).to_be_checked()
    page.get_by_role("textbox", name="Other amount (£)").fill("7.50")
    expect(page.get_by_role("radio", name="Other amount")).to_be_checked()
    page.get_by_text("£5", exact=True).click()
    expect(page.get_by_role("textbox", name="Other amount (£)")).to_have_value("")
    page.get_by_text("£10", exact=True).click()
    expect(ten).to_be_checked()
    page.get_by_role("textbox", name="First name", exact=True).fill("Mary")
    page.get_by_role("textbox", name="Email", exact=True).fill("mary@example.net")
    page.locator("form.act-form button[type=submit], form button.act-submit").first.click()
    page.wait_for_url("**/donate/test-checkout/**")
    assert "£10.00" in page.locator("#checkout-amount").inner_text()
    page.get_by_role("button", name="Pay £10.00").click()
    page.wait_for_url("**/act/fund-us/thanks/**")
    assert "Thank you" in page.content()
    gift = page.locator(".act-gift").inner_text()
    assert "Your gift of £10.00 has been received." in gift
    assert "m•••@example.net" in gift

    mary = Person.objects.get(email="mary@example.net")
    assert mary.donations.get().status == "succeeded"
    login(page, live_server.url, admin.email, PASSWORD)
    page.goto(f"{live_server.url}/staff/people/{mary.pk}/")
    assert "£10.00" in page.locator("#timeline").inner_text()
    page.goto(f"{live_server.url}/staff/actions/{donate.pk}/")
    money = page.locator(".card", has_text="Money raised").inner_text()
    assert "£10" in money and "1 gift" in money


@pytest.mark.browser
@pytest.mark.usefixtures("intake_async")
def test_a_new_signer_sees_their_share_link_before_any_worker_runs(browser, live_server, settings):
    """The thank-you page straight after the form, with the row still in intake (no
    worker has made the person yet): the personal share link is there at once, and the
    page fits a phone and is axe clean at phone and desktop width."""
    from clarion.core.testing.browser import check_url

    settings.CLARION_ACTION_COUNT_SECONDS = 0
    make_page(goal=10)
    context = browser.new_context(bypass_csp=True)  # lets the test inject axe itself
    page = context.new_page()
    page.goto(f"{live_server.url}/act/save-the-library/")
    page.get_by_role("textbox", name="First name", exact=True).fill("Ada")
    page.get_by_role("textbox", name="Email", exact=True).fill("ada@example.net")
    page.get_by_role("button", name="Sign the petition").click()
    page.wait_for_url("**/thanks/**")
    row = Submission.objects.get(email_canonical="ada@example.net")
    assert row.in_intake and not Person.objects.filter(email="ada@example.net").exists()
    code = row.intake["share_code"]
    assert page.locator("#share-url").input_value().endswith(f"?ref={code}")
    assert page.locator("[data-count]").inner_text() == "1"
    check_url(page, page.url, "thanks-in-intake")
    context.close()
