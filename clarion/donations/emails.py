"""The donation receipt: a template triplet (subject, text, HTML) and one builder."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone

from clarion.core.site import site_url

from .models import Donation
from .money import format_money


def receipt_context(donation: Donation) -> dict:
    return {
        "organisation": settings.ORGANISATION_NAME,
        "donation": donation,
        "person": donation.person,
        "amount": format_money(donation.amount_pence, donation.currency),
        "date": timezone.localtime(donation.succeeded_at or donation.created_at),
        "page_title": donation.page.title,
        "reference": f"D{donation.pk:06d}",
        "monthly": donation.recurring,
        "site_url": site_url(),
        "threshold": format_money(settings.CLARION_PERMISSIBILITY_THRESHOLD_PENCE, "GBP"),
    }


def receipt_message(donation: Donation) -> EmailMultiAlternatives:
    """The receipt for a paid donation whose donor has an email address."""
    person = donation.person
    if person is None or not person.email:
        raise ValueError("a receipt needs a donor with an email address")
    context = receipt_context(donation)
    subject = " ".join(render_to_string("donations/email/receipt_subject.txt", context).split())
    text = render_to_string("donations/email/receipt.txt", context)
    html = render_to_string("donations/email/receipt.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[person.email])
    message.attach_alternative(html, "text/html")
    return message
