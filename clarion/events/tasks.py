"""Background work for events. Tasks take ids and may run twice without harm: every
email is claimed by a unique ``EventEmail`` row before it is sent (and the claim is
given back if sending fails)."""

from __future__ import annotations

from django_tasks import task

from .models import Event, HostMessage, Rsvp


def _send_once(*, event_id: int, person_id: int, kind: str, send) -> bool:
    from .services import email_claim, email_release

    marker = email_claim(event_id=event_id, person_id=person_id, kind=kind)
    if marker is None:
        return False
    try:
        send()
    except Exception:
        email_release(marker)
        raise
    return True


@task()
def rsvp_confirmation_email(rsvp_id: int) -> str:
    """Confirmation (with the .ics) or waiting-list notice for one RSVP."""
    from . import emails

    rsvp = Rsvp.objects.select_related("event", "person").filter(pk=rsvp_id).first()
    if rsvp is None or not rsvp.person.email or rsvp.status == Rsvp.Status.CANCELLED:
        return "nothing to send"
    kind = "confirm" if rsvp.status == Rsvp.Status.GOING else "waitlist"
    sent = _send_once(
        event_id=rsvp.event_id,
        person_id=rsvp.person_id,
        kind=kind,
        send=lambda: emails.rsvp_email_send(rsvp),
    )
    return "sent" if sent else "already sent"


@task()
def rsvp_promoted_email(rsvp_id: int) -> str:
    """Tell someone from the waiting list they now have a place."""
    from . import emails

    rsvp = Rsvp.objects.select_related("event", "person").filter(pk=rsvp_id).first()
    if rsvp is None or not rsvp.person.email or rsvp.status != Rsvp.Status.GOING:
        return "nothing to send"
    sent = _send_once(
        event_id=rsvp.event_id,
        person_id=rsvp.person_id,
        kind="promoted",
        send=lambda: emails.rsvp_email_send(rsvp, promoted=True),
    )
    return "sent" if sent else "already sent"


@task()
def event_reminders_send(event_id: int, hours: int) -> int:
    """Remind everyone going; returns how many were sent by this run."""
    from . import emails

    event = Event.objects.filter(pk=event_id, status=Event.Status.PUBLISHED).first()
    if event is None:
        return 0
    sent = 0
    for rsvp in Rsvp.objects.filter(event=event, status=Rsvp.Status.GOING).select_related(
        "person", "event"
    ):
        if not rsvp.person.email:
            continue
        if _send_once(
            event_id=event.pk,
            person_id=rsvp.person_id,
            kind=f"reminder_{hours}",
            send=lambda r=rsvp: emails.reminder_email_send(r, hours=hours),
        ):
            sent += 1
    return sent


@task()
def event_followups_send(event_id: int) -> int:
    """Thank the people who came and give the next step; returns how many were sent."""
    from . import emails

    event = Event.objects.filter(pk=event_id).first()
    if event is None or not event.follow_up:
        return 0
    sent = 0
    for rsvp in Rsvp.objects.filter(
        event=event, attendance=Rsvp.Attendance.ATTENDED
    ).select_related("person", "event"):
        if not rsvp.person.email:
            continue
        if _send_once(
            event_id=event.pk,
            person_id=rsvp.person_id,
            kind="followup",
            send=lambda r=rsvp: emails.followup_email_send(r),
        ):
            sent += 1
    return sent


@task()
def host_link_email(event_id: int) -> str:
    """Send a member host their signed host-tools link once the event is published."""
    from . import emails

    event = Event.objects.select_related("host_person").filter(pk=event_id).first()
    if event is None or event.host_person is None or not event.host_person.email:
        return "nothing to send"
    sent = _send_once(
        event_id=event.pk,
        person_id=event.host_person_id,
        kind="host_link",
        send=lambda: emails.host_link_email_send(event),
    )
    return "sent" if sent else "already sent"


@task()
def proposal_declined_email(event_id: int) -> str:
    from . import emails

    event = (
        Event.objects.select_related("proposed_by")
        .filter(pk=event_id, status=Event.Status.DECLINED)
        .first()
    )
    if event is None or event.proposed_by is None or not event.proposed_by.email:
        return "nothing to send"
    sent = _send_once(
        event_id=event.pk,
        person_id=event.proposed_by_id,
        kind="declined",
        send=lambda: emails.declined_email_send(event),
    )
    return "sent" if sent else "already sent"


@task()
def host_message_email(message_id: int) -> int:
    """Send a host's message to each recipient once, and note it on their timeline;
    returns how many were sent by this run."""
    from . import emails
    from .selectors import host_message_recipients
    from .services import host_message_delivered

    message = (
        HostMessage.objects.select_related("event", "event__host_person", "sent_by")
        .filter(pk=message_id)
        .first()
    )
    if message is None:
        return 0
    sent = 0
    for rsvp in host_message_recipients(message):
        if _send_once(
            event_id=message.event_id,
            person_id=rsvp.person_id,
            kind=f"message_{message.pk}",
            send=lambda r=rsvp: emails.host_message_email_send(message, r),
        ):
            host_message_delivered(message=message, rsvp=rsvp)
            sent += 1
    return sent


@task()
def reminders_queue_task() -> int:
    """Periodic entry point (cron or a scheduler enqueues it every few minutes)."""
    from .services import reminders_queue

    return reminders_queue()
