"""Writes to people. Every app creates or changes a person through these functions."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from clarion.areas.models import Postcode
from clarion.areas.postcodes import InvalidPostcode, normalise_postcode

from . import matching
from .matching import PROFILE_FIELDS, Given
from .models import (
    Activity,
    ConsentRecord,
    CustomField,
    EmailStatus,
    ListMembership,
    MembershipStatus,
    Person,
    PersonEmail,
    PersonIdentifier,
    PersonList,
    PersonPhone,
    ProposedChange,
    Tag,
    Tagging,
)
from .normalise import (
    InvalidEmail,
    InvalidPhone,
    clean_name,
    looks_like_formula,
    normalise_email,
    normalise_phone,
)

log = logging.getLogger(__name__)


def activity_record(
    *,
    person: Person,
    kind: str,
    summary: str,
    data: dict[str, Any] | None = None,
    actor=None,
) -> Activity:
    """Append an entry to ``person``'s timeline (the only way entries are written).

    Each callable in ``activity_listeners`` is run with the entry after the commit
    (never if it rolls back); the api app registers one for webhooks, so people does
    not import it."""
    activity = Activity.objects.create(
        person=person,
        kind=kind,
        summary=summary[:500],
        data=data or {},
        actor=actor if actor is not None and getattr(actor, "pk", None) else None,
    )
    for listener in activity_listeners:
        transaction.on_commit(partial(listener, activity), robust=True)
    return activity


# Callables taking an Activity, run after the commit that wrote it (see activity_record).
activity_listeners: list[Callable[[Activity], None]] = []


@dataclass(frozen=True)
class ConsentInput:
    channel: str
    wording: str
    source: str = ""
    granted: bool = True


@dataclass
class UpsertResult:
    person: Person
    created: bool
    changed: list[str] = field(default_factory=list)
    # A public submission that differed from what is stored (see _public_evidence).
    proposal: ProposedChange | None = None


def _clean_custom_fields(values: dict[str, Any]) -> dict[str, Any]:
    """Validate values against the CustomField definitions; unknown keys are errors."""
    if not values:
        return {}
    defs = {f.key: f for f in CustomField.objects.filter(key__in=list(values))}
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, raw in values.items():
        definition = defs.get(key)
        if definition is None:
            errors[key] = _("There is no custom field %(key)s.") % {"key": key}
            continue
        try:
            cleaned[key] = custom_field_value(definition, raw)
        except ValueError as exc:
            errors[key] = str(exc)
    if errors:
        raise ValidationError(errors)
    return cleaned


def custom_field_value(definition: CustomField, raw: Any) -> Any:
    """Coerce ``raw`` to the field's type (as stored in JSON), or raise ValueError."""
    import datetime

    if raw is None or raw == "":
        return None
    kind = definition.kind
    if kind == CustomField.Kind.NUMBER:
        try:
            number = float(str(raw).replace(",", "").strip())
        except ValueError:
            raise ValueError(
                _("%(label)s must be a number.") % {"label": definition.label}
            ) from None
        return int(number) if number.is_integer() else number
    if kind == CustomField.Kind.DATE:
        if isinstance(raw, datetime.date):
            return raw.isoformat()
        text = str(raw).strip()
        for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"):
            try:
                return datetime.datetime.strptime(text, fmt).date().isoformat()
            except ValueError:
                continue
        raise ValueError(
            _("%(label)s must be a date like 2024-05-31.") % {"label": definition.label}
        )
    if kind == CustomField.Kind.BOOLEAN:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"yes", "y", "true", "1"}:
            return True
        if text in {"no", "n", "false", "0"}:
            return False
        raise ValueError(_("%(label)s must be yes or no.") % {"label": definition.label})
    if kind == CustomField.Kind.CHOICE:
        text = str(raw).strip()
        for choice in definition.choices:
            if text.lower() == str(choice).lower():
                return choice
        raise ValueError(
            _("%(label)s must be one of: %(choices)s.")
            % {"label": definition.label, "choices": ", ".join(map(str, definition.choices))}
        )
    text = str(raw).strip()[:1000]
    if looks_like_formula(text):
        text = "'" + text
    return text


def person_find(
    *, email: str = "", phone: str = "", identifier: tuple[str, str] | None = None
) -> Person | None:
    """Find the person an input refers to: by email, then phone, then external id
    (``matching.match``). Inputs must already be normalised."""
    return matching.match(
        email=email,
        phone=phone,
        identifier=identifier,
        by_email=_person_by_email,
        by_phone=_person_by_phone,
        by_identifier=_person_by_identifier,
    )


def _person_by_email(email: str) -> Person | None:
    # Both columns are unique, so no ordering is needed; the other-address look-up
    # reads only the id, because most people acting are new and match nothing.
    person = next(iter(Person.objects.filter(email=email).order_by()[:1]), None)
    if person is None:
        other_ids = PersonEmail.objects.filter(email=email).values_list("person_id", flat=True)
        other_id = next(iter(other_ids[:1]), None)
        person = Person.objects.filter(pk=other_id).first() if other_id is not None else None
    return person


def _person_by_phone(phone: str) -> Person | None:
    # Several people may share a number: the one created first wins, as in the import.
    person = Person.objects.filter(phone=phone).order_by("pk").first()
    if person is None:
        other = PersonPhone.objects.select_related("person").filter(number=phone).order_by("pk")
        found = other.first()
        person = found.person if found else None
    return person


def _person_by_identifier(identifier: tuple[str, str]) -> Person | None:
    ident = (
        PersonIdentifier.objects.select_related("person")
        .filter(system=identifier[0], value=identifier[1])
        .first()
    )
    return ident.person if ident is not None else None


def tags_by_name(names: Iterable[str | Tag]) -> list[Tag]:
    """The tags named (case-insensitively), made when missing; safe when two requests
    make the same tag at once (the unique index decides, the loser reads it)."""
    tags = []
    for item in names:
        if isinstance(item, Tag):
            tags.append(item)
            continue
        name = clean_name(item)
        if not name:
            continue
        tag = Tag.objects.filter(name__iexact=name).first()
        if tag is None:
            try:
                with transaction.atomic():
                    tag = Tag.objects.create(name=name)
            except IntegrityError:
                tag = Tag.objects.get(name__iexact=name)
        tags.append(tag)
    return tags


def lists_by_name(names: Iterable[str | PersonList]) -> list[PersonList]:
    """The lists named, made when missing, as ``tags_by_name`` does for tags."""
    lists = []
    for item in names:
        if isinstance(item, PersonList):
            lists.append(item)
            continue
        name = clean_name(item)
        if not name:
            continue
        plist = PersonList.objects.filter(name__iexact=name).first()
        if plist is None:
            try:
                with transaction.atomic():
                    plist = PersonList.objects.create(name=name)
            except IntegrityError:
                plist = PersonList.objects.get(name__iexact=name)
        lists.append(plist)
    return lists


def apply_postcode(person: Person, postcode: str) -> None:
    person.postcode = postcode
    person.area_id, person.latitude, person.longitude = _locate(postcode)


