"""Joining a local group from its public page."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from clarion.areas.models import Area
from clarion.people.models import Activity, EmailStatus
from clarion.people.services import ConsentInput, activity_record, person_upsert


def group_consent_wording(area: Area) -> str:
    return _("Email me about %(group)s and campaigns near me. I can unsubscribe at any time.") % {
        "group": area.name
    }


@transaction.atomic
def group_join(
    *,
    area: Area,
    email: str,
    first_name: str = "",
    last_name: str = "",
    postcode: str = "",
    email_consent: bool = False,
    source: str = "",
):
    """Someone joins ``area``'s local group from its public page: the person (through
    ``person_upsert``, with the consent they gave), the group's tag and a timeline
    entry, committed together. Joining twice changes nothing more than the details.
    Raises ValidationError (field → message) for bad details, before writing."""
    consent = None
    if email_consent:
        consent = ConsentInput(
            channel="email", wording=group_consent_wording(area), source=f"group:{area.code}"
        )
    person = person_upsert(
        email=email,
        first_name=first_name,
        last_name=last_name,
        postcode=postcode or None,
        tags=[area.group_tag_name()],
        email_status=EmailStatus.SUBSCRIBED if email_consent else None,
        email_status_reason=_("Opted in when joining %(group)s") % {"group": area.name}
        if email_consent
        else "",
        consent=consent,
        source_code=source or f"group:{area.code}",
        public=True,
    ).person
    activity_record(
        person=person,
        kind=Activity.Kind.OTHER,
        summary=_("Joined the local group %(group)s") % {"group": area.name},
        data={"area": area.pk, "code": area.code},
    )
    return person
