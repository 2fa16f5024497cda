"""A/B tests with up to four variants of subject, from name and body: a test sample
per variant, a winner picked after the wait (automatically by the chosen figure, or by
hand), and per-variant figures with the significance of the difference."""

from __future__ import annotations

import pytest
from django.utils import timezone

from clarion.core.testing.smtp import body_text
from clarion.mailings import selectors, services
from clarion.mailings.models import Event, Mailing, Recipient, Variant

from .helpers import run_tasks, send_and_work

pytestmark = [pytest.mark.usefixtures("mail_settings")]


def _form(segment, **extra):
    data = {
        "name": "Spring appeal",
        "category": "fundraising",
        "segment": segment.pk,
        "subject": "Subject A",
        "from_name": "Clarion HQ",
        "from_email": "hq@clarion.example.org",
        "body_format": "markdown",
        "body": "Body A for {{ first_name|default:'friend' }}",
        "frequency_cap_hours": 0,
        "rate_per_second": 0,
        "ab_variants": 3,
        "ab_test_percent": 20,
        "ab_wait_minutes": 90,
        "ab_metric": "clicks",
        "subject_b": "Subject B",
        "from_name_c": "The Leader",
        "body_c": "Body C for {{ first_name }}",
    }
    data.update(extra)
    return data


@pytest.fixture
def forty(areas):
    from clarion.core.testing import factories
    from clarion.people.services import email_status_set

    people = []
    for i in range(40):
        p = factories.person(
            postcode=areas.postcodes["north"], first_name=f"P{i}", email=f"p{i}@example.net"
        )
        email_status_set(person=p, status="subscribed")
        people.append(p)
    return people


@pytest.mark.django_db
def test_composer_saves_variants_of_subject_from_name_and_body(admin_client, everyone):
    response = admin_client.post("/staff/mailings/new/", _form(everyone))
    assert response.status_code == 302
    mailing = Mailing.objects.get()
    assert (
        mailing.ab_variants,
        mailing.ab_test_percent,
        mailing.ab_wait_minutes,
        mailing.ab_metric,
    ) == (3, 20, 90, "clicks")
    variants = {
        v.index: (v.subject, v.from_name, v.body) for v in Variant.objects.filter(mailing=mailing)
    }
    assert variants[1] == ("Subject B", "", "")
    assert variants[2] == ("", "The Leader", "Body C for {{ first_name }}")
    edit = admin_client.get(f"/staff/mailings/{mailing.pk}/edit/").content.decode()
    assert 'value="The Leader"' in edit and "Body C for {{ first_name }}" in edit