def _locate(postcode: str) -> matching.Place:
    """(area id, latitude, longitude) of a normalised postcode; ``NOWHERE`` for a blank
    or unmapped one. One query, none for a blank postcode."""
    row = Postcode.objects.filter(postcode=postcode).first() if postcode else None
    return (row.area_id, row.latitude, row.longitude) if row else matching.NOWHERE


def new_share_code() -> str:
    return secrets.token_urlsafe(6)


def _normalise_contact(
    *, email: str | None, phone: str | None, postcode: str | None, email_status: str | None
) -> tuple[str, str, str, dict[str, str]]:
    """Normalised email, phone and postcode, and a field → message dict of what is wrong
    with them (or with ``email_status``). Shared by person_upsert and person_update so
    both validate alike."""
    errors: dict[str, str] = {}
    try:
        email_n = normalise_email(email)
    except InvalidEmail:
        errors["email"] = _("Enter a valid email address.")
        email_n = ""
    try:
        phone_n = normalise_phone(phone)
    except InvalidPhone:
        errors["phone"] = _("Enter a valid phone number.")
        phone_n = ""
    postcode_n = ""
    if postcode and postcode.strip():
        try:
            postcode_n = normalise_postcode(postcode)
        except InvalidPostcode:
            errors["postcode"] = str(InvalidPostcode.message)
    if email_status is not None and email_status not in EmailStatus.values:
        errors["email_status"] = _("Unknown email status.")
    return email_n, phone_n, postcode_n, errors


def _upsert_given(
    *,
    email: str | None,
    phone: str | None,
    identifier: tuple[str, str] | None,
    profile: tuple[str | None, str | None, str | None, str | None, str | None],
    postcode: str | None,
    custom_fields: dict[str, Any] | None,
    email_status: str | None,
) -> Given:
    """Validate and normalise one ``person_upsert`` input; raises ValidationError
    (field → message) listing everything wrong with it. Reads custom field definitions,
    writes nothing."""
    email_n, phone_n, postcode_n, errors = _normalise_contact(
        email=email, phone=phone, postcode=postcode, email_status=email_status
    )
    try:
        cleaned_custom = _clean_custom_fields(custom_fields or {})
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
        cleaned_custom = {}
    if not errors and not (email_n or phone_n or identifier):
        errors["email"] = _("Give an email address or a phone number.")
    if errors:
        raise ValidationError(errors)
    first_name, last_name, address_line1, address_line2, town = profile
    return Given(
        email=email_n,
        phone=phone_n,
        identifier=identifier,
        first_name=clean_name(first_name),
        last_name=clean_name(last_name),
        address_line1=clean_name(address_line1, 200),
        address_line2=clean_name(address_line2, 200),
        town=clean_name(town),
        postcode=postcode_n,
        custom=cleaned_custom,
        email_status=email_status,
    )


def person_upsert_check(
    *,
    email: str | None = None,
    postcode: str | None = None,
    custom_fields: dict[str, Any] | None = None,
) -> None:
    """Raise the ValidationError ``person_upsert`` would raise for this email, postcode
    and custom fields, writing nothing: a form that records now and upserts later (an
    action page's intake) refuses bad input before it answers."""
    _upsert_given(
        email=email,
        phone=None,
        identifier=None,
        profile=(None, None, None, None, None),
        postcode=postcode,
        custom_fields=custom_fields,
        email_status=None,
    )


@transaction.atomic
def person_upsert(
    *,
    email: str | None = None,
    phone: str | None = None,
    identifier: tuple[str, str] | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    address_line1: str | None = None,
    address_line2: str | None = None,
    town: str | None = None,
    postcode: str | None = None,
    custom_fields: dict[str, Any] | None = None,
    tags: Sequence[str | Tag] = (),
    lists: Sequence[str | PersonList] = (),
    email_status: str | None = None,
    email_status_reason: str = "",
    consent: ConsentInput | None = None,
    recruiter: Person | None = None,
    source_code: str = "",
    actor=None,
    activity_kind: str = Activity.Kind.UPDATED,
    activity_summary: str = "",
    public: bool = False,
    share_code: str = "",
) -> UpsertResult:
    """Create or update the person this input describes, and return them.

    ``public=True`` marks an unauthenticated submission (action pages, donation forms,
    RSVPs, event proposals, Q&A, group joins, host links): it matches by email only
    (by phone only when no email is given, so a typed phone never attaches an email to
    somebody else's record), and an existing person's stored details are never
    changed. What differs becomes a ``ProposedChange`` (see ``_public_evidence``) that the
    mailbox owner or in-scope staff confirm; the one direct change allowed is subscribing
    someone whose email status is "none". New people are created as usual.

    Matching and merging follow ``clarion.people.matching`` (the bulk import uses the
    same rules): email (primary or other), then E.164 phone, then ``identifier``
    (system, value); blank inputs never erase stored values; the email subscription
    status changes only when ``email_status`` is given. ``recruiter``, ``source_code``
    and ``share_code`` are recorded only when the person is created; ``share_code`` is a
    code promised to them before they existed (a signature's thank-you page shows it
    while the row is still in intake), and a fresh one is made without it or if it is
    taken.

    Raises ValidationError (field → message) for an invalid email, phone, postcode or
    custom field value, before anything is written. Safe under concurrency: two calls
    racing to create the same email end with one person (the loser updates it). An
    existing person's row is locked (``select_for_update``) until the caller's
    transaction commits.
    """
    given = _upsert_given(
        email=email,
        phone=phone,
        identifier=identifier,
        profile=(first_name, last_name, address_line1, address_line2, town),
        postcode=postcode,
        custom_fields=custom_fields,
        email_status=email_status,
    )
    extras = _UpsertExtras(
        tags=tags,
        lists=lists,
        email_status_reason=email_status_reason,
        consent=consent,
        recruiter=recruiter,
        source_code=source_code,
        actor=actor,
        activity_kind=activity_kind,
        activity_summary=activity_summary,
        share_code=share_code,
    )
    if public:
        # A public form never matches by, nor records, an identifier.
        given.identifier = None
    return _upsert(given, extras, public=public)


@dataclass(frozen=True, slots=True)
class _UpsertExtras:
    """The parts of a ``person_upsert`` call that are not about who the person is."""

    tags: Sequence[str | Tag]
    lists: Sequence[str | PersonList]
    email_status_reason: str
    consent: ConsentInput | None
    recruiter: Person | None
    source_code: str
    actor: Any
    activity_kind: str
    activity_summary: str
    share_code: str = ""


def _upsert(given: Given, extras: _UpsertExtras, *, public: bool) -> UpsertResult:
    """``person_upsert`` after validation: match, then create, merge or (``public``)
    propose. Runs inside its transaction; locks the matched person's row."""
    keys = matching.match_keys(
        email=given.email, phone=given.phone, identifier=given.identifier, public=public
    )
    person = person_find(email=keys[0], phone=keys[1], identifier=keys[2])
    if person is None:
        created = _person_create_or_find(given, extras, keys=keys)
        if created.created:
            _attach_extras(created.person, extras, consent=extras.consent)
            return created
        person = created.person

    person = Person.objects.select_for_update().get(pk=person.pk)
    if public:
        return _public_evidence(person=person, given=given, extras=extras)
    result = _person_merge_given(person, given, extras)
    _attach_extras(person, extras, consent=extras.consent)
    return result


