"""Members' passkeys (WebAuthn), through the Duo Labs ``webauthn`` library: a signed-in
member adds a passkey; anyone signs in with one from the sign-in page, without typing
an address (a discoverable credential). Optional: the emailed link always works.

The relying party is the site itself: its id is the host name of ``SITE_URL``
(``CLARION_SITE_URL``) and the only origin accepted is that address's scheme, host and
port. A site addressed by an IP literal cannot have passkeys (WebAuthn needs a domain
name; ``localhost`` is one), so then none are offered.

Challenges are kept server-side, in the shared cache, for ``CHALLENGE_SECONDS``: a
registration's under the member session's key hash, a sign-in's under the hash of a
random value in the ``clarion_member_passkey`` cookie of the browser that asked. A
challenge is claimed by deleting its cache entry before the response is verified, so
it answers once; a replayed response finds nothing and is refused.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidJSONStructure,
    InvalidRegistrationResponse,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from clarion.core.models import AuditEntry
from clarion.core.services import audit_record
from clarion.people.models import Person

from .models import Passkey
from .services import SignIn, member_session_start, secret_hash

CHALLENGE_SECONDS = 300
# Passkeys one member may hold: enough for every device they own.
MAX_PER_MEMBER = 20
NAME_MAX = 100
# Sign-in ceremonies one network address may start per hour (each stores a challenge).
SIGN_IN_IP_LIMIT = 60
SIGN_IN_LIMIT_WINDOW = 3600
_TRANSPORTS = {t.value for t in AuthenticatorTransport}


class PasskeyRefused(ValueError):
    """A registration or sign-in that did not verify; ``str()`` is for the member."""


@dataclass(frozen=True)
class RelyingParty:
    id: str
    origin: str
    name: str


def relying_party() -> RelyingParty | None:
    """The site as a WebAuthn relying party, from ``SITE_URL``; None when the site is
    addressed by an IP literal (or has no host), where passkeys cannot work."""
    parts = urlsplit(settings.SITE_URL)
    host = (parts.hostname or "").lower()
    if not host:
        return None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return None
    return RelyingParty(
        id=host, origin=f"{parts.scheme}://{parts.netloc.lower()}", name=settings.ORGANISATION_NAME
    )


def credential_hash(credential_id: bytes) -> str:
    return hashlib.sha256(credential_id).hexdigest()


def user_handle(person: Person) -> bytes:
    """The WebAuthn user handle for ``person``: opaque, stable, no personal data. The
    same for every passkey of the person, so an authenticator asked twice replaces its
    passkey for this site rather than keeping two. Sign-in finds the passkey by its
    credential id, never by this handle."""
    return salted_hmac("clarion.members.passkeys.user", str(person.pk), algorithm="sha256").digest()


def passkeys_of(person: Person):
    return Passkey.objects.filter(person=person).order_by("created_at", "pk")


def _challenge_store(key: str, challenge: bytes) -> None:
    cache.set(key, bytes_to_base64url(challenge), timeout=CHALLENGE_SECONDS)


def _challenge_claim(key: str) -> bytes | None:
    """The challenge stored under ``key``, once: the entry is deleted, and only the
    request whose delete removed it gets the challenge."""
    stored = cache.get(key)
    if not stored or not cache.delete(key):
        return None
    return base64url_to_bytes(stored)


def _registration_key(session_key_hash: str) -> str:
    return f"members:passkey:add:{session_key_hash}"


def _sign_in_key(browser_secret: str) -> str:
    return f"members:passkey:sign-in:{secret_hash(browser_secret)}"


def _parse(credential: str | dict) -> dict:
    if isinstance(credential, str):
        try:
            credential = json.loads(credential)
        except ValueError:
            raise PasskeyRefused(_("The passkey's answer could not be read.")) from None
    if not isinstance(credential, dict):
        raise PasskeyRefused(_("The passkey's answer could not be read."))
    return credential


# --- Adding a passkey ----------------------------------------------------------------


def passkey_registration_options(*, person: Person, session_key_hash: str) -> str:
    """Options (JSON) for ``navigator.credentials.create``; the challenge is kept for
    the member session ``session_key_hash`` (a new request replaces it). The person's
    passkeys are excluded so an authenticator already holding one says so."""
    rp = relying_party()
    if rp is None:
        raise PasskeyRefused(_("Passkeys are not available on this site."))
    name = person.email or person.membership_number or f"member-{person.pk}"
    display = " ".join(p for p in (person.first_name, person.last_name) if p) or name
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=user_handle(person),
        user_name=name,
        user_display_name=display,
        timeout=CHALLENGE_SECONDS * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=bytes(p.credential_id)) for p in passkeys_of(person)
        ],
    )
    _challenge_store(_registration_key(session_key_hash), options.challenge)
    return options_to_json(options)


def passkey_register(
    *, person: Person, session_key_hash: str, credential: str | dict, name: str, ip: str | None
) -> Passkey:
    """Verify the authenticator's answer to the options made for this member session
    and store the passkey (audited). Raises PasskeyRefused, storing nothing, for an
    answer that does not verify, a spent or expired challenge, a credential already
    stored, or a member at ``MAX_PER_MEMBER``."""
    rp = relying_party()
    if rp is None:
        raise PasskeyRefused(_("Passkeys are not available on this site."))
    data = _parse(credential)
    challenge = _challenge_claim(_registration_key(session_key_hash))
    if challenge is None:
        raise PasskeyRefused(_("That took too long or was already used. Please try again."))
    try:
        verified = verify_registration_response(
            credential=data,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=True,
        )
    except (InvalidRegistrationResponse, InvalidJSONStructure, KeyError, TypeError, ValueError):
        raise PasskeyRefused(_("The passkey could not be checked, so it was not added.")) from None
    transports = (data.get("response") or {}).get("transports") or []
    transports = [t for t in transports if isinstance(t, str) and t in _TRANSPORTS]
    name = (name or "").strip()[:NAME_MAX]
    with transaction.atomic():
        # Serialise one member's additions so the limit holds.
        Person.objects.select_for_update().filter(pk=person.pk).first()
        if Passkey.objects.filter(person=person).count() >= MAX_PER_MEMBER:
            raise PasskeyRefused(
                _("You have %(count)d passkeys, the most you can have. Remove one first.")
                % {"count": MAX_PER_MEMBER}
            )
        try:
            with transaction.atomic():
                passkey = Passkey.objects.create(
                    person=person,
                    credential_id=verified.credential_id,
                    credential_id_hash=credential_hash(verified.credential_id),
                    public_key=verified.credential_public_key,
                    sign_count=verified.sign_count,
                    transports=transports,
                    name=name,
                )
        except IntegrityError:
            raise PasskeyRefused(_("That passkey is already in use here.")) from None
        audit_record(
            actor=None,
            action=AuditEntry.Action.OTHER,
            summary=f"Member {person.pk} added passkey {passkey.pk}",
            object_type="person",
            object_id=person.pk,
            detail={"event": "member_passkey_add", "passkey": passkey.pk},
            ip=ip,
        )
    return passkey


def passkey_rename(*, passkey: Passkey, name: str) -> None:
    Passkey.objects.filter(pk=passkey.pk).update(name=(name or "").strip()[:NAME_MAX])


def passkey_remove(*, passkey: Passkey, ip: str | None) -> bool:
    """Delete the passkey (audited); it signs no one in from now on. False if it was
    already gone."""
    with transaction.atomic():
        deleted, _unused = Passkey.objects.filter(pk=passkey.pk).delete()
        if not deleted:
            return False
        audit_record(
            actor=None,
            action=AuditEntry.Action.OTHER,
            summary=f"Member {passkey.person_id} removed passkey {passkey.pk}",
            object_type="person",
            object_id=passkey.person_id,
            detail={"event": "member_passkey_remove", "passkey": passkey.pk},
            ip=ip,
        )
    return True


# --- Signing in with a passkey -------------------------------------------------------


def passkey_sign_in_options(*, browser_secret: str) -> str:
    """Options (JSON) for ``navigator.credentials.get`` with no allowed-credentials
    list (the authenticator offers its passkeys for this site); the challenge is kept
    for the browser holding ``browser_secret``."""
    rp = relying_party()
    if rp is None:
        raise PasskeyRefused(_("Passkeys are not available on this site."))
    options = generate_authentication_options(
        rp_id=rp.id,
        timeout=CHALLENGE_SECONDS * 1000,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    _challenge_store(_sign_in_key(browser_secret), options.challenge)
    return options_to_json(options)


def passkey_sign_in(*, credential: str | dict, browser_secret: str, ip: str | None) -> SignIn:
    """Verify a passkey's answer to the challenge this browser was given and open a
    member session for the passkey's person, audited as the email link's sign-in is
    (detail ``member_sign_in_passkey``).

    The passkey is found by the SHA-256 of its credential id. Its signature counter
    must go up (unless the authenticator keeps none, as synced passkeys do); the new
    count is stored with a conditional UPDATE on the old one, so two answers racing
    with one count cannot both sign in. Raises PasskeyRefused."""
    rp = relying_party()
    if rp is None:
        raise PasskeyRefused(_("Passkeys are not available on this site."))
    refused = PasskeyRefused(
        _("That passkey did not sign you in. Try again or use the email link.")
    )
    data = _parse(credential)
    challenge = _challenge_claim(_sign_in_key(browser_secret)) if browser_secret else None
    if challenge is None:
        raise PasskeyRefused(_("That took too long or was already used. Please try again."))
    try:
        raw_id = base64url_to_bytes(str(data.get("rawId") or data.get("id") or ""))
    except ValueError:
        raise refused from None
    passkey = (
        Passkey.objects.select_related("person")
        .filter(credential_id_hash=credential_hash(raw_id))
        .first()
    )
    if passkey is None or not raw_id:
        raise refused
    try:
        verified = verify_authentication_response(
            credential=data,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except (InvalidAuthenticationResponse, InvalidJSONStructure, KeyError, TypeError, ValueError):
        raise refused from None
    now = timezone.now()
    with transaction.atomic():
        counted = Passkey.objects.filter(pk=passkey.pk, sign_count=passkey.sign_count).update(
            sign_count=verified.new_sign_count, last_used_at=now
        )
        if not counted:
            raise refused
        key = member_session_start(person=passkey.person)
        audit_record(
            actor=None,
            action=AuditEntry.Action.LOGIN,
            summary=f"Member {passkey.person_id} signed in with a passkey",
            object_type="person",
            object_id=passkey.person_id,
            detail={"event": "member_sign_in_passkey", "passkey": passkey.pk},
            ip=ip,
        )
    return SignIn("ok", session_key=key, person=passkey.person)
