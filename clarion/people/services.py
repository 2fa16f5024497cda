"""Writes to people. Every app creates or changes a person through these functions."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from clarion.areas.models import Postcode
from clarion.areas.postcodes import InvalidPostcode, normalise_postcode

from .models import (
    Activity,
    ConsentRecord,
    CustomField,
    EmailStatus,
    ListMembership,
    Person,
    PersonEmail,
    PersonIdentifier,
    PersonList,
    PersonPhone,
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

PROFILE_FIELDS = ("first_name", "last_name", "address_line1", "address_line2", "town")


def activity_record(
    *,
    person: Person,
    kind: str,
    summary: str,
    data: dict[str, Any] | None = None,
    actor=None,
) -> Activity:
    """Append an entry to ``person``'s timeline (the only way entries are written)."""
    return Activity.objects.create(
        person=person,
        kind=kind,
        summary=summary[:500],
        data=data or {},
        actor=actor if actor is not None and getattr(actor, "pk", None) else None,
    )


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
            raise ValueError(_("%(label)s must be a number.") % {"label": definition.label}) from None
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
        raise ValueError(_("%(label)s must be a date like 2024-05-31.") % {"label": definition.label})
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


def person_find(*, email: str = "", phone: str = "", identifier: tuple[str, str] | None = None) -> Person | None:
    """Find the person an input refers to: by email, then phone, then external id.

    Inputs must already be normalised.
    """
    if email:
        person = Person.objects.filter(email=email).first()
        if person is None:
            other = PersonEmail.objects.select_related("person").filter(email=email).first()
            person = other.person if other else None
        if person is not None:
            return person
    if phone:
        person = Person.objects.filter(phone=phone).order_by("pk").first()
        if person is None:
            other = PersonPhone.objects.select_related("person").filter(number=phone).order_by("pk").first()
            person = other.person if other else None
        if person is not None:
            return person
    if identifier:
        ident = PersonIdentifier.objects.select_related("person").filter(
            system=identifier[0], value=identifier[1]
        ).first()
        if ident is not None:
            return ident.person
    return None


def _tags_by_name(names: Iterable[str | Tag]) -> list[Tag]:
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


def _lists_by_name(names: Iterable[str | PersonList]) -> list[PersonList]:
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


def _apply_postcode(person: Person, postcode: str) -> None:
    person.postcode = postcode
    row = Postcode.objects.filter(postcode=postcode).first() if postcode else None
    person.area_id = row.area_id if row else None
    person.latitude = row.latitude if row else None
    person.longitude = row.longitude if row else None


def new_share_code() -> str:
    return secrets.token_urlsafe(6)


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
) -> UpsertResult:
    """Create or update the person this input describes, and return them.

    Matching order: normalised email (primary or other), then E.164 phone, then
    ``identifier`` (system, value). Blank inputs never erase stored values. The email
    subscription status changes only when ``email_status`` is given. ``recruiter`` and
    ``source_code`` are recorded only when the person is created.

    Raises ValidationError (field → message) for an invalid email, phone, postcode or
    custom field value, before anything is written. Safe under concurrency: two calls
    racing to create the same email end with one person (the loser updates it).
    """
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
    try:
        cleaned_custom = _clean_custom_fields(custom_fields or {})
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
        cleaned_custom = {}
    if not errors and not (email_n or phone_n or identifier):
        errors["email"] = _("Give an email address or a phone number.")
    if errors:
        raise ValidationError(errors)

    profile = {
        "first_name": clean_name(first_name),
        "last_name": clean_name(last_name),
        "address_line1": clean_name(address_line1, 200),
        "address_line2": clean_name(address_line2, 200),
        "town": clean_name(town),
    }

    person = person_find(email=email_n, phone=phone_n, identifier=identifier)
    if person is None:
        try:
            with transaction.atomic():
                result = _person_create(
                    email=email_n,
                    phone=phone_n,
                    identifier=identifier,
                    profile=profile,
                    postcode=postcode_n,
                    custom=cleaned_custom,
                    email_status=email_status,
                    email_status_reason=email_status_reason,
                    recruiter=recruiter,
                    source_code=source_code,
                    actor=actor,
                )
        except IntegrityError:
            # Someone else created this person between our look-up and insert.
            person = person_find(email=email_n, phone=phone_n, identifier=identifier)
            if person is None:
                raise
            result = None
        if result is not None:
            person = result.person
            _attach(person, tags=tags, lists=lists, consent=consent, actor=actor)
            return result

    assert person is not None
    person = Person.objects.select_for_update().get(pk=person.pk)
    changed: list[str] = []
    for name, value in profile.items():
        if value and getattr(person, name) != value:
            setattr(person, name, value)
            changed.append(name)
    if email_n and not person.email:
        person.email = email_n
        changed.append("email")
    elif email_n and person.email != email_n:
        PersonEmail.objects.get_or_create(email=email_n, defaults={"person": person})
    if phone_n and not person.phone:
        person.phone = phone_n
        changed.append("phone")
    elif phone_n and person.phone != phone_n:
        PersonPhone.objects.get_or_create(person=person, number=phone_n)
    if postcode_n and person.postcode != postcode_n:
        _apply_postcode(person, postcode_n)
        changed.append("postcode")
    for key, value in cleaned_custom.items():
        if value is not None and person.custom_fields.get(key) != value:
            person.custom_fields[key] = value
            changed.append(f"custom:{key}")
    if identifier:
        PersonIdentifier.objects.get_or_create(
            system=identifier[0], value=identifier[1], defaults={"person": person}
        )
    status_changed = False
    if email_status is not None and email_status != person.email_status:
        person.email_status = email_status
        person.email_status_reason = email_status_reason[:200]
        person.email_status_changed_at = timezone.now()
        changed.append("email_status")
        status_changed = True
    if changed:
        person.modified_at = timezone.now()
        person.save()
        summary = activity_summary or _("Details changed: %(fields)s") % {
            "fields": ", ".join(f for f in changed if f != "email_status")
        }
        if set(changed) - {"email_status"}:
            activity_record(person=person, kind=activity_kind, summary=summary, data={"fields": changed}, actor=actor)
        if status_changed:
            activity_record(
                person=person,
                kind=Activity.Kind.EMAIL_STATUS,
                summary=_("Email status: %(status)s") % {"status": person.get_email_status_display()},
                data={"status": person.email_status, "reason": person.email_status_reason},
                actor=actor,
            )
    elif activity_summary:
        activity_record(person=person, kind=activity_kind, summary=activity_summary, actor=actor)
    _attach(person, tags=tags, lists=lists, consent=consent, actor=actor)
    return UpsertResult(person=person, created=False, changed=changed)