def _attach_extras(person: Person, extras: _UpsertExtras, *, consent: ConsentInput | None) -> None:
    _attach(person, tags=extras.tags, lists=extras.lists, consent=consent, actor=extras.actor)


def _person_create_or_find(
    given: Given, extras: _UpsertExtras, *, keys: tuple[str, str, tuple[str, str] | None]
) -> UpsertResult:
    """Create the person ``given`` describes (nobody matched ``keys``), in a savepoint.

    When a concurrent call created them first (a unique email, phone or identifier
    clash), the savepoint is rolled back and the person found by ``keys`` is returned
    with ``created=False`` for the caller to update; the IntegrityError is raised again
    only if nobody is found."""
    try:
        with transaction.atomic():
            return _person_create(given, extras)
    except IntegrityError:
        # Someone else created this person between our look-up and insert.
        person = person_find(email=keys[0], phone=keys[1], identifier=keys[2])
        if person is not None:
            return UpsertResult(person=person, created=False)
        if not extras.share_code:
            raise
    # The share code promised before the person existed (``share_code``) belongs to
    # somebody already: the new person gets a fresh one (once; a second clash raises).
    with transaction.atomic():
        return _person_create(given, replace(extras, share_code=""))


def _person_merge_given(person: Person, given: Given, extras: _UpsertExtras) -> UpsertResult:
    """Merge ``given`` into ``person`` (row locked by the caller) by the rules of
    ``matching.merge``; save, and note what changed on the timeline. An email or phone
    that differs from the primary one is kept among the person's others; an identifier
    is added unless some person already holds it."""
    actor, activity_kind, activity_summary = (
        extras.actor,
        extras.activity_kind,
        extras.activity_summary,
    )
    stored = matching.stored_of(person)
    merged = matching.merge(
        stored, given, locate=_locate, now=timezone.now(), reason=extras.email_status_reason
    )
    if merged.other_email:
        PersonEmail.objects.get_or_create(email=merged.other_email, defaults={"person": person})
    if merged.other_phone:
        PersonPhone.objects.get_or_create(person=person, number=merged.other_phone)
    if given.identifier:
        PersonIdentifier.objects.get_or_create(
            system=given.identifier[0], value=given.identifier[1], defaults={"person": person}
        )
    changed = merged.changed
    if not changed:
        if activity_summary:
            activity_record(
                person=person, kind=activity_kind, summary=activity_summary, actor=actor
            )
        return UpsertResult(person=person, created=False, changed=changed)
    for name, value in stored.items():
        setattr(person, name, value)
    person.save()
    details = matching.details_summary(changed)
    if details is not None:
        activity_record(
            person=person,
            kind=activity_kind,
            summary=activity_summary or details,
            data={"fields": changed},
            actor=actor,
        )
    if "email_status" in changed:
        activity_record(
            person=person,
            kind=Activity.Kind.EMAIL_STATUS,
            summary=matching.status_summary(person.email_status),
            data={"status": person.email_status, "reason": person.email_status_reason},
            actor=actor,
        )
    return UpsertResult(person=person, created=False, changed=changed)


PROPOSAL_DAYS = 14


def _public_evidence(
    *,
    person: Person,
    given: Given,
    extras: _UpsertExtras,
) -> UpsertResult:
    """A public submission that matched ``person`` (row locked by the caller).

    Stored details stay as they are. Each typed value that differs from what is stored
    (including filling a blank: a postcode typed for someone with none would still move
    them into an area) goes into one pending ``ProposedChange``, which replaces any
    earlier pending one and is mailed to the person after commit. Subscribing is direct
    only from status "none"; any other status (unsubscribed, bounced, complained) needs
    the mailbox's confirming click. The page's tags and list, which describe the action
    rather than the person, are attached as usual.
    """
    changes = _public_differences(person, given)
    subscribed_now = False
    if (
        given.email_status == EmailStatus.SUBSCRIBED
        and person.email_status != EmailStatus.SUBSCRIBED
    ):
        if person.email_status == EmailStatus.NONE:
            email_status_set(
                person=person, status=EmailStatus.SUBSCRIBED, reason=extras.email_status_reason
            )
            subscribed_now = True
        elif person.email:
            changes["email_status"] = {"old": person.email_status, "new": EmailStatus.SUBSCRIBED}
    proposal = None
    if changes:
        proposal = _proposal_open(
            person=person,
            changes=changes,
            source=extras.source_code,
            consent_wording=extras.consent.wording if extras.consent is not None else "",
        )
    # A public form acts for nobody on staff, whoever the caller passed as actor.
    _attach(
        person,
        tags=extras.tags,
        lists=extras.lists,
        consent=extras.consent if subscribed_now else None,
        actor=None,
    )
    return UpsertResult(person=person, created=False, changed=[], proposal=proposal)


def _public_differences(person: Person, given: Given) -> dict[str, dict[str, Any]]:
    """What a public submission would change about ``person`` under the merge rules
    (name, address, phone, postcode, custom fields, in that order), as field →
    {"old", "new"}; nothing is changed. A phone counts unless it is already one of the
    person's numbers, since a public form may not decide which is primary."""
    stored = matching.stored_of(person)
    proposed = dict(stored)
    names = matching.profile_fill(proposed, given)
    phone = given.phone
    if (
        phone
        and phone != person.phone
        and not PersonPhone.objects.filter(person=person, number=phone).exists()
    ):
        proposed["phone"] = phone
        names.append("phone")
    # Where a proposed postcode is does not matter until it is accepted.
    names += matching.place_fill(proposed, given, lambda _postcode: matching.NOWHERE)
    changes: dict[str, dict[str, Any]] = {}
    for name in names:
        if name.startswith("custom:"):
            key = name.split(":", 1)[1]
            old, new = stored["custom_fields"].get(key), proposed["custom_fields"][key]
        else:
            old, new = stored[name], proposed[name]
        changes[name] = {"old": old, "new": new}
    return changes


def _proposal_open(
    *, person: Person, changes: dict[str, dict[str, Any]], source: str, consent_wording: str
) -> ProposedChange:
    """Record a pending proposal (superseding older pending ones for ``person``), note it
    on the timeline and queue the confirmation email after commit. The same changes
    proposed again while one is pending reuse it and send nothing more, so repeating a
    submission cannot flood the mailbox."""
    now = timezone.now()
    pending = ProposedChange.objects.filter(
        person=person, status=ProposedChange.Status.PENDING, expires_at__gt=now
    )
    for existing in pending:
        if existing.changes == changes:
            return existing
    pending.update(status=ProposedChange.Status.SUPERSEDED, decided_at=now)
    proposal = ProposedChange.objects.create(
        person=person,
        changes=changes,
        source=clean_name(source),
        consent_wording=consent_wording[:2000],
        created_at=now,
        expires_at=now + timedelta(days=PROPOSAL_DAYS),
    )
    activity_record(
        person=person,
        kind=Activity.Kind.PROPOSED,
        summary=_("A public form proposed new details (%(fields)s); waiting for confirmation")
        % {"fields": ", ".join(field_label(f) for f in changes)},
        data={"proposal": proposal.pk, "fields": list(changes), "source": proposal.source},
    )
    if person.email:
        for hook in proposal_listeners:
            transaction.on_commit(partial(hook, proposal.pk), robust=True)
    return proposal


