"""The sign-in email (template triplet ``members/email/signin*``)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from clarion.core.site import site_url
from clarion.people.models import Person

from .services import LINK_MINUTES


def signin_email_send(*, person: Person, token: str) -> None:
    context = {
        "person": person,
        "url": site_url(reverse("members:sign_in_link", kwargs={"token": token})),
        "minutes": LINK_MINUTES,
        "ORGANISATION_NAME": settings.ORGANISATION_NAME,
    }
    subject = " ".join(render_to_string("members/email/signin_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject[:200],
        body=render_to_string("members/email/signin.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[person.email],
    )
    message.attach_alternative(render_to_string("members/email/signin.html", context), "text/html")
    message.send()
