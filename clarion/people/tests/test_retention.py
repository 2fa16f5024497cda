"""The retention policy (storage limitation): who is erased, what is cleaned, who may
see and run it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import caches
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from clarion.actions.models import ActionPage, Submission
from clarion.core.models import AuditEntry, RetentionPolicy
from clarion.core.ratelimit import ratelimit_hit
from clarion.core.testing import factories
from clarion.donations.models import Donation
from clarion.people import retention
from clarion.people.models import Activity, MembershipStatus, Person, Suppression
from clarion.people.normalise import email_hash
from clarion.people.services import note_add

pytestmark = pytest.mark.django_db

NOW = timezone.now()
YEAR = dt.timedelta(days=365)


def _ago(delta: dt.timedelta) -> dt.datetime:
    return NOW - delta


def _person(email: str, *, inactive_for: dt.timedelta = 4 * YEAR, **fields) -> Person:
    """A person whose every trace is ``inactive_for`` old."""
    person = factories.person(email=email, **fields)
    Person.objects.filter(pk=person.pk).update(created_at=_ago(inactive_for))
    Activity.objects.filter(person=person).update(created_at=_ago(inactive_for))
    return Person.objects.get(pk=person.pk)


def _gift(person: Person, page: ActionPage, *, age: dt.timedelta) -> Donation:
    return Donation.objects.create(
        person=person,
        page=page,
        amount_pence=2500,
        gateway="test",
        status=Donation.Status.SUCCEEDED,
        created_at=_ago(age),
    )


def _submission(person, page, *, status, age, ip_hash="") -> Submission:
    return Submission.objects.create(
        page=page,
        person=person,
        email_canonical=person.email,
        email_domain=person.email.rpartition("@")[2],
        status=status,
        ip_hash=ip_hash,
        created_at=_ago(age),
    )


@pytest.fixture
def page(areas):
    return ActionPage.objects.create(
        slug="save-the-library", title="Save the library", status=ActionPage.Status.LIVE
    )


@pytest.fixture
def policy(db):
    policy = RetentionPolicy.load()
    policy.enabled = True
    policy.save()
    return policy


@pytest.fixture
def crowd(areas, admin, page):
    """One person per rule: who goes and who stays."""
    member = _person("member@example.net")
    Person.objects.filter(pk=member.pk).update(membership_status=MembershipStatus.ACTIVE)
    recent_donor = _person("recent.donor@example.net")
    _gift(recent_donor, page, age=5 * YEAR)
    active = _person("active@example.net")
    note_add(person=active, text="Met at the street stall", actor=admin)
    Activity.objects.filter(person=active, kind=Activity.Kind.NOTE).update(created_at=_ago(YEAR))
    signer = _person("signer@example.net")
    _submission(signer, page, status=Submission.Status.CONFIRMED, age=2 * YEAR)
    newcomer = factories.person(email="new@example.net")
    old_donor = _person("old.donor@example.net")
    _gift(old_donor, page, age=8 * YEAR)
    gone = _person("gone@example.net")
    return {
        "kept": [member, recent_donor, active, signer, newcomer],
        "erased": [old_donor, gone],
    }


def test_inactive_non_member_without_a_recent_gift_is_erased_and_suppressed(areas, policy):
    person = _person("faded@example.net", first_name="Faded")

    report = retention.retention_run(now=NOW)

    assert report["erased_people"] == 1
    assert not Person.objects.filter(pk=person.pk).exists()
    assert Suppression.objects.filter(
        email_hash=email_hash("faded@example.net"), reason="erased"
    ).exists()
    entry = AuditEntry.objects.filter(object_type="retention_policy").get()
    assert "1 people erased" in entry.summary
    assert AuditEntry.objects.filter(
        action=AuditEntry.Action.ERASE, object_id=str(person.pk)
    ).exists()
    assert RetentionPolicy.load().last_report["erased_people"] == 1


def test_members_recent_donors_and_recently_active_people_are_kept(policy, crowd):
    retention.retention_run(now=NOW)

    remaining = set(Person.objects.values_list("email", flat=True))
    assert {p.email for p in crowd["kept"]} <= remaining
    assert not remaining & {p.email for p in crowd["erased"]}
    # The old gift itself stays as a money record, no longer tied to anyone.
    assert Donation.objects.filter(person=None).count() == 1


def test_preview_counts_equal_what_the_run_then_does(policy, crowd, page):
    anyone = crowd["kept"][0]
    newcomer = crowd["kept"][4]
    # An old unconfirmed action carrying an IP hash is counted (and removed) once.
    _submission(newcomer, page, status=Submission.Status.PENDING, age=YEAR, ip_hash="a" * 32)
    Submission.objects.filter(person=crowd["kept"][3]).update(ip_hash="b" * 32)
    preview = retention.retention_preview(policy=policy, now=NOW)
    assert anyone not in preview.people
    assert {p.email for p in preview.people} == {p.email for p in crowd["erased"]}
    assert preview.kept_members == 1
    assert preview.kept_donors == 1

    report = retention.retention_run(now=NOW)

    assert report["erased_people"] == preview.erase_count == 2
    assert report["cleaned"] == {name: count for name, _label, count in preview.cleaned}
    assert report["cleaned"]["actions.unconfirmed"] == 1
    assert report["cleaned"]["actions.ip_hash"] == 1


def test_a_second_run_finds_nothing_left_to_do(policy, crowd):
    retention.retention_run(now=NOW)
    again = retention.retention_run(now=NOW)
    assert again["erased_people"] == 0
    assert set(again["cleaned"].values()) == {0}


def test_a_disabled_policy_does_nothing(areas):
    person = _person("faded@example.net")
    assert RetentionPolicy.load().enabled is False

    assert retention.retention_run(now=NOW) is None
    assert retention.retention_daily.call() == "off"

    assert Person.objects.filter(pk=person.pk).exists()
    assert not AuditEntry.objects.filter(object_type="retention_policy").exists()


def test_erasure_works_in_batches(policy, areas):
    for n in range(5):
        _person(f"faded{n}@example.net")
    report = retention.retention_run(now=NOW, batch_size=2)
    assert report["erased_people"] == 5
    assert Person.objects.count() == 0


def test_old_unconfirmed_actions_and_old_ip_hashes_are_removed_recent_kept(policy, areas, page):
    other = ActionPage.objects.create(slug="other", title="Other", status=ActionPage.Status.LIVE)
    third = ActionPage.objects.create(slug="third", title="Third", status=ActionPage.Status.LIVE)
    alice = factories.person(email="alice@example.net")
    bob = factories.person(email="bob@example.net")
    stale = _submission(alice, page, status=Submission.Status.PENDING, age=dt.timedelta(days=31))
    fresh = _submission(bob, page, status=Submission.Status.PENDING, age=dt.timedelta(days=2))
    old_ip = _submission(
        alice,
        other,
        status=Submission.Status.CONFIRMED,
        age=dt.timedelta(days=91),
        ip_hash="1" * 32,
    )
    new_ip = _submission(
        alice,
        third,
        status=Submission.Status.CONFIRMED,
        age=dt.timedelta(days=10),
        ip_hash="2" * 32,
    )

    report = retention.retention_run(now=NOW)

    assert not Submission.objects.filter(pk=stale.pk).exists()
    assert Submission.objects.filter(pk=fresh.pk).exists()
    assert Submission.objects.get(pk=old_ip.pk).ip_hash == ""
    assert Submission.objects.get(pk=new_ip.pk).ip_hash == "2" * 32
    assert report["cleaned"]["actions.unconfirmed"] == 1
    # People who acted recently are not touched.
    assert Person.objects.filter(email__in=["alice@example.net", "bob@example.net"]).count() == 2


def test_old_rate_limit_counters_are_removed(policy, areas):
    cache = caches["default"]
    ratelimit_hit(scope="login", ident="203.0.113.9", window=60)
    with connection.cursor() as cursor:
        # That counter's window ended two days ago (its row and its window-start row).
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(cache._table)} SET expires = %s",  # noqa: S608
            [connection.ops.adapt_datetimefield_value(_ago(dt.timedelta(days=2)))],
        )
    ratelimit_hit(scope="login", ident="198.51.100.7", window=60)

    preview = retention.retention_preview(policy=policy, now=NOW)
    report = retention.retention_run(now=NOW)

    assert report["cleaned"]["core.ratelimit"] == 2
    assert dict((n, c) for n, _l, c in preview.cleaned)["core.ratelimit"] == 2
    # The live counter is untouched.
    assert ratelimit_hit(scope="login", ident="198.51.100.7", window=60) == 2


# --- The policy page -------------------------------------------------------------------


def _login(client, user):
    client.force_login(user)
    return client


PERIODS = {
    "inactive_years": "3",
    "donation_record_years": "7",
    "unconfirmed_days": "30",
    "ip_hash_days": "90",
    "ratelimit_days": "1",
}


@pytest.mark.parametrize("who", ["organiser", "analyst"])
def test_non_admin_staff_can_neither_see_nor_run_the_policy(client, request, who, admin):
    user = request.getfixturevalue(who)
    person = _person("faded@example.net")
    policy = RetentionPolicy.load()
    policy.enabled = True
    policy.save()
    _login(client, user)

    assert client.get(reverse("people:retention")).status_code == 403
    assert client.get(reverse("people:retention_run")).status_code == 403
    response = client.post(reverse("people:retention"), {**PERIODS, "preview": "1"})
    assert response.status_code == 403
    assert client.post(reverse("people:retention_run"), {"confirm": "run"}).status_code == 403
    assert Person.objects.filter(pk=person.pk).exists()
    assert "Retention" not in client.get(reverse("people:list")).content.decode()


def test_admin_previews_before_turning_the_policy_on(client, admin, areas):
    _person("faded@example.net", first_name="Faded", last_name="Away")
    _login(client, admin)
    nav = client.get(reverse("people:list")).content.decode()
    assert f'href="{reverse("people:retention")}"' in nav
    page = client.get(reverse("people:retention")).content.decode()
    assert "Off: nothing is erased" in page

    # Turning it on without a preview is refused.
    response = client.post(reverse("people:retention"), {**PERIODS, "enabled": "on", "save": "1"})
    assert "Preview these settings before turning the policy on." in response.content.decode()
    assert RetentionPolicy.load().enabled is False

    response = client.post(
        reverse("people:retention"), {**PERIODS, "enabled": "on", "preview": "1"}
    )
    body = response.content.decode()
    assert "Nothing has been saved or erased." in body
    assert "Faded Away" in body
    assert 'data-preview="erase">1<' in body
    assert Person.objects.filter(email="faded@example.net").exists()
    assert RetentionPolicy.load().enabled is False

    # The preview stamped the form; saving those same settings turns it on.
    previewed = response.context["form"]["previewed"].value()
    response = client.post(
        reverse("people:retention"),
        {**PERIODS, "enabled": "on", "previewed": previewed, "save": "1"},
        follow=True,
    )
    assert "Retention policy saved. It runs every day." in response.content.decode()
    assert RetentionPolicy.load().enabled is True
    assert AuditEntry.objects.filter(
        object_type="retention_policy", summary="Retention policy enabled", actor=admin
    ).exists()
    # Other settings than the previewed ones need a new preview.
    response = client.post(
        reverse("people:retention"),
        {**PERIODS, "inactive_years": "1", "enabled": "on", "previewed": previewed, "save": "1"},
    )
    assert "Preview these settings before turning the policy on." in response.content.decode()
    assert RetentionPolicy.load().inactive_years == 3


def test_periods_must_be_at_least_one(client, admin):
    _login(client, admin)
    response = client.post(
        reverse("people:retention"), {**PERIODS, "inactive_years": "0", "preview": "1"}
    )
    assert response.status_code == 200
    assert "Nothing has been saved or erased." not in response.content.decode()
    assert response.context["form"].errors["inactive_years"]


def test_run_now_asks_first_then_runs(
    client, admin, policy, areas, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    person = _person("faded@example.net", first_name="Faded", last_name="Away")
    _login(client, admin)
    page = client.get(reverse("people:retention_run")).content.decode()
    assert "Faded Away" in page
    assert "Erased people cannot be brought back." in page

    response = client.post(reverse("people:retention_run"), {}, follow=True)
    assert "Tick the box to confirm the run." in response.content.decode()
    assert Person.objects.filter(pk=person.pk).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("people:retention_run"), {"confirm": "run"}, follow=True)
    body = response.content.decode()
    assert "The run has started." in body
    assert not Person.objects.filter(pk=person.pk).exists()
    report = RetentionPolicy.load().last_report
    assert report["trigger"] == "manual"
    assert report["erased_people"] == 1
    entry = AuditEntry.objects.get(object_type="retention_policy")
    assert entry.actor == admin


def test_run_now_is_not_offered_while_the_policy_is_off(client, admin, areas):
    person = _person("faded@example.net")
    _login(client, admin)
    assert "Run now" not in client.get(reverse("people:retention")).content.decode()
    response = client.post(reverse("people:retention_run"), {"confirm": "run"})
    assert "The policy is off." in response.content.decode()
    assert Person.objects.filter(pk=person.pk).exists()