# Callables taking a ProposedChange id, run after the commit that opened it: the
# people app registers the email that asks the mailbox owner to confirm (apps.py).
proposal_listeners: list[Callable[[int], None]] = []


def field_label(name: str) -> str:
    if name.startswith("custom:"):
        return name.split(":", 1)[1]
    labels = {
        "first_name": _("first name"),
        "last_name": _("last name"),
        "address_line1": _("address"),
        "address_line2": _("address line 2"),
        "town": _("town"),
        "postcode": _("postcode"),
        "phone": _("phone"),
        "email_status": _("email subscription"),
    }
    return str(labels.get(name, name))


def _person_create(given: Given, extras: _UpsertExtras) -> UpsertResult:
    """Insert the person ``given`` describes (the caller found nobody) with their
    identifier and a CREATED timeline entry. An IntegrityError (a concurrent insert of
    the same email, phone or identifier) leaves the caller's savepoint to roll back."""
    now = timezone.now()
    recruiter, source_code = extras.recruiter, extras.source_code
    values = matching.new_values(
        given, place=_locate(given.postcode), now=now, reason=extras.email_status_reason
    )
    person = Person(
        recruiter=recruiter,
        source_code=clean_name(source_code),
        share_code=extras.share_code or new_share_code(),
        created_at=now,
        **values,
    )
    person.save()
    identifier = given.identifier
    if identifier:
        PersonIdentifier.objects.create(person=person, system=identifier[0], value=identifier[1])
    summary = _("Joined the database")
    if source_code:
        summary = _("Joined the database (source: %(source)s)") % {"source": person.source_code}
    activity_record(
        person=person,
        kind=Activity.Kind.CREATED,
        summary=summary,
        data={"recruiter": recruiter.pk if recruiter else None},
        actor=extras.actor,
    )
    return UpsertResult(person=person, created=True, changed=[])


def _attach(person: Person, *, tags, lists, consent: ConsentInput | None, actor) -> None:
    for tag in tags_by_name(tags):
        tag_add(person=person, tag=tag, actor=actor)
    for plist in lists_by_name(lists):
        list_add(person=person, plist=plist, actor=actor)
    if consent is not None:
        consent_record(person=person, consent=consent, actor=actor)


def consent_record(*, person: Person, consent: ConsentInput, actor=None) -> ConsentRecord:
    record = ConsentRecord.objects.create(
        person=person,
        channel=consent.channel,
        granted=consent.granted,
        wording=consent.wording,
        source=consent.source[:200],
    )
    verb = _("gave") if consent.granted else _("withdrew")
    activity_record(
        person=person,
        kind=Activity.Kind.CONSENT,
        summary=_("%(verb)s %(channel)s consent")
        % {"verb": verb, "channel": record.get_channel_display()},
        data={"consent": record.pk, "wording": consent.wording, "source": consent.source},
        actor=actor,
    )
    return record


def tag_add(*, person: Person, tag: Tag | str, actor=None) -> bool:
    """Tag ``person``; returns False if they already had the tag. Idempotent."""
    if not isinstance(tag, Tag):
        tag = tags_by_name([tag])[0]
    try:
        with transaction.atomic():
            Tagging.objects.create(person=person, tag=tag)
    except IntegrityError:
        return False
    Person.objects.filter(pk=person.pk).update(modified_at=timezone.now())
    activity_record(
        person=person,
        kind=Activity.Kind.TAGGED,
        summary=_("Tagged %(tag)s") % {"tag": tag.name},
        data={"tag": tag.pk},
        actor=actor,
    )
    return True


def tag_remove(*, person: Person, tag: Tag, actor=None) -> bool:
    deleted, _unused = Tagging.objects.filter(person=person, tag=tag).delete()
    if not deleted:
        return False
    Person.objects.filter(pk=person.pk).update(modified_at=timezone.now())
    activity_record(
        person=person,
        kind=Activity.Kind.UNTAGGED,
        summary=_("Tag removed: %(tag)s") % {"tag": tag.name},
        data={"tag": tag.pk},
        actor=actor,
    )
    return True


def list_add(*, person: Person, plist: PersonList, actor=None) -> bool:
    try:
        with transaction.atomic():
            ListMembership.objects.create(person=person, list=plist)
    except IntegrityError:
        return False
    activity_record(
        person=person,
        kind=Activity.Kind.LISTED,
        summary=_("Added to list %(name)s") % {"name": plist.name},
        data={"list": plist.pk},
        actor=actor,
    )
    return True


def list_remove(*, person: Person, plist: PersonList, actor=None) -> bool:
    deleted, _unused = ListMembership.objects.filter(person=person, list=plist).delete()
    if deleted:
        activity_record(
            person=person,
            kind=Activity.Kind.UNLISTED,
            summary=_("Removed from list %(name)s") % {"name": plist.name},
            data={"list": plist.pk},
            actor=actor,
        )
    return bool(deleted)


# --- many people at once (automation: the journeys engine) --------------------------


def activity_record_many(entries: Sequence[Activity]) -> list[Activity]:
    """Append many timeline entries (unsaved ``Activity`` objects) in one insert: the
    set-based form of ``activity_record``, with the same listeners, run entry by entry
    after the commit (never if it rolls back); one failing listener call is logged and
    the others still run."""
    for entry in entries:
        entry.summary = entry.summary[:500]
    created = Activity.objects.bulk_create(list(entries), batch_size=1000)
    if created and activity_listeners:
        transaction.on_commit(partial(_listeners_run, created))
    return created


def _listeners_run(entries: list[Activity]) -> None:
    for entry in entries:
        for listener in activity_listeners:
            try:
                listener(entry)
            except Exception:
                log.exception("activity listener %r failed on entry %s", listener, entry.pk)


def _ids(person_ids: Iterable[int]) -> list[int]:
    return sorted({int(pk) for pk in person_ids})


def _record_each(person_ids, *, kind: str, summary: str, data: dict, actor, now) -> None:
    """One timeline entry of ``kind`` per person, in one insert (the ``_many`` services)."""
    actor_id = actor.pk if actor is not None and getattr(actor, "pk", None) else None
    activity_record_many(
        [
            Activity(
                person_id=pk,
                kind=kind,
                summary=summary,
                data=dict(data),
                actor_id=actor_id,
                created_at=now,
            )
            for pk in person_ids
        ]
    )


