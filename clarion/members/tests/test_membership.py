"""My membership and the membership card: what the member sees, and a QR code that
names the card by a signed random code, carrying nothing about the member."""

from __future__ import annotations

import base64
import datetime
import re

from clarion.core import tokens
from clarion.core.site import site_url
from clarion.members.models import MemberCard
from clarion.members.services import (
    member_card_get_or_create,
    member_card_person,
    member_card_token,
)
from clarion.people.models import MembershipStatus, Person


def _make_member(person, status=MembershipStatus.ACTIVE):
    Person.objects.filter(pk=person.pk).update(
        membership_status=status,
        membership_number="M-004211",
        joined_on=datetime.date(2024, 3, 1),
        renews_on=datetime.date(2027, 3, 1),
    )


def test_membership_page_shows_status_number_and_dates(member_client, member):
    _make_member(member)
    page = member_client.get("/members/membership/").content.decode()
    for text in ("Active", "M-004211", "1 March 2024", "1 March 2027", "membership card"):
        assert text in page


def test_a_supporter_who_is_not_a_member_is_told_so_and_has_no_card(member_client, member):
    page = member_client.get("/members/membership/").content.decode()
    assert "not a member of the party yet" in page
    response = member_client.get("/members/membership/card/")
    assert response.status_code == 404
    assert not MemberCard.objects.exists()


def test_a_lapsed_member_has_no_card(member_client, member):
    _make_member(member, MembershipStatus.LAPSED)
    assert "Lapsed" in member_client.get("/members/membership/").content.decode()
    assert member_client.get("/members/membership/card/").status_code == 404


