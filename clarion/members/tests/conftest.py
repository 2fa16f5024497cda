from __future__ import annotations

import pytest

from clarion.core.testing import factories
from clarion.core.testing.smtp import smtp_server  # noqa: F401  (fixture)
from clarion.members import auth
from clarion.members.services import secret_hash, signin_link_create


def sign_in(client, person) -> None:
    """Sign ``client`` in as ``person`` the way a browser does: a link made for this
    browser's cookie, then the link's button."""
    client.cookies[auth.BROWSER_COOKIE] = "browser-secret-of-" + str(person.pk)
    token = signin_link_create(
        person=person, browser_hash=secret_hash("browser-secret-of-" + str(person.pk))
    )
    response = client.post(f"/members/sign-in/{token}/")
    assert response.status_code == 302 and response["Location"] == "/members/"


@pytest.fixture
def member(areas):
    return factories.person(
        postcode=areas.postcodes["north"],
        first_name="Mo",
        last_name="Member",
        email="mo@example.net",
        phone="07911 123456",
    )


@pytest.fixture
def member_client(client, member):
    sign_in(client, member)
    return client


@pytest.fixture
def standard(db):
    from clarion.members.models import MembershipType

    return MembershipType.objects.create(name="Standard", rate_pence=500, period="monthly", order=1)


@pytest.fixture
def annual(db):
    from clarion.members.models import MembershipType

    return MembershipType.objects.create(name="Annual", rate_pence=4800, period="annual", order=2)
