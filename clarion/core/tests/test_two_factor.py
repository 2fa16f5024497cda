"""TOTP two-factor: setup with a QR code, verification after the password, backup
codes, the operator's requirement, and an admin's reset. Codes are real TOTP codes
computed from the device's key."""

from __future__ import annotations

import base64
import re
import time

import pytest
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from clarion.core.models import AuditEntry
from clarion.core.testing.factories import PASSWORD

SETUP = "/staff/two-factor/setup/"
VERIFY = "/staff/two-factor/"


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def code_for(device: TOTPDevice, offset_steps: int = 0) -> str:
    """The code an authenticator app shows now (or ``offset_steps`` steps later)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + offset_steps * device.step
    return f"{totp.token():0{device.digits}d}"


def wrong_code(device: TOTPDevice) -> str:
    good = {code_for(device, n) for n in (-1, 0, 1)}
    return next(c for c in (f"{n:06d}" for n in range(1000)) if c not in good)


@pytest.fixture
def totp_organiser(organiser):
    TOTPDevice.objects.create(user=organiser, name="phone", confirmed=True)
    return organiser


def password_login(client, user, next_url=""):
    data = {"email": user.email, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post("/login/", data)


def test_setup_page_shows_a_qr_code_and_the_secret(client, organiser):
    client.force_login(organiser)
    response = client.get(SETUP)
    page = response.content.decode()
    match = re.search(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', page)
    assert match, "the QR code is an embedded SVG image"
    assert base64.b64decode(match.group(1)).lstrip().startswith(b"<svg")
    device = TOTPDevice.objects.get(user=organiser)
    assert not device.confirmed
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    shown = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    assert shown == secret
    assert "img-src 'self' data:" in response["Content-Security-Policy"]
    # Reloading keeps the same secret, so a slow user's app still matches.
    client.get(SETUP)
    assert TOTPDevice.objects.filter(user=organiser).count() == 1


def test_setup_refuses_a_wrong_code(client, organiser):
    client.force_login(organiser)
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=organiser)
    response = client.post(SETUP, {"code": wrong_code(device)})
    assert "That code is not right" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed


def test_setup_confirms_with_a_right_code_and_issues_backup_codes(client, organiser):
    client.force_login(organiser)
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=organiser)
    response = client.post(SETUP, {"code": code_for(device)})
    page = response.content.decode()
    device.refresh_from_db()
    assert device.confirmed
    codes = list(StaticToken.objects.filter(device__user=organiser).values_list("token", flat=True))
    assert len(codes) == 8 and all(code in page for code in codes)
    assert AuditEntry.objects.filter(
        action="two_factor", actor=organiser, detail__event="enabled"
    ).exists()
    # The session that set it up counts as verified: staff pages open straight away.
    assert client.get(reverse("areas:list")).status_code == 200
    # Visiting setup again shows that it is on, not a new secret.
    assert "is on" in client.get(SETUP).content.decode()


def test_password_alone_does_not_reach_staff_pages_when_a_device_exists(client, totp_organiser):
    response = password_login(client, totp_organiser, next_url="/staff/areas/")
    assert response.status_code == 302
    blocked = client.get(response["Location"])
    assert blocked.status_code == 302 and blocked["Location"].startswith(VERIFY)
    for url in ("/", "/staff/areas/", "/staff/people/", SETUP, "/staff/password/"):
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith(VERIFY), url


def test_verify_refuses_a_wrong_code_and_accepts_the_right_one(client, totp_organiser, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # no back-off between the two tries
    device = TOTPDevice.objects.get(user=totp_organiser)
    password_login(client, totp_organiser)
    wrong = client.post(VERIFY, {"code": wrong_code(device), "next": "/staff/areas/"})
    assert wrong.status_code == 200 and "That code is not right" in wrong.content.decode()
    assert client.get("/staff/areas/").status_code == 302
    right = client.post(VERIFY, {"code": code_for(device), "next": "/staff/areas/"})
    assert right.status_code == 302 and right["Location"] == "/staff/areas/"
    assert client.get("/staff/areas/").status_code == 200


def test_a_code_cannot_be_used_twice(client, totp_organiser):
    device = TOTPDevice.objects.get(user=totp_organiser)
    code = code_for(device)
    password_login(client, totp_organiser)
    assert client.post(VERIFY, {"code": code}).status_code == 302
    client.post(reverse("core:logout"))
    password_login(client, totp_organiser)
    assert "That code is not right" in client.post(VERIFY, {"code": code}).content.decode()


def test_a_backup_code_works_once(client, totp_organiser):
    from clarion.core.services import two_factor_backup_codes_issue

    codes = two_factor_backup_codes_issue(user=totp_organiser)
    password_login(client, totp_organiser)
    assert client.post(VERIFY, {"code": codes[0].upper()}).status_code == 302
    assert client.get("/staff/areas/").status_code == 200
    client.post(reverse("core:logout"))
    password_login(client, totp_organiser)
    assert client.post(VERIFY, {"code": codes[0]}).status_code == 200
    assert StaticToken.objects.filter(device__user=totp_organiser).count() == 7


def test_repeated_wrong_codes_are_throttled(client, totp_organiser, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 60  # a minute's wait after the first wrong code
    device = TOTPDevice.objects.get(user=totp_organiser)
    password_login(client, totp_organiser)
    first = client.post(VERIFY, {"code": wrong_code(device)})
    assert "That code is not right" in first.content.decode()
    response = client.post(VERIFY, {"code": code_for(device)})
    assert "Too many wrong codes" in response.content.decode()
    assert client.get("/staff/areas/").status_code == 302


def test_required_two_factor_sends_users_without_a_device_to_setup(client, organiser, settings):
    settings.CLARION_REQUIRE_2FA = True
    password_login(client, organiser)
    for url in ("/", "/staff/areas/", "/staff/people/", "/staff/password/"):
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith(SETUP), url
    page = client.get(SETUP).content.decode()
    assert "requires two-factor authentication" in page
    device = TOTPDevice.objects.get(user=organiser)
    client.post(SETUP, {"code": code_for(device)})
    assert client.get("/staff/areas/").status_code == 200


def test_without_the_requirement_a_user_without_a_device_gets_in(client, organiser, settings):
    settings.CLARION_REQUIRE_2FA = False
    password_login(client, organiser)
    assert client.get("/staff/areas/").status_code == 200


def test_admin_resets_a_users_two_factor(client, admin, totp_organiser):
    client.force_login(admin)
    url = reverse("core:user_two_factor_reset", args=[totp_organiser.pk])
    response = client.post(url, follow=True)
    assert "Two-factor is reset" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=totp_organiser).exists()
    entry = AuditEntry.objects.get(action="two_factor", detail__event="reset")
    assert entry.actor == admin and entry.object_id == str(totp_organiser.pk)
    # Now the password alone is enough again (2FA is not required here).
    client.post(reverse("core:logout"))
    password_login(client, totp_organiser)
    assert client.get("/staff/areas/").status_code == 200


def test_only_admins_can_reset_two_factor(client, organiser, south_organiser):
    TOTPDevice.objects.create(user=south_organiser, name="phone", confirmed=True)
    client.force_login(organiser)
    assert (
        client.post(reverse("core:user_two_factor_reset", args=[south_organiser.pk])).status_code
        == 403
    )
    assert TOTPDevice.objects.filter(user=south_organiser).exists()


def test_new_backup_codes_replace_the_old(client, organiser):
    client.force_login(organiser)
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=organiser)
    client.post(SETUP, {"code": code_for(device)})
    old = set(StaticToken.objects.filter(device__user=organiser).values_list("token", flat=True))
    page = client.post(SETUP, {"action": "backup_codes"}).content.decode()
    new = set(StaticToken.objects.filter(device__user=organiser).values_list("token", flat=True))
    assert len(new) == 8 and not (old & new)
    assert all(code in page for code in new)


@pytest.mark.browser
def test_totp_login_in_a_real_browser(page, live_server, organiser, north_person):
    device = TOTPDevice.objects.create(user=organiser, name="phone", confirmed=True)
    page.goto(f"{live_server.url}/staff/people/")
    assert "/login/" in page.url
    page.get_by_label("Email").fill(organiser.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert "/staff/two-factor/" in page.url
    page.get_by_label("Code").fill(code_for(device))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_load_state()
    assert page.url.rstrip("/").endswith("/staff/people")
    assert "Nora North" in page.content()
