"""Signing with somebody else's address: the record stays as it was, and the thank-you
page shows the submitter nothing that is stored about that person."""

from __future__ import annotations

from clarion.core.testing import factories
from clarion.people.models import EmailStatus, Person

from .conftest import make_page
from .test_submit import sign


def test_signing_with_an_existing_email_rewrites_nothing_and_moves_no_one(client, areas):
    victim = factories.person(
        email="vic@example.net",
        first_name="Vic",
        last_name="Stored",
        postcode=areas.postcodes["north"],
    )
    recruit = factories.person(email="recruit@example.net")
    Person.objects.filter(pk=recruit.pk).update(recruiter=victim)
    Person.objects.filter(pk=victim.pk).update(email_status=EmailStatus.COMPLAINED)
    page = make_page(kind="pledge", slug="a-pledge")
    response = sign(
        client,
        page,
        email="Vic@Example.net",
        first_name="Mallory",
        last_name="Other",
        postcode=areas.postcodes["south"],
        email_consent="on",
    )
    assert response.status_code == 302
    victim.refresh_from_db()
    assert (victim.first_name, victim.last_name) == ("Vic", "Stored")
    assert victim.postcode == areas.postcodes["north"]
    assert victim.area_id == areas.leeds_central.pk
    assert victim.email_status == EmailStatus.COMPLAINED
    assert "?p=" not in response["Location"]
    thanks = client.get(response["Location"]).content.decode()
    assert "brought in" not in thanks
    assert victim.share_code not in thanks


def test_a_new_signer_still_gets_their_personal_thank_you(client, areas):
    page = make_page()
    response = sign(client, page, email="fresh@example.net")
    assert "?s=" in response["Location"]
    thanks = client.get(response["Location"]).content.decode()
    assert "brought in" in thanks


def test_what_the_submitter_typed_is_kept_on_the_submission(client, areas):
    from clarion.actions.models import Submission
    from clarion.core.privacy import export_person

    victim = factories.person(email="kept@example.net", first_name="Kay")
    page = make_page()
    sign(client, page, email="kept@example.net", first_name="Mallory", postcode="BS5 6XX")
    submission = Submission.objects.get(page=page)
    assert submission.person_id == victim.pk
    assert submission.submitted == {
        "first_name": "Mallory",
        "last_name": "Lovelace",
        "postcode": "BS5 6XX",
    }
    victim.refresh_from_db()
    assert victim.first_name == "Kay"
    exported = export_person(victim)
    assert "Mallory" in str(exported)
