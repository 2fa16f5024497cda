"""Direct Debit dues through GoCardless: the join flow against a loopback stand-in
speaking GoCardless's wire format, and webhooks signed as GoCardless signs them
(hex HMAC-SHA256 of the raw body keyed with the endpoint secret, in Webhook-Signature)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from urllib.parse import urlsplit

import pytest

from clarion.members.models import Membership, MembershipChange, MembershipPayment

from .conftest import sign_in
from .gocardless_fake import FakeGoCardless

SECRET = "gc_webhook_secret_0123456789"
URL = "/members/join/webhooks/gocardless/"


@pytest.fixture
def fake_gc():
    with FakeGoCardless() as fake:
        yield fake


@pytest.fixture
def gc_settings(settings, fake_gc):
    settings.CLARION_GOCARDLESS_ACCESS_TOKEN = fake_gc.access_token
    settings.CLARION_GOCARDLESS_API_BASE = fake_gc.url
    settings.CLARION_GOCARDLESS_WEBHOOK_SECRET = SECRET
    return settings


def _sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _webhook(client, events: list[dict], signature: str | None = None):
    body = json.dumps({"events": events, "meta": {"webhook_id": "WB000001"}}).encode()
    return client.post(
        URL,
        data=body,
        content_type="application/json",
        HTTP_WEBHOOK_SIGNATURE=_sign(body) if signature is None else signature,
    )


def _event(event_id: str, resource_type: str, action: str, links: dict, cause: str = "") -> dict:
    return {
        "id": event_id,
        "created_at": "2026-12-09T09:00:00.000Z",
        "resource_type": resource_type,
        "action": action,
        "links": links,
        "details": {"origin": "gocardless", "cause": cause or action, "description": "."},
        "metadata": {},
    }


def _join_by_direct_debit(client, fake_gc, standard):
    """Signed-in member presses Join → GoCardless flow → back; returns the subscription."""
    response = client.post(
        "/members/join/", {"membership_type": standard.pk, "pays_by": "direct_debit"}
    )
    assert response.status_code == 302
    assert response["Location"].startswith("https://pay-sandbox.gocardless.com/billing/")
    [br_id] = fake_gc.billing_requests
    [flow] = fake_gc.flows.values()
    fake_gc.fulfil(br_id)
    back = client.get(urlsplit(flow["redirect_uri"]).path)
    assert back.status_code == 302 and back["Location"] == "/members/join/thanks/?by=direct_debit"
    [sub] = fake_gc.subscriptions.values()
    return br_id, flow, sub


@pytest.mark.django_db
def test_join_by_direct_debit_end_to_end(client, member, standard, fake_gc, gc_settings):
    sign_in(client, member)
    br_id, flow, sub = _join_by_direct_debit(client, fake_gc, standard)

    created = [r for r in fake_gc.requests if r["method"] == "POST"]
    br_request, flow_request, sub_request = created
    assert br_request["path"] == "/billing_requests"
    assert br_request["body"]["billing_requests"]["mandate_request"]["scheme"] == "bacs"
    assert br_request["body"]["billing_requests"]["mandate_request"]["currency"] == "GBP"
    assert flow_request["body"]["billing_request_flows"]["links"] == {"billing_request": br_id}
    assert flow_request["body"]["billing_request_flows"]["prefilled_customer"] == {
        "given_name": "Mo",
        "family_name": "Member",
        "email": "mo@example.net",
        "postal_code": member.postcode,
    }
    assert flow["exit_uri"].endswith("/members/join/")
    # The subscription: the type's rate and period, on the new mandate.
    assert (sub["amount"], sub["currency"], sub["interval_unit"], sub["interval"]) == (
        500,
        "GBP",
        "monthly",
        1,
    )
    assert (
        sub["links"]["mandate"]
        == fake_gc.billing_requests[br_id]["links"]["mandate_request_mandate"]
    )
    assert sub_request["headers"]["Idempotency-Key"] == f"clarion-membership-{br_id}"
    assert sub_request["headers"]["Authorization"] == f"Bearer {fake_gc.access_token}"

    membership = Membership.objects.get(person=member)
    assert (membership.status, membership.pays_by) == ("pending", "direct_debit")
    thanks = client.get("/members/join/thanks/?by=direct_debit")
    assert "Your Direct Debit is set up" in thanks.content.decode()

    payment = fake_gc.payment_add(sub["id"])
    response = _webhook(client, [_event("EV1", "payments", "confirmed", {"payment": payment})])
    assert response.status_code == 200, response.content
    assert response.json()["outcomes"] == {"EV1": "payment received"}
    membership.refresh_from_db()
    assert membership.status == "active" and membership.renews_on is not None
    member.refresh_from_db()
    assert member.membership_status == "active"
    assert MembershipPayment.objects.get(membership=membership).amount_pence == 500


@pytest.mark.django_db
def test_returning_twice_and_the_fulfilled_webhook_make_one_subscription(
    client, member, standard, fake_gc, gc_settings
):
    sign_in(client, member)
    br_id, flow, _sub = _join_by_direct_debit(client, fake_gc, standard)
    assert client.get(urlsplit(flow["redirect_uri"]).path).status_code == 302
    response = _webhook(
        client, [_event("EV2", "billing_requests", "fulfilled", {"billing_request": br_id})]
    )
    assert response.status_code == 200
    assert len(fake_gc.subscriptions) == 1
    # The repeats hit GoCardless's idempotency conflict and read back the first one.
    assert [r["path"] for r in fake_gc.requests].count("/subscriptions") == 3
    assert MembershipChange.objects.filter(kind="joined").count() == 1


@pytest.mark.django_db
def test_return_before_the_payer_finished_waits_for_the_webhook(
    client, member, standard, fake_gc, gc_settings
):
    sign_in(client, member)
    client.post("/members/join/", {"membership_type": standard.pk, "pays_by": "direct_debit"})
    [br_id] = fake_gc.billing_requests
    [flow] = fake_gc.flows.values()
    back = client.get(urlsplit(flow["redirect_uri"]).path)
    assert back["Location"] == "/members/join/thanks/?by=direct_debit&waiting=1"
    assert not fake_gc.subscriptions and not Membership.objects.exists()
    fake_gc.fulfil(br_id)
    _webhook(client, [_event("EV3", "billing_requests", "fulfilled", {"billing_request": br_id})])
    assert len(fake_gc.subscriptions) == 1
    assert Membership.objects.get(person=member).status == "pending"


@pytest.mark.django_db
def test_forged_return_link_is_refused(client, member, fake_gc, gc_settings):
    response = client.get("/members/join/direct-debit/return/BRQ000001/")
    assert response.status_code == 404
    assert not [r for r in fake_gc.requests if r["method"] == "POST"]


@pytest.fixture
def paying(client, member, standard, fake_gc, gc_settings):
    """A member whose Direct Debit is set up and first payment confirmed."""
    sign_in(client, member)
    _br, _flow, sub = _join_by_direct_debit(client, fake_gc, standard)
    first = fake_gc.payment_add(sub["id"])
    assert (
        _webhook(client, [_event("EV10", "payments", "confirmed", {"payment": first})]).status_code
        == 200
    )
    return sub


@pytest.mark.django_db
def test_duplicate_webhook_renews_once(client, member, fake_gc, paying):
    renews = Membership.objects.get(person=member).renews_on
    payment = fake_gc.payment_add(paying["id"])
    events = [_event("EV11", "payments", "confirmed", {"payment": payment})]
    assert _webhook(client, events).status_code == 200
    after_one = Membership.objects.get(person=member).renews_on
    assert after_one > renews
    assert _webhook(client, events).status_code == 200
    # paid_out for the same payment is the same money.
    _webhook(client, [_event("EV12", "payments", "paid_out", {"payment": payment})])
    assert Membership.objects.get(person=member).renews_on == after_one
    assert MembershipPayment.objects.filter(reference=payment).count() == 1


@pytest.mark.django_db
def test_failed_payment_starts_grace_once(client, member, fake_gc, paying):
    payment = fake_gc.payment_add(paying["id"], status="failed")
    events = [_event("EV20", "payments", "failed", {"payment": payment}, "insufficient_funds")]
    assert _webhook(client, events).json()["outcomes"] == {"EV20": "payment failed"}
    membership = Membership.objects.get(person=member)
    assert membership.status == "grace" and membership.grace_until is not None
    _webhook(client, events)
    assert MembershipChange.objects.filter(kind="payment_failed").count() == 1
    page = client.get("/members/membership/").content.decode()
    assert "Your last payment did not go through" in page


@pytest.mark.django_db
def test_cancelled_mandate_cancels_the_membership(client, member, fake_gc, paying):
    mandate = paying["links"]["mandate"]
    events = [_event("EV30", "mandates", "cancelled", {"mandate": mandate}, "bank_account_closed")]
    assert _webhook(client, events).json()["outcomes"] == {"EV30": "membership cancelled"}
    membership = Membership.objects.get(person=member)
    assert membership.status == "cancelled"
    assert "bank_account_closed" in membership.cancel_reason
    _webhook(
        client,
        [_event("EV31", "subscriptions", "cancelled", {"subscription": paying["id"]})],
    )
    assert MembershipChange.objects.filter(kind="cancelled").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "signature",
    ["", "0" * 64, _sign(b"something else"), None],
    ids=["missing", "zeros", "other-body", "wrong-secret"],
)
def test_bad_signature_is_refused_and_writes_nothing(client, member, fake_gc, paying, signature):
    payment = fake_gc.payment_add(paying["id"])
    before = (MembershipPayment.objects.count(), MembershipChange.objects.count())
    body = json.dumps(
        {"events": [_event("EV40", "payments", "confirmed", {"payment": payment})]}
    ).encode()
    if signature is None:
        signature = _sign(body, secret="another_secret")
    response = client.post(
        URL, data=body, content_type="application/json", HTTP_WEBHOOK_SIGNATURE=signature
    )
    assert response.status_code == 498
    assert response.json() == {"error": "Invalid signature."}
    assert (MembershipPayment.objects.count(), MembershipChange.objects.count()) == before


@pytest.mark.django_db
def test_well_signed_nonsense_is_a_400(client, gc_settings):
    for body in (b"not json", b'{"no_events": []}', b'{"events": [{"links": {}}]}'):
        response = client.post(
            URL, data=body, content_type="application/json", HTTP_WEBHOOK_SIGNATURE=_sign(body)
        )
        assert response.status_code == 400, body
        assert "error" in response.json()


@pytest.mark.django_db
def test_gocardless_down_during_a_webhook_is_a_503_to_be_retried(client, member, fake_gc, paying):
    payment = fake_gc.payment_add(paying["id"])
    fake_gc.fail_with = (500, "gocardless", "Internal error")
    response = _webhook(client, [_event("EV50", "payments", "confirmed", {"payment": payment})])
    assert response.status_code == 503
    assert not MembershipPayment.objects.filter(reference=payment).exists()


@pytest.mark.django_db
def test_unconfigured_endpoint_refuses(client, settings):
    settings.CLARION_GOCARDLESS_WEBHOOK_SECRET = ""
    response = _webhook(client, [])
    assert response.status_code == 400 and "not configured" in response.json()["error"]


def test_signature_helper_matches_the_documented_scheme():
    # GoCardless's documentation example: hex HMAC-SHA256, lower case, 64 characters.
    assert re.fullmatch(r"[0-9a-f]{64}", _sign(b"{}"))
