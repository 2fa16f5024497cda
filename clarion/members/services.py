"""Writes of the members' home: sign-in links, member sessions, a member's own details,
subscription and consent, and the membership card.

A member changes who they are only through ``clarion.people.services`` (and the
proposals service for changes a public form proposed); the rows here are the members
app's own.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clarion.core import tokens
from clarion.core.models import AuditEntry
from clarion.core.services import audit_record
from clarion.people.models import ConsentRecord, EmailStatus, Person, Suppression
from clarion.people.normalise import email_hash
from clarion.people.services import (
    ConsentInput,
    consent_record,
    email_status_set,
    person_update,
)

from .models import MemberCard, MemberSession, SignInLink

LINK_MINUTES = 15
SESSION_DAYS = 30
# Requests for a link one address, and one network address, may make per window.
LINK_EMAIL_LIMIT = 5
LINK_IP_LIMIT = 30
LINK_LIMIT_WINDOW = 3600

EMAIL_CONSENT_WORDING = gettext_lazy(
    "Send me email about the party's campaigns, events and news. I can unsubscribe at any time."
)
SMS_CONSENT_WORDING = gettext_lazy(
    "Send me text messages about the party's campaigns and events. I can reply STOP at any time."
)
PHONE_CONSENT_WORDING = gettext_lazy(
    "Phone me about the party's campaigns and events. I can ask you to stop at any time."
)
CONSENT_SOURCE = "members:preferences"

# Statuses a member may not lift by a tick on their preferences page: the mailbox or
# its owner told us to stop (a bounce, a spam complaint) and the address is on the
# suppression list.
SUPPRESSED_STATUSES = (EmailStatus.BOUNCING, EmailStatus.COMPLAINED)


def secret_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


# --- Sign-in links -------------------------------------------------------------------


def signin_link_create(*, person: Person, browser_hash: str) -> str:
    """Store a new link for ``person`` bound to ``browser_hash`` and return its token
    (the only copy: the row keeps its hash)."""
    token = new_secret()
    now = timezone.now()
    SignInLink.objects.create(
        person=person,
        token_hash=secret_hash(token),
        browser_hash=browser_hash,
        created_at=now,
        expires_at=now + timedelta(minutes=LINK_MINUTES),
    )
    return token


def signin_link_find(token: str) -> SignInLink | None:
    """The link ``token`` names, used or not, expired or not; None for anything else."""
    if not token or len(token) > tokens.MAX_LENGTH:
        return None
    return SignInLink.objects.select_related("person").filter(token_hash=secret_hash(token)).first()


@dataclass(frozen=True)
class SignIn:
    outcome: str  # "ok", "bad" (unknown, used or expired), "other_browser"
    session_key: str = ""
    person: Person | None = None


def signin_link_use(*, token: str, browser_secret: str, ip: str | None) -> SignIn:
    """Spend the link and open a member session, if the link is unused, unexpired and
    opened in the browser that asked for it.

    The link is claimed with one conditional UPDATE, so two tabs racing each other
    cannot both sign in. A link opened in another browser is left unspent (the
    person can still use it where they asked, or ask again here). The sign-in is
    audited."""
    link = signin_link_find(token)
    now = timezone.now()
    if link is None or link.used_at is not None or link.expires_at <= now:
        return SignIn("bad")
    if not browser_secret or not secrets.compare_digest(
        secret_hash(browser_secret), link.browser_hash
    ):
        return SignIn("other_browser")
    with transaction.atomic():
        claimed = SignInLink.objects.filter(
            pk=link.pk, used_at__isnull=True, expires_at__gt=now
        ).update(used_at=now)
        if not claimed:
            return SignIn("bad")
        key = member_session_start(person=link.person)
        audit_record(
            actor=None,
            action=AuditEntry.Action.LOGIN,
            summary=f"Member {link.person_id} signed in by email link",
            object_type="person",
            object_id=link.person_id,
            detail={"event": "member_sign_in", "link": link.pk},
            ip=ip,
        )
    return SignIn("ok", session_key=key, person=link.person)


# --- Member sessions -----------------------------------------------------------------


def member_session_start(*, person: Person) -> str:
    """A new session for ``person``; returns the cookie value (stored only hashed)."""
    key = new_secret()
    now = timezone.now()
    MemberSession.objects.create(
        person=person,
        key_hash=secret_hash(key),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(days=SESSION_DAYS),
    )
    return key


def member_session_end(*, key: str, ip: str | None = None) -> bool:
    """Sign out: delete the session the cookie names (audited). False if none."""
    if not key or len(key) > tokens.MAX_LENGTH:
        return False
    with transaction.atomic():
        session = MemberSession.objects.filter(key_hash=secret_hash(key)).first()
        if session is None:
            return False
        session.delete()
        audit_record(
            actor=None,
            action=AuditEntry.Action.OTHER,
            summary=f"Member {session.person_id} signed out",
            object_type="person",
            object_id=session.person_id,
            detail={"event": "member_sign_out"},
            ip=ip,
        )
    return True


def expired_rows_delete() -> int:
    """Delete expired member sessions and sign-in links (idempotent)."""
    now = timezone.now()
    links, _unused = SignInLink.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
    sessions, _unused = MemberSession.objects.filter(expires_at__lt=now).delete()
    return links + sessions


# --- My details ----------------------------------------------------------------------


def member_details_update(
    *,
    person: Person,
    first_name: str,
    last_name: str,
    address_line1: str,
    address_line2: str,
    town: str,
    postcode: str,
    phone: str,
    ip: str | None,
) -> list[str]:
    """The member changes their own name, address, postcode and phone, applied at once
    (their mailbox is proven by the sign-in link). Goes through ``person_update`` with
    everything else as stored; raises its ValidationError (field → message) before
    writing anything. A move between areas is audited."""
    before_area = person.area
    with transaction.atomic():
        changed = person_update(
            person=person,
            actor=None,
            first_name=first_name,
            last_name=last_name,
            email=person.email or "",
            phone=phone,
            address_line1=address_line1,
            address_line2=address_line2,
            town=town,
            postcode=postcode,
            membership_number=person.membership_number or "",
            membership_status=None,
            joined_on=person.joined_on,
            renews_on=person.renews_on,
        )
        if not changed:
            return []
        detail: dict = {"event": "member_details", "fields": changed}
        summary = f"Member {person.pk} changed their details: {', '.join(changed)}"
        if person.area_id != (before_area.pk if before_area else None):
            person.refresh_from_db(fields=["area"])
            detail["area_from"] = before_area.code if before_area else ""
            detail["area_to"] = person.area.code if person.area else ""
            summary = (
                f"Member {person.pk} moved area "
                f"{detail['area_from'] or '-'} -> {detail['area_to'] or '-'}"
            )
        audit_record(
            actor=None,
            action=AuditEntry.Action.OTHER,
            summary=summary,
            object_type="person",
            object_id=person.pk,
            detail=detail,
            ip=ip,
        )
    return changed


# --- Preferences and consent ---------------------------------------------------------


class PreferenceRefused(ValueError):
    """A change the member may not make here; ``str()`` is for the member."""


def email_suppressed(person: Person) -> bool:
    """True if bulk mail to this person's address is stopped by a bounce, a complaint
    or the suppression list, which only staff (or a new confirmation) can lift."""
    if person.email_status in SUPPRESSED_STATUSES:
        return True
    return (
        bool(person.email)
        and Suppression.objects.filter(email_hash=email_hash(person.email)).exists()
    )


@transaction.atomic
def member_email_subscription_set(*, person: Person, subscribe: bool) -> bool:
    """Subscribe (with the consent wording recorded) or unsubscribe the member's own
    address; returns whether anything changed.

    The member's click is the mailbox owner's, so an unsubscribed address may
    subscribe again here. A bouncing or complained address, or one on the suppression
    list, is not resubscribed: that raises PreferenceRefused and changes nothing."""
    locked = Person.objects.select_for_update().get(pk=person.pk)
    if subscribe:
        if locked.email_status == EmailStatus.SUBSCRIBED:
            return False
        if email_suppressed(locked):
            raise PreferenceRefused(
                _(
                    "Email to your address was stopped after a bounce or a spam report, "
                    "so we cannot start it again from here. Please contact us."
                )
            )
        email_status_set(
            person=locked,
            status=EmailStatus.SUBSCRIBED,
            reason=_("Subscribed on their member page"),
        )
        consent_record(
            person=locked,
            consent=ConsentInput(
                channel=ConsentRecord.Channel.EMAIL,
                wording=str(EMAIL_CONSENT_WORDING),
                source=CONSENT_SOURCE,
            ),
        )
    else:
        if locked.email_status != EmailStatus.SUBSCRIBED:
            return False
        email_status_set(
            person=locked,
            status=EmailStatus.UNSUBSCRIBED,
            reason=_("Unsubscribed on their member page"),
        )
        consent_record(
            person=locked,
            consent=ConsentInput(
                channel=ConsentRecord.Channel.EMAIL,
                wording=str(EMAIL_CONSENT_WORDING),
                source=CONSENT_SOURCE,
                granted=False,
            ),
        )
    person.email_status = locked.email_status
    return True


CONSENT_WORDINGS = {
    ConsentRecord.Channel.SMS: SMS_CONSENT_WORDING,
    ConsentRecord.Channel.PHONE: PHONE_CONSENT_WORDING,
}


def consent_current(person: Person, channel: str) -> ConsentRecord | None:
    """The latest consent record of ``person`` on ``channel`` (granted or withdrawn)."""
    return (
        ConsentRecord.objects.filter(person=person, channel=channel)
        .order_by("-created_at", "-pk")
        .first()
    )


@transaction.atomic
def member_consent_set(*, person: Person, channel: str, granted: bool) -> bool:
    """Record SMS or phone consent (or its withdrawal) with the wording shown and the
    time; returns False when it already stood that way."""
    if channel not in CONSENT_WORDINGS:
        raise ValueError(channel)
    Person.objects.select_for_update().filter(pk=person.pk).first()
    current = consent_current(person, channel)
    if (current is not None and current.granted) == granted:
        return False
    consent_record(
        person=person,
        consent=ConsentInput(
            channel=channel,
            wording=str(CONSENT_WORDINGS[channel]),
            source=CONSENT_SOURCE,
            granted=granted,
        ),
    )
    return True


# --- Membership card -----------------------------------------------------------------


def member_card_get_or_create(*, person: Person) -> MemberCard:
    card = MemberCard.objects.filter(person=person).first()
    if card is not None:
        return card
    try:
        with transaction.atomic():
            return MemberCard.objects.create(person=person, code=secrets.token_hex(16))
    except IntegrityError:
        return MemberCard.objects.get(person=person)


def member_card_token(card: MemberCard) -> str:
    """What the card's QR code says: the card's random code, signed. It names the
    member to whoever can look the code up here, and tells anyone else nothing."""
    return tokens.sign(card.code, salt=tokens.MEMBERS_CARD)


def member_card_person(token: str) -> Person | None:
    """The person a card token names, if it verifies and the card was not replaced."""
    code = tokens.unsign(token, salt=tokens.MEMBERS_CARD)
    if not isinstance(code, str):
        return None
    card = MemberCard.objects.select_related("person").filter(code=code).first()
    return card.person if card is not None else None
