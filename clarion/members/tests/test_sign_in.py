"""Signing in by email link: one use, 15 minutes, the browser that asked, the same
answer for unknown addresses, rate limits, sign-out, and member sessions kept apart
from staff sessions."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from clarion.core.models import AuditEntry
from clarion.core.testing import factories
from clarion.core.testing.smtp import body_text
from clarion.members import auth
from clarion.members.models import MemberSession, SignInLink
from clarion.members.services import LINK_EMAIL_LIMIT, secret_hash, signin_link_create
from clarion.people.services import person_erase

from .conftest import sign_in

LINK = re.compile(r"http://\S+/members/sign-in/(\S+)/")


def _ask(client, email):
    response = client.post("/members/sign-in/", {"email": email})
    call_command("worker", "--batch")
    return response


@pytest.mark.django_db(transaction=True)
def test_known_address_gets_a_link_that_signs_in_once(client, member, smtp_server):
    response = _ask(client, "MO@example.net ")
    assert response.status_code == 200
    assert "Check your email" in response.content.decode()
    [message] = smtp_server.wait_for(1)
    assert message.envelope_to == ["mo@example.net"]
    token = LINK.search(body_text(message)).group(1)
    link = SignInLink.objects.get(person=member)
    assert link.token_hash == secret_hash(token) and token not in link.token_hash

    shown = client.get(f"/members/sign-in/{token}/")
    assert shown.status_code == 200 and "Press the button to sign in" in shown.content.decode()
    assert SignInLink.objects.get(pk=link.pk).used_at is None  # a GET spends nothing

    used = client.post(f"/members/sign-in/{token}/")
    assert used.status_code == 302 and used["Location"] == "/members/"
    home = client.get("/members/")
    assert "Hello, Mo" in home.content.decode()
    entry = AuditEntry.objects.get(action=AuditEntry.Action.LOGIN, object_id=str(member.pk))
    assert entry.object_type == "person" and entry.detail["event"] == "member_sign_in"

    again = client.post(f"/members/sign-in/{token}/")
    assert again.status_code == 404
    assert "already been used or has expired" in again.content.decode()
    assert MemberSession.objects.filter(person=member).count() == 1


@pytest.mark.django_db(transaction=True)
def test_unknown_address_gets_the_same_answer_and_no_email(client, member, smtp_server):
    known = _ask(client, "mo@example.net")
    unknown = _ask(client, "nobody@example.net")
    assert unknown.status_code == known.status_code == 200
    assert unknown.content == known.content
    assert auth.BROWSER_COOKIE in unknown.cookies
    assert [m.envelope_to for m in smtp_server.wait_for(2, timeout=1)] == [["mo@example.net"]]
    assert SignInLink.objects.count() == 1


def test_expired_link_is_refused(client, member):
    client.cookies[auth.BROWSER_COOKIE] = "b"
    token = signin_link_create(person=member, browser_hash=secret_hash("b"))
    SignInLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post(f"/members/sign-in/{token}/")
    assert response.status_code == 404
    assert not MemberSession.objects.exists()
    assert client.get("/members/")["Location"] == "/members/sign-in/"


def test_link_lasts_fifteen_minutes(member):
    signin_link_create(person=member, browser_hash=secret_hash("b"))
    link = SignInLink.objects.get()
    assert link.expires_at - link.created_at == timedelta(minutes=15)


def test_link_opened_in_another_browser_asks_to_use_the_first_or_ask_again(client, member):
    token = signin_link_create(person=member, browser_hash=secret_hash("first-browser"))
    client.cookies[auth.BROWSER_COOKIE] = "second-browser"
    for method in (client.get, client.post):
        response = method(f"/members/sign-in/{token}/")
        assert response.status_code == 403
        text = response.content.decode()
        assert "only in the browser where you asked for it" in text
        assert 'action="/members/sign-in/"' in text  # ask again here
    assert SignInLink.objects.get().used_at is None  # still good in the first browser
    assert not MemberSession.objects.exists()
    client.cookies[auth.BROWSER_COOKIE] = "first-browser"
    assert client.post(f"/members/sign-in/{token}/").status_code == 302


def test_forged_token_is_refused(client, member):
    client.cookies[auth.BROWSER_COOKIE] = "b"
    signin_link_create(person=member, browser_hash=secret_hash("b"))
    assert client.post("/members/sign-in/not-a-real-token/").status_code == 404
    assert client.get("/members/sign-in/" + "x" * 600 + "/").status_code == 404


def test_requests_are_limited_per_address(client, member):
    for _ in range(LINK_EMAIL_LIMIT):
        assert client.post("/members/sign-in/", {"email": "mo@example.net"}).status_code == 200
    refused = client.post("/members/sign-in/", {"email": "mo@example.net"})
    assert refused.status_code == 429
    assert "Too many sign-in links" in refused.content.decode()
    # Another address from elsewhere is unaffected.
    other = client.post(
        "/members/sign-in/", {"email": "other@example.net"}, REMOTE_ADDR="198.51.100.7"
    )
    assert other.status_code == 200


def test_requests_are_limited_per_network_address(client, db, monkeypatch):
    from clarion.members import services

    monkeypatch.setattr(services, "LINK_IP_LIMIT", 3)
    for n in range(3):
        ok = client.post("/members/sign-in/", {"email": f"p{n}@example.net"})
        assert ok.status_code == 200
    refused = client.post("/members/sign-in/", {"email": "p9@example.net"})
    assert refused.status_code == 429
    elsewhere = client.post(
        "/members/sign-in/", {"email": "p9@example.net"}, REMOTE_ADDR="198.51.100.8"
    )
    assert elsewhere.status_code == 200


def test_bad_address_is_a_form_error(client, db):
    response = client.post("/members/sign-in/", {"email": "not an address"})
    assert response.status_code == 400
    assert "Enter a valid email address." in response.content.decode()


def test_sign_out_ends_the_session(member_client, member):
    assert member_client.get("/members/").status_code == 200
    response = member_client.post("/members/sign-out/")
    assert response.status_code == 302
    assert not MemberSession.objects.filter(person=member).exists()
    assert member_client.get("/members/")["Location"] == "/members/sign-in/"
    assert AuditEntry.objects.filter(detail__event="member_sign_out").count() == 1


def test_a_staff_login_grants_no_member_page(client, admin, member):
    client.force_login(admin)
    for url in ("/members/", "/members/details/", "/members/membership/card/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == "/members/sign-in/"
    response = client.post("/members/details/", {"first_name": "Hijack"})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.first_name == "Mo"


def test_a_member_session_grants_no_staff_page(member_client):
    response = member_client.get("/staff/people/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_member_sees_only_their_own_record(client, member, areas):
    other = factories.person(
        postcode=areas.postcodes["south"], first_name="Olive", email="olive@example.net"
    )
    sign_in(client, member)
    for url in ("/members/", "/members/details/", "/members/preferences/", "/members/membership/"):
        text = client.get(url, {"person": other.pk, "person_id": other.pk}).content.decode()
        assert "olive@example.net" not in text and "Olive" not in text
    assert "mo@example.net" in client.get("/members/details/").content.decode()


def test_erased_person_is_signed_out_and_unknown(client, member, admin):
    sign_in(client, member)
    person_erase(person=member, actor=admin)
    assert client.get("/members/")["Location"] == "/members/sign-in/"
    assert not MemberSession.objects.exists() and not SignInLink.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_complained_address_still_gets_the_link_it_asked_for(client, member, smtp_server):
    from clarion.people.models import EmailStatus, Person

    Person.objects.filter(pk=member.pk).update(email_status=EmailStatus.COMPLAINED)
    _ask(client, "mo@example.net")
    [message] = smtp_server.wait_for(1)
    assert message.envelope_to == ["mo@example.net"]
    assert Person.objects.get(pk=member.pk).email_status == EmailStatus.COMPLAINED
