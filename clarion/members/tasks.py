"""Background work of the members' home."""

from __future__ import annotations

from django_tasks import task

from clarion.people.models import Person

from .emails import signin_email_send
from .membership import membership_round
from .models import SignInLink
from .services import secret_hash, signin_link_create


@task()
def signin_email(person_id: int, browser_hash: str) -> str:
    """Make a sign-in link for the person and email it. The link is made here, not in
    the request, so its token exists only in the email (the task's arguments hold the
    person's id and the browser's hash, nothing secret). A link whose email could not
    be sent is deleted, and the retry makes a new one."""
    person = Person.objects.filter(pk=person_id).first()
    if person is None or not person.email:
        return "no address"
    token = signin_link_create(person=person, browser_hash=browser_hash)
    try:
        signin_email_send(person=person, token=token)
    except Exception:
        SignInLink.objects.filter(token_hash=secret_hash(token)).delete()
        raise
    return "sent"


@task()
def membership_lifecycle() -> dict:
    """The ``members.lifecycle`` job: lapse members whose grace ended, queue renewal
    reminders and win-back emails. Idempotent (see ``membership.membership_round``)."""
    return membership_round()
