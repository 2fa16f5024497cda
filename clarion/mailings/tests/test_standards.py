"""RFC 8058 one-click unsubscribe, preferences, VERP and DKIM."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from clarion.mailings.models import Recipient
from clarion.mailings.sending import tokens
from clarion.people.models import Activity

from .helpers import make_mailing, send_and_work

pytestmark = [pytest.mark.usefixtures("mail_settings"), pytest.mark.django_db(transaction=True)]


def _sent(admin, everyone, smtp_server, capture):
    mailing = send_and_work(make_mailing(admin, everyone), admin, capture)
    nora = smtp_server.to("nora@example.net")[0]
    return mailing, nora


def _unsubscribe_url(message) -> str:
    header = message["List-Unsubscribe"]
    return re.search(r"<(https://[^>]+)>", header).group(1)


def test_headers_carry_https_and_mailto_unsubscribe_and_a_signed_return_path(
    admin, subscribed, everyone, smtp_server, django_capture_on_commit_callbacks
):
    mailing, nora = _sent(admin, everyone, smtp_server, django_capture_on_commit_callbacks)
    header = nora["List-Unsubscribe"]
    assert "<https://clarion.example.org/m/u/?r=" in header
    assert re.search(
        r"<mailto:unsubscribe\+\d+-[0-9a-f]+@bounces\.example\.org\?subject=unsubscribe>", header
    )
    assert nora["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "nora@example.net" not in header  # no address in URLs
    row = Recipient.objects.get(mailing=mailing, email="nora@example.net")
    # The envelope sender (VERP) maps back to exactly this ledger row.
    assert (
        tokens.recipient_id_from_verp(tokens.verp_local(row.pk) + "@bounces.example.org") == row.pk
    )
    assert (
        tokens.recipient_id_from_verp(f"bounces+{row.pk}-0000000000000000abcd@bounces.example.org")
        is None
    )


def test_one_click_post_without_cookies_unsubscribes_but_get_only_confirms(
    admin, subscribed, everyone, smtp_server, django_capture_on_commit_callbacks
):
    _, nora = _sent(admin, everyone, smtp_server, django_capture_on_commit_callbacks)
    url = _unsubscribe_url(nora).replace("https://clarion.example.org", "")
    client = Client(enforce_csrf_checks=True)

    page = client.get(url)
    assert page.status_code == 200 and b"Unsubscribe me" in page.content
    subscribed["nora"].refresh_from_db()
    assert subscribed["nora"].email_status == "subscribed"  # a link scanner's GET changes nothing

    done = client.post(url, {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and b"You are unsubscribed" in done.content
    subscribed["nora"].refresh_from_db()
    assert subscribed["nora"].email_status == "unsubscribed"
    assert Activity.objects.filter(
        person=subscribed["nora"], kind="email_status", summary__contains="one-click"
    ).exists()


def test_forged_unsubscribe_token_changes_nothing(
    client, subscribed, admin, everyone, smtp_server, django_capture_on_commit_callbacks
):
    mailing, _ = _sent(admin, everyone, smtp_server, django_capture_on_commit_callbacks)
    row = Recipient.objects.get(mailing=mailing, email="nora@example.net")
    response = client.post(
        f"/m/u/?r={row.pk}.000000000000000000000000", {"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 404
    subscribed["nora"].refresh_from_db()
    assert subscribed["nora"].email_status == "subscribed"


def test_preference_page_opts_out_of_a_category(
    client, admin, subscribed, everyone, smtp_server, django_capture_on_commit_callbacks
):
    mailing, nora = _sent(admin, everyone, smtp_server, django_capture_on_commit_callbacks)
    token = tokens.recipient_token(
        Recipient.objects.get(mailing=mailing, email="nora@example.net").pk
    )
    page = client.get(f"/m/p/?r={token}")
    assert page.status_code == 200 and b"Fundraising appeals" in page.content
    client.post(f"/m/p/?r={token}", {"r": token, "categories": ["events"]})
    # A later "news" mailing skips Nora; she is still subscribed to events.
    smtp_server.messages.clear()
    send_and_work(
        make_mailing(admin, everyone, name="Second"), admin, django_capture_on_commit_callbacks
    )
    assert "nora@example.net" not in [a for m in smtp_server.wait_for(2) for a in m.envelope_to]
    row = Recipient.objects.get(mailing__name="Second", email="nora@example.net")
    assert row.status == "suppressed" and "Opted out" in row.reason


def test_dkim_signature_covers_list_unsubscribe_and_verifies(
    admin, subscribed, everyone, smtp_server, settings, tmp_path, django_capture_on_commit_callbacks
):
    import subprocess

    import dkim

    subprocess.run(
        ["openssl", "genrsa", "-out", str(tmp_path / "dkim.pem"), "2048"],
        check=True,
        capture_output=True,
    )
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(tmp_path / "dkim.pem"), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    settings.CLARION_MAILINGS_DKIM_KEY_FILE = str(tmp_path / "dkim.pem")
    settings.CLARION_MAILINGS_DKIM_DOMAIN = "clarion.example.org"
    settings.CLARION_MAILINGS_DKIM_SELECTOR = "s1"

    captured: list[bytes] = []
    import clarion.mailings.sending.transport as transport

    real = transport.SMTPTransport.send

    def spy(self, *, mail_from, rcpt, data):
        captured.append(data)
        return real(self, mail_from=mail_from, rcpt=rcpt, data=data)

    transport.SMTPTransport.send = spy
    try:
        send_and_work(make_mailing(admin, everyone), admin, django_capture_on_commit_callbacks)
    finally:
        transport.SMTPTransport.send = real
    import base64

    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def dnsfunc(name, timeout=5):
        assert name == b"s1._domainkey.clarion.example.org."
        return record

    assert captured
    message = captured[0]
    signature = re.search(rb"DKIM-Signature:(.*?)\r\n(?=\S)", message, re.S).group(1)
    signed = re.search(rb"h=([^;]+)", re.sub(rb"\r\n[ \t]", b"", signature)).group(1)
    signed_headers = signed.replace(b" ", b"").lower().split(b":")
    assert b"list-unsubscribe" in signed_headers and b"list-unsubscribe-post" in signed_headers
    assert dkim.verify(message, dnsfunc=dnsfunc)
    tampered = message.replace(
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: nothing"
    )
    assert not dkim.verify(tampered, dnsfunc=dnsfunc)