def tag_add_many(*, person_ids: Iterable[int], tag: Tag, actor=None) -> set[int]:
    """Tag many people at once (``tag_add`` for each, in a few statements); returns the
    ids of those newly tagged (the others had the tag). Idempotent. If someone else
    tags one of them meanwhile, it goes person by person through ``tag_add``."""
    ids = _ids(person_ids)
    had = set(
        Tagging.objects.filter(tag=tag, person_id__in=ids).values_list("person_id", flat=True)
    )
    new = [pk for pk in ids if pk not in had]
    if not new:
        return set()
    now = timezone.now()
    try:
        with transaction.atomic():
            Tagging.objects.bulk_create(
                [Tagging(person_id=pk, tag=tag, created_at=now) for pk in new]
            )
    except IntegrityError:
        return {pk for pk in new if tag_add(person=Person(pk=pk), tag=tag, actor=actor)}
    Person.objects.filter(pk__in=new).update(modified_at=now)
    summary = _("Tagged %(tag)s") % {"tag": tag.name}
    _record_each(
        new, kind=Activity.Kind.TAGGED, summary=summary, data={"tag": tag.pk}, actor=actor, now=now
    )
    return set(new)


def tag_remove_many(*, person_ids: Iterable[int], tag: Tag, actor=None) -> set[int]:
    """Remove ``tag`` from many people at once (``tag_remove`` for each); returns the
    ids of those who had it. The taggings are locked before they are deleted, so the
    timeline says "removed" exactly for the rows this call deleted."""
    ids = _ids(person_ids)
    rows = list(
        Tagging.objects.select_for_update()
        .filter(tag=tag, person_id__in=ids)
        .values_list("pk", "person_id")
    )
    if not rows:
        return set()
    Tagging.objects.filter(pk__in=[pk for pk, _pid in rows]).delete()
    gone = sorted({pid for _pk, pid in rows})
    now = timezone.now()
    Person.objects.filter(pk__in=gone).update(modified_at=now)
    summary = _("Tag removed: %(tag)s") % {"tag": tag.name}
    _record_each(
        gone,
        kind=Activity.Kind.UNTAGGED,
        summary=summary,
        data={"tag": tag.pk},
        actor=actor,
        now=now,
    )
    return set(gone)


def list_add_many(*, person_ids: Iterable[int], plist: PersonList, actor=None) -> set[int]:
    """Put many people on a list at once (``list_add`` for each); returns the ids of
    those newly added. If someone else adds one of them meanwhile, it goes person by
    person through ``list_add``."""
    ids = _ids(person_ids)
    had = set(
        ListMembership.objects.filter(list=plist, person_id__in=ids).values_list(
            "person_id", flat=True
        )
    )
    new = [pk for pk in ids if pk not in had]
    if not new:
        return set()
    now = timezone.now()
    try:
        with transaction.atomic():
            ListMembership.objects.bulk_create(
                [ListMembership(person_id=pk, list=plist, created_at=now) for pk in new]
            )
    except IntegrityError:
        return {pk for pk in new if list_add(person=Person(pk=pk), plist=plist, actor=actor)}
    summary = _("Added to list %(name)s") % {"name": plist.name}
    _record_each(
        new,
        kind=Activity.Kind.LISTED,
        summary=summary,
        data={"list": plist.pk},
        actor=actor,
        now=now,
    )
    return set(new)


@transaction.atomic
def email_status_set(*, person: Person, status: str, reason: str = "", actor=None) -> bool:
    """Change the subscription status; returns False if it already was ``status``.

    Takes a row lock on the person so a concurrent unsubscribe and resubscribe
    serialise.
    """
    if status not in EmailStatus.values:
        raise ValidationError({"email_status": _("Unknown email status.")})
    locked = Person.objects.select_for_update().get(pk=person.pk)
    if locked.email_status == status:
        return False
    now = timezone.now()
    Person.objects.filter(pk=person.pk).update(
        email_status=status,
        email_status_reason=reason[:200],
        email_status_changed_at=now,
        modified_at=now,
    )
    person.email_status, person.email_status_reason, person.email_status_changed_at = (
        status,
        reason[:200],
        now,
    )
    activity_record(
        person=person,
        kind=Activity.Kind.EMAIL_STATUS,
        summary=_("Email status: %(status)s") % {"status": person.get_email_status_display()}
        + (f" ({reason})" if reason else ""),
        data={"status": status, "reason": reason},
        actor=actor,
    )
    return True


def note_add(*, person: Person, text: str, actor) -> Activity:
    text = text.strip()
    if not text:
        raise ValidationError({"text": _("Write something in the note.")})
    return activity_record(
        person=person,
        kind=Activity.Kind.NOTE,
        summary=text[:500],
        data={"text": text[:5000]},
        actor=actor,
    )


def people_matching_q(*, email: str = "", phone: str = "") -> Q:
    q = Q(pk__in=[])
    if email:
        q |= Q(email=email) | Q(other_emails__email=email)
    if phone:
        q |= Q(phone=phone) | Q(other_phones__number=phone)
    return q


# --- Staff editing, merging, erasure and definitions (people staff interface) ---------


def _email_taken_by_other(email: str, person: Person) -> bool:
    return (
        Person.objects.filter(email=email).exclude(pk=person.pk).exists()
        or PersonEmail.objects.filter(email=email).exclude(person=person).exists()
    )


@transaction.atomic
def person_update(
    *,
    person: Person,
    actor,
    first_name: str,
    last_name: str,
    email: str,
    phone: str,
    address_line1: str = "",
    address_line2: str = "",
    town: str = "",
    postcode: str = "",
    custom_fields: dict[str, Any] | None = None,
    email_status: str | None = None,
    email_status_reason: str = "",
    membership_number: str = "",
    membership_status: str | None = None,
    joined_on=None,
    renews_on=None,
) -> list[str]:
    """Set ``person``'s details to exactly these values (a staff edit); returns the
    names of the fields that changed.

    Unlike ``person_upsert`` a blank value clears the stored one, and the email may
    change to a new address. Validation matches ``person_upsert`` (same normalisers,
    custom-field rules); an address or membership number another person holds is an
    error. Raises ValidationError (field → message) before anything is written.
    Locks the person row; records UPDATED / EMAIL_STATUS / MEMBERSHIP timeline entries.
    """
    email_n, phone_n, postcode_n, member_no, cleaned_custom = _update_validate(
        person=person,
        email=email,
        phone=phone,
        postcode=postcode,
        custom_fields=custom_fields,
        email_status=email_status,
        membership_number=membership_number,
        membership_status=membership_status,
    )
    locked = Person.objects.select_for_update().get(pk=person.pk)
    values: dict[str, Any] = {
        "first_name": clean_name(first_name),
        "last_name": clean_name(last_name),
        "address_line1": clean_name(address_line1, 200),
        "address_line2": clean_name(address_line2, 200),
        "town": clean_name(town),
        "phone": phone_n,
        "email": email_n or None,
    }
    changed = _update_details(locked, values, postcode=postcode_n, custom=cleaned_custom)
    membership_changed = _update_set(
        locked,
        {
            "membership_number": member_no or None,
            "membership_status": membership_status
            if membership_status is not None
            else locked.membership_status,
            "joined_on": joined_on,
            "renews_on": renews_on,
        },
    )
    now = timezone.now()
    status_changed = _update_status(locked, email_status, email_status_reason.strip(), now)
    if not (changed or membership_changed or status_changed):
        return []
    locked.modified_at = now
    locked.save()
    _update_record(
        locked,
        changed=changed,
        membership_changed=membership_changed,
        status_changed=status_changed,
        actor=actor,
    )
    # Keep the caller's instance current.
    for name in [*values, *_UPDATE_ALSO_COPIED]:
        setattr(person, name, getattr(locked, name))
    return changed + membership_changed + (["email_status"] if status_changed else [])


