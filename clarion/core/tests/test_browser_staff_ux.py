"""The staff side in headless Chromium at phone and desktop widths: the grouped
navigation (a "Menu" disclosure on a phone, a Settings drop-down on a desktop, both by
keyboard), the organiser dashboard's area picker, no serious axe-core violations and
nothing wider than the screen. Set CLARION_SCREENSHOTS=DIR to keep screenshots."""

from __future__ import annotations

import pytest

from clarion.core.testing.browser import AXE, DESKTOP, PHONE, check_page, login
from clarion.core.testing.factories import PASSWORD


@pytest.fixture
def staff_page(browser):
    assert AXE.exists(), "run `npm ci` at the repository root to install axe-core"
    context = browser.new_context(bypass_csp=True, viewport=DESKTOP)  # lets axe be injected
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_phone_menu_opens_by_keyboard_and_marks_the_current_section(
    staff_page, live_server, organiser
):
    page = staff_page
    login(page, live_server.url, organiser.email, PASSWORD)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/staff/people/segments/")
    segments = page.get_by_role("link", name="Segments", exact=True)
    assert not segments.is_visible()
    check_page(page, "nav-closed")
    menu = page.locator(".site-menu__toggle")
    menu.focus()
    page.keyboard.press("Enter")
    assert segments.is_visible()
    assert segments.get_attribute("aria-current") == "page"
    assert page.get_by_role("link", name="People", exact=True).get_attribute("aria-current") is None
    check_page(page, "nav-open")

    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_server.url}/staff/dashboard/")
    assert not page.locator(".site-menu__toggle").is_visible()
    assert page.get_by_role("link", name="Action pages").is_visible()
    keys = page.get_by_role("link", name="API keys")
    assert not keys.is_visible()
    page.locator(".nav-more summary").focus()
    page.keyboard.press("Enter")
    assert keys.is_visible()
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Areas and groups"
    check_page(page, "nav-settings")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_dashboards_show_button_sits_beside_the_area_picker(staff_page, live_server, admin):
    page = staff_page
    login(page, live_server.url, admin.email, PASSWORD)
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        page.goto(f"{live_server.url}/staff/dashboard/")
        select = page.locator("#dashboard-area").bounding_box()
        button = page.get_by_role("button", name="Show").bounding_box()
        assert button["y"] < select["y"] + select["height"], size  # same line, not below
        assert button["x"] > select["x"] + select["width"] - 1, size
        check_page(page, "dashboard")


def _beside(page, first: str, second: str) -> bool:
    """Two buttons or links sit in one row of page actions (not floating apart)."""
    a = page.get_by_role("link", name=first, exact=True).bounding_box()
    b = page.get_by_role("link", name=second, exact=True).bounding_box()
    return abs(a["y"] - b["y"]) < 4 and 0 <= b["x"] - (a["x"] + a["width"]) < 24


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_draft_mailing_keeps_its_actions_together_and_sends_in_two_steps(
    staff_page, live_server, admin
):
    from clarion.mailings.tests.helpers import make_mailing
    from clarion.people.models import Segment

    everyone = Segment.objects.create(name="Everyone", definition={"op": "all", "conditions": []})
    mailing = make_mailing(admin, everyone)
    page = staff_page
    login(page, live_server.url, admin.email, PASSWORD)
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        page.goto(f"{live_server.url}/staff/mailings/{mailing.pk}/")
        assert _beside(page, "Edit", "Preview"), size
        steps = page.locator(".send-step h3").all_inner_texts()
        assert steps == ["1. Send a test", "2. Send or schedule"]
        primary = page.locator("main .button:not(.button--secondary):not(.button--quiet)")
        assert primary.all_inner_texts() == ["Send mailing"]
        check_page(page, "mailing-draft")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_cancelling_an_rsvp_asks_first_on_a_phone(staff_page, live_server, areas):
    from clarion.events.models import Rsvp
    from clarion.events.tests.conftest import make_event

    event = make_event(area=areas.leeds_central)
    page = staff_page
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/events/{event.pk}/")
    page.get_by_role("textbox", name="First name").fill("Ada")
    page.get_by_role("textbox", name="Email").fill("ada@example.net")
    page.get_by_role("button", name="RSVP").click()
    page.wait_for_url("**/rsvp/**")
    page.get_by_role("button", name="Cancel my RSVP").click()
    assert page.get_by_role("heading", name="Cancel your RSVP?").is_visible()
    check_page(page, "rsvp-cancel-confirm")
    assert Rsvp.objects.get().status == Rsvp.Status.GOING
    page.get_by_role("link", name="No, keep my place").click()
    assert "Ada, you're going." in page.locator(".event-status").inner_text()
    page.get_by_role("button", name="Cancel my RSVP").click()
    page.get_by_role("button", name="Yes, cancel my RSVP").click()
    page.wait_for_load_state()
    assert "Your RSVP is cancelled." in page.content()
    assert Rsvp.objects.get().status == Rsvp.Status.CANCELLED


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_north_organiser_builds_and_publishes_a_petition(staff_page, live_server, organiser):
    """Kind first, only a petition's fields, the web address from the title, the error
    summary linking to the field, then Publish with its confirmation. From the list to a
    live page: 6 page loads and 3 form submissions (Continue, Save draft, Publish now);
    this test adds one deliberate error round."""
    from clarion.actions.models import ActionPage

    page = staff_page
    login(page, live_server.url, organiser.email, PASSWORD)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/staff/actions/")
    page.get_by_role("link", name="New page").click()
    check_page(page, "action-kind")
    page.get_by_label("Petition").check()
    page.get_by_role("button", name="Continue").click()
    assert page.get_by_label("Target email").count() == 0
    assert page.get_by_label("Suggested amounts").count() == 0
    page.get_by_role("button", name="Save draft").click()  # no title yet
    summary = page.locator("#error-summary")
    assert "There is a problem" in summary.inner_text()
    check_page(page, "action-form-errors")
    summary.get_by_role("link", name="Title: This field is required.").click()
    assert page.evaluate("document.activeElement.id") == "id_title"
    page.keyboard.type("Keep Leeds buses running")
    page.set_viewport_size(DESKTOP)
    check_page(page, "action-form")
    page.get_by_role("button", name="Save draft").click()
    assert "Page created as a draft" in page.locator(".messages").inner_text()
    built = ActionPage.objects.get()
    assert (built.slug, built.status, built.area) == (
        "keep-leeds-buses-running",
        "draft",
        organiser.area,
    )
    page.get_by_role("link", name="Publish").click()
    check_page(page, "action-publish-confirm")
    page.get_by_role("button", name="Publish now").click()
    assert "The page is live." in page.locator(".messages").inner_text()
    built.refresh_from_db()
    assert built.status == ActionPage.Status.LIVE
    check_page(page, "action-live")
    assert page.get_by_role("link", name="Close page").is_visible()


