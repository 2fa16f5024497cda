"""A staff user composes a personalised mailing in the browser and sends it; the
recipient's copy arrives at the loopback SMTP server, personalised, with the
unsubscribe headers."""

from __future__ import annotations

import time

import pytest
from django.core.management import call_command

from clarion.core.testing.browser import login
from clarion.core.testing.factories import PASSWORD
from clarion.core.testing.smtp import body_text


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_staff_composes_and_sends_a_personalised_mailing(
    page, live_server, admin, subscribed, everyone, smtp_server, mail_settings
):
    login(page, live_server.url, admin.email, PASSWORD)
    page.goto(f"{live_server.url}/staff/mailings/new/")
    page.locator("#id_name").fill("Street stall")
    page.locator("#id_segment").select_option(label="Everyone")
    page.locator("#id_subject").fill("{{ first_name }}, join us on Saturday")
    page.locator("#id_from_name").fill("Clarion HQ")
    page.locator("#id_from_email").fill("hq@clarion.example.org")
    page.get_by_role("textbox", name="Body", exact=True).fill(
        'Dear {{ first_name|default:"friend" }},\n\nSee you in {{ area }}.'
    )
    page.get_by_role("button", name="Save mailing").click()
    page.wait_for_load_state()
    assert "3 people will receive this mailing." in page.content()

    page.get_by_label("I have checked the preview").check()
    page.get_by_role("button", name="Send mailing").click()
    page.wait_for_load_state()
    assert "Sending has started." in page.content()

    for _ in range(6):
        call_command("worker", "--batch")
        if len(smtp_server.messages) >= 3:
            break
        time.sleep(0.2)
    nora = smtp_server.to("nora@example.net")
    assert len(nora) == 1
    message = nora[0]
    assert message["Subject"] == "Nora, join us on Saturday"
    assert "Dear Nora," in body_text(message) and "See you in City Ward." in body_text(message)
    assert message["List-Unsubscribe"].startswith("<https://clarion.example.org/m/u/?r=")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    page.reload()
    assert "Report" in page.content()
