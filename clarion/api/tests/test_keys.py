from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from clarion.api.models import ApiKey
from clarion.api.services import api_key_create
from clarion.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def run(*args) -> list[str]:
    out = StringIO()
    call_command("api_key", *args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_command_creates_a_key_printing_the_token_last_and_storing_only_a_hash(
    client, organiser, north_person, south_person
):
    lines = run("create", "--email", "NORTH@example.org", "--read-only")
    token = lines[-1]
    key = ApiKey.objects.get()
    assert key.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in key.token_hash and token.startswith(key.prefix)
    assert key.scope == ApiKey.Scope.READ and key.owner == organiser
    body = client.get("/api/v2/people", HTTP_OSDI_API_TOKEN=token).json()
    assert [p["given_name"] for p in body["_embedded"]["osdi:people"]] == ["Nora"]
    assert ApiKey.objects.get().last_used_at is not None
    assert AuditEntry.objects.filter(object_type="api_key", summary__contains=key.prefix).exists()


def test_command_area_must_be_inside_the_owners_area(organiser, areas):
    with pytest.raises(CommandError, match="inside the owner's own area"):
        run("create", "--email", organiser.email, "--area", "R-S")
    run("create", "--email", organiser.email, "--area", "C-LDS")
    assert ApiKey.objects.get().area == areas.leeds
    with pytest.raises(CommandError, match="No staff user"):
        run("create", "--email", "ghost@example.org")


def test_analyst_keys_are_read_only(analyst):
    with pytest.raises(CommandError, match="read only"):
        run("create", "--email", analyst.email)
    run("create", "--email", analyst.email, "--read-only")
    assert ApiKey.objects.get().scope == ApiKey.Scope.READ


def test_command_revokes_by_prefix(client, admin):
    token = run("create", "--email", admin.email)[-1]
    prefix = ApiKey.objects.get().prefix
    assert client.get("/api/v2/", HTTP_OSDI_API_TOKEN=token).status_code == 200
    assert run("revoke", prefix) == [f"Revoked key {prefix}."]
    assert client.get("/api/v2/", HTTP_OSDI_API_TOKEN=token).status_code == 401
    assert "active" not in run("list")[0].split("\t")


def test_staff_page_creates_a_key_shown_once(admin_client, admin):
    page = admin_client.get(reverse("api_staff:keys"))
    assert page.status_code == 200 and "New key" in page.content.decode()
    created = admin_client.post(
        reverse("api_staff:key_create"), {"name": "Nightly sync", "scope": "write"}
    )
    assert created.status_code == 200
    key = ApiKey.objects.get()
    html = created.content.decode()
    token = html.split('<code id="api-token">')[1].split("</code>")[0]
    assert key.token_hash == hashlib.sha256(token.encode()).hexdigest()
    listing = admin_client.get(reverse("api_staff:keys")).content.decode()
    assert key.prefix in listing and "Nightly sync" in listing and token not in listing


def test_organiser_manages_only_their_own_keys_inside_their_area(
    organiser_client, organiser, admin, areas
):
    admin_key, _token = api_key_create(owner=admin, actor=admin, name="Admin key")
    bad = organiser_client.post(
        reverse("api_staff:key_create"), {"scope": "write", "area": areas.south.pk}
    )
    assert bad.status_code == 400
    assert not ApiKey.objects.filter(owner=organiser).exists()
    ok = organiser_client.post(
        reverse("api_staff:key_create"),
        {"scope": "read", "area": areas.leeds.pk, "owner": admin.pk},
    )
    assert ok.status_code == 200
    mine = ApiKey.objects.get(owner=organiser)  # the owner field is ignored for organisers
    assert mine.area == areas.leeds
    listing = organiser_client.get(reverse("api_staff:keys")).content.decode()
    assert mine.prefix in listing and admin_key.prefix not in listing
    assert (
        organiser_client.post(
            reverse("api_staff:key_revoke", kwargs={"pk": admin_key.pk})
        ).status_code
        == 404
    )
    admin_key.refresh_from_db()
    assert admin_key.revoked_at is None
    assert (
        organiser_client.post(reverse("api_staff:key_revoke", kwargs={"pk": mine.pk})).status_code
        == 302
    )
    mine.refresh_from_db()
    assert mine.revoked_at is not None


def test_analysts_and_anonymous_users_get_no_key_pages(client, analyst):
    assert client.get(reverse("api_staff:keys")).status_code == 302
    client.force_login(analyst)
    assert client.get(reverse("api_staff:keys")).status_code == 403
    assert client.post(reverse("api_staff:key_create"), {"scope": "read"}).status_code == 403
    assert not ApiKey.objects.exists()