def _tagged_people(areas):
    """Ten tags (enough for the filter box); two North people and one South person
    tagged "Buses petition signer"."""
    from clarion.core.testing import factories
    from clarion.people.models import Tag
    from clarion.people.services import tag_add

    names = ["Housing", "Climate", "NHS", "Buses petition signer", "Libraries"]
    names += [f"Ward {n}" for n in range(1, 6)]
    tags = {name: Tag.objects.create(name=name) for name in names}
    pc = areas.postcodes
    for first, postcode in (("Ann", pc["north"]), ("Ben", pc["north2"]), ("Cat", pc["south"])):
        person = factories.person(first_name=first, postcode=postcode)
        tag_add(person=person, tag=tags["Buses petition signer"])
    return tags


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_north_organiser_picks_a_tag_by_filter_and_keyboard(
    staff_page, live_server, areas, organiser
):
    """ "Signed that petition, in my area": a tag picked from a checkbox list through
    its filter box, by keyboard; the live count is the North's two people."""
    from clarion.people.models import Segment

    tags = _tagged_people(areas)
    page = staff_page
    login(page, live_server.url, organiser.email, PASSWORD)
    page.goto(f"{live_server.url}/staff/people/segments/new/")
    page.get_by_label("Name").fill("Bus petition signers")
    page.locator("#id_add-type-g0").select_option("tag")
    page.get_by_role("button", name="Add condition").first.click()
    boxes = page.locator("[data-picker] input[type=checkbox]")
    assert boxes.count() == 10
    page.get_by_label("Filter tags").focus()
    page.keyboard.type("petition")
    assert page.locator("[data-picker] input[type=checkbox]:visible").count() == 1
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    assert page.get_by_role("checkbox", name="Buses petition signer").is_checked()
    page.locator("#segment-count").filter(has_text="2 people").wait_for()
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        check_page(page, "segment-picker")
    page.get_by_role("button", name="Save segment").click()
    page.wait_for_url("**/segments/*/")
    segment = Segment.objects.get(name="Bus petition signers")
    assert segment.definition["conditions"][0]["tags"] == [tags["Buses petition signer"].pk]
    assert segment.last_count == 2


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_tag_picker_works_without_javascript(browser, live_server, areas, organiser):
    from clarion.people.models import Segment

    tags = _tagged_people(areas)
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    login(page, live_server.url, organiser.email, PASSWORD)
    page.goto(f"{live_server.url}/staff/people/segments/new/")
    page.get_by_label("Name").fill("Housing and NHS")
    page.locator("#id_add-type-g0").select_option("tag")
    page.get_by_role("button", name="Add condition").first.click()  # the server adds it
    assert page.get_by_label("Filter tags").count() == 0
    page.get_by_role("checkbox", name="Housing").check()
    page.get_by_role("checkbox", name="NHS").check()
    page.get_by_role("button", name="Save segment").click()
    page.wait_for_url("**/segments/*/")
    segment = Segment.objects.get(name="Housing and NHS")
    assert sorted(segment.definition["conditions"][0]["tags"]) == sorted(
        [tags["Housing"].pk, tags["NHS"].pk]
    )
    context.close()
