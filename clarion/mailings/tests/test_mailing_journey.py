"""A mailing from composer to report, end to end in headless Chromium against the live
server and a real SMTP server on loopback:

a staff user composes a personalised mailing to a segment in the browser, A/B tests two
subjects and sends it (the task worker runs the send); a recipient follows the tracked
link from the message they received to a petition, signs, and gives through the test
gateway; the mailing's report shows the click, the action and the money. Meanwhile a
person still waiting for the rest of the send unsubscribes with a one-click POST to the
List-Unsubscribe URL of a message they had received, and gets nothing more.
"""

from __future__ import annotations

import re
import time
import urllib.parse
import urllib.request

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from clarion.core.testing.browser import login
from clarion.core.testing.factories import PASSWORD
from clarion.core.testing.smtp import body_html, body_text
from clarion.mailings import services
from clarion.mailings.models import Mailing, Recipient
from clarion.people.models import Segment

HUMAN = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"


def _work_until(done, rounds: int = 40) -> None:
    """Run the task worker (the same command operators run) until ``done()``."""
    for _ in range(rounds):
        call_command("worker", "--batch")
        if done():
            return
        time.sleep(0.2)
    raise AssertionError("the worker did not finish the work in time")


def _one_click(url: str) -> int:
    """What a mail provider does for RFC 8058: a POST with no cookies and no login."""
    request = urllib.request.Request(
        url,
        data=b"List-Unsubscribe=One-Click",
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_mailing_is_sent_tracked_to_an_action_and_a_gift_and_stops_at_unsubscribe(
    page, browser, live_server, admin, areas, subscribed, smtp_server, mail_settings
):
    from clarion.actions.models import ActionPage, Submission
    from clarion.actions.services import page_save
    from clarion.core.testing import factories
    from clarion.donations.models import Donation
    from clarion.people.services import email_status_set

    site = live_server.url
    mail_settings.SITE_URL = site
    mail_settings.CLARION_ACTION_COUNT_SECONDS = 0
    page_save(
        page=ActionPage(
            kind=ActionPage.Kind.PETITION,
            slug="save-the-library",
            title="Save the library",
            status=ActionPage.Status.LIVE,
            body="Our library is under threat.",
            goal=100,
        )
    )
    page_save(
        page=ActionPage(
            kind=ActionPage.Kind.DONATION,
            slug="fund-the-fight",
            title="Fund the fight",
            status=ActionPage.Status.LIVE,
            suggested_amounts=[500, 1500],
        )
    )
    for i in range(28):
        p = factories.person(
            postcode=areas.postcodes["north"], first_name=f"Neighbour{i}", email=f"n{i}@example.net"
        )
        email_status_set(person=p, status="subscribed")
    north = Segment.objects.create(
        name="North supporters",
        definition={"op": "all", "conditions": [{"type": "area", "area": "R-N"}]},
    )
    # Last week's newsletter reached everyone in the North: its List-Unsubscribe header
    # is what a waiting recipient will use mid-send.
    earlier = services.mailing_save(
        mailing=Mailing(
            name="Last week",
            subject="Last week's news",
            from_name="Clarion HQ",
            from_email="hq@clarion.example.org",
            body="News for {{ first_name }}.",
            segment=north,
        ),
        actor=admin,
    )
    services.mailing_send(mailing=earlier, actor=admin)
    _work_until(lambda: len(smtp_server.messages) >= 30)

    # --- a staff user composes, A/B tests two subjects and sends -----------------------
    login(page, site, admin.email, PASSWORD)
    page.goto(f"{site}/staff/mailings/new/")
    page.locator("#id_name").fill("Library appeal")
    page.locator("#id_segment").select_option(label="North supporters")
    page.locator("#id_subject").fill("{{ first_name }}, save our library")
    page.locator("#id_from_name").fill("Clarion HQ")
    page.locator("#id_from_email").fill("hq@clarion.example.org")
    body = page.get_by_role("textbox", name="Body", exact=True)
    body.fill(
        'Dear {{ first_name|default:"friend" }},\n\n'
        f"[Sign the petition]({site}/act/save-the-library/) and "
        f"[give what you can]({site}/act/fund-the-fight/) for "
    )
    # The merge-field picker inserts at the cursor of the field last used.
    body.press("End")
    page.get_by_role("button", name="Insert Area name").click()
    page.keyboard.type(".")
    assert body.input_value().endswith("for {{ area }}.")
    # The A/B test is folded away until opened.
    expect(page.locator("#id_ab_variants")).to_be_hidden()
    page.locator("#section-ab > summary").click()
    page.locator("#id_ab_variants").fill("2")
    page.locator("#id_ab_test_percent").fill("25")
    page.locator("#id_ab_metric").select_option("clicks")
    page.locator("#id_ab_auto").uncheck()
    page.locator("#id_subject_b").fill("Will you save the library, {{ first_name }}?")
    page.get_by_role("button", name="Save mailing").click()
    page.wait_for_load_state()
    assert "30 people will receive this mailing." in page.content()  # the North, not Sid
    page.get_by_label("I have checked the preview").check()
    page.get_by_role("button", name="Send mailing").click()
    page.wait_for_load_state()
    assert "Sending has started." in page.content()

    mailing = Mailing.objects.get(name="Library appeal")
    _work_until(
        lambda: (
            Recipient.objects.filter(mailing=mailing, status="sent").count()
            == Recipient.objects.filter(mailing=mailing, variant__isnull=False).count()
            > 0
        )
    )
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.TESTING
    sample = Recipient.objects.filter(mailing=mailing, status="sent")
    held = list(Recipient.objects.filter(mailing=mailing, status="held").order_by("pk"))
    assert (
        sample.filter(variant=0).exists() and sample.filter(variant=1).exists() and len(held) >= 2
    )
    subjects = {m["Subject"] for m in smtp_server.messages if m["Subject"] != "Last week's news"}
    assert any(s.endswith(", save our library") for s in subjects)
    assert any(s.startswith("Will you save the library, ") for s in subjects)

    # --- a recipient clicks through, signs and gives -------------------------------------
    reader = sample.order_by("pk").first()
    message = [m for m in smtp_server.to(reader.email) if m["Subject"] != "Last week's news"][0]
    first_name = reader.person.first_name
    assert f"Dear {first_name}," in body_text(message)
    links = [
        u.replace("&amp;", "&") for u in re.findall(r'href="([^"]*/m/c/[^"]+)"', body_html(message))
    ]
    assert len(links) == 2 and reader.email not in links[0]
    time.sleep(2.1)  # a person reads before clicking; faster clicks are taken for scanners
    reader_context = browser.new_context(user_agent=HUMAN)
    supporter = reader_context.new_page()
    supporter.set_default_timeout(10_000)
    supporter.goto(links[0])
    assert "/act/save-the-library/" in supporter.url and "mt=" in supporter.url
    supporter.get_by_role("textbox", name="First name", exact=True).fill(first_name)
    supporter.get_by_role("textbox", name="Email", exact=True).fill(reader.email)
    supporter.get_by_role("button", name="Sign the petition").click()
    supporter.wait_for_url("**/act/save-the-library/thanks/**")
    supporter.goto(links[1])
    assert "/act/fund-the-fight/" in supporter.url and "mt=" in supporter.url
    supporter.get_by_text("£15", exact=False).first.click()
    supporter.get_by_role("textbox", name="First name", exact=True).fill(first_name)
    supporter.get_by_role("textbox", name="Email", exact=True).fill(reader.email)
    supporter.locator("form.act-form button[type=submit], form button.act-submit").first.click()
    supporter.wait_for_url("**/donate/test-checkout/**")
    supporter.get_by_role("button", name="Pay £15.00").click()
    supporter.wait_for_url("**/act/fund-the-fight/thanks/**")
    reader_context.close()
    assert Submission.objects.get(page__slug="save-the-library").mailing_token.startswith(
        f"{mailing.pk}:"
    )
    assert Donation.objects.get(status="succeeded").mailing_token.startswith(f"{mailing.pk}:")

    # --- mid-send, a waiting recipient unsubscribes with one click --------------------
    leaver = held[0]
    old = [m for m in smtp_server.to(leaver.email) if m["Subject"] == "Last week's news"][0]
    https_url = re.match(r"<([^>]+)>", old["List-Unsubscribe"]).group(1)
    assert old["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert urllib.parse.urlsplit(https_url).path == "/m/u/"
    assert _one_click(https_url) == 200
    leaver.person.refresh_from_db()
    assert leaver.person.email_status == "unsubscribed"

    # The staff user sends the winner to the rest; the leaver gets nothing more.
    page.goto(f"{site}/staff/mailings/{mailing.pk}/")
    page.get_by_role("button", name="Send A to the rest").click()
    page.wait_for_load_state()
    _work_until(lambda: Mailing.objects.get(pk=mailing.pk).status == Mailing.Status.SENT)
    assert [m["Subject"] for m in smtp_server.to(leaver.email)] == ["Last week's news"]
    leaver.refresh_from_db()
    assert leaver.status == "suppressed"
    others = Recipient.objects.filter(pk__in=[r.pk for r in held[1:]]).select_related("person")
    assert set(others.values_list("status", flat=True)) == {"sent"}
    for row in others:
        got = [
            m["Subject"] for m in smtp_server.to(row.email) if m["Subject"] != "Last week's news"
        ]
        assert got == [f"{row.person.first_name}, save our library"]

    # --- the report shows the click, the action and the money ----------------------------
    page.goto(f"{site}/staff/mailings/{mailing.pk}/")
    report = page.locator("#mailing-report")
    assert report.locator('[data-figure="clicks"]').inner_text() == "1"
    assert report.locator('[data-figure="actions"]').inner_text() == "1"
    assert report.locator('[data-figure="money"]').inner_text() == "£15.00"
    assert report.locator('[data-figure="sent"]').inner_text() == str(29)
    assert page.locator("#mailing-chart").count() == 1
    assert "Winner: variant A." in page.content()
    page.goto(f"{site}/staff/mailings/")
    row = page.locator("#mailings-compared tr", has_text="Library appeal").inner_text()
    assert "£15.00" in row
