"""Members' passkeys: adding one, signing in with it (usernameless), naming and removing
it, and the refusals — a replayed answer, another origin, another member's credential, a
removed passkey, a counter that goes back — all against answers made here by a software
authenticator (a P-256 key, "none" attestation), checked by the webauthn library."""

from __future__ import annotations

import hashlib
import json
import os

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from clarion.core.models import AuditEntry
from clarion.core.privacy import export_person
from clarion.core.testing import factories
from clarion.members import passkeys
from clarion.members.models import MemberSession, Passkey
from clarion.members.passkeys_views import PASSKEY_COOKIE
from clarion.people.services import person_erase, person_merge

from .conftest import sign_in

SITE = "https://members.example.org"

UP, UV, AT = 0x01, 0x04, 0x40


def _b64(data: bytes) -> str:
    return bytes_to_base64url(data)


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


class SoftAuthenticator:
    """One discoverable credential on a P-256 key, answering as a browser would."""

    def __init__(self, origin: str = SITE):
        self.origin = origin
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.count = 0
        self.user_handle = b""

    def _cose(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin}
        ).encode()

    def create(self, options: dict, origin: str | None = None) -> dict:
        self.user_handle = base64url_to_bytes(options["user"]["id"])
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        auth_data = (
            _sha(options["rp"]["id"].encode())
            + bytes([UP | UV | AT])
            + self.count.to_bytes(4, "big")
            + bytes(16)
            + len(self.credential_id).to_bytes(2, "big")
            + self.credential_id
            + self._cose()
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": _b64(self.credential_id),
            "rawId": _b64(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": _b64(client_data),
                "attestationObject": _b64(attestation),
                "transports": ["internal", "not-a-transport"],
            },
            "clientExtensionResults": {},
        }

    def get(self, options: dict, origin: str | None = None, count: int | None = None) -> dict:
        self.count = self.count + 1 if count is None else count
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        auth_data = (
            _sha(options["rpId"].encode()) + bytes([UP | UV]) + self.count.to_bytes(4, "big")
        )
        signature = self.key.sign(auth_data + _sha(client_data), ec.ECDSA(hashes.SHA256()))
        return {
            "id": _b64(self.credential_id),
            "rawId": _b64(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": _b64(client_data),
                "authenticatorData": _b64(auth_data),
                "signature": _b64(signature),
                "userHandle": _b64(self.user_handle),
            },
            "clientExtensionResults": {},
        }


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = SITE


