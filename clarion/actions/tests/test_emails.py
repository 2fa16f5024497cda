"""Emails are queued as tasks and sent by a worker through a real SMTP server."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from clarion.actions.models import ActionPage, Submission
from clarion.actions.selectors import page_count_fresh
from clarion.core.testing.smtp import body_html, body_text
from clarion.people.models import Activity, EmailStatus

from .conftest import make_page
from .test_submit import sign

pytestmark = pytest.mark.django_db(transaction=True)


def run_worker():
    call_command("worker", "--batch")


def test_thank_you_email_is_queued_not_sent_in_the_request(client, smtp_server):
    page = make_page()
    sign(client, page)
    assert smtp_server.messages == []  # nothing left during the request
    run_worker()
    [message] = smtp_server.wait_for(1)
    assert message["To"] == "ada@example.net"
    assert "Thank you: Save the library" in message["Subject"]
    person = Submission.objects.get().person
    assert f"/act/save-the-library/?ref={person.share_code}" in body_text(message)
    assert "Save the library" in body_html(message)
    run_worker()  # running again sends nothing more
    assert len(smtp_server.wait_for(2, timeout=0.5)) == 1


def test_double_opt_in_counts_only_after_confirmation(client, smtp_server):
    page = make_page(double_opt_in=True)
    response = sign(client, page, email_consent="on")
    thanks = client.get(response["Location"])
    assert "check your email" in thanks.content.decode()
    assert page_count_fresh(page) == 0
    submission = Submission.objects.get()
    assert submission.person.email_status == EmailStatus.NONE  # not until confirmed
    run_worker()
    [message] = smtp_server.wait_for(1)
    assert "Please confirm" in message["Subject"]
    link = re.search(r"http://[^\s]+/confirm/[^\s]+/", body_text(message)).group(0)
    path = link.split("127.0.0.1:8000", 1)[-1]
    landing = client.get(path)
    assert landing.status_code == 200 and "Confirm my action" in landing.content.decode()
    assert page_count_fresh(page) == 0  # opening the link alone does not count
    assert client.post(path).status_code == 302
    assert page_count_fresh(page) == 1
    submission.refresh_from_db()
    assert submission.status == Submission.Status.CONFIRMED
    assert submission.person.email_status == EmailStatus.SUBSCRIBED
    client.post(path)
    assert page_count_fresh(page) == 1


def test_letter_is_delivered_to_the_target_with_reply_to_the_supporter(client, smtp_server):
    page = make_page(
        kind=ActionPage.Kind.LETTER,
        slug="write-to-the-mayor",
        title="Keep the buses running",
        target_name="Mayor Jones",
        target_role="Mayor",
        target_email="mayor@council.example",
        letter_subject="Buses",
        letter_body="Dear Mayor, please keep the 42 running.",
    )
    html = client.get(reverse("actions:page", kwargs={"slug": page.slug})).content.decode()
    assert "To: Mayor Jones, Mayor" in html
    assert "Dear Mayor, please keep the 42 running." in html
    sign(
        client,
        page,
        letter_subject="Buses please",
        letter_body="Dear Mayor, I rely on the 42 to get to work.",
    )
    run_worker()
    messages = smtp_server.wait_for(2)
    [letter] = [m for m in messages if "mayor@council.example" in m.envelope_to]
    assert letter["Subject"] == "Buses please"
    assert letter["Reply-To"] == "ada@example.net"
    assert "I rely on the 42 to get to work." in body_text(letter)
    activity = Activity.objects.get(kind=Activity.Kind.ACTION)
    assert activity.data["letter"]["letter"] == "Dear Mayor, I rely on the 42 to get to work."
    assert Submission.objects.get().letter_sent_at is not None