def test_card_shows_the_member_and_a_qr_code(member_client, member):
    _make_member(member)
    response = member_client.get("/members/membership/card/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Mo Member" in page and "M-004211" in page
    svg = base64.b64decode(re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', page).group(1))
    assert svg.startswith(b"<svg")
    assert "private" in response["Cache-Control"]


def test_the_card_token_names_the_member_and_carries_no_personal_data(member):
    card = member_card_get_or_create(person=member)
    assert member_card_get_or_create(person=member) == card
    token = member_card_token(card)
    assert member_card_person(token) == member
    payload = base64.urlsafe_b64decode(token.split(":")[0] + "==").decode()
    assert payload == f'"{card.code}"'
    for private in (member.email, member.last_name, member.phone, "M-0"):
        assert private not in payload
    assert member_card_person(token[:-2] + "xx") is None
    assert member_card_person(tokens.sign(card.code, salt=tokens.EVENTS_HOST)) is None
    # A new card voids the old one.
    MemberCard.objects.filter(pk=card.pk).delete()
    assert member_card_person(token) is None


def _card_url(person):
    return f"/members/card/{member_card_token(member_card_get_or_create(person=person))}/"


def test_the_qr_code_opens_the_card_check_page(member_client, member, monkeypatch):
    from django.core import signing

    # The token carries the second it was signed in: hold the clock so the page's
    # token and the one computed here are the same bytes.
    monkeypatch.setattr(signing.TimestampSigner, "timestamp", lambda self: "1kA3Zc")
    _make_member(member)
    page = member_client.get("/members/membership/card/").content.decode()
    assert "Mo Member" in page
    # The QR code encodes the card-check address with the signed card token.
    import segno

    url = site_url(_card_url(member))
    expected = io_svg(segno.make(url, error="m"))
    assert expected in page


def io_svg(qr) -> str:
    import io

    buffer = io.BytesIO()
    qr.save(buffer, kind="svg", scale=5, border=2, xmldecl=False, dark="#1b1f24")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def test_staff_in_scope_see_whether_the_card_is_valid(client, member, organiser):
    _make_member(member)
    client.force_login(organiser)
    response = client.get(_card_url(member))
    text = response.content.decode()
    assert response.status_code == 200
    assert "Active member" in text and "Mo Member" in text and "M-004211" in text


def test_staff_of_another_area_and_the_public_learn_nothing(client, member, south_organiser):
    _make_member(member)
    url = _card_url(member)
    anonymous = client.get(url)
    forged = client.get("/members/card/forged-token/")
    assert anonymous.status_code == forged.status_code == 200

    def without_next(response):
        return re.sub(r"\?next=[^\"]*", "", response.content.decode())

    assert without_next(anonymous) == without_next(forged)
    assert "Mo Member" not in anonymous.content.decode()
    client.force_login(south_organiser)
    response = client.get(url)
    assert response.status_code == 404
    assert "Mo Member" not in response.content.decode()
    assert "M-004211" not in response.content.decode()


def test_a_member_session_does_not_check_cards(member_client, member):
    _make_member(member)
    text = member_client.get(_card_url(member)).content.decode()
    assert "M-004211" not in text and "Log in to check it" in text


# --- Type, renewal, how they pay, cancelling ------------------------------------------


def _join(member, kind, pays_by="direct_debit"):
    from django.utils import timezone

    from clarion.members.membership import membership_join, membership_payment_received

    membership_join(person=member, membership_type=kind, pays_by=pays_by)
    return membership_payment_received(
        person=member,
        amount_pence=kind.rate_pence,
        paid_at=timezone.now(),
        provider="gocardless",
        reference="PM-first",
    )


def test_membership_page_shows_type_rate_renewal_and_how_they_pay(member_client, member, annual):
    m = _join(member, annual)
    page = member_client.get("/members/membership/").content.decode()
    for text in ("Annual", "£48.00", "a year", "Direct Debit", str(m.number), "Active"):
        assert text in page
    assert m.renews_on.strftime("%Y") in page
    assert "Cancel my membership" in page


def test_a_pending_member_is_told_it_starts_with_the_first_payment(member_client, member, standard):
    from clarion.members.membership import membership_join

    membership_join(person=member, membership_type=standard, pays_by="card")
    page = member_client.get("/members/membership/").content.decode()
    assert "starts when your first payment arrives" in page
    assert "Card" in page and "Waiting for the first payment" in page


def test_a_supporter_sees_the_types_staff_offer(member_client, standard, annual):
    from clarion.members.models import MembershipType

    MembershipType.objects.create(name="Retired <b>", rate_pence=1, period="annual", active=False)
    page = member_client.get("/members/membership/").content.decode()
    assert "Standard" in page and "£5.00" in page and "a month" in page
    assert "Annual" in page and "£48.00" in page
    assert "Retired" not in page


def test_cancelling_asks_first_then_cancels_and_is_audited(member_client, member, standard):
    from clarion.core.models import AuditEntry
    from clarion.members.models import Membership

    _join(member, standard)
    confirm = member_client.get("/members/membership/cancel/")
    assert confirm.status_code == 200
    assert "Yes, cancel my membership" in confirm.content.decode()
    assert Membership.objects.get().status == "active"  # a GET changes nothing

    response = member_client.post("/members/membership/cancel/", {"reason": "Too <dear>"})
    assert response.status_code == 302 and response["Location"] == "/members/membership/"
    m = Membership.objects.get()
    assert m.status == "cancelled"
    assert m.cancel_reason == "Cancelled by the member: Too <dear>"
    member.refresh_from_db()
    assert member.membership_status == MembershipStatus.CANCELLED
    entry = AuditEntry.objects.get(detail__membership="cancelled")
    assert entry.object_id == str(member.pk) and entry.actor is None
    page = member_client.get("/members/membership/").content.decode()
    assert "Cancelled" in page and "Cancel my membership" not in page
    # Nothing left to cancel: the page says so and changes nothing.
    again = member_client.post("/members/membership/cancel/", {})
    assert again.status_code == 302
    assert AuditEntry.objects.filter(detail__membership="cancelled").count() == 1


def test_an_overlong_reason_is_a_form_error_and_changes_nothing(member_client, member, standard):
    from clarion.members.models import Membership

    _join(member, standard)
    response = member_client.post("/members/membership/cancel/", {"reason": "x" * 401})
    assert response.status_code == 400
    assert "There is a problem" in response.content.decode()
    assert Membership.objects.get().status == "active"


def test_cancel_needs_a_member_session(client, member, standard):
    from clarion.members.models import Membership

    _join(member, standard)
    response = client.post("/members/membership/cancel/", {})
    assert response.status_code == 302 and "/members/sign-in/" in response["Location"]
    assert Membership.objects.get().status == "active"


def test_a_supporter_who_is_not_a_member_is_offered_the_join_page(member_client, member):
    from clarion.members.models import MembershipType

    MembershipType.objects.create(name="Standard", rate_pence=500, period="monthly")
    page = member_client.get("/members/membership/").content.decode()
    assert "Standard" in page
    assert 'href="/members/join/">Join the party</a>' in page
    _make_member(member)
    assert "Join the party" not in member_client.get("/members/membership/").content.decode()
