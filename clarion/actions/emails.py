"""Emails action pages send. Each is a template triplet (subject, HTML, text) under
``actions/email/`` and one function here that sends it."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from clarion.core.site import site_url

from .models import Submission


def _send(
    *, template: str, to: list[str], context: dict, reply_to: list[str] | None = None
) -> None:
    subject = render_to_string(f"actions/email/{template}_subject.txt", context)
    subject = " ".join(subject.split())[:200]
    text = render_to_string(f"actions/email/{template}.txt", context)
    html = render_to_string(f"actions/email/{template}.html", context)
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=to, reply_to=reply_to
    )
    message.attach_alternative(html, "text/html")
    message.send()


def confirmation_email_send(submission: Submission) -> None:
    """Ask the person to confirm a double-opt-in action."""
    from .services import confirm_token

    page = submission.page
    url = site_url(
        reverse("actions:confirm", kwargs={"slug": page.slug, "token": confirm_token(submission)})
    )
    _send(
        template="confirm",
        to=[submission.person.email],
        context={
            "page": page,
            "person": submission.person,
            "confirm_url": url,
            "ORGANISATION_NAME": settings.ORGANISATION_NAME,
        },
    )


def thanks_email_send(submission: Submission) -> None:
    """Thank the person and give them their personal share link."""
    from .selectors import page_public_url, page_thanks_url

    page = submission.page
    person = submission.person
    _send(
        template="thanks",
        to=[person.email],
        context={
            "page": page,
            "person": person,
            "share_url": page_public_url(page, ref=person.share_code or ""),
            "thanks_url": site_url(page_thanks_url(page, person)),
            "ORGANISATION_NAME": settings.ORGANISATION_NAME,
        },
    )


def letter_email_send(submission: Submission) -> None:
    """Deliver a supporter's letter to the page's target; replies go to the supporter."""
    page = submission.page
    person = submission.person
    _send(
        template="letter",
        to=[page.target_email],
        reply_to=[person.email],
        context={
            "page": page,
            "person": person,
            "subject": submission.answers.get("subject") or page.letter_subject or page.title,
            "letter": submission.answers.get("letter") or "",
            "ORGANISATION_NAME": settings.ORGANISATION_NAME,
        },
    )
