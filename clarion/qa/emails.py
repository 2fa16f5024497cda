"""Q&A emails. Each is a template triplet (subject, text, HTML) and one send function."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from clarion.core.site import site_url


def _send(*, template: str, to: str, context: dict) -> None:
    context = {
        **context,
        "ORGANISATION_NAME": settings.ORGANISATION_NAME,
        "SITE_URL": site_url(),
    }
    subject = " ".join(render_to_string(f"qa/email/{template}_subject.txt", context).split())
    text = render_to_string(f"qa/email/{template}.txt", context)
    html = render_to_string(f"qa/email/{template}.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[to])
    message.attach_alternative(html, "text/html")
    message.send()


def answered_email_send(*, to: str, question, session, link: str) -> None:
    _send(
        template="answered", to=to, context={"question": question, "session": session, "link": link}
    )


def confirm_email_send(*, to: str, session, link: str) -> None:
    _send(template="confirm", to=to, context={"session": session, "link": link})