@pytest.mark.django_db
def test_a_variant_must_differ_and_the_sample_must_fit(admin_client, everyone):
    response = admin_client.post(
        "/staff/mailings/new/", _form(everyone, subject_b="", ab_test_percent=40)
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "Give this variant a subject, a from name or a body of its own." in page
    assert "Choose a sample between 1% and 33% per variant." in page
    response = admin_client.post("/staff/mailings/new/", _form(everyone, ab_variants=5))
    assert response.status_code == 400 and not Mailing.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_each_variant_reaches_its_sample_then_the_hand_picked_winner_goes_to_the_rest(
    admin, admin_client, everyone, forty, smtp_server, django_capture_on_commit_callbacks
):
    admin_client.post("/staff/mailings/new/", _form(everyone, ab_auto=""))
    mailing = send_and_work(Mailing.objects.get(), admin, django_capture_on_commit_callbacks)
    assert mailing.status == Mailing.Status.TESTING
    by_variant = {
        v: Recipient.objects.filter(mailing=mailing, variant=v).count() for v in (0, 1, 2)
    }
    held = Recipient.objects.filter(mailing=mailing, status="held").count()
    assert all(n > 0 for n in by_variant.values()) and held == 40 - sum(by_variant.values())
    sample = smtp_server.wait_for(sum(by_variant.values()))
    seen = {(m["Subject"], m["From"], "Body C" in body_text(m)) for m in sample}
    assert seen == {
        ("Subject A", "Clarion HQ <hq@clarion.example.org>", False),
        ("Subject B", "Clarion HQ <hq@clarion.example.org>", False),
        ("Subject A", "The Leader <hq@clarion.example.org>", True),
    }

    # Nothing more goes out by itself (picked by hand); staff send C to the rest.
    response = admin_client.post(f"/staff/mailings/{mailing.pk}/winner/", {"variant": 2})
    assert response.status_code == 302
    run_tasks(django_capture_on_commit_callbacks)
    messages = smtp_server.wait_for(40)
    assert len(messages) == 40
    rest = [m for m in messages[len(sample) :]]
    assert rest and all(m["From"] == "The Leader <hq@clarion.example.org>" for m in rest)
    mailing.refresh_from_db()
    assert mailing.winner_variant == 2 and mailing.status == Mailing.Status.SENT
    report = admin_client.get(f"/staff/mailings/{mailing.pk}/").content.decode()
    assert "Winner: variant C." in report


def _fake_results(mailing, figures: dict[int, tuple[int, int]], kind: str = Event.Kind.CLICK):
    """Mark ``sent`` rows per variant and add ``hits`` human events of ``kind``."""
    for variant, (sent, hits) in figures.items():
        ids = list(
            Recipient.objects.filter(mailing=mailing, variant=variant).values_list("pk", flat=True)[
                :sent
            ]
        )
        Recipient.objects.filter(pk__in=ids).update(status="sent", sent_at=timezone.now())
        for rid in ids[:hits]:
            Event.objects.create(
                mailing=mailing,
                recipient_id=rid,
                variant=variant,
                kind=kind,
                link_index=0 if kind == Event.Kind.CLICK else None,
            )


@pytest.mark.django_db(transaction=True)
def test_winner_is_picked_automatically_by_clicks_after_the_wait(
    admin, admin_client, everyone, forty, smtp_server, django_capture_on_commit_callbacks
):
    admin_client.post(
        "/staff/mailings/new/",
        _form(everyone, ab_variants=2, ab_test_percent=25, ab_auto="on", ab_metric="clicks"),
    )
    mailing = Mailing.objects.get()
    services.mailing_send(mailing=mailing, actor=admin)
    services.mailing_start_now(mailing_id=mailing.pk)
    # B's sample clicked more; A's opened more (opens are not the chosen figure).
    _fake_results(mailing, {0: (5, 0), 1: (5, 3)})
    _fake_results(mailing, {0: (5, 5)}, kind=Event.Kind.OPEN)
    services.mailing_watch_once(mailing_id=mailing.pk)
    mailing.refresh_from_db()
    assert mailing.winner_variant is None  # the 90 minutes have not passed
    Mailing.objects.filter(pk=mailing.pk).update(ab_decide_at=timezone.now())
    services.mailing_watch_once(mailing_id=mailing.pk)
    mailing.refresh_from_db()
    assert mailing.winner_variant == 1
    assert not Recipient.objects.filter(mailing=mailing, status="held").exists()
    assert set(
        Recipient.objects.filter(mailing=mailing, status="queued").values_list("variant", flat=True)
    ) <= {0, 1}


@pytest.mark.django_db
def test_winner_by_money_raised(admin, everyone, forty):
    from clarion.actions.models import ActionPage
    from clarion.donations.models import Donation
    from clarion.mailings.sending import tokens

    mailing = services.mailing_save(
        mailing=Mailing(
            name="Money",
            subject="A",
            from_name="HQ",
            from_email="hq@clarion.example.org",
            body="x",
            segment=everyone,
            ab_variants=2,
            ab_test_percent=25,
            ab_metric="money",
        ),
        actor=admin,
        variants=[{}, {"subject": "B"}],
    )
    services.mailing_send(mailing=mailing, actor=admin)
    services.mailing_start_now(mailing_id=mailing.pk)
    _fake_results(mailing, {0: (5, 0), 1: (5, 0)})
    page = ActionPage.objects.create(
        slug="give", title="Give", kind=ActionPage.Kind.DONATION, status=ActionPage.Status.LIVE
    )
    # A has two small gifts, B one large one: money, not the number of gifts, decides.
    for variant, pence in ((0, 500), (0, 500), (1, 5000)):
        r = Recipient.objects.filter(mailing=mailing, variant=variant).first()
        Donation.objects.create(
            page=page,
            amount_pence=pence,
            status="succeeded",
            gateway="test",
            mailing_token=tokens.mailing_link_payload(mailing.pk, variant, r.person_id),
        )
    assert selectors.ab_leader(mailing) == 1
    report = selectors.mailing_report(mailing)
    assert [(v["label"], v["money"]) for v in report["variants"]] == [
        ("A", "£10.00"),
        ("B", "£50.00"),
    ]


@pytest.mark.django_db
def test_report_states_the_significance_and_the_test(admin, admin_client, everyone, forty):
    mailing = services.mailing_save(
        mailing=Mailing(
            name="Sig",
            subject="A",
            from_name="HQ",
            from_email="hq@clarion.example.org",
            body="x",
            segment=everyone,
            ab_variants=2,
            ab_test_percent=25,
            ab_metric="opens",
            ab_auto=False,
        ),
        actor=admin,
        variants=[{}, {"subject": "B", "from_name": "Leader"}],
    )
    services.mailing_send(mailing=mailing, actor=admin)
    services.mailing_start_now(mailing_id=mailing.pk)
    _fake_results(mailing, {0: (5, 5), 1: (5, 0)}, kind=Event.Kind.OPEN)
    page = admin_client.get(f"/staff/mailings/{mailing.pk}/").content.decode()
    # 5 of 5 against 0 of 5: z = 3.16, p = 0.0016.
    assert (
        "Variant A leads variant B (z = 3.16); the chance of a difference this large arising by luck is "
        "p = 0.0016." in page
    )
    assert "The difference is significant at the 5% level." in page
    assert (
        "Test: two-sided two-proportion z-test (pooled), between the two leading variants." in page
    )
    assert "<strong>B</strong>: “B” · from Leader" in page

    variants = [
        {
            "index": 0,
            "label": "A",
            "sent": 1000,
            "opens": 200,
            "clicks": 0,
            "actions": 0,
            "donations": 0,
            "rate": 0.2,
        },
        {
            "index": 1,
            "label": "B",
            "sent": 1000,
            "opens": 150,
            "clicks": 0,
            "actions": 0,
            "donations": 0,
            "rate": 0.15,
        },
    ]
    sig = selectors.ab_significance(mailing, variants)
    # Pooled p = 0.175; z = 0.05 / sqrt(0.175 * 0.825 * 2/1000) = 2.94; two-sided p = 0.0033.
    assert (sig["leader"], sig["runner_up"], sig["z"], sig["p"], sig["significant"]) == (
        "A",
        "B",
        2.94,
        0.0033,
        True,
    )
    variants[1]["opens"], variants[1]["rate"] = 190, 0.19
    close = selectors.ab_significance(mailing, variants)
    assert close["p"] > 0.05 and not close["significant"]
