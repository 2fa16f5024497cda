"""The people app's own personal data, registered with ``clarion.core.privacy``.

Merging people's own rows is done by ``people.services.person_merge`` itself, so no
merge hook is registered here.
"""

from __future__ import annotations

from typing import Any

from clarion.core import privacy

from .models import (
    Activity,
    ConsentRecord,
    ListMembership,
    Person,
    PersonEmail,
    PersonIdentifier,
    PersonPhone,
    Tagging,
)

PERSON_FIELDS = (
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "town",
    "postcode",
    "country",
    "latitude",
    "longitude",
    "custom_fields",
    "email_status",
    "email_status_reason",
    "email_status_changed_at",
    "membership_number",
    "membership_status",
    "joined_on",
    "renews_on",
    "recruiter_id",
    "source_code",
    "share_code",
    "created_at",
    "modified_at",
)


def export(person: Person) -> dict[str, Any]:
    data: dict[str, Any] = {"person": {name: getattr(person, name) for name in PERSON_FIELDS}}
    data["person"]["area"] = person.area.name if person.area_id else None
    data["other_emails"] = list(
        PersonEmail.objects.filter(person=person).values_list("email", flat=True)
    )
    data["other_phones"] = list(
        PersonPhone.objects.filter(person=person).values_list("number", flat=True)
    )
    data["identifiers"] = list(
        PersonIdentifier.objects.filter(person=person).values("system", "value")
    )
    data["tags"] = list(
        Tagging.objects.filter(person=person)
        .order_by("tag__name")
        .values_list("tag__name", flat=True)
    )
    data["lists"] = list(
        ListMembership.objects.filter(person=person)
        .order_by("list__name")
        .values_list("list__name", flat=True)
    )
    data["consents"] = list(
        ConsentRecord.objects.filter(person=person).values(
            "channel", "granted", "wording", "source", "created_at"
        )
    )
    data["activities"] = list(
        Activity.objects.filter(person=person)
        .order_by("created_at", "id")
        .values("kind", "summary", "data", "created_at")
    )
    data["recruits"] = Person.objects.filter(recruiter=person).count()
    return data


def erase(person: Person) -> None:
    # Deleting the person row would cascade to most of these; deleting them here
    # first keeps erasure explicit and independent of on_delete choices.
    for model in (
        Activity,
        ConsentRecord,
        Tagging,
        ListMembership,
        PersonIdentifier,
        PersonEmail,
        PersonPhone,
    ):
        model.objects.filter(person=person).delete()
    Person.objects.filter(recruiter=person).update(recruiter=None)


privacy.register("people", export=export, erase=erase)

# The retention policy (storage limitation) registers people's own keepers, the core
# cleaners and its daily job when it is imported.
from . import retention  # noqa: E402, F401
