"""What happens at the providers when a membership changes: cancelling in Clarion stops
the GoCardless or Stripe subscription (through a task that keeps trying through an
outage), events about an old subscription leave a rejoined membership alone, and a
member's change of type changes the amount at the provider first. Both providers are
loopback stand-ins speaking their documented wire formats."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from freezegun import freeze_time

from clarion.core import schedule
from clarion.core.models import AuditEntry
from clarion.members import membership as lifecycle
from clarion.members.models import (
    Membership,
    MembershipChange,
    MembershipProviderStop,
    MembershipType,
)
from clarion.members.payments import stops

from . import test_dues_gocardless as gc_tests
from .conftest import sign_in
from .stripe_dues_fake import FakeStripeSubscriptions
from .test_dues_gocardless import _event, _webhook
from .test_dues_stripe import _invoice, _meta, _post

# The GoCardless stand-in and a member paying through it, as the join tests make them.
fake_gc = gc_tests.fake_gc
gc_settings = gc_tests.gc_settings
paying = gc_tests.paying

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def immediate(settings):
    settings.TASKS = IMMEDIATE
    return settings


@pytest.fixture
def fake_subs():
    with FakeStripeSubscriptions() as fake:
        yield fake


@pytest.fixture
def card_settings(settings, fake_subs):
    settings.CLARION_STRIPE_SECRET_KEY = fake_subs.secret_key
    settings.CLARION_STRIPE_API_BASE = fake_subs.url
    settings.CLARION_STRIPE_MEMBERS_WEBHOOK_SECRET = "whsec_members_0123456789"
    return settings


@pytest.fixture
def supporter(standard):
    return MembershipType.objects.create(
        name="Supporter", rate_pence=900, period="monthly", order=3
    )


def _cancel(client, capture, reason="Moving away"):
    with capture(execute=True):
        response = client.post("/members/membership/cancel/", {"reason": reason})
    assert response.status_code == 302
    return response


def _dd_flow(client, fake_gc, mtype) -> tuple[str, dict]:
    """Join by Direct Debit through the hosted flow (the latest Billing Request)."""
    response = client.post(
        "/members/join/", {"membership_type": mtype.pk, "pays_by": "direct_debit"}
    )
    assert response.status_code == 302
    br_id = list(fake_gc.billing_requests)[-1]
    flow = [f for f in fake_gc.flows.values() if f["links"]["billing_request"] == br_id][0]
    fake_gc.fulfil(br_id)
    assert client.get(urlsplit(flow["redirect_uri"]).path).status_code == 302
    sub = [s for s in fake_gc.subscriptions.values() if s["status"] == "active"][-1]
    return br_id, sub


# --- GoCardless: cancelling stops the subscription ---------------------------------------


@pytest.mark.django_db
def test_direct_debit_join_stores_the_subscription_and_mandate(member, paying):
    membership = Membership.objects.get(person=member)
    assert membership.provider == "gocardless"
    assert membership.provider_subscription_id == paying["id"]
    assert membership.provider_mandate_id == paying["links"]["mandate"]


@pytest.mark.django_db
def test_members_cancel_button_stops_the_direct_debit_at_gocardless(
    client, member, fake_gc, paying, immediate, django_capture_on_commit_callbacks
):
    _cancel(client, django_capture_on_commit_callbacks)
    assert Membership.objects.get(person=member).status == "cancelled"
    assert fake_gc.cancelled == [paying["id"]]
    assert fake_gc.subscriptions[paying["id"]]["status"] == "cancelled"
    [sent] = [r for r in fake_gc.requests if r["path"].endswith("/actions/cancel")]
    assert sent["method"] == "POST"
    assert sent["path"] == f"/subscriptions/{paying['id']}/actions/cancel"
    assert sent["body"] == {"data": {"metadata": {"clarion_reason": "membership cancelled"}}}
    assert sent["headers"]["Idempotency-Key"]
    stop = MembershipProviderStop.objects.get()
    assert (stop.status, stop.outcome, stop.attempts) == ("done", "cancelled", 1)
    assert stop.mandate_id == paying["links"]["mandate"]


@pytest.mark.django_db
def test_staff_cancelling_stops_the_direct_debit_too(
    member, admin, standard, fake_gc, paying, immediate, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.membership_staff_change(
            membership=Membership.objects.get(person=member),
            actor=admin,
            reason="Asked by phone",
            status="cancelled",
            membership_type=standard,
            renews_on=None,
        )
    assert fake_gc.cancelled == [paying["id"]]


@pytest.mark.django_db
def test_a_subscription_already_cancelled_at_gocardless_counts_as_stopped(
    client, member, fake_gc, paying, immediate, django_capture_on_commit_callbacks
):
    fake_gc.subscriptions[paying["id"]]["status"] = "cancelled"  # cancelled at the bank
    _cancel(client, django_capture_on_commit_callbacks)
    stop = MembershipProviderStop.objects.get()
    assert (stop.status, stop.outcome) == ("done", "already cancelled")
    # Running the task again (a redelivered job) asks nothing more.
    asked = len(fake_gc.requests)
    assert stops.stop_attempt(stop_id=stop.pk) == "already done"
    assert len(fake_gc.requests) == asked


@pytest.mark.django_db
def test_a_gocardless_outage_keeps_the_stop_and_it_is_retried_until_done(
    client, member, fake_gc, paying, immediate, django_capture_on_commit_callbacks
):
    fake_gc.fail_with = (500, "gocardless", "Internal server error")
    _cancel(client, django_capture_on_commit_callbacks)
    # The member is cancelled in Clarion at once; the stop waits for GoCardless.
    assert Membership.objects.get(person=member).status == "cancelled"
    stop = MembershipProviderStop.objects.get()
    assert (stop.status, stop.attempts) == ("pending", 1)
    assert "Direct Debit service" in stop.last_error
    assert stop.next_attempt_at > timezone.now()
    assert fake_gc.subscriptions[paying["id"]]["status"] == "active"

    job = schedule._registry["members.provider_stops"]
    # Before the wait is over the job queues nothing; after it, the next try runs.
    job.target.call()
    assert MembershipProviderStop.objects.get().attempts == 1
    with freeze_time(stop.next_attempt_at + dt.timedelta(seconds=1)):
        job.target.call()  # GoCardless still down: a longer wait
    stop.refresh_from_db()
    assert (stop.status, stop.attempts) == ("pending", 2)
    assert stop.next_attempt_at - timezone.now() > dt.timedelta(minutes=1)

    fake_gc.fail_with = None
    with freeze_time(stop.next_attempt_at + dt.timedelta(seconds=1)):
        job.target.call()
    stop.refresh_from_db()
    assert (stop.status, stop.outcome, stop.attempts) == ("done", "cancelled", 3)
    assert fake_gc.cancelled == [paying["id"]]


@pytest.mark.django_db
def test_a_failed_stop_is_deferred_on_a_backend_that_can_wait(
    client, member, fake_gc, paying, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    fake_gc.fail_with = (503, "gocardless", "Down for maintenance")
    _cancel(client, django_capture_on_commit_callbacks)
    stop = MembershipProviderStop.objects.get()
    [queued] = DBTaskResult.objects.filter(task_path__endswith="provider_stop")
    assert queued.args_kwargs["kwargs"] == {"stop_id": stop.pk}
    assert stops.stop_attempt(stop_id=stop.pk) == "retrying"  # what the worker runs
    stop.refresh_from_db()
    deferred = DBTaskResult.objects.filter(task_path__endswith="provider_stop").exclude(
        pk=queued.pk
    )
    assert [t.run_after for t in deferred] == [stop.next_attempt_at]


def test_retry_waits_grow_and_are_capped():
    waits = [stops.retry_delay(n) for n in (1, 2, 3, 20, 200)]
    assert waits[:3] == [dt.timedelta(minutes=1), dt.timedelta(minutes=2), dt.timedelta(minutes=4)]
    assert waits[3] == waits[4] == dt.timedelta(hours=6)


# --- GoCardless: old subscriptions after rejoining ----------------------------------------


@pytest.mark.django_db
def test_events_of_the_old_direct_debit_leave_the_rejoined_membership_alone(
    client, member, standard, fake_gc, paying, immediate, django_capture_on_commit_callbacks
):
    old_br = list(fake_gc.billing_requests)[0]
    old_mandate = paying["links"]["mandate"]
    _cancel(client, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        _br, new = _dd_flow(client, fake_gc, standard)
    assert new["id"] != paying["id"]
    membership = Membership.objects.get(person=member)
    assert membership.status == "pending"
    assert membership.provider_subscription_id == new["id"]
    assert membership.provider_mandate_id == new["links"]["mandate"] != old_mandate

    failed = fake_gc.payment_add(paying["id"], status="failed")
    events = [
        _event("EV60", "subscriptions", "cancelled", {"subscription": paying["id"]}),
        _event("EV61", "mandates", "cancelled", {"mandate": old_mandate}, "bank_account_closed"),
        _event("EV62", "mandates", "expired", {"mandate": old_mandate}),
        _event("EV63", "payments", "failed", {"payment": failed}),
        _event("EV64", "billing_requests", "fulfilled", {"billing_request": old_br}),
    ]
    assert _webhook(client, events).json()["outcomes"] == {
        "EV60": "ignored: an earlier subscription",
        "EV61": "ignored: an earlier mandate",
        "EV62": "ignored: an earlier mandate",
        "EV63": "ignored: a payment of an earlier subscription",
        "EV64": f"ignored: subscription {paying['id']} was stopped",
    }
    membership.refresh_from_db()
    assert membership.status == "pending"
    assert membership.provider_subscription_id == new["id"]
    assert MembershipChange.objects.filter(kind="cancelled").count() == 1

    # The new mandate failing does end the new membership.
    events = [_event("EV65", "mandates", "failed", {"mandate": new["links"]["mandate"]})]
    assert _webhook(client, events).json()["outcomes"] == {"EV65": "membership cancelled"}
    membership.refresh_from_db()
    assert membership.status == "cancelled" and "failed" in membership.cancel_reason


# --- Stripe ---------------------------------------------------------------------------------


def _card_join(client, fake_subs, member, mtype, event_id="evt_c1") -> str:
    sub_id = fake_subs.subscription_add(_meta(member, mtype), mtype.rate_pence)
    session = {
        "id": f"cs_test_{event_id}",
        "object": "checkout.session",
        "mode": "subscription",
        "subscription": sub_id,
        "metadata": _meta(member, mtype),
    }
    assert _post(client, "checkout.session.completed", session, event_id).json()["outcome"] in (
        "joined",
        "already pending",
    )
    first = _invoice(member, mtype, f"in_{event_id}", reason="subscription_create")
    first["parent"]["subscription_details"]["subscription"] = sub_id
    assert _post(client, "invoice.paid", first, f"{event_id}_paid").status_code == 200
    return sub_id


@pytest.fixture
def card_paying(client, member, standard, fake_subs, card_settings):
    sign_in(client, member)
    return _card_join(client, fake_subs, member, standard)


@pytest.mark.django_db
def test_cancelling_a_card_membership_cancels_the_stripe_subscription(
    client, member, fake_subs, card_paying, immediate, django_capture_on_commit_callbacks
):
    membership = Membership.objects.get(person=member)
    assert (membership.status, membership.provider) == ("active", "stripe")
    assert membership.provider_subscription_id == card_paying
    _cancel(client, django_capture_on_commit_callbacks)
    assert fake_subs.cancelled == [card_paying]
    [sent] = [r for r in fake_subs.requests if r["method"] == "DELETE"]
    assert sent["path"] == f"/v1/subscriptions/{card_paying}"
    assert sent["headers"]["Idempotency-Key"] == f"clarion-membership-stop-{card_paying}"
    stop = MembershipProviderStop.objects.get()
    assert (stop.provider, stop.status, stop.outcome) == ("stripe", "done", "cancelled")
    # Stripe's own "subscription deleted" event that follows changes nothing more.
    sub = {
        "id": card_paying,
        "object": "subscription",
        "metadata": _meta(member, membership.membership_type),
    }
    _post(client, "customer.subscription.deleted", sub, "evt_del")
    assert MembershipChange.objects.filter(kind="cancelled").count() == 1


@pytest.mark.django_db
def test_a_card_subscription_stripe_already_ended_counts_as_stopped(
    client, member, fake_subs, card_paying, immediate, django_capture_on_commit_callbacks
):
    fake_subs.subscriptions[card_paying]["status"] = "canceled"
    _cancel(client, django_capture_on_commit_callbacks)
    stop = MembershipProviderStop.objects.get()
    assert (stop.status, stop.outcome) == ("done", "already cancelled")


@pytest.mark.django_db
def test_a_stripe_outage_is_retried(
    client, member, fake_subs, card_paying, immediate, django_capture_on_commit_callbacks
):
    outage = (500, {"error": {"type": "api_error", "message": "Something went wrong"}})
    fake_subs.fail_next = [outage] * 4
    _cancel(client, django_capture_on_commit_callbacks)
    stop = MembershipProviderStop.objects.get()
    assert stop.status == "pending" and stop.attempts == 1
    fake_subs.fail_next = []
    with freeze_time(stop.next_attempt_at + dt.timedelta(seconds=1)):
        schedule._registry["members.provider_stops"].target.call()
    stop.refresh_from_db()
    assert stop.status == "done" and fake_subs.cancelled == [card_paying]


@pytest.mark.django_db
def test_events_of_the_old_card_subscription_leave_the_rejoined_membership_alone(
    client, member, standard, fake_subs, card_paying, immediate, django_capture_on_commit_callbacks
):
    _cancel(client, django_capture_on_commit_callbacks)
    new = _card_join(client, fake_subs, member, standard, event_id="evt_c2")
    membership = Membership.objects.get(person=member)
    assert (membership.status, membership.provider_subscription_id) == ("active", new)

    old = {"id": card_paying, "object": "subscription", "metadata": _meta(member, standard)}
    assert _post(client, "customer.subscription.deleted", old, "evt_o1").json()["outcome"] == (
        "ignored: an earlier subscription"
    )
    failed = {**_invoice(member, standard, "in_old_9"), "amount_paid": 0}
    failed["parent"]["subscription_details"]["subscription"] = card_paying
    assert _post(client, "invoice.payment_failed", failed, "evt_o2").json()["outcome"] == (
        "ignored: an invoice of an earlier subscription"
    )
    session = {
        "id": "cs_test_evt_c1",
        "object": "checkout.session",
        "mode": "subscription",
        "subscription": card_paying,
        "metadata": _meta(member, standard),
    }
    assert _post(client, "checkout.session.completed", session, "evt_c1").json()["outcome"] == (
        "ignored: subscription was stopped"
    )
    membership.refresh_from_db()
    assert (membership.status, membership.provider_subscription_id) == ("active", new)

    current = {"id": new, "object": "subscription", "metadata": _meta(member, standard)}
    _post(client, "customer.subscription.deleted", current, "evt_n1")
    assert Membership.objects.get(person=member).status == "cancelled"


@pytest.mark.django_db
def test_joining_again_while_pending_stops_the_replaced_subscription(
    client,
    member,
    standard,
    fake_subs,
    card_settings,
    immediate,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        first = fake_subs.subscription_add(_meta(member, standard), 500)
        session = {
            "mode": "subscription",
            "subscription": first,
            "metadata": _meta(member, standard),
        }
        _post(client, "checkout.session.completed", session, "evt_p1")
        second = fake_subs.subscription_add(_meta(member, standard), 500)
        _post(client, "checkout.session.completed", {**session, "subscription": second}, "evt_p2")
    assert Membership.objects.get(person=member).provider_subscription_id == second
    assert fake_subs.cancelled == [first]


# --- Changing type --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_manual_member_changes_type_at_once(member_client, member, standard, annual):
    lifecycle.membership_join(person=member, membership_type=standard, pays_by="manual")
    page = member_client.get("/members/membership/").content.decode()
    assert "Change my membership type" in page and "Annual" in page
    response = member_client.post("/members/membership/", {"membership_type": annual.pk})
    assert response.status_code == 302
    membership = Membership.objects.get(person=member)
    assert membership.membership_type == annual
    change = MembershipChange.objects.get(kind="type_changed")
    assert change.detail["before"] == "Standard" and change.detail["after"] == "Annual"
    assert AuditEntry.objects.filter(object_id=member.pk, detail__membership="type_changed")
    assert (
        "Your membership type is now Annual"
        in member_client.get("/members/membership/").content.decode()
    )


@pytest.mark.django_db
def test_a_direct_debit_member_changes_type_at_gocardless_first(
    client, member, supporter, fake_gc, paying
):
    response = client.post("/members/membership/", {"membership_type": supporter.pk})
    assert response.status_code == 302
    [(sub_id, changes)] = fake_gc.updated
    assert sub_id == paying["id"]
    assert changes["amount"] == 900 and changes["name"] == "Supporter"
    assert changes["metadata"]["clarion_membership_type_id"] == str(supporter.pk)
    [sent] = [r for r in fake_gc.requests if r["method"] == "PUT"]
    assert sent["body"] == {"subscriptions": changes}
    assert Membership.objects.get(person=member).membership_type == supporter
    change = MembershipChange.objects.get(kind="type_changed")
    assert change.detail["amount_pence"] == 900 and change.detail["provider"] == "gocardless"


@pytest.mark.django_db
def test_monthly_to_yearly_by_direct_debit_is_refused_with_the_way_to_do_it(
    client, member, standard, annual, fake_gc, paying
):
    page = client.get("/members/membership/").content.decode()
    assert "To pay yearly instead, cancel your membership and join again" in page
    assert "No other type with the same period is offered" in page
    response = client.post("/members/membership/", {"membership_type": annual.pk})
    assert response.status_code == 400
    assert (
        "Your payments are taken every month, and that type is paid every year"
        in response.content.decode()
    )
    assert not fake_gc.updated
    assert Membership.objects.get(person=member).membership_type == standard
    assert not MembershipChange.objects.filter(kind="type_changed").exists()


@pytest.mark.django_db
def test_gocardless_refusing_the_change_leaves_the_type(
    client, member, standard, supporter, fake_gc, paying
):
    fake_gc.amendments_left[paying["id"]] = 0
    response = client.post("/members/membership/", {"membership_type": supporter.pk})
    assert response.status_code == 400
    assert "would not change the amount" in response.content.decode()
    assert Membership.objects.get(person=member).membership_type == standard
    assert not MembershipChange.objects.filter(kind="type_changed").exists()


@pytest.mark.django_db
def test_a_card_member_changes_type_with_a_new_price_at_stripe(
    client, member, supporter, fake_subs, card_paying
):
    product = fake_subs.subscriptions[card_paying]["items"]["data"][0]["price"]["product"]
    response = client.post("/members/membership/", {"membership_type": supporter.pk})
    assert response.status_code == 302
    [(sub_id, form)] = fake_subs.updated
    assert sub_id == card_paying
    assert form["items[0][price_data][product]"] == product
    assert form["items[0][price_data][unit_amount]"] == "900"
    assert form["items[0][price_data][recurring][interval]"] == "month"
    assert form["items[0][price_data][currency]"] == "gbp"
    assert form["proration_behavior"] == "none"
    assert form["metadata[clarion_membership_type_id]"] == str(supporter.pk)
    item = fake_subs.subscriptions[card_paying]["items"]["data"][0]
    assert item["price"]["unit_amount"] == 900
    assert Membership.objects.get(person=member).membership_type == supporter


@pytest.mark.django_db
def test_stripe_down_during_a_change_leaves_the_type(
    client, member, standard, supporter, fake_subs, card_paying
):
    fake_subs.fail_next = [(500, {"error": {"type": "api_error", "message": "down"}})] * 4
    response = client.post("/members/membership/", {"membership_type": supporter.pk})
    assert response.status_code == 400
    assert "payment service" in response.content.decode()
    assert Membership.objects.get(person=member).membership_type == standard


@pytest.mark.django_db
def test_a_card_membership_without_a_stored_subscription_cannot_change_here(
    member_client, member, standard, supporter
):
    lifecycle.membership_join(person=member, membership_type=standard, pays_by="card")
    lifecycle.membership_payment_received(
        person=member, amount_pence=500, paid_at=timezone.now(), provider="stripe", reference="in_x"
    )
    response = member_client.post("/members/membership/", {"membership_type": supporter.pk})
    assert response.status_code == 400
    assert "cannot be changed from here" in response.content.decode()
    assert Membership.objects.get(person=member).membership_type == standard


@pytest.mark.django_db
def test_bad_type_choices_are_form_errors(member_client, member, standard, annual, supporter):
    lifecycle.membership_join(person=member, membership_type=standard, pays_by="manual")
    annual.active = False
    annual.save()
    for value in ("", "abc", str(standard.pk), str(annual.pk), "99999999"):
        response = member_client.post("/members/membership/", {"membership_type": value})
        assert response.status_code == 400, value
    assert Membership.objects.get(person=member).membership_type == standard


@pytest.mark.django_db
def test_a_cancelled_member_renews_with_their_type_preselected(
    member_client, member, annual, django_capture_on_commit_callbacks
):
    lifecycle.membership_join(person=member, membership_type=annual, pays_by="direct_debit")
    lifecycle.membership_cancel(person=member, reason="Moving away")
    page = member_client.get("/members/membership/").content.decode()
    link = f"/members/join/?type={annual.pk}&amp;pays_by=direct_debit"
    assert f'href="{link}"' in page and "Renew my membership" in page
    assert "Change my membership type" not in page
    join = member_client.get(link.replace("&amp;", "&")).content.decode()
    assert f'value="{annual.pk}" id="id_membership_type" checked' in join
    assert 'value="direct_debit" id="id_pays_by" checked' in join
    # A changing of type is refused for a cancelled membership.
    response = member_client.post("/members/membership/", {"membership_type": annual.pk})
    assert response.status_code == 302


# --- Erasure and merging stop the subscription too ----------------------------------------


@pytest.mark.django_db
def test_erasing_a_direct_debit_member_stops_the_subscription_at_gocardless(
    member, admin, fake_gc, paying, immediate, django_capture_on_commit_callbacks
):
    from clarion.people.services import person_erase

    with django_capture_on_commit_callbacks(execute=True):
        person_erase(person=member, actor=admin)
    assert not Membership.objects.exists()
    assert fake_gc.cancelled == [paying["id"]]
    stop = MembershipProviderStop.objects.get()
    # The stop outlives the membership (it names none now), so a late event about the
    # subscription is still recognised as one Clarion stopped.
    assert (stop.membership_id, stop.status, stop.subscription_id) == (None, "done", paying["id"])
    assert lifecycle.provider_subscription_stopped(
        provider="gocardless", subscription_id=paying["id"]
    )


@pytest.mark.django_db
def test_erasure_while_gocardless_is_down_leaves_the_stop_for_the_job(
    member, admin, fake_gc, paying, immediate, django_capture_on_commit_callbacks
):
    from clarion.people.services import person_erase

    fake_gc.fail_with = (500, "gocardless", "Internal server error")
    with django_capture_on_commit_callbacks(execute=True):
        person_erase(person=member, actor=admin)
    stop = MembershipProviderStop.objects.get()
    assert (stop.status, stop.membership_id, stop.attempts) == ("pending", None, 1)
    assert fake_gc.cancelled == []
    fake_gc.fail_with = None
    with freeze_time(stop.next_attempt_at + dt.timedelta(seconds=1)):
        assert stops.stops_due() == 1
    assert MembershipProviderStop.objects.get().status == "done"
    assert fake_gc.cancelled == [paying["id"]]


@pytest.mark.django_db
def test_merging_away_a_duplicate_who_pays_stops_the_duplicates_card_subscription(
    client,
    member,
    admin,
    standard,
    fake_subs,
    card_paying,
    immediate,
    django_capture_on_commit_callbacks,
):
    from clarion.people.models import Person
    from clarion.people.services import person_merge

    survivor = Person.objects.create(email="keeper@example.org", first_name="Kept")
    lifecycle.membership_join(person=survivor, membership_type=standard, pays_by="manual")
    with django_capture_on_commit_callbacks(execute=True):
        person_merge(survivor=survivor, duplicate=member, actor=admin)
    assert Membership.objects.get().person_id == survivor.pk
    assert fake_subs.cancelled == [card_paying]
    assert MembershipProviderStop.objects.get().status == "done"


# --- Staff corrections of the type change the provider's amount too -----------------------


def _staff_change(admin_client, member, mtype, status="active"):
    membership = Membership.objects.get(person=member)
    return admin_client.post(
        f"/staff/members/{member.pk}/",
        {
            "status": status,
            "membership_type": mtype.pk,
            "renews_on": membership.renews_on.isoformat() if membership.renews_on else "",
            "reason": "Asked on the phone",
        },
    )


@pytest.mark.django_db
def test_staff_changing_a_direct_debit_members_type_changes_the_amount_at_gocardless(
    admin_client, member, supporter, fake_gc, paying
):
    response = _staff_change(admin_client, member, supporter)
    assert response.status_code == 302, response.content.decode()
    [(sub_id, changes)] = fake_gc.updated
    assert (sub_id, changes["amount"]) == (paying["id"], 900)
    assert Membership.objects.get(person=member).membership_type == supporter


@pytest.mark.django_db
def test_staff_cannot_move_a_direct_debit_member_to_another_period(
    admin_client, member, standard, annual, fake_gc, paying
):
    response = _staff_change(admin_client, member, annual)
    assert response.status_code == 400
    assert "has to cancel and join again" in response.content.decode()
    assert not fake_gc.updated
    assert Membership.objects.get(person=member).membership_type == standard


@pytest.mark.django_db
def test_gocardless_refusing_a_staff_change_leaves_the_record(
    admin_client, member, standard, supporter, fake_gc, paying
):
    fake_gc.amendments_left[paying["id"]] = 0
    response = _staff_change(admin_client, member, supporter)
    assert response.status_code == 400
    assert "would not change the amount" in response.content.decode()
    assert Membership.objects.get(person=member).membership_type == standard
    assert not MembershipChange.objects.filter(kind="type_changed").exists()
