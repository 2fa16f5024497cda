"""Logging in and out: email + password, throttling, audit, deactivation, dashboard."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from clarion.core.models import AuditEntry, User
from clarion.core.testing import factories
from clarion.core.testing.factories import PASSWORD

LOGIN = "/login/"


def _login(client, email, password=PASSWORD, **extra):
    return client.post(
        LOGIN, {"email": email, "password": password, **extra}, **extra.pop("headers", {})
    )


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def throttle(settings):
    settings.LOGIN_MAX_FAILURES = 3
    settings.LOGIN_LOCKOUT_SECONDS = 600
    return settings


def test_login_page_has_email_and_password_fields(client, db):
    response = client.get(LOGIN)
    assert response.status_code == 200
    assert b'type="email"' in response.content and b'type="password"' in response.content


def test_staff_logs_in_with_email_in_any_case(client, organiser):
    response = _login(client, "  North@Example.ORG ")
    assert response.status_code == 302
    assert response["Location"] == reverse("reports:home")
    assert client.get(reverse("reports:home")).status_code == 200
    entry = AuditEntry.objects.get(action=AuditEntry.Action.LOGIN)
    assert entry.actor == organiser and entry.ip_address == "127.0.0.1"


def test_wrong_password_is_refused_and_audited_without_the_password(client, organiser):
    response = _login(client, organiser.email, "not-the-password-xyz")
    assert response.status_code == 200
    assert "do not match an active account" in response.content.decode()
    assert "_auth_user_id" not in client.session
    entry = AuditEntry.objects.get(action=AuditEntry.Action.LOGIN_FAILED)
    assert entry.actor == organiser and entry.detail["email"] == organiser.email
    everything = " ".join(f"{e.summary} {e.detail}" for e in AuditEntry.objects.all())
    assert "not-the-password-xyz" not in everything


def test_unknown_email_gets_the_same_message_as_a_wrong_password(client, organiser):
    unknown = _login(client, "nobody@example.org", "whatever-123").content.decode()
    wrong = _login(client, organiser.email, "whatever-123").content.decode()
    message = "That email and password do not match an active account."
    assert message in unknown and message in wrong


def test_email_is_locked_after_max_failures_even_with_the_right_password(
    client, organiser, throttle
):
    for _i in range(3):
        _login(client, organiser.email, "wrong-password-1")
    response = _login(client, organiser.email, PASSWORD)
    assert response.status_code == 429
    assert "Too many failed attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(action="login_failed", detail__locked=True).count() == 1


def test_lockout_does_not_reveal_whether_the_account_exists(client, organiser, throttle):
    for email in (organiser.email, "ghost@example.org"):
        for _i in range(3):
            _login(client, email, "wrong-password-1", REMOTE_ADDR="10.0.0.1")
    known = client.post(LOGIN, {"email": organiser.email, "password": "x"}).content.decode()
    unknown = client.post(LOGIN, {"email": "ghost@example.org", "password": "x"}).content.decode()
    assert "Too many failed attempts" in known and "Too many failed attempts" in unknown


def test_lockout_is_per_email_in_any_case(client, organiser, south_organiser, throttle):
    for _i in range(3):
        _login(client, "NORTH@example.org", "wrong-password-1")
    assert _login(client, organiser.email).status_code == 429
    # Another account from the same address is not locked by someone else's mistakes.
    assert _login(client, south_organiser.email).status_code == 302


def test_many_failures_from_one_address_lock_that_address(client, organiser, throttle):
    for n in range(12):  # 4 × LOGIN_MAX_FAILURES spread over many emails
        client.post(
            LOGIN, {"email": f"guess{n}@example.org", "password": "x"}, REMOTE_ADDR="10.9.9.9"
        )
    locked = client.post(
        LOGIN, {"email": organiser.email, "password": PASSWORD}, REMOTE_ADDR="10.9.9.9"
    )
    assert locked.status_code == 429
    elsewhere = client.post(
        LOGIN, {"email": organiser.email, "password": PASSWORD}, REMOTE_ADDR="10.1.1.1"
    )
    assert elsewhere.status_code == 302


def test_lockout_ends_when_the_window_passes(client, organiser, settings):
    settings.LOGIN_MAX_FAILURES = 2
    settings.LOGIN_LOCKOUT_SECONDS = 2
    started = time.monotonic()
    for _i in range(2):
        _login(client, organiser.email, "wrong-password-1")
    assert _login(client, organiser.email).status_code == 429
    time.sleep(max(0.0, 2.5 - (time.monotonic() - started)))
    assert _login(client, organiser.email).status_code == 302


def test_a_successful_login_clears_the_email_failures(client, organiser, throttle):
    _login(client, organiser.email, "wrong-password-1")
    _login(client, organiser.email, "wrong-password-1")
    assert _login(client, organiser.email).status_code == 302
    client.post(reverse("core:logout"))
    _login(client, organiser.email, "wrong-password-1")
    _login(client, organiser.email, "wrong-password-1")
    assert _login(client, organiser.email).status_code == 302


def test_deactivated_account_cannot_log_in(client, organiser):
    User.objects.filter(pk=organiser.pk).update(is_active=False)
    response = _login(client, organiser.email)
    assert response.status_code == 200
    assert "do not match an active account" in response.content.decode()


def test_deactivating_ends_an_existing_session_on_the_next_request(client, organiser):
    assert _login(client, organiser.email).status_code == 302
    assert client.get(reverse("reports:dashboard")).status_code == 200
    User.objects.filter(pk=organiser.pk).update(is_active=False)
    # The home page is public now; a staff page shows the session has ended.
    response = client.get(reverse("reports:dashboard"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("core:login"))
    assert "Log out" not in client.get(reverse("reports:home")).content.decode()


def test_logout_needs_post(client, organiser):
    client.force_login(organiser)
    assert client.get(reverse("core:logout")).status_code == 405
    response = client.post(reverse("core:logout"))
    assert response.status_code == 302
    assert client.get(reverse("reports:dashboard")).status_code == 302


def test_login_follows_a_local_next_but_not_another_site(client, organiser):
    response = _login(client, organiser.email, next="/staff/areas/")
    assert response["Location"] == "/staff/areas/"
    client.post(reverse("core:logout"))
    response = _login(client, organiser.email, next="https://evil.example.com/")
    assert response["Location"] == reverse("reports:home")


def test_staff_pages_need_login(client, db):
    response = client.get(reverse("reports:dashboard"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("core:login"))


def test_django_admin_is_for_superusers_only_and_logs_in_through_clarion(client, admin):
    response = client.get("/django-admin/")
    assert response.status_code == 302
    follow = client.get(response["Location"])
    assert follow.status_code == 302 and follow["Location"].startswith(reverse("core:login"))
    client.force_login(admin)  # a national admin, but not a superuser
    assert client.get("/django-admin/", follow=True).status_code == 403
    User.objects.filter(pk=admin.pk).update(is_superuser=True)
    assert client.get("/django-admin/").status_code == 200


def test_django_admin_shows_the_audit_log_read_only(client, admin):
    User.objects.filter(pk=admin.pk).update(is_superuser=True)
    client.force_login(admin)
    entry = AuditEntry.objects.create(
        action="export", summary="Exported things", actor_email="a@example.org"
    )
    assert client.get("/django-admin/core/auditentry/").status_code == 200
    assert client.get("/django-admin/core/auditentry/add/").status_code == 403
    assert (
        client.post(
            f"/django-admin/core/auditentry/{entry.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    change = client.post(
        f"/django-admin/core/auditentry/{entry.pk}/change/", {"summary": "changed"}
    )
    assert change.status_code in (200, 403)
    entry.refresh_from_db()
    assert entry.summary == "Exported things"


def test_dashboard_counts_people_in_the_users_scope(
    client, organiser, north_person, south_person, areas
):
    factories.person(
        postcode=areas.postcodes["north2"], email="sub@example.net", email_status="subscribed"
    )
    client.force_login(organiser)
    page = client.get(reverse("reports:home")).content.decode()
    assert 'data-stat="total">2<' in page
    assert 'data-stat="new">2<' in page
    assert 'data-stat="subscribed">1<' in page
    assert "The North" in page


def test_dashboard_for_an_admin_counts_everyone_and_is_cached(
    client, admin, north_person, south_person
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(admin)
    assert 'data-stat="total">2<' in client.get(reverse("reports:home")).content.decode()
    factories.person(email="late@example.net")
    # Within the minute the cached figure is shown, without counting again.
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("reports:home")).content.decode()
    assert not [q for q in queries.captured_queries if "people_person" in q["sql"]]
    assert 'data-stat="total">2<' in page
    assert reverse("people:list") in page and reverse("people:segment_list") in page