# Fields person_update may change besides the ones it is given directly.
_UPDATE_ALSO_COPIED = (
    "postcode",
    "area_id",
    "latitude",
    "longitude",
    "custom_fields",
    "membership_number",
    "membership_status",
    "joined_on",
    "renews_on",
    "email_status",
    "email_status_reason",
    "email_status_changed_at",
    "modified_at",
)


def _update_validate(
    *,
    person: Person,
    email: str,
    phone: str,
    postcode: str,
    custom_fields: dict[str, Any] | None,
    email_status: str | None,
    membership_number: str,
    membership_status: str | None,
) -> tuple[str, str, str, str, dict[str, Any]]:
    """Normalised email, phone, postcode, membership number and custom values of a staff
    edit of ``person``; raises ValidationError (field → message) with everything wrong,
    including an email or membership number another person holds. Writes nothing."""
    email_n, phone_n, postcode_n, errors = _normalise_contact(
        email=email, phone=phone, postcode=postcode, email_status=email_status
    )
    if membership_status is not None and membership_status not in MembershipStatus.values:
        errors["membership_status"] = _("Unknown membership status.")
    member_no = clean_name(membership_number, 40)
    try:
        cleaned_custom = _clean_custom_fields(custom_fields or {})
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
        cleaned_custom = {}
    if email_n and "email" not in errors and _email_taken_by_other(email_n, person):
        errors["email"] = _("Another person already has this email address. Merge them instead.")
    if (
        member_no
        and Person.objects.filter(membership_number=member_no).exclude(pk=person.pk).exists()
    ):
        errors["membership_number"] = _("Another person already has this membership number.")
    if errors:
        raise ValidationError(errors)
    return email_n, phone_n, postcode_n, member_no, cleaned_custom


def _update_status(locked: Person, status: str | None, reason: str, now) -> bool:
    """Set the email status of ``locked`` (unsaved) when one is given and differs;
    returns whether it changed."""
    if status is None or status == locked.email_status:
        return False
    locked.email_status = status
    locked.email_status_reason = reason[:200]
    locked.email_status_changed_at = now
    return True


def _update_set(locked: Person, values: dict[str, Any]) -> list[str]:
    """Set each field of ``values`` on ``locked`` (unsaved); returns those that differed."""
    changed = []
    for name, value in values.items():
        if getattr(locked, name) != value:
            setattr(locked, name, value)
            changed.append(name)
    return changed


def _update_details(
    locked: Person, values: dict[str, Any], *, postcode: str, custom: dict[str, Any]
) -> list[str]:
    """Set name, address, email and phone (``values``), postcode and custom fields on
    ``locked`` (row locked, saved by the caller); returns the names changed. A custom
    value of None removes the field. A new primary email or phone that was one of the
    person's other ones stops being listed there (deleted now)."""
    changed = _update_set(locked, values)
    email, phone = values["email"], values["phone"]
    if "email" in changed and email:
        # The new primary address may have been one of their other addresses.
        PersonEmail.objects.filter(person=locked, email=email).delete()
    if "phone" in changed and phone:
        PersonPhone.objects.filter(person=locked, number=phone).delete()
    if locked.postcode != postcode:
        apply_postcode(locked, postcode)
        changed.append("postcode")
    stored = dict(locked.custom_fields)
    for key, value in custom.items():
        if value is None:
            if key in stored:
                del stored[key]
                changed.append(f"custom:{key}")
        elif stored.get(key) != value:
            stored[key] = value
            changed.append(f"custom:{key}")
    locked.custom_fields = stored
    return changed


def _update_record(
    locked: Person,
    *,
    changed: list[str],
    membership_changed: list[str],
    status_changed: bool,
    actor,
) -> None:
    """The timeline entries of a staff edit of ``locked`` (already saved)."""
    if changed:
        activity_record(
            person=locked,
            kind=Activity.Kind.UPDATED,
            summary=_("Details changed: %(fields)s") % {"fields": ", ".join(changed)},
            data={"fields": changed},
            actor=actor,
        )
    if membership_changed:
        activity_record(
            person=locked,
            kind=Activity.Kind.MEMBERSHIP,
            summary=_("Membership: %(status)s")
            % {"status": locked.get_membership_status_display()},
            data={"fields": membership_changed, "status": locked.membership_status},
            actor=actor,
        )
    if status_changed:
        reason = locked.email_status_reason
        activity_record(
            person=locked,
            kind=Activity.Kind.EMAIL_STATUS,
            summary=_("Email status: %(status)s") % {"status": locked.get_email_status_display()}
            + (f" ({reason})" if reason else ""),
            data={"status": locked.email_status, "reason": reason},
            actor=actor,
        )


@transaction.atomic
def person_membership_set(
    *,
    person: Person,
    status: str,
    number: str | None,
    joined_on=None,
    renews_on=None,
    actor=None,
    summary: str = "",
) -> list[str]:
    """Set ``person``'s membership fields (status, number, joined, renews) to exactly
    these values; returns the names of the fields that changed. The members app calls
    this so the person's fields follow its membership rows.

    Locks the person row. Raises ValueError for an unknown status; a number another
    person holds raises IntegrityError from the database (the caller allocates
    numbers and checks first). A change records one MEMBERSHIP timeline entry, with
    ``summary`` when given."""
    if status not in MembershipStatus.values:
        raise ValueError(f"Unknown membership status {status!r}.")
    locked = Person.objects.select_for_update().get(pk=person.pk)
    changed = _update_set(
        locked,
        {
            "membership_status": status,
            "membership_number": number or None,
            "joined_on": joined_on,
            "renews_on": renews_on,
        },
    )
    if not changed:
        return []
    locked.modified_at = timezone.now()
    locked.save(update_fields=[*changed, "modified_at"])
    activity_record(
        person=locked,
        kind=Activity.Kind.MEMBERSHIP,
        summary=summary
        or _("Membership: %(status)s") % {"status": locked.get_membership_status_display()},
        data={"fields": changed, "status": locked.membership_status},
        actor=actor,
    )
    for name in (*changed, "modified_at"):
        setattr(person, name, getattr(locked, name))
    return changed


# Statuses that record a person's wish (or their mailbox's verdict) to stop mail. When
# two records merge, these win over "subscribed" so a merge never re-subscribes anyone.
_STOP_STATUSES = (EmailStatus.UNSUBSCRIBED, EmailStatus.COMPLAINED)


