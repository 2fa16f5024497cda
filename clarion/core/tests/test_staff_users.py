"""Staff accounts, managed by national admins: create, role and area, deactivate,
set-password links, and everyone's own password change."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from clarion.core.models import AuditEntry, User
from clarion.core.testing import factories
from clarion.core.testing.factories import PASSWORD


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def login_works(client, email, password):
    client.post(reverse("core:logout"))
    ok = client.post("/login/", {"email": email, "password": password}).status_code == 302
    client.post(reverse("core:logout"))
    return ok


@pytest.mark.parametrize(
    "name,args,method",
    [
        ("core:user_list", [], "get"),
        ("core:user_create", [], "get"),
        ("core:user_create", [], "post"),
        ("core:user_edit", ["admin"], "get"),
        ("core:user_edit", ["admin"], "post"),
        ("core:user_set_active", ["admin"], "post"),
        ("core:user_password_link", ["admin"], "post"),
        ("core:user_two_factor_reset", ["admin"], "post"),
    ],
)
@pytest.mark.parametrize("persona", ["organiser", "analyst"])
def test_only_admins_manage_staff(client, request, admin, persona, name, args, method):
    client.force_login(request.getfixturevalue(persona))
    url = reverse(name, args=[admin.pk for _a in args])
    response = getattr(client, method)(
        url, {"role": "analyst", "active": "0", "email": "x@example.org"}
    )
    assert response.status_code == 403
    admin.refresh_from_db()
    assert admin.role == User.Role.ADMIN and admin.is_active
    assert User.objects.filter(email="x@example.org").count() == 0


def test_admin_sees_every_staff_user(admin_client, organiser, analyst):
    page = admin_client.get(reverse("core:user_list")).content.decode()
    for email in ("admin@example.org", "north@example.org", "analyst@example.org"):
        assert email in page
    assert "The North" in page


def test_create_without_password_shows_a_one_time_set_password_link(
    client, admin_client, areas, mailoutbox
):
    response = admin_client.post(
        reverse("core:user_create"),
        {
            "email": "New.Person@Example.org",
            "name": "New Person",
            "role": "organiser",
            "area": areas.leeds.pk,
        },
    )
    assert response.status_code == 200
    user = User.objects.get(email="new.person@example.org")
    assert user.area == areas.leeds and not user.has_usable_password()
    assert mailoutbox == []
    link = re.search(
        r'value="(http://testserver/password/set/[^"]+)"', response.content.decode()
    ).group(1)
    assert AuditEntry.objects.filter(
        action="user_create", object_id=str(user.pk), detail__role="organiser"
    ).exists()

    anonymous = client.__class__()
    form_page = anonymous.get(link, follow=True)
    assert "Choose your password" in form_page.content.decode()
    done = anonymous.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a-long-new-pass-42", "new_password2": "a-long-new-pass-42"},
    )
    assert done.status_code == 302
    assert login_works(anonymous, "NEW.person@example.org", "a-long-new-pass-42")
    # The link was for one use only.
    assert "no longer works" in anonymous.get(link, follow=True).content.decode()


def test_create_with_an_initial_password(admin_client, areas):
    response = admin_client.post(
        reverse("core:user_create"),
        {
            "email": "ana@example.org",
            "name": "Ana",
            "role": "analyst",
            "area": "",
            "password": "plenty-long-pw-77",
        },
    )
    assert response.status_code == 302
    assert login_works(admin_client.__class__(), "ana@example.org", "plenty-long-pw-77")


def test_weak_initial_password_is_refused(admin_client, areas):
    response = admin_client.post(
        reverse("core:user_create"),
        {"email": "weak@example.org", "name": "Weak", "role": "analyst", "password": "12345"},
    )
    assert response.status_code == 200
    assert "too short" in response.content.decode()
    assert not User.objects.filter(email="weak@example.org").exists()


def test_organiser_without_area_gets_a_clear_form_error(admin_client, areas):
    response = admin_client.post(
        reverse("core:user_create"),
        {"email": "o@example.org", "name": "O", "role": "organiser", "area": ""},
    )
    assert response.status_code == 200
    assert "An area organiser must have an area" in response.content.decode()
    assert not User.objects.filter(email="o@example.org").exists()


def test_duplicate_email_in_another_case_is_refused(admin_client, organiser):
    response = admin_client.post(
        reverse("core:user_create"),
        {"email": "NORTH@example.org", "name": "Dup", "role": "analyst"},
    )
    assert "already exists" in response.content.decode()
    assert User.objects.filter(email__iexact="north@example.org").count() == 1


def test_role_and_area_change_is_audited_with_before_and_after(
    admin_client, admin, organiser, areas
):
    response = admin_client.post(
        reverse("core:user_edit", args=[organiser.pk]),
        {"name": "Nell", "role": "organiser", "area": areas.south.pk},
    )
    assert response.status_code == 302
    organiser.refresh_from_db()
    assert organiser.area == areas.south and organiser.name == "Nell"
    entry = AuditEntry.objects.get(action="role_change")
    assert entry.actor == admin
    assert entry.detail == {
        "before": {"role": "organiser", "area": "R-N"},
        "after": {"role": "organiser", "area": "R-S"},
    }


def test_editing_to_organiser_without_area_is_a_form_error(admin_client, analyst):
    response = admin_client.post(
        reverse("core:user_edit", args=[analyst.pk]), {"name": "A", "role": "organiser", "area": ""}
    )
    assert response.status_code == 200
    assert "An area organiser must have an area" in response.content.decode()
    analyst.refresh_from_db()
    assert analyst.role == "analyst"


def test_the_last_admin_cannot_demote_themselves(admin_client, admin):
    response = admin_client.post(
        reverse("core:user_edit", args=[admin.pk]), {"name": "A", "role": "analyst"}
    )
    assert response.status_code == 200
    assert "last active admin" in response.content.decode()
    admin.refresh_from_db()
    assert admin.role == "admin"
    assert not AuditEntry.objects.filter(action="role_change").exists()


def test_an_admin_can_step_down_when_another_admin_remains(admin_client, admin):
    factories.staff_user(role=User.Role.ADMIN, email="second@example.org")
    response = admin_client.post(
        reverse("core:user_edit", args=[admin.pk]), {"name": "A", "role": "analyst"}
    )
    assert response.status_code == 302
    admin.refresh_from_db()
    assert admin.role == "analyst"
    # Now an analyst, the staff pages are closed to them.
    assert admin_client.get(reverse("core:user_list")).status_code == 403


def test_nobody_deactivates_themselves_and_the_last_admin_stays(admin_client, admin):
    response = admin_client.post(
        reverse("core:user_set_active", args=[admin.pk]), {"active": "0"}, follow=True
    )
    assert "cannot deactivate your own account" in response.content.decode()
    admin.refresh_from_db()
    assert admin.is_active


def test_last_active_admin_cannot_be_deactivated_by_another_admin(client, admin):
    from clarion.core.services import StaffUserError, staff_user_set_active

    other = factories.staff_user(role=User.Role.ADMIN, email="other@example.org")
    staff_user_set_active(actor=admin, user=other, active=False)
    with pytest.raises(StaffUserError):
        staff_user_set_active(actor=other, user=admin, active=False)
    admin.refresh_from_db()
    assert admin.is_active


def test_deactivate_and_reactivate_are_audited(admin_client, admin, organiser):
    client2 = admin_client.__class__()
    client2.force_login(organiser)
    assert client2.get("/staff/areas/").status_code == 200

    response = admin_client.post(
        reverse("core:user_set_active", args=[organiser.pk]), {"active": "0"}, follow=True
    )
    assert "is deactivated" in response.content.decode()
    organiser.refresh_from_db()
    assert not organiser.is_active
    assert AuditEntry.objects.filter(
        action="user_deactivate", object_id=str(organiser.pk), actor=admin
    ).exists()
    # Their open session is gone on the next request.
    assert client2.get("/staff/areas/").status_code == 302
    assert not login_works(client2, organiser.email, PASSWORD)

    admin_client.post(reverse("core:user_set_active", args=[organiser.pk]), {"active": "1"})
    organiser.refresh_from_db()
    assert organiser.is_active
    assert AuditEntry.objects.filter(
        detail__event="user_reactivate", object_id=str(organiser.pk)
    ).exists()
    assert login_works(client2, organiser.email, PASSWORD)


def test_admin_makes_a_set_password_link_for_an_existing_user(admin_client, organiser):
    response = admin_client.post(reverse("core:user_password_link", args=[organiser.pk]))
    link = re.search(
        r'value="(http://testserver/password/set/[^"]+)"', response.content.decode()
    ).group(1)
    anonymous = admin_client.__class__()
    page = anonymous.get(link, follow=True)
    anonymous.post(
        page.redirect_chain[-1][0],
        {"new_password1": "fresh-pass-word-9", "new_password2": "fresh-pass-word-9"},
    )
    assert login_works(anonymous, organiser.email, "fresh-pass-word-9")
    assert not login_works(anonymous, organiser.email, PASSWORD)
    assert AuditEntry.objects.filter(
        detail__event="password_link", object_id=str(organiser.pk)
    ).exists()


def test_a_forged_set_password_link_does_not_work(client, organiser):
    page = client.get(f"/password/set/{organiser.pk}/abc-def/", follow=True)
    assert "no longer works" in page.content.decode()


def test_every_user_can_change_their_password(client, analyst):
    client.force_login(analyst)
    url = reverse("core:password_change")
    wrong = client.post(
        url,
        {
            "old_password": "nope",
            "new_password1": "n3w-pass-phrase",
            "new_password2": "n3w-pass-phrase",
        },
    )
    assert "Your old password was entered incorrectly" in wrong.content.decode()
    ok = client.post(
        url,
        {
            "old_password": PASSWORD,
            "new_password1": "n3w-pass-phrase",
            "new_password2": "n3w-pass-phrase",
        },
        follow=True,
    )
    assert "Your password has been changed" in ok.content.decode()
    # The session that changed it stays logged in.
    assert client.get(reverse("reports:home")).status_code == 200
    assert login_works(client, analyst.email, "n3w-pass-phrase")


def test_staff_user_names_are_escaped(admin_client, areas):
    User.objects.create_user(
        email="xss@example.org", password=PASSWORD, role="analyst", name="<script>alert(1)</script>"
    )
    page = admin_client.get(reverse("core:user_list")).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
