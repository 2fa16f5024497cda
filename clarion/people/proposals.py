"""Proposed changes: what a public form said about an existing person, applied only
when the mailbox owner confirms it by the emailed link or in-scope staff accept it.

``people.services._public_evidence`` opens them; this module confirms, accepts,
dismisses and mails them. Every decision is audited and on the person's timeline.
A resubscription (``email_status``) applies only through the mailbox link: that click
is the double opt-in, and staff cannot stand in for it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task

from clarion.core import tokens
from clarion.core.services import audit_record
from clarion.core.site import site_url

from .models import Activity, EmailStatus, Person, PersonPhone, ProposedChange
from .services import (
    ConsentInput,
    activity_record,
    apply_postcode,
    consent_record,
    email_status_set,
    field_label,
    proposal_listeners,
)


def proposal_token(proposal: ProposedChange) -> str:
    return tokens.sign(proposal.pk, salt=tokens.PEOPLE_PROPOSED_CHANGE, compress=True)


def proposal_by_token(token: str) -> ProposedChange | None:
    """The proposal a link names, if the signature holds (expiry and single use are
    the row's: see ``ProposedChange.is_open``)."""
    pk = tokens.unsign(token, salt=tokens.PEOPLE_PROPOSED_CHANGE)
    if not isinstance(pk, int):
        return None
    return ProposedChange.objects.select_related("person").filter(pk=pk).first()


def proposal_rows(proposal: ProposedChange) -> list[dict[str, Any]]:
    """Field label, stored value now, proposed value: for showing side by side."""
    person = proposal.person
    rows = []
    for name, change in proposal.changes.items():
        if name.startswith("custom:"):
            current = person.custom_fields.get(name.split(":", 1)[1])
        else:
            current = getattr(person, name, "")
        if name == "email_status":
            current = EmailStatus(current).label if current in EmailStatus.values else current
            new = EmailStatus(change["new"]).label
        else:
            new = change["new"]
        rows.append({"field": name, "label": field_label(name), "old": current, "new": new})
    return rows


def _apply(proposal: ProposedChange, *, with_status: bool, actor) -> list[str]:
    person = Person.objects.select_for_update().get(pk=proposal.person_id)
    changed: list[str] = []
    for name, change in proposal.changes.items():
        new = change["new"]
        if name == "email_status":
            continue
        if name == "postcode":
            if person.postcode != new:
                apply_postcode(person, new)
                changed.append(name)
        elif name == "phone":
            if person.phone != new:
                if person.phone:
                    PersonPhone.objects.get_or_create(person=person, number=person.phone)
                PersonPhone.objects.filter(person=person, number=new).delete()
                person.phone = new
                changed.append(name)
        elif name.startswith("custom:"):
            key = name.split(":", 1)[1]
            if person.custom_fields.get(key) != new:
                person.custom_fields = {**person.custom_fields, key: new}
                changed.append(name)
        elif getattr(person, name) != new:
            setattr(person, name, new)
            changed.append(name)
    if changed:
        person.modified_at = timezone.now()
        person.save()
        activity_record(
            person=person,
            kind=Activity.Kind.UPDATED,
            summary=_("Details changed: %(fields)s")
            % {"fields": ", ".join(field_label(f) for f in changed)},
            data={"fields": changed, "proposal": proposal.pk},
            actor=actor,
        )
    if with_status and "email_status" in proposal.changes:
        source = proposal.source or _("a public form")
        if email_status_set(
            person=person,
            status=EmailStatus.SUBSCRIBED,
            reason=_("Confirmed by email link (%(source)s)") % {"source": source},
        ):
            changed.append("email_status")
            consent_record(
                person=person,
                consent=ConsentInput(
                    channel="email", wording=proposal.consent_wording, source=proposal.source
                ),
            )
    return changed


def _decide(proposal_id: int, status: str, actor) -> ProposedChange | None:
    """Lock and close a pending, unexpired proposal; None if it was not open."""
    proposal = (
        ProposedChange.objects.select_for_update().select_related("person").get(pk=proposal_id)
    )
    if not proposal.is_open:
        return None
    proposal.status = status
    proposal.decided_at = timezone.now()
    proposal.decided_by = actor if actor is not None and getattr(actor, "pk", None) else None
    proposal.save(update_fields=["status", "decided_at", "decided_by"])
    return proposal


@transaction.atomic
def proposal_confirm(*, proposal: ProposedChange, ip: str | None = None) -> list[str] | None:
    """The mailbox owner confirmed by the link: apply every change, a resubscription
    included. Returns the fields that changed, or None when the link was already used,
    superseded, dismissed or has expired (nothing is written then)."""
    return _decide_and_apply(
        proposal,
        ProposedChange.Status.CONFIRMED,
        actor=None,
        with_status=True,
        summary="confirmed by the person's email link",
        ip=ip,
    )


@transaction.atomic
def proposal_accept(*, proposal: ProposedChange, actor, ip: str | None = None) -> list[str] | None:
    """Staff who can reach the person accept the change (the caller checks scope).
    A resubscription is not applied: only the person's own click can do that."""
    return _decide_and_apply(
        proposal,
        ProposedChange.Status.ACCEPTED,
        actor=actor,
        with_status=False,
        summary="accepted",
        ip=ip,
    )


def _decide_and_apply(
    proposal: ProposedChange, status: str, *, actor, with_status: bool, summary: str, ip
) -> list[str] | None:
    """Close the proposal as ``status``, apply it and audit it (inside the caller's
    transaction); None when it was no longer open."""
    decided = _decide(proposal.pk, status, actor)
    if decided is None:
        return None
    changed = _apply(decided, with_status=with_status, actor=actor)
    audit_record(
        actor=actor,
        action="other",
        summary=f"Proposed change {decided.pk} {summary}",
        object_type="person",
        object_id=decided.person_id,
        detail={"proposal": decided.pk, "fields": changed},
        ip=ip,
    )
    return changed


@transaction.atomic
def proposal_dismiss(*, proposal: ProposedChange, actor=None, ip: str | None = None) -> bool:
    """Staff (or the person, by the link) turn the change down; nothing is applied."""
    decided = _decide(proposal.pk, ProposedChange.Status.DISMISSED, actor)
    if decided is None:
        return False
    activity_record(
        person=decided.person,
        kind=Activity.Kind.PROPOSED,
        summary=_("Proposed change of details dismissed"),
        data={"proposal": decided.pk},
        actor=actor,
    )
    audit_record(
        actor=actor,
        action="other",
        summary=f"Proposed change {decided.pk} dismissed",
        object_type="person",
        object_id=decided.person_id,
        detail={"proposal": decided.pk},
        ip=ip,
    )
    return True


def proposal_email_send(proposal: ProposedChange) -> None:
    """Ask the mailbox owner whether the details a public form gave are theirs."""
    url = site_url(reverse("people_public:proposal", kwargs={"token": proposal_token(proposal)}))
    context = {
        "person": proposal.person,
        "rows": proposal_rows(proposal),
        "confirm_url": url,
        "expires_at": proposal.expires_at,
        "ORGANISATION_NAME": settings.ORGANISATION_NAME,
    }
    subject = " ".join(render_to_string("people/email/proposal_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject[:200],
        body=render_to_string("people/email/proposal.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[proposal.person.email],
    )
    message.attach_alternative(render_to_string("people/email/proposal.html", context), "text/html")
    message.send()


@task()
def proposal_email(proposal_id: int) -> str:
    """Send the confirmation email once: claimed by a conditional update, given back
    if sending fails so a retry sends it (idempotent)."""
    claimed = ProposedChange.objects.filter(
        pk=proposal_id, emailed_at__isnull=True, status=ProposedChange.Status.PENDING
    ).update(emailed_at=timezone.now())
    if not claimed:
        return "nothing to send"
    proposal = ProposedChange.objects.select_related("person").get(pk=proposal_id)
    if not proposal.person.email:
        return "no address"
    try:
        proposal_email_send(proposal)
    except Exception:
        ProposedChange.objects.filter(pk=proposal_id).update(emailed_at=None)
        raise
    return "sent"


def _enqueue_email(proposal_id: int) -> None:
    proposal_email.enqueue(proposal_id=proposal_id)


proposal_listeners.append(_enqueue_email)
