"""Test sends to up to five staff addresses; anything else is a form error."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from clarion.mailings import services

from .helpers import make_mailing

pytestmark = pytest.mark.usefixtures("mail_settings")


def test_blank_sends_to_yourself(admin, admin_client, subscribed, everyone, smtp_server):
    mailing = make_mailing(admin, everyone)
    response = admin_client.post(f"/staff/mailings/{mailing.pk}/test/", {"addresses": ""})
    assert response.status_code == 302
    message = smtp_server.wait_for(1)[0]
    assert message.envelope_to == ["admin@example.org"]
    assert message["Subject"].startswith("[TEST] ")


def test_a_test_goes_to_each_staff_address_given(
    admin, admin_client, organiser, analyst, subscribed, everyone, smtp_server
):
    mailing = make_mailing(admin, everyone)
    response = admin_client.post(
        f"/staff/mailings/{mailing.pk}/test/",
        {"addresses": f"{organiser.email.upper()}, {analyst.email} admin@example.org"},
        follow=True,
    )
    assert "A test was sent to" in response.content.decode()
    messages = smtp_server.wait_for(3)
    assert sorted(a.lower() for m in messages for a in m.envelope_to) == sorted(
        [organiser.email, analyst.email, "admin@example.org"]
    )
    assert all(m["Subject"].startswith("[TEST] ") for m in messages)


def test_an_address_that_is_no_staff_users_is_a_form_error(
    admin, admin_client, organiser, subscribed, everyone, smtp_server
):
    mailing = make_mailing(admin, everyone)
    response = admin_client.post(
        f"/staff/mailings/{mailing.pk}/test/",
        {"addresses": f"{organiser.email}, nora@example.net"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Tests go only to staff users&#x27; addresses; these are not: nora@example.net" in page
    assert smtp_server.messages == []


def test_more_than_five_addresses_is_a_form_error(
    admin, admin_client, subscribed, everyone, smtp_server
):
    from clarion.core.testing import factories

    staff = [factories.staff_user(email=f"staff{i}@example.org") for i in range(6)]
    mailing = make_mailing(admin, everyone)
    response = admin_client.post(
        f"/staff/mailings/{mailing.pk}/test/", {"addresses": " ".join(u.email for u in staff)}
    )
    assert response.status_code == 400
    assert "A test can go to at most 5 addresses." in response.content.decode()
    assert smtp_server.messages == []


def test_a_deactivated_staff_user_gets_no_test_and_the_service_checks_too(
    admin, organiser, subscribed, everyone, smtp_server
):
    organiser.is_active = False
    organiser.save()
    mailing = make_mailing(admin, everyone)
    with pytest.raises(ValidationError, match="these are not: north@example.org"):
        services.mailing_test_send_to(mailing=mailing, actor=admin, addresses=[organiser.email])
    with pytest.raises(ValidationError, match="at most 5"):
        services.mailing_test_send_to(
            mailing=mailing, actor=admin, addresses=["admin@example.org"] * 6
        )
    assert smtp_server.messages == []
