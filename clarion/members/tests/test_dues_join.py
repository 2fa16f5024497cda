"""The Join page: form errors, a new supporter joining (found or created through the
public-form path, then emailed a sign-in link), an existing supporter (never joined from
an unauthenticated form), members already paying, and a provider that is down."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from clarion.donations.tests.stripe_fake import FakeStripe
from clarion.members.models import Membership
from clarion.people.models import Person, ProposedChange

from .conftest import sign_in
from .gocardless_fake import FakeGoCardless


@pytest.fixture
def providers(settings):
    with FakeGoCardless() as gc, FakeStripe() as st:
        settings.CLARION_GOCARDLESS_ACCESS_TOKEN = gc.access_token
        settings.CLARION_GOCARDLESS_API_BASE = gc.url
        settings.CLARION_STRIPE_SECRET_KEY = st.secret_key
        settings.CLARION_STRIPE_API_BASE = st.url
        yield gc, st


@pytest.mark.django_db
def test_page_shows_each_type_with_rate_and_period(client, standard, annual):
    page = client.get("/members/join/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Standard" in text and "£5.00 a month" in text
    assert "Annual" in text and "£48.00 a year" in text
    assert 'name="email"' in text and "Direct Debit" in text


@pytest.mark.django_db
def test_missing_choices_and_bad_email_are_form_errors(client, standard, providers):
    response = client.post("/members/join/", {"email": "not-an-email", "postcode": ""})
    assert response.status_code == 400
    text = response.content.decode()
    assert "There is a problem" in text
    for message in (
        "Choose a membership type.",
        "Choose how you want to pay.",
        "Enter your first name.",
        "Enter a valid email address",
        "Enter your postcode.",
    ):
        assert message in text
    assert not Person.objects.exists()
    assert not providers[0].requests and not providers[1].requests


@pytest.mark.django_db
def test_unknown_postcode_is_a_form_error_and_nobody_is_created(client, standard, providers):
    response = client.post(
        "/members/join/",
        {
            "membership_type": standard.pk,
            "pays_by": "card",
            "first_name": "Nia",
            "last_name": "New",
            "email": "nia@example.net",
            "postcode": "NOT A POSTCODE",
        },
    )
    assert response.status_code == 400
    assert "There is a problem" in response.content.decode()
    assert not Person.objects.filter(email="nia@example.net").exists()


@pytest.mark.django_db(transaction=True)
def test_new_supporter_is_created_sent_to_pay_and_emailed_a_link(
    client, areas, standard, providers, smtp_server
):
    gc, _st = providers
    response = client.post(
        "/members/join/",
        {
            "membership_type": standard.pk,
            "pays_by": "direct_debit",
            "first_name": "Nia",
            "last_name": "New",
            "email": "Nia@Example.net",
            "postcode": areas.postcodes["north"],
        },
    )
    assert response.status_code == 302
    assert response["Location"].startswith("https://pay-sandbox.gocardless.com/")
    call_command("worker", "--batch")
    person = Person.objects.get(email="nia@example.net")
    assert (person.first_name, person.last_name) == ("Nia", "New")
    [br] = gc.billing_requests.values()
    assert br["metadata"]["clarion_person_id"] == str(person.pk)
    [message] = smtp_server.wait_for(1)
    assert message.envelope_to == ["nia@example.net"]
    assert "/members/sign-in/" in message.get_body(("plain",)).get_content()


@pytest.mark.django_db(transaction=True)
def test_existing_supporter_is_not_changed_or_joined_but_emailed_a_link(
    client, member, standard, providers, smtp_server
):
    response = client.post(
        "/members/join/",
        {
            "membership_type": standard.pk,
            "pays_by": "card",
            "first_name": "Someone",
            "last_name": "Else",
            "email": "mo@example.net",
            "postcode": member.postcode,
        },
    )
    assert response.status_code == 200
    assert "Check your email" in response.content.decode()
    call_command("worker", "--batch")
    member.refresh_from_db()
    assert (member.first_name, member.last_name) == ("Mo", "Member")
    # The difference waits for the mailbox owner, as on every public form.
    assert ProposedChange.objects.filter(person=member).exists()
    assert not Membership.objects.exists()
    assert not providers[1].requests
    # The sign-in link, and the usual "confirm these changes?" email of the proposal.
    messages = smtp_server.wait_for(2)
    assert {tuple(m.envelope_to) for m in messages} == {("mo@example.net",)}
    bodies = [m.get_body(("plain",)).get_content() for m in messages]
    assert any("/members/sign-in/" in body for body in bodies)


@pytest.mark.django_db
def test_signed_in_member_sees_no_details_fields(client, member, standard):
    sign_in(client, member)
    text = client.get("/members/join/").content.decode()
    assert 'name="email"' not in text and 'name="membership_type"' in text


@pytest.mark.django_db
def test_active_member_is_told_they_are_already_a_member(client, member, standard):
    from clarion.members.membership import membership_join

    membership_join(person=member, membership_type=standard, pays_by="manual")
    sign_in(client, member)
    text = client.get("/members/join/").content.decode()
    assert "You are already a member" in text


@pytest.mark.django_db
def test_provider_down_is_a_clear_error_not_a_500(client, member, standard, providers):
    _gc, st = providers
    st.fail_with = (500, {"error": {"type": "api_error", "message": "boom"}})
    sign_in(client, member)
    response = client.post("/members/join/", {"membership_type": standard.pk, "pays_by": "card"})
    assert response.status_code == 503
    assert "The payment service" in response.content.decode()


@pytest.mark.django_db
def test_not_configured_is_a_clear_error(client, member, standard, settings):
    settings.CLARION_GOCARDLESS_ACCESS_TOKEN = ""
    sign_in(client, member)
    response = client.post(
        "/members/join/", {"membership_type": standard.pk, "pays_by": "direct_debit"}
    )
    assert response.status_code == 503
    assert "Direct Debit is not set up yet" in response.content.decode()


@pytest.mark.django_db
def test_retired_type_cannot_be_chosen(client, member, standard, providers):
    standard.active = False
    standard.save()
    sign_in(client, member)
    response = client.post("/members/join/", {"membership_type": standard.pk, "pays_by": "card"})
    assert response.status_code == 400
    assert not providers[1].requests


def _join_as_new(client, areas, mtype, email, **extra):
    data = {
        "membership_type": mtype.pk,
        "pays_by": "direct_debit",
        "first_name": "Cai",
        "last_name": "Consent",
        "email": email,
        "postcode": areas.postcodes["north"],
        **extra,
    }
    return client.post("/members/join/", data)


@pytest.mark.django_db
def test_a_new_member_who_ticks_email_is_subscribed_with_the_wording_they_saw(
    client, areas, standard, providers
):
    from clarion.members.payments.forms import JOIN_CONSENT_WORDING

    page = client.get("/members/join/").content.decode()
    assert 'name="email_consent"' in page
    assert 'name="email_consent" checked' not in page  # never ticked for them
    assert str(JOIN_CONSENT_WORDING) in page
    assert (
        _join_as_new(client, areas, standard, "cai@example.net", email_consent="on").status_code
        == 302
    )
    person = Person.objects.get(email="cai@example.net")
    assert person.email_status == "subscribed"
    [consent] = person.consents.all()
    assert (consent.channel, consent.granted, consent.source) == ("email", True, "members:join")
    assert consent.wording == str(JOIN_CONSENT_WORDING)


@pytest.mark.django_db
def test_a_new_member_who_leaves_email_unticked_is_not_subscribed(
    client, areas, standard, providers
):
    assert _join_as_new(client, areas, standard, "quiet@example.net").status_code == 302
    person = Person.objects.get(email="quiet@example.net")
    assert person.email_status != "subscribed"
    assert not person.consents.exists()


@pytest.mark.django_db
def test_ticking_email_on_join_for_a_known_address_changes_nothing_at_once(
    client, areas, member, standard, providers
):
    Person.objects.filter(pk=member.pk).update(email_status="unsubscribed")
    response = _join_as_new(client, areas, standard, member.email, email_consent="on")
    assert response.status_code == 200  # "check your email": the mailbox owner decides
    member.refresh_from_db()
    assert member.email_status == "unsubscribed"
    assert not member.consents.filter(channel="email", granted=True).exists()


@pytest.mark.django_db
def test_every_public_page_offers_join_beside_the_members_sign_in(client, standard):
    for url in ("/members/sign-in/", "/events/", "/members/join/"):
        page = client.get(url).content.decode()
        assert 'href="/members/join/"' in page, url


@pytest.mark.django_db
def test_a_signed_in_member_sees_their_page_in_the_public_header(client, member):
    assert 'href="/members/sign-in/"' in client.get("/events/").content.decode()
    sign_in(client, member)
    page = client.get("/events/").content.decode()
    assert 'href="/members/">My members\' page</a>' in page
    assert 'href="/members/sign-in/"' not in page