def _person_create(
    *,
    email: str,
    phone: str,
    identifier: tuple[str, str] | None,
    profile: dict[str, str],
    postcode: str,
    custom: dict[str, Any],
    email_status: str | None,
    email_status_reason: str,
    recruiter: Person | None,
    source_code: str,
    actor,
) -> UpsertResult:
    now = timezone.now()
    person = Person(
        email=email or None,
        phone=phone,
        custom_fields={k: v for k, v in custom.items() if v is not None},
        recruiter=recruiter,
        source_code=clean_name(source_code),
        share_code=new_share_code(),
        created_at=now,
        modified_at=now,
        **profile,
    )
    if email_status is not None:
        person.email_status = email_status
        person.email_status_reason = email_status_reason[:200]
        person.email_status_changed_at = now
    _apply_postcode(person, postcode)
    person.save()
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
        actor=actor,
    )
    return UpsertResult(person=person, created=True, changed=[])


def _attach(person: Person, *, tags, lists, consent: ConsentInput | None, actor) -> None:
    for tag in _tags_by_name(tags):
        tag_add(person=person, tag=tag, actor=actor)
    for plist in _lists_by_name(lists):
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
        summary=_("%(verb)s %(channel)s consent") % {"verb": verb, "channel": record.get_channel_display()},
        data={"consent": record.pk, "wording": consent.wording, "source": consent.source},
        actor=actor,
    )
    return record


def tag_add(*, person: Person, tag: Tag | str, actor=None) -> bool:
    """Tag ``person``; returns False if they already had the tag. Idempotent."""
    if not isinstance(tag, Tag):
        tag = _tags_by_name([tag])[0]
    try:
        with transaction.atomic():
            Tagging.objects.create(person=person, tag=tag)
    except IntegrityError:
        return False
    Person.objects.filter(pk=person.pk).update(modified_at=timezone.now())
    activity_record(
        person=person, kind=Activity.Kind.TAGGED, summary=_("Tagged %(tag)s") % {"tag": tag.name},
        data={"tag": tag.pk}, actor=actor,
    )
    return True


def tag_remove(*, person: Person, tag: Tag, actor=None) -> bool:
    deleted, _unused = Tagging.objects.filter(person=person, tag=tag).delete()
    if not deleted:
        return False
    Person.objects.filter(pk=person.pk).update(modified_at=timezone.now())
    activity_record(
        person=person, kind=Activity.Kind.UNTAGGED, summary=_("Tag removed: %(tag)s") % {"tag": tag.name},
        data={"tag": tag.pk}, actor=actor,
    )
    return True


def list_add(*, person: Person, plist: PersonList, actor=None) -> bool:
    try:
        with transaction.atomic():
            ListMembership.objects.create(person=person, list=plist)
    except IntegrityError:
        return False
    activity_record(
        person=person, kind=Activity.Kind.LISTED, summary=_("Added to list %(name)s") % {"name": plist.name},
        data={"list": plist.pk}, actor=actor,
    )
    return True


def list_remove(*, person: Person, plist: PersonList, actor=None) -> bool:
    deleted, _unused = ListMembership.objects.filter(person=person, list=plist).delete()
    if deleted:
        activity_record(
            person=person, kind=Activity.Kind.UNLISTED,
            summary=_("Removed from list %(name)s") % {"name": plist.name}, data={"list": plist.pk}, actor=actor,
        )
    return bool(deleted)


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
        email_status=status, email_status_reason=reason[:200], email_status_changed_at=now, modified_at=now
    )
    person.email_status, person.email_status_reason, person.email_status_changed_at = status, reason[:200], now
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
    return activity_record(person=person, kind=Activity.Kind.NOTE, summary=text[:500], data={"text": text[:5000]}, actor=actor)


def people_matching_q(*, email: str = "", phone: str = "") -> Q:
    q = Q(pk__in=[])
    if email:
        q |= Q(email=email) | Q(other_emails__email=email)
    if phone:
        q |= Q(phone=phone) | Q(other_phones__number=phone)
    return q
