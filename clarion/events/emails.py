"""Emails events send. Each is a template triplet (subject, HTML, text) under
``events/email/`` and one function here that sends it."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from clarion.core.site import site_url

from . import ics
from .models import Event, HostMessage, Rsvp
from .selectors import host_token, manage_token


def _send(
    *,
    template: str,
    to: list[str],
    context: dict,
    attachments: list | None = None,
    reply_to: list[str] | None = None,
) -> None:
    context = {**context, "ORGANISATION_NAME": settings.ORGANISATION_NAME}
    subject = " ".join(render_to_string(f"events/email/{template}_subject.txt", context).split())[
        :200
    ]
    text = render_to_string(f"events/email/{template}.txt", context)
    html = render_to_string(f"events/email/{template}.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        reply_to=reply_to or None,
    )
    message.attach_alternative(html, "text/html")
    for name, content, mimetype in attachments or []:
        message.attach(name, content, mimetype)
    message.send()


def event_url(event: Event) -> str:
    return site_url(reverse("events:detail", kwargs={"pk": event.pk}))


def manage_url(rsvp: Rsvp) -> str:
    return site_url(
        reverse("events:manage", kwargs={"pk": rsvp.event_id, "token": manage_token(rsvp)})
    )


def _rsvp_context(rsvp: Rsvp) -> dict:
    event = rsvp.event
    return {
        "event": event,
        "rsvp": rsvp,
        "person": rsvp.person,
        "event_url": event_url(event),
        "manage_url": manage_url(rsvp),
        "location": ics.event_location(event),
        "online_url": event.online_url if rsvp.status == Rsvp.Status.GOING else "",
    }


def rsvp_email_send(rsvp: Rsvp, *, promoted: bool = False) -> None:
    """Confirmation with the event as an .ics attachment, or the waiting-list notice,
    or (``promoted``) the news that a place came free."""
    going = rsvp.status == Rsvp.Status.GOING
    attachments = []
    if going:
        shifts = [s.shift for s in rsvp.shift_signups.select_related("shift")]
        text = ics.rsvp_calendar(
            rsvp.event, shifts, online_url=rsvp.event.online_url, method="PUBLISH"
        )
        attachments.append(("event.ics", text, "text/calendar"))
    template = "promoted" if promoted else ("confirm" if going else "waitlist")
    _send(
        template=template,
        to=[rsvp.person.email],
        context=_rsvp_context(rsvp),
        attachments=attachments,
    )


def reminder_email_send(rsvp: Rsvp, *, hours: int) -> None:
    _send(
        template="reminder", to=[rsvp.person.email], context={**_rsvp_context(rsvp), "hours": hours}
    )


def followup_email_send(rsvp: Rsvp) -> None:
    _send(template="followup", to=[rsvp.person.email], context=_rsvp_context(rsvp))


def host_link_email_send(event: Event) -> None:
    url = site_url(reverse("events:host", kwargs={"pk": event.pk, "token": host_token(event)}))
    _send(
        template="host_link",
        to=[event.host_person.email],
        context={
            "event": event,
            "person": event.host_person,
            "host_url": url,
            "event_url": event_url(event),
        },
    )


def host_message_email_send(message: HostMessage, rsvp: Rsvp) -> None:
    """A host's message to one attendee; replies go to the member host."""
    host = message.event.host_person
    _send(
        template="host_message",
        to=[rsvp.person.email],
        context={**_rsvp_context(rsvp), "message": message},
        reply_to=[host.email] if message.from_host and host is not None and host.email else None,
    )


def declined_email_send(event: Event) -> None:
    _send(
        template="declined",
        to=[event.proposed_by.email],
        context={"event": event, "person": event.proposed_by},
    )
