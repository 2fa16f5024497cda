"""Headless Chromium with a virtual authenticator (the DevTools WebAuthn domain): a
member signed in by email link adds a passkey on their passkeys page, signs out and
signs in again with it from the sign-in page, all under the site's strict Content
Security Policy. Without JavaScript the pages offer only the email link. axe-core finds
nothing serious on the passkey pages at phone and desktop width."""

from __future__ import annotations

import pytest

from clarion.core.models import AuditEntry
from clarion.core.testing import factories
from clarion.core.testing.browser import AXE, DESKTOP, PHONE, check_page
from clarion.members import auth
from clarion.members.models import Passkey
from clarion.members.services import secret_hash, signin_link_create

AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
}


def _signed_in_by_link(context, page, base: str, person) -> None:
    context.add_cookies([{"name": auth.BROWSER_COOKIE, "value": "passkey-browser", "url": base}])
    token = signin_link_create(person=person, browser_hash=secret_hash("passkey-browser"))
    page.goto(f"{base}/members/sign-in/{token}/")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/members/")


@pytest.mark.browser
def test_add_a_passkey_sign_out_and_sign_in_with_it(browser, live_server, areas, settings):
    assert AXE.exists(), "run `npm ci` at the repository root to install axe-core"
    # WebAuthn needs a secure context and a domain name: http://localhost is both.
    base = live_server.url.replace("127.0.0.1", "localhost")
    settings.SITE_URL = base
    person = factories.person(
        email="ada@example.net",
        first_name="Ada",
        last_name="Lovelace",
        postcode=areas.postcodes["north"],
    )

    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})[
        "authenticatorId"
    ]
    _signed_in_by_link(context, page, base, person)

    page.get_by_role("link", name="Passkeys").click()
    page.wait_for_url("**/members/passkeys/")
    assert "You have no passkeys yet." in page.content()
    assert not page.locator(".passkey-unsupported").is_visible()
    page.get_by_label("Name").fill("This phone")
    page.get_by_role("button", name="Add a passkey").click()
    page.wait_for_selector("text=Your passkey is added")
    assert page.locator(".passkey h3").all_inner_texts() == ["This phone"]
    stored = Passkey.objects.get(person=person)
    [credential] = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})[
        "credentials"
    ]
    assert credential["isResidentCredential"] and credential["rpId"] == "localhost"

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/members/sign-in/")
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url("**/members/")
    assert "Hello, Ada" in page.content()
    entry = AuditEntry.objects.get(detail__event="member_sign_in_passkey")
    assert entry.object_id == str(person.pk) and entry.action == AuditEntry.Action.LOGIN
    stored.refresh_from_db()
    assert stored.last_used_at is not None

    # The same pages for axe-core and screenshots (axe is injected as an inline
    # script, which the site's policy rightly refuses, so this context bypasses it).
    checked = browser.new_context(viewport=PHONE, bypass_csp=True)
    checked.add_cookies(context.cookies())
    look = checked.new_page()
    for size in (PHONE, DESKTOP):
        look.set_viewport_size(size)
        look.goto(f"{base}/members/passkeys/")
        check_page(look, "passkeys")
        look.goto(f"{base}/members/passkeys/remove/?passkey={stored.pk}")
        check_page(look, "passkey-remove")
    look.get_by_role("button", name="Yes, remove it").click()
    look.wait_for_url("**/members/passkeys/")
    assert not Passkey.objects.exists()
    checked.clear_cookies()
    for size in (PHONE, DESKTOP):
        look.set_viewport_size(size)
        look.goto(f"{base}/members/sign-in/")
        assert look.get_by_role("button", name="Use a passkey").is_visible()
        check_page(look, "sign-in-passkey")
    checked.close()

    # The removed passkey signs no one in; the page says so and offers the link.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/members/sign-in/")
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_selector("text=did not sign you in")
    assert "/members/sign-in/" in page.url
    context.close()


@pytest.mark.browser
def test_without_javascript_only_the_email_link_is_offered(browser, live_server, areas, settings):
    base = live_server.url.replace("127.0.0.1", "localhost")
    settings.SITE_URL = base
    person = factories.person(email="bo@example.net", postcode=areas.postcodes["north"])
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{base}/members/sign-in/")
    assert page.get_by_role("button", name="Email me a sign-in link").is_visible()
    assert not page.get_by_role("button", name="Use a passkey").is_visible()
    _signed_in_by_link(context, page, base, person)
    page.goto(f"{base}/members/passkeys/")
    assert page.locator(".passkey-unsupported").is_visible()
    assert not page.get_by_role("button", name="Add a passkey").is_visible()
    context.close()
