"""Writes for "My local party" and "My actions and recruits": a member's message to
their area's organisers, and joining or leaving the area's recruiters' table."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from clarion.core.models import AuditEntry
from clarion.core.services import audit_record
from clarion.core.site import site_url
from clarion.people.models import Person

from .local_selectors import area_line, organisers_for
from .models import RecruitersTableOptIn

# Rate limits of the contact form (core/ratelimit.py, the shared cache): a member may
# send a few messages a day, a network address a few more an hour (several members
# may share one address: a household, an office, a phone network).
CONTACT_MEMBER_LIMIT = 5
CONTACT_MEMBER_WINDOW = 24 * 3600
CONTACT_IP_LIMIT = 20
CONTACT_IP_WINDOW = 3600


class NoOneToContact(Exception):
    """No active organiser or national admin exists to receive the message."""


@dataclass
class ContactSent:
    recipients: int
    area_name: str  # "" when national staff were written to


def local_contact_send(
    *, person: Person, subject: str, message: str, ip: str | None
) -> ContactSent:
    """Email the member's message to the organisers of their area (see
    ``local_selectors.organisers_for``: the nearest area up the tree with an active
    organiser, else the national admins), with Reply-To the member's own address, so
    the organiser's reply comes from the organiser's mailbox and the member never
    learns an address before that.

    One message to all the recipients, sent in the request: the text is never
    stored (not in the database, nor in a task's arguments). Raises
    ``NoOneToContact`` when there is nobody, and the mail backend's error (SMTP,
    socket) when the message could not be handed over; only a message handed over is
    audited (who wrote to which area, never the text)."""
    line = area_line(person.area)
    organisers = organisers_for(person.area, line=line)
    if not organisers.users:
        raise NoOneToContact
    context = {
        "person": person,
        "subject": subject,
        "message": message,
        "area_line": " › ".join(a.name for a in line),
        "organisers_area": organisers.area,
        "person_url": site_url(reverse("people:detail", kwargs={"person_id": person.pk})),
        "ORGANISATION_NAME": settings.ORGANISATION_NAME,
    }
    email_subject = " ".join(
        render_to_string("members/email/local_contact_subject.txt", context).split()
    )[:200]
    email = EmailMultiAlternatives(
        subject=email_subject,
        body=render_to_string("members/email/local_contact.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[u.email for u in organisers.users],
        reply_to=[person.email],
    )
    email.attach_alternative(
        render_to_string("members/email/local_contact.html", context), "text/html"
    )
    email.send()
    audit_record(
        actor=None,
        action=AuditEntry.Action.OTHER,
        summary=(
            f"Member {person.pk} wrote to the organisers of "
            f"{organisers.area.code if organisers.area else 'national staff'}"
        ),
        object_type="person",
        object_id=person.pk,
        detail={
            "event": "member_contact",
            "area": organisers.area.code if organisers.area else "",
            "national": organisers.national,
            "recipients": [u.pk for u in organisers.users],
        },
        ip=ip,
    )
    return ContactSent(
        recipients=len(organisers.users),
        area_name=organisers.area.name if organisers.area else "",
    )


def recruiters_table_set(*, person: Person, show: bool, ip: str | None) -> bool:
    """Put the member in their area's recruiters' table (``show``) or take them out.
    Returns whether anything changed; a change is audited. Idempotent: the opt-in is
    one row per person (unique), so a repeated POST changes nothing."""
    with transaction.atomic():
        if show:
            _row, changed = RecruitersTableOptIn.objects.get_or_create(person=person)
        else:
            deleted, _unused = RecruitersTableOptIn.objects.filter(person=person).delete()
            changed = bool(deleted)
        if changed:
            audit_record(
                actor=None,
                action=AuditEntry.Action.OTHER,
                summary=(
                    f"Member {person.pk} "
                    + ("joined" if show else "left")
                    + " the recruiters' table"
                ),
                object_type="person",
                object_id=person.pk,
                detail={"event": "member_recruiters_table", "shown": show},
                ip=ip,
            )
    return changed
