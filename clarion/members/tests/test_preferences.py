"""My preferences and consent: email subscription with its wording, SMS and phone
consent recorded with wording and time, and a bounced or complained address never
resubscribed by a tick."""

from __future__ import annotations

from clarion.people.models import ConsentRecord, EmailStatus, Person, Suppression
from clarion.people.normalise import email_hash


def _save(client, **choices):
    return client.post("/members/preferences/", {k: "on" for k, v in choices.items() if v})


def _status(member):
    return Person.objects.get(pk=member.pk).email_status


def test_member_unsubscribes_and_subscribes_again_with_the_wording_recorded(member_client, member):
    Person.objects.filter(pk=member.pk).update(email_status=EmailStatus.SUBSCRIBED)
    assert _save(member_client, email=False).status_code == 302
    assert _status(member) == EmailStatus.UNSUBSCRIBED
    assert _save(member_client, email=True).status_code == 302
    assert _status(member) == EmailStatus.SUBSCRIBED
    records = ConsentRecord.objects.filter(person=member, channel="email").order_by("pk")
    assert [r.granted for r in records] == [False, True]
    assert records.last().wording.startswith("Send me email about the party")
    assert records.last().source == "members:preferences"


def test_sms_and_phone_consent_are_kept_with_wording_and_time(member_client, member):
    _save(member_client, sms=True)
    sms = ConsentRecord.objects.get(person=member, channel="sms")
    assert sms.granted and "text messages" in sms.wording and sms.created_at is not None
    assert not ConsentRecord.objects.filter(person=member, channel="phone").exists()
    page = member_client.get("/members/preferences/").content.decode()
    assert "Your choices are saved." in page
    _save(member_client, sms=True)  # unchanged: nothing new recorded
    assert ConsentRecord.objects.filter(person=member, channel="sms").count() == 1
    _save(member_client, phone=True)
    assert [
        (r.channel, r.granted)
        for r in ConsentRecord.objects.filter(person=member, channel__in=["sms", "phone"]).order_by(
            "pk"
        )
    ] == [("sms", True), ("sms", False), ("phone", True)]


def test_a_complained_address_is_not_resubscribed_by_a_tick(member_client, member):
    Person.objects.filter(pk=member.pk).update(email_status=EmailStatus.COMPLAINED)
    page = member_client.get("/members/preferences/").content.decode()
    assert "stopped after a bounce or a spam report" in page
    response = _save(member_client, email=True, sms=True)
    assert response.status_code == 400
    assert "cannot start it again from here" in response.content.decode()
    assert _status(member) == EmailStatus.COMPLAINED
    assert not ConsentRecord.objects.filter(person=member).exclude(channel="email").exists()


def test_an_address_on_the_suppression_list_is_not_resubscribed(member_client, member):
    Person.objects.filter(pk=member.pk).update(email_status=EmailStatus.UNSUBSCRIBED)
    Suppression.objects.create(email_hash=email_hash(member.email), reason="bounce")
    assert _save(member_client, email=True).status_code == 400
    assert _status(member) == EmailStatus.UNSUBSCRIBED


def test_a_complained_member_can_still_change_sms_consent(member_client, member):
    Person.objects.filter(pk=member.pk).update(email_status=EmailStatus.COMPLAINED)
    assert _save(member_client, sms=True).status_code == 302
    assert ConsentRecord.objects.get(person=member, channel="sms").granted
    assert _status(member) == EmailStatus.COMPLAINED
