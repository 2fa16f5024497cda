import pytest
from django.core.exceptions import ValidationError

from clarion.people.models import Activity, EmailStatus, Person, PersonEmail
from clarion.people.services import ConsentInput, email_status_set, person_upsert

pytestmark = pytest.mark.django_db


def test_upsert_matches_email_whatever_its_case_and_spacing(areas):
    first = person_upsert(email="Jo.Bloggs@Example.org", first_name="Jo").person
    again = person_upsert(email="  jo.bloggs@EXAMPLE.ORG ", last_name="Bloggs")
    assert again.created is False
    assert again.person.pk == first.pk
    assert Person.objects.get().full_name == "Jo Bloggs"


def test_upsert_matches_phone_when_email_is_new(areas):
    first = person_upsert(email="a@example.org", phone="07911 123456").person
    result = person_upsert(email="b@example.org", phone="+44 7911 123456")
    assert result.person.pk == first.pk
    assert result.person.phone == "+447911123456"
    # The new address is kept as another email of the same person.
    assert PersonEmail.objects.filter(person=first, email="b@example.org").exists()


def test_upsert_matches_external_identifier(areas):
    first = person_upsert(phone="07911 123457", identifier=("crm", "A-1")).person
    assert person_upsert(email="c@example.org", identifier=("crm", "A-1")).person.pk == first.pk


def test_blank_input_never_erases_stored_values(areas):
    person_upsert(email="d@example.org", first_name="Dee", postcode=areas.postcodes["north"])
    person = person_upsert(email="d@example.org", first_name="", postcode="").person
    assert person.first_name == "Dee"
    assert person.postcode == "LS1 4AP"


def test_postcode_maps_to_area_and_location(areas):
    person = person_upsert(email="e@example.org", postcode="ls14ap").person
    assert person.postcode == "LS1 4AP"
    assert person.area == areas.leeds_central
    assert person.latitude == pytest.approx(53.7997)


def test_subscription_changes_only_when_the_input_says_so(areas):
    person = person_upsert(email="f@example.org", email_status=EmailStatus.SUBSCRIBED).person
    email_status_set(person=person, status=EmailStatus.UNSUBSCRIBED, reason="asked")
    # A later form fill that says nothing about email must not resubscribe them.
    person = person_upsert(email="f@example.org", first_name="Fay").person
    assert person.email_status == EmailStatus.UNSUBSCRIBED
    person = person_upsert(email="f@example.org", email_status=EmailStatus.SUBSCRIBED).person
    assert person.email_status == EmailStatus.SUBSCRIBED


def test_invalid_input_is_rejected_with_field_messages_and_nothing_written(areas):
    with pytest.raises(ValidationError) as exc:
        person_upsert(email="not-an-email", phone="12", postcode="XYZ")
    assert set(exc.value.message_dict) == {"email", "phone", "postcode"}
    assert Person.objects.count() == 0


def test_timeline_records_creation_tags_and_consent(areas):
    person = person_upsert(
        email="g@example.org",
        tags=["Volunteer", "volunteer"],
        consent=ConsentInput(channel="email", wording="Yes, email me", source="form"),
        source_code="leaflet",
    ).person
    kinds = list(person.activities.values_list("kind", flat=True))
    assert Activity.Kind.CREATED in kinds
    assert kinds.count(Activity.Kind.TAGGED) == 1
    assert Activity.Kind.CONSENT in kinds
    assert person.consents.get().wording == "Yes, email me"