def _post_json(client, url: str, body: dict | None = None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def _add(client, authenticator: SoftAuthenticator, name: str = "Pixel 9", origin=None):
    options = _post_json(client, "/members/passkeys/add/options/")
    assert options.status_code == 200, options.content
    answer = authenticator.create(options.json(), origin=origin)
    return _post_json(client, "/members/passkeys/add/", {"name": name, "credential": answer})


def _options(client) -> dict:
    response = _post_json(client, "/members/passkeys/sign-in/options/")
    assert response.status_code == 200, response.content
    assert PASSKEY_COOKIE in response.cookies
    return response.json()


def _sign_in_with(client, authenticator: SoftAuthenticator, **kwargs):
    answer = authenticator.get(_options(client), **kwargs)
    return _post_json(client, "/members/passkeys/sign-in/", {"credential": answer}), answer


def test_member_adds_a_passkey_and_signs_in_with_it(client, member):
    sign_in(client, member)
    authenticator = SoftAuthenticator()
    options = _post_json(client, "/members/passkeys/add/options/").json()
    assert options["rp"] == {"id": "members.example.org", "name": "Clarion"}
    assert options["user"]["name"] == "mo@example.net"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    added = _post_json(
        client,
        "/members/passkeys/add/",
        {"name": "Pixel 9", "credential": authenticator.create(options)},
    )
    assert added.status_code == 200 and added.json() == {"redirect": "/members/passkeys/"}
    passkey = Passkey.objects.get(person=member)
    assert bytes(passkey.credential_id) == authenticator.credential_id
    assert passkey.credential_id_hash == hashlib.sha256(authenticator.credential_id).hexdigest()
    assert passkey.name == "Pixel 9" and passkey.transports == ["internal"]
    assert AuditEntry.objects.filter(
        object_id=str(member.pk), detail__event="member_passkey_add"
    ).exists()
    page = client.get("/members/passkeys/").content.decode()
    assert "Pixel 9" in page and "not used yet" in page

    other = client_class_copy(client)
    answered, _answer = _sign_in_with(other, authenticator)
    assert answered.status_code == 200 and answered.json() == {"redirect": "/members/"}
    assert "Hello, Mo" in other.get("/members/").content.decode()
    entry = AuditEntry.objects.get(
        action=AuditEntry.Action.LOGIN, detail__event="member_sign_in_passkey"
    )
    assert entry.object_type == "person" and entry.object_id == str(member.pk)
    passkey.refresh_from_db()
    assert passkey.sign_count == 1 and passkey.last_used_at is not None
    assert MemberSession.objects.filter(person=member).count() == 2


def client_class_copy(client):
    """A second browser: a fresh client with no cookies."""
    return type(client)()


@pytest.fixture
def added(client, member):
    """``member`` with one passkey (the software authenticator), signed out again."""
    sign_in(client, member)
    authenticator = SoftAuthenticator()
    assert _add(client, authenticator).status_code == 200
    client.post("/members/sign-out/")
    client.cookies.clear()
    return authenticator


def test_a_replayed_sign_in_answer_is_refused(client, member, added):
    answered, answer = _sign_in_with(client, added)
    assert answered.status_code == 200
    client.cookies.pop("clarion_member")
    # The same answer again: its challenge was spent.
    again = _post_json(client, "/members/passkeys/sign-in/", {"credential": answer})
    assert again.status_code == 400 and "already used" in again.json()["error"]
    # The same answer against a new challenge: not the challenge it signed.
    _options(client)
    again = _post_json(client, "/members/passkeys/sign-in/", {"credential": answer})
    assert again.status_code == 400 and "did not sign you in" in again.json()["error"]
    assert MemberSession.objects.filter(person=member).count() == 1


def test_a_replayed_registration_is_refused(member_client, member):
    authenticator = SoftAuthenticator()
    options = _post_json(member_client, "/members/passkeys/add/options/").json()
    answer = authenticator.create(options)
    body = {"name": "", "credential": answer}
    assert _post_json(member_client, "/members/passkeys/add/", body).status_code == 200
    again = _post_json(member_client, "/members/passkeys/add/", body)
    assert again.status_code == 400 and "already used" in again.json()["error"]
    assert Passkey.objects.filter(person=member).count() == 1


def test_another_origin_is_refused(client, member):
    sign_in(client, member)
    refused = _add(client, SoftAuthenticator(), origin="https://members.example.org.evil.test")
    assert refused.status_code == 400 and "not added" in refused.json()["error"]
    assert not Passkey.objects.exists()

    authenticator = SoftAuthenticator()
    assert _add(client, authenticator).status_code == 200
    other = client_class_copy(client)
    answered, _answer = _sign_in_with(other, authenticator, origin="http://members.example.org")
    assert answered.status_code == 400
    assert "clarion_member" not in answered.cookies
    assert not AuditEntry.objects.filter(detail__event="member_sign_in_passkey").exists()


def test_another_members_passkey_is_out_of_reach(client, member, added, areas):
    other_person = factories.person(postcode=areas.postcodes["south"], email="sam@example.net")
    theirs = Passkey.objects.get(person=member)
    sign_in(client, other_person)
    page = client.get("/members/passkeys/").content.decode()
    assert "You have no passkeys yet." in page and "Pixel 9" not in page
    assert client.get(f"/members/passkeys/remove/?passkey={theirs.pk}").status_code == 404
    assert client.post("/members/passkeys/remove/", {"passkey": theirs.pk}).status_code == 404
    renamed = client.post("/members/passkeys/", {"passkey": theirs.pk, "name": "Mine now"})
    assert renamed.status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Pixel 9"
    # The same credential offered for another member is refused.
    refused = _add(client, added)
    assert refused.status_code == 400 and "already in use" in refused.json()["error"]
    assert Passkey.objects.get().person == member


def test_an_answer_signed_by_another_key_is_refused(client, member, added):
    forger = SoftAuthenticator()
    forger.credential_id = added.credential_id  # names the member's passkey
    answered, _answer = _sign_in_with(client, forger)
    assert answered.status_code == 400
    assert not MemberSession.objects.filter(person=member).exists()


def test_a_removed_passkey_signs_no_one_in(client, member, added):
    sign_in(client, member)
    passkey = Passkey.objects.get(person=member)
    confirm = client.get(f"/members/passkeys/remove/?passkey={passkey.pk}")
    assert confirm.status_code == 200 and "Pixel 9" in confirm.content.decode()
    assert Passkey.objects.filter(pk=passkey.pk).exists()  # a GET removes nothing
    removed = client.post("/members/passkeys/remove/", {"passkey": passkey.pk})
    assert removed.status_code == 302 and removed["Location"] == "/members/passkeys/"
    assert not Passkey.objects.exists()
    entry = AuditEntry.objects.get(detail__event="member_passkey_remove")
    assert entry.object_id == str(member.pk) and entry.detail["passkey"] == passkey.pk
    assert "You have no passkeys yet." in client.get("/members/passkeys/").content.decode()

    other = client_class_copy(client)
    answered, _answer = _sign_in_with(other, added)
    assert answered.status_code == 400 and "clarion_member" not in answered.cookies


def test_a_signature_counter_that_goes_back_is_refused(client, member, added):
    assert _sign_in_with(client, added)[0].status_code == 200
    assert _sign_in_with(client_class_copy(client), added)[0].status_code == 200
    # A clone of the authenticator answering with a count already seen.
    answered, _answer = _sign_in_with(client_class_copy(client), added, count=2)
    assert answered.status_code == 400
    assert Passkey.objects.get().sign_count == 2
    assert MemberSession.objects.filter(person=member).count() == 2


def test_bad_answers_get_a_json_error_not_a_500(client, member, added):
    url = "/members/passkeys/sign-in/"
    assert client.post(url, "not json", content_type="application/json").status_code == 400
    assert _post_json(client, url, {"credential": "x"}).status_code == 400
    # No challenge asked for in this browser.
    answer = added.get({"challenge": _b64(b"made-up"), "rpId": "members.example.org"})
    refused = _post_json(client, url, {"credential": answer})
    assert refused.status_code == 400 and refused.json()["error"]
    _options(client)
    broken = dict(answer, rawId="***", id="***")
    assert _post_json(client, url, {"credential": broken}).status_code == 400
    _options(client)
    mangled = dict(answer, response={"clientDataJSON": "e30"})
    assert _post_json(client, url, {"credential": mangled}).status_code == 400

    sign_in(client, member)
    add = "/members/passkeys/add/"
    assert client.post(add, "[]", content_type="application/json").status_code == 400
    _post_json(client, "/members/passkeys/add/options/")
    long_name = _post_json(client, add, {"name": "x" * 101, "credential": {}})
    assert long_name.status_code == 400 and long_name.json()["error"]
    assert _post_json(client, add, {"name": "", "credential": {"id": 1}}).status_code == 400
    assert Passkey.objects.count() == 1


def test_rename_with_a_form_error(client, member, added):
    sign_in(client, member)
    passkey = Passkey.objects.get()
    too_long = client.post("/members/passkeys/", {"passkey": passkey.pk, "name": "x" * 101})
    assert too_long.status_code == 400
    assert "at most 100 characters" in too_long.content.decode()
    saved = client.post("/members/passkeys/", {"passkey": passkey.pk, "name": "Laptop"})
    assert saved.status_code == 302
    passkey.refresh_from_db()
    assert passkey.name == "Laptop"
    assert client.post("/members/passkeys/", {"passkey": "x", "name": "a"}).status_code == 404


def test_erasure_deletes_passkeys(client, member, added, admin):
    exported = export_person(member)["members"]["passkeys"]
    assert [p["name"] for p in exported] == ["Pixel 9"]
    person_erase(person=member, actor=admin)
    assert not Passkey.objects.exists()
    answered, _answer = _sign_in_with(client, added)
    assert answered.status_code == 400


def test_a_merged_duplicates_passkeys_end(client, member, added, admin, areas):
    survivor = factories.person(postcode=areas.postcodes["north"], email="mo.two@example.net")
    person_merge(survivor=survivor, duplicate=member, actor=admin)
    assert not Passkey.objects.exists()
    answered, _answer = _sign_in_with(client, added)
    assert answered.status_code == 400


def test_sign_in_page_offers_a_passkey_only_where_the_site_can_have_one(client, settings, db):
    page = client.get("/members/sign-in/").content.decode()
    assert "Use a passkey" in page and 'data-passkey="sign-in"' in page
    # Hidden until the script finds passkey support: without it, only the email link.
    assert '<div class="passkey-sign-in" hidden' in page
    settings.SITE_URL = "http://127.0.0.1:8000"
    page = client.get("/members/sign-in/").content.decode()
    assert "Use a passkey" not in page and "Email me a sign-in link" in page
    refused = _post_json(client, "/members/passkeys/sign-in/options/")
    assert refused.status_code == 404 and refused.json()["error"]


def test_sign_in_starts_are_limited_per_network_address(client, db):
    for _n in range(passkeys.SIGN_IN_IP_LIMIT):
        assert _post_json(client, "/members/passkeys/sign-in/options/").status_code == 200
    over = _post_json(client, "/members/passkeys/sign-in/options/")
    assert over.status_code == 429 and "Too many" in over.json()["error"]


def test_passkey_pages_need_a_member_session(client, db):
    for url in ("/members/passkeys/", "/members/passkeys/remove/?passkey=1"):
        assert client.get(url)["Location"] == "/members/sign-in/"
    assert client.post("/members/passkeys/add/options/")["Location"] == "/members/sign-in/"


def test_adding_a_passkey_needs_a_recent_sign_in(client, member):
    """A session older than the fresh-sign-in window cannot add a passkey (so a borrowed
    signed-in browser cannot plant one); it is offered a new emailed link instead, and
    a new sign-in may add one again."""
    from datetime import timedelta

    from django.utils import timezone

    from clarion.members.passkeys_views import FRESH_SIGN_IN

    sign_in(client, member)
    MemberSession.objects.filter(person=member).update(
        created_at=timezone.now() - FRESH_SIGN_IN - timedelta(seconds=1)
    )
    page = client.get("/members/passkeys/").content.decode()
    assert "Email me a sign-in link" in page
    assert 'data-passkey="add"' not in page
    for url in ("/members/passkeys/add/options/", "/members/passkeys/add/"):
        refused = _post_json(client, url, {"name": "Stolen", "credential": {"id": "x"}})
        assert refused.status_code == 403
        assert "sign in again" in refused.json()["error"]
    assert not Passkey.objects.filter(person=member).exists()
    # Signing in again (a new session) makes adding possible.
    sign_in(client, member)
    assert _add(client, SoftAuthenticator()).status_code == 200
    assert Passkey.objects.filter(person=member).count() == 1