@transaction.atomic
def person_merge(*, survivor: Person, duplicate: Person, actor, request=None) -> Person:
    """Fold ``duplicate`` into ``survivor`` and delete ``duplicate``; returns the survivor.

    Locks both person rows (in id order, so two merges of the same pair cannot
    deadlock) for the whole transaction. Everything moves: taggings, list
    memberships, consents, the timeline, identifiers, other emails and phones, the
    recruiter link of their recruits, rows an app moves in its ``clarion.core.privacy``
    merge hook, then every other row with a foreign key to the duplicate (a unique
    clash there raises ValidationError and rolls back). The duplicate's primary email and phone
    become the survivor's other email / phone; blank survivor fields are filled from
    the duplicate; custom fields merge with the survivor's values winning; an
    unsubscribe or complaint on either record wins over "subscribed". Writes a MERGED
    timeline entry on the survivor and a "merge" audit entry (ids only, no personal
    data). Caller checks that ``actor`` may reach both people.
    """
    from clarion.core import privacy

    keep, dup = _merge_lock(survivor, duplicate)
    dup_snapshot = {
        "id": dup.pk,
        "name": dup.full_name,
        "email": dup.email or "",
        "phone": dup.phone,
    }
    _merge_move_memberships(keep, dup)
    _merge_contacts(keep, dup)
    _merge_fields(keep, dup)
    keep.modified_at = timezone.now()

    hooks = privacy.merge_person(keep, dup)
    # Consents, the timeline, identifiers, other emails, and any other app's rows that
    # its hook did not move: nothing that points at the duplicate is lost with it.
    repointed = _merge_repoint_remaining(keep=keep, dup=dup)
    if keep.email:
        PersonEmail.objects.filter(person=keep, email=keep.email).delete()
    keep.save()
    activity_record(
        person=keep,
        kind=Activity.Kind.MERGED,
        summary=_("Merged with duplicate record #%(id)s (%(who)s)")
        % {
            "id": dup.pk,
            "who": dup_snapshot["name"] or dup_snapshot["email"] or dup_snapshot["phone"],
        },
        data={"duplicate": dup_snapshot},
        actor=actor,
    )
    dup.delete()
    _merge_audit(keep, dup_snapshot, hooks=hooks, repointed=repointed, actor=actor, request=request)
    return keep


def _merge_lock(survivor: Person, duplicate: Person) -> tuple[Person, Person]:
    """Fresh, locked copies of (survivor, duplicate), locked in id order so two merges of
    the same pair cannot deadlock; ValidationError if they are one person or either
    is gone. Call inside the merge's transaction."""
    if survivor.pk == duplicate.pk:
        raise ValidationError(_("A person cannot be merged with themselves."))
    rows = {
        p.pk: p
        for p in Person.objects.select_for_update()
        .filter(pk__in=[survivor.pk, duplicate.pk])
        .order_by("pk")
    }
    if len(rows) != 2:
        raise ValidationError(_("One of these people no longer exists."))
    return rows[survivor.pk], rows[duplicate.pk]


def _merge_move_memberships(keep: Person, dup: Person) -> None:
    """Move the duplicate's tags, lists and other phones that the survivor lacks (the
    rest are deleted), and point the duplicate's recruits at the survivor."""
    Tagging.objects.filter(person=dup).exclude(
        tag__in=Tagging.objects.filter(person=keep).values("tag")
    ).update(person=keep)
    Tagging.objects.filter(person=dup).delete()
    ListMembership.objects.filter(person=dup).exclude(
        list__in=ListMembership.objects.filter(person=keep).values("list")
    ).update(person=keep)
    ListMembership.objects.filter(person=dup).delete()
    PersonPhone.objects.filter(person=dup).exclude(
        number__in=[
            *PersonPhone.objects.filter(person=keep).values_list("number", flat=True),
            keep.phone,
        ]
    ).update(person=keep)
    PersonPhone.objects.filter(person=dup).delete()
    Person.objects.filter(recruiter=dup).exclude(pk=keep.pk).update(recruiter=keep)


def _merge_contacts(keep: Person, dup: Person) -> None:
    """Give the survivor (unsaved) the duplicate's primary email and phone: as its own
    primary where it has none, else as another address / number. Clears the
    duplicate's unique email, membership number and share code in the database first,
    so the survivor can take them."""
    Person.objects.filter(pk=dup.pk).update(email=None, membership_number=None, share_code=None)
    if dup.email:
        if not keep.email:
            keep.email = dup.email
        elif dup.email != keep.email:
            PersonEmail.objects.get_or_create(email=dup.email, defaults={"person": keep})
    if dup.phone:
        if not keep.phone:
            keep.phone = dup.phone
        elif dup.phone != keep.phone:
            PersonPhone.objects.get_or_create(person=keep, number=dup.phone)


def _merge_fields(keep: Person, dup: Person) -> None:
    """Fill the survivor's (unsaved) blank fields from the duplicate. Custom fields
    merge with the survivor's values winning; an unsubscribe or complaint on either
    record wins over "subscribed", so a merge never re-subscribes anyone; the earlier
    creation date is kept."""
    for name in (
        *PROFILE_FIELDS,
        "source_code",
        "membership_number",
        "share_code",
        "joined_on",
        "renews_on",
    ):
        if not getattr(keep, name) and getattr(dup, name):
            setattr(keep, name, getattr(dup, name))
    if not keep.postcode and dup.postcode:
        keep.postcode, keep.area_id = dup.postcode, dup.area_id
        keep.latitude, keep.longitude = dup.latitude, dup.longitude
    if keep.membership_status == MembershipStatus.NONE:
        keep.membership_status = dup.membership_status
    if keep.recruiter_id == dup.pk:
        keep.recruiter_id = dup.recruiter_id if dup.recruiter_id != keep.pk else None
    if keep.recruiter_id is None and dup.recruiter_id not in (None, keep.pk):
        keep.recruiter_id = dup.recruiter_id
    if keep.email_status == EmailStatus.NONE or (
        dup.email_status in _STOP_STATUSES and keep.email_status not in _STOP_STATUSES
    ):
        if dup.email_status != EmailStatus.NONE:
            keep.email_status = dup.email_status
            keep.email_status_reason = dup.email_status_reason
            keep.email_status_changed_at = dup.email_status_changed_at
    keep.custom_fields = {
        **dup.custom_fields,
        **{k: v for k, v in keep.custom_fields.items() if v is not None},
    }
    keep.created_at = min(keep.created_at, dup.created_at)


def _merge_audit(
    keep: Person, dup_snapshot: dict[str, Any], *, hooks, repointed, actor, request
) -> None:
    """The "merge" audit entry: ids and what moved, no personal data."""
    from clarion.core.models import AuditEntry
    from clarion.core.services import audit_record

    audit_record(
        actor=actor,
        action=AuditEntry.Action.MERGE,
        summary=f"Merged person #{dup_snapshot['id']} into #{keep.pk}",
        object_type="person",
        object_id=keep.pk,
        detail={
            "survivor": keep.pk,
            "duplicate": dup_snapshot["id"],
            "hooks": hooks,
            "moved": repointed,
        },
        request=request,
    )


