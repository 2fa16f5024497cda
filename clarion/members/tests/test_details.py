"""My details: the member's own changes, applied at once through people.services, an
area move audited and seen by the new area's organiser, form errors for bad input, and
changes public forms proposed accepted or dismissed here."""

from __future__ import annotations

from clarion.core.models import AuditEntry
from clarion.people.models import Activity, EmailStatus, Person, ProposedChange
from clarion.people.selectors import people_for
from clarion.people.services import person_upsert


def _post(client, member, **changes):
    data = {
        "first_name": member.first_name,
        "last_name": member.last_name,
        "address_line1": member.address_line1,
        "address_line2": member.address_line2,
        "town": member.town,
        "postcode": member.postcode,
        "phone": member.phone,
        **changes,
    }
    return client.post("/members/details/", data)


def test_member_changes_name_and_phone_at_once(member_client, member):
    response = _post(member_client, member, first_name="Maureen", phone="07400 123456")
    assert response.status_code == 302, response.content.decode()
    member.refresh_from_db()
    assert member.first_name == "Maureen" and member.phone == "+447400123456"
    assert member.activities.filter(kind=Activity.Kind.UPDATED).exists()
    page = member_client.get("/members/details/").content.decode()
    assert "Your details are saved." in page and 'value="Maureen"' in page


def test_moving_area_is_audited_and_the_new_organiser_sees_them(
    member_client, member, areas, organiser, south_organiser
):
    assert people_for(organiser).filter(pk=member.pk).exists()
    _post(member_client, member, postcode="bs5 6xx")
    member.refresh_from_db()
    assert member.postcode == "BS5 6XX" and member.area_id == areas.bristol_east.pk
    entry = AuditEntry.objects.get(detail__event="member_details", object_id=str(member.pk))
    assert entry.detail["area_from"] == areas.leeds_central.code
    assert entry.detail["area_to"] == areas.bristol_east.code
    assert "moved area" in entry.summary and "mo@example.net" not in entry.summary
    assert people_for(south_organiser).filter(pk=member.pk).exists()
    assert not people_for(organiser).filter(pk=member.pk).exists()


def test_bad_postcode_and_phone_are_form_errors_and_change_nothing(member_client, member):
    before = Person.objects.filter(pk=member.pk).values().get()
    response = _post(member_client, member, postcode="NOT A CODE", phone="12", first_name="X")
    assert response.status_code == 400
    text = response.content.decode()
    assert "Enter a valid phone number." in text
    assert "Enter a valid UK postcode" in text
    assert 'class="field field--error"' in text
    assert Person.objects.filter(pk=member.pk).values().get() == before


def test_script_in_a_name_is_shown_escaped(member_client, member):
    _post(member_client, member, first_name="<script>x</script>")
    page = member_client.get("/members/details/").content.decode()
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page


def _proposal(member, **typed):
    return person_upsert(email=member.email, public=True, source_code="walk", **typed).proposal


def test_member_accepts_a_proposed_change(member_client, member, areas):
    proposal = _proposal(member, first_name="Morwenna", postcode=areas.postcodes["south"])
    page = member_client.get("/members/details/").content.decode()
    assert "Morwenna" in page and "A form gave us different details" in page
    response = member_client.post(
        "/members/details/proposal/", {"proposal": proposal.pk, "decision": "accept"}
    )
    assert response.status_code == 302
    member.refresh_from_db()
    proposal.refresh_from_db()
    assert member.first_name == "Morwenna" and member.area_id == areas.bristol_east.pk
    assert proposal.status == ProposedChange.Status.CONFIRMED
    again = member_client.post(
        "/members/details/proposal/", {"proposal": proposal.pk, "decision": "accept"}
    )
    assert again.status_code == 302
    assert "already decided" in member_client.get("/members/details/").content.decode()


def test_member_dismisses_a_proposed_change(member_client, member):
    proposal = _proposal(member, first_name="Mallory")
    member_client.post("/members/details/proposal/", {"proposal": proposal.pk, "decision": "no"})
    member.refresh_from_db()
    proposal.refresh_from_db()
    assert member.first_name == "Mo" and proposal.status == ProposedChange.Status.DISMISSED


def test_member_cannot_decide_another_persons_proposal(member_client, member, south_person):
    proposal = _proposal(south_person, first_name="Mallory")
    member_client.post(
        "/members/details/proposal/", {"proposal": proposal.pk, "decision": "accept"}
    )
    proposal.refresh_from_db()
    south_person.refresh_from_db()
    assert proposal.status == ProposedChange.Status.PENDING
    assert south_person.first_name == "Sid"
    assert member_client.post("/members/details/proposal/", {"proposal": "x"}).status_code == 404


def test_resubscription_in_a_proposal_applies_only_when_the_member_accepts(member_client, member):
    Person.objects.filter(pk=member.pk).update(email_status=EmailStatus.UNSUBSCRIBED)
    proposal = _proposal(member, email_status=EmailStatus.SUBSCRIBED)
    member.refresh_from_db()
    assert member.email_status == EmailStatus.UNSUBSCRIBED
    member_client.post(
        "/members/details/proposal/", {"proposal": proposal.pk, "decision": "accept"}
    )
    member.refresh_from_db()
    assert member.email_status == EmailStatus.SUBSCRIBED
