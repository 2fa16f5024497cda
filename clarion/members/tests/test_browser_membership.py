"""Headless Chromium at phone and desktop width, axe-core clean: the member's
membership page and cancelling it; the staff membership report, a staff correction
and the membership types."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from clarion.core.models import User
from clarion.core.testing import factories
from clarion.core.testing.browser import AXE, check_page, check_url, login
from clarion.members import auth
from clarion.members.membership import (
    membership_join,
    membership_payment_failed,
    membership_payment_received,
)
from clarion.members.models import Membership, MembershipType
from clarion.members.services import member_session_start

pytestmark = pytest.mark.browser


@pytest.fixture
def kinds(db):
    return (
        MembershipType.objects.create(name="Standard", rate_pence=500, period="monthly", order=1),
        MembershipType.objects.create(name="Concession", rate_pence=100, period="monthly", order=2),
        MembershipType.objects.create(name="Annual", rate_pence=4800, period="annual", order=3),
        MembershipType.objects.create(
            name="Annual unwaged", rate_pence=1200, period="annual", order=4
        ),
    )


def _context(browser):
    assert AXE.exists(), "run `npm ci` at the repository root to install axe-core"
    context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page


def test_my_membership_and_cancelling_it(browser, live_server, areas, kinds):
    ada = factories.person(
        email="ada@example.net",
        first_name="Ada",
        last_name="Lovelace",
        postcode=areas.postcodes["north"],
    )
    membership_join(person=ada, membership_type=kinds[2], pays_by="direct_debit")
    membership_payment_received(
        person=ada,
        amount_pence=4800,
        paid_at=timezone.now(),
        provider="gocardless",
        reference="PM-1",
    )
    context, page = _context(browser)
    context.add_cookies(
        [
            {
                "name": auth.MEMBER_COOKIE,
                "value": member_session_start(person=ada),
                "url": live_server.url,
            }
        ]
    )
    check_url(page, f"{live_server.url}/members/membership/", "member-membership")
    text = page.content()
    assert "Annual" in text and "Direct Debit" in text and "£48.00" in text

    # Changing type: a yearly Direct Debit is offered the other yearly type only, and
    # the page says how to pay monthly instead. This membership joined before its
    # GoCardless subscription was stored, so the change is refused, saying why.
    assert "To pay monthly instead, cancel your membership and join again" in text
    assert page.get_by_label("Concession").count() == 0
    page.get_by_label("Annual unwaged").check()
    page.get_by_role("button", name="Change my type").click()
    page.wait_for_load_state()
    assert "There is a problem" in page.content()
    assert "Your payments cannot be changed from here" in page.content()
    check_page(page, "member-membership-type-refused")
    assert Membership.objects.get(person=ada).membership_type == kinds[2]

    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("link", name="Cancel my membership").click()
    page.wait_for_url("**/members/membership/cancel/")
    check_url(page, f"{live_server.url}/members/membership/cancel/", "member-membership-cancel")
    page.get_by_label("Why are you leaving? (optional)").fill("Moving abroad")
    page.get_by_role("button", name="Yes, cancel my membership").click()
    page.wait_for_url("**/members/membership/")
    assert "Your membership is cancelled." in page.content()
    assert Membership.objects.get(person=ada).status == "cancelled"
    check_url(page, f"{live_server.url}/members/membership/", "member-membership-cancelled")
    # Renewing starts the Join page with the type and way of paying chosen.
    page.get_by_role("link", name="Renew my membership").click()
    page.wait_for_url("**/members/join/?type=*")
    assert page.locator(f'input[name="membership_type"][value="{kinds[2].pk}"]').is_checked()
    assert page.get_by_label("Direct Debit").is_checked()
    check_page(page, "member-membership-renew")
    context.close()


def test_staff_membership_pages(browser, live_server, areas, kinds):
    organiser = factories.staff_user(
        role=User.Role.ORGANISER, area=areas.north, email="north@example.org"
    )
    admin = factories.staff_user(role=User.Role.ADMIN, email="admin@example.org")
    now = timezone.now()
    people = []
    for i, (first, last) in enumerate(
        [("Nora", "North"), ("Nell", "Arrears"), ("Ned", "Newcomer"), ("Nia", "Annual")]
    ):
        person = factories.person(
            postcode=areas.postcodes["north"],
            first_name=first,
            last_name=last,
            email=f"n{i}@example.net",
        )
        membership_join(person=person, membership_type=kinds[i % 3], pays_by="card")
        membership_payment_received(
            person=person,
            amount_pence=kinds[i % 3].rate_pence,
            paid_at=now,
            provider="stripe",
            reference=f"in_{i}",
        )
        people.append(person)
    membership_payment_failed(
        person=people[1], provider="stripe", reference="in_fail", failed_at=now
    )
    south = factories.person(
        postcode=areas.postcodes["south"], first_name="Sid", last_name="Southern"
    )
    membership_join(person=south, membership_type=kinds[0], pays_by="manual")
    membership_payment_failed(person=south, provider="manual", reference="x", failed_at=now)

    context, page = _context(browser)
    login(page, live_server.url, organiser.email, factories.PASSWORD)
    check_url(page, f"{live_server.url}/staff/members/", "staff-membership")
    assert "Nell Arrears" in page.content() and "Sid Southern" not in page.content()

    url = f"{live_server.url}/staff/members/{people[1].pk}/"
    check_url(page, url, "staff-membership-change")
    page.get_by_label("Status").select_option("active")
    page.get_by_label("Renews on").fill((dt.date.today() + dt.timedelta(days=30)).isoformat())
    page.get_by_role("button", name="Save the change").click()
    page.wait_for_load_state()
    assert "There is a problem" in page.content()  # no reason given
    check_url_after_error = page.url
    assert check_url_after_error.endswith(f"/staff/members/{people[1].pk}/")
    page.get_by_label("Reason for the change").fill("Paid in cash at the branch meeting")
    page.get_by_role("button", name="Save the change").click()
    page.wait_for_load_state()
    assert "is changed" in page.content()
    assert Membership.objects.get(person=people[1]).status == "active"
    context.close()

    context, page = _context(browser)
    login(page, live_server.url, admin.email, factories.PASSWORD)
    check_url(page, f"{live_server.url}/staff/members/types/", "staff-membership-types")
    check_url(
        page, f"{live_server.url}/staff/members/types/{kinds[0].pk}/", "staff-membership-type-edit"
    )
    context.close()