def _merge_repoint_remaining(*, keep: Person, dup: Person) -> list[str]:
    """Point every row still referring to ``dup`` (by any foreign key to Person) at
    ``keep``; returns the "app.Model.field" names moved. A unique constraint that
    the move would break raises ValidationError (the app needs a merge hook that
    resolves it), so the merge rolls back instead of deleting rows with the duplicate.
    """
    moved = []
    for rel in Person._meta.related_objects:
        if rel.many_to_many or rel.related_model is Person:
            continue
        model, field = rel.related_model, rel.field.name
        rows = model._base_manager.filter(**{field: dup})
        if not rows.exists():
            continue
        try:
            with transaction.atomic():
                rows.update(**{field: keep})
        except IntegrityError:
            raise ValidationError(
                _(
                    "These two records cannot be merged automatically: both have %(what)s that clash."
                )
                % {"what": model._meta.verbose_name_plural}
            ) from None
        moved.append(f"{model._meta.label}.{field}")
    return moved


@transaction.atomic
def person_erase(*, person: Person, actor, request=None) -> list[str]:
    """Erase ``person`` for good (a right-to-erasure request); returns the suppressed
    email hashes.

    Runs every app's eraser registered in ``clarion.core.privacy``, deletes the person
    (and whatever still cascades from them), and leaves only a Suppression row per
    address they used — the SHA-256 of the canonical email, reason "erased" — so they
    are never mailed again. The audit entry names the person by id only.
    """
    from clarion.core import privacy
    from clarion.core.models import AuditEntry
    from clarion.core.services import audit_record

    from .models import Suppression
    from .normalise import email_hash

    locked = Person.objects.select_for_update().get(pk=person.pk)
    emails = [e for e in [locked.email, *locked.other_emails.values_list("email", flat=True)] if e]
    person_id = locked.pk
    apps_run = privacy.erase_person(locked)
    Person.objects.filter(pk=person_id).delete()
    hashes = []
    for address in emails:
        digest = email_hash(address)
        # Dated now: a signature still in intake from before this erasure is dropped
        # by the worker (actions), never made into a new person.
        Suppression.objects.update_or_create(
            email_hash=digest, defaults={"reason": "erased", "created_at": timezone.now()}
        )
        hashes.append(digest)
    audit_record(
        actor=actor,
        action=AuditEntry.Action.ERASE,
        summary=f"Erased person #{person_id}",
        object_type="person",
        object_id=person_id,
        detail={"apps": apps_run, "suppressed": len(hashes)},
        request=request,
    )
    return hashes


def person_export_record(*, person: Person, actor, request=None) -> dict[str, Any]:
    """Everything every app holds about ``person`` (subject access), audited as export."""
    from clarion.core import privacy
    from clarion.core.models import AuditEntry
    from clarion.core.services import audit_record

    data = privacy.export_person(person)
    audit_record(
        actor=actor,
        action=AuditEntry.Action.EXPORT,
        summary=f"Subject access export of person #{person.pk}",
        object_type="person",
        object_id=person.pk,
        detail={"apps": list(data)},
        request=request,
    )
    return data


def _unique_name_error(model, name: str, exclude_pk=None) -> str | None:
    name = clean_name(name)
    if not name:
        return _("Give it a name.")
    qs = model.objects.filter(name__iexact=name)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        return _("That name is already used.")
    return None


def tag_rename(*, tag: Tag, name: str) -> Tag:
    """Rename a tag; names stay unique case-insensitively (ValidationError otherwise)."""
    error = _unique_name_error(Tag, name, exclude_pk=tag.pk)
    if error:
        raise ValidationError({"name": error})
    tag.name = clean_name(name)
    tag.modified_at = timezone.now()
    tag.save(update_fields=["name", "modified_at"])
    return tag


@transaction.atomic
def tag_delete(*, tag: Tag, actor, request=None) -> int:
    """Delete a tag and every tagging of it; returns how many people lost it. Audited.

    No timeline entries are written (a tag may be on millions of people).
    """
    from clarion.core.models import AuditEntry
    from clarion.core.services import audit_record

    count = Tagging.objects.filter(tag=tag).count()
    tag_id, tag_name = tag.pk, tag.name
    tag.delete()
    audit_record(
        actor=actor,
        action=AuditEntry.Action.DELETE,
        summary=f"Deleted tag {tag_name[:100]}",
        object_type="tag",
        object_id=tag_id,
        detail={"people": count},
        request=request,
    )
    return count


def list_save(*, plist: PersonList | None = None, name: str, description: str = "") -> PersonList:
    """Create a list, or rename / describe an existing one."""
    error = _unique_name_error(PersonList, name, exclude_pk=plist.pk if plist else None)
    if error:
        raise ValidationError({"name": error})
    if plist is None:
        plist = PersonList(created_at=timezone.now())
    plist.name = clean_name(name)
    plist.description = description.strip()[:2000]
    plist.modified_at = timezone.now()
    plist.save()
    return plist


@transaction.atomic
def list_delete(*, plist: PersonList, actor, request=None) -> int:
    """Delete a list and its memberships; returns how many people were on it. Audited."""
    from clarion.core.models import AuditEntry
    from clarion.core.services import audit_record

    count = ListMembership.objects.filter(list=plist).count()
    list_id, list_name = plist.pk, plist.name
    plist.delete()
    audit_record(
        actor=actor,
        action=AuditEntry.Action.DELETE,
        summary=f"Deleted list {list_name[:100]}",
        object_type="list",
        object_id=list_id,
        detail={"people": count},
        request=request,
    )
    return count


def custom_field_save(
    *,
    field: CustomField | None = None,
    key: str,
    label: str,
    kind: str,
    choices: Sequence[str] = (),
) -> CustomField:
    """Create a custom field definition, or change an existing one's label, kind and
    choices. The key of an existing field never changes (values are stored under it).
    """
    errors: dict[str, str] = {}
    label = clean_name(label)
    if not label:
        errors["label"] = _("Give the field a label.")
    if kind not in CustomField.Kind.values:
        errors["kind"] = _("Unknown kind of field.")
    clean_choices = []
    for choice in choices:
        text = clean_name(str(choice), 100)
        if text and text.lower() not in {c.lower() for c in clean_choices}:
            clean_choices.append(text)
    if kind == CustomField.Kind.CHOICE and not clean_choices:
        errors["choices"] = _("A choice field needs at least one choice.")
    if field is None:
        key = (key or "").strip().lower()
        from django.core.validators import validate_slug

        try:
            validate_slug(key)
        except ValidationError:
            errors["key"] = _("Use letters, numbers, hyphens and underscores only.")
        else:
            if CustomField.objects.filter(key=key).exists():
                errors["key"] = _("There is already a field with this key.")
    if errors:
        raise ValidationError(errors)
    if field is None:
        field = CustomField(key=key)
    field.label = label
    field.kind = kind
    field.choices = clean_choices if kind == CustomField.Kind.CHOICE else []
    field.save()
    return field


# --- API (api part) --------------------------------------------------------------


def tag_get_or_create(*, name: str) -> tuple[Tag, bool]:
    """The tag called ``name`` (case-insensitively), creating it if needed; returns
    (tag, created). Safe under concurrency: the unique index decides the race."""
    clean = clean_name(name)
    if not clean:
        raise ValidationError({"name": _("Give it a name.")})
    existing = Tag.objects.filter(name__iexact=clean).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return Tag.objects.create(name=clean), True
    except IntegrityError:
        return Tag.objects.get(name__iexact=clean), False
