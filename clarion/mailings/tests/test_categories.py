"""Email categories: staff define them, a mailing names one (or none: general mail),
people stop one and keep the rest, and the sender and the breakdown agree on who is
left out."""

from __future__ import annotations

import re

import pytest

from clarion.mailings import categories, selectors
from clarion.mailings.models import EmailCategory, OptOut, Recipient
from clarion.mailings.sending import deliver, tokens
from clarion.people.models import Activity, EmailStatus

from .helpers import make_mailing, send_and_work

pytestmark = [pytest.mark.usefixtures("mail_settings"), pytest.mark.django_db(transaction=True)]


def _steps(breakdown) -> dict[str, int]:
    return {str(label): n for label, n in breakdown["steps"]}


def test_an_opted_out_person_is_skipped_by_a_real_send_and_the_count_says_so(
    admin, subscribed, everyone, smtp_server, django_capture_on_commit_callbacks
):
    categories.person_categories_set(
        person=subscribed["nora"], wanted=["news", "events"], source="test"
    )
    mailing = make_mailing(admin, everyone, category="fundraising")
    breakdown = selectors.audience_breakdown(mailing, admin)
    assert _steps(breakdown)["opted out of Fundraising appeals"] == 1
    assert breakdown["recipients"] == 2

    send_and_work(mailing, admin, django_capture_on_commit_callbacks)
    delivered = sorted(a for m in smtp_server.messages for a in m.envelope_to)
    assert delivered == ["nell@example.net", "sid@example.net"]
    assert len(delivered) == breakdown["recipients"]
    row = Recipient.objects.get(mailing=mailing, person=subscribed["nora"])
    assert row.status == Recipient.Status.SUPPRESSED
    assert row.reason == "Opted out of Fundraising appeals."


def test_general_mail_reaches_everyone_subscribed_and_has_no_opt_out_step(
    admin, subscribed, everyone, smtp_server, django_capture_on_commit_callbacks
):
    categories.person_categories_set(person=subscribed["nora"], wanted=[], source="test")
    mailing = make_mailing(admin, everyone, category="")
    breakdown = selectors.audience_breakdown(mailing, admin)
    assert not any(label.startswith("opted out") for label in _steps(breakdown))
    send_and_work(mailing, admin, django_capture_on_commit_callbacks)
    assert len(smtp_server.to("nora@example.net")) == 1
    assert breakdown["recipients"] == len(smtp_server.messages) == 3


def test_the_send_checks_opt_outs_in_one_statement_per_batch(
    admin, subscribed, everyone, smtp_server, django_capture_on_commit_callbacks
):
    """The opt-out check is an anti-join inside the in-flight UPDATE that moves a whole
    window of rows, never a query per recipient; general mail has no such check."""
    categories.person_categories_set(person=subscribed["nell"], wanted=[], source="test")
    mailing = make_mailing(admin, everyone, category="events")
    ids, people = list(range(1, 201)), list(range(1001, 1201))
    sql, params = deliver._in_flight_sql(mailing, "owner", ids, people)
    table = OptOut._meta.db_table
    assert sql.count(table) == 1
    assert "NOT EXISTS (SELECT 1 FROM mailings_optout o WHERE o.person_id = " in sql
    assert params.count("events") == 1  # one parameter for the window, not per person
    general = make_mailing(admin, everyone, category="")
    assert table not in deliver._in_flight_sql(general, "owner", ids, people)[0]

    send_and_work(mailing, admin, django_capture_on_commit_callbacks)
    assert sorted(a for m in smtp_server.messages for a in m.envelope_to) == [
        "nora@example.net",
        "sid@example.net",
    ]


def test_member_choices_are_recorded_with_wording_source_and_timeline(subscribed):
    nora = subscribed["nora"]
    assert categories.person_categories_set(
        person=nora, wanted=["news", "events", "local-organising"], source="members:preferences"
    )
    stop = OptOut.objects.get(person=nora)
    assert stop.category == "fundraising" and stop.source == "members:preferences"
    assert stop.wording == (
        "Email I want to receive: Fundraising appeals — Asks for money to pay for the campaign."
    )
    entry = Activity.objects.filter(person=nora, kind=Activity.Kind.EMAIL).latest("pk")
    assert entry.summary == "Email categories: stopped Fundraising appeals"
    # The same choice again changes nothing; ticking it again removes the opt-out.
    assert not categories.person_categories_set(
        person=nora, wanted=["news", "events", "local-organising"], source="x"
    )
    assert categories.person_categories_set(
        person=nora, wanted=["news", "events", "local-organising", "fundraising"], source="x"
    )
    assert not OptOut.objects.filter(person=nora).exists()


def test_subject_access_export_holds_the_words_and_source_of_each_stop(subscribed):
    from clarion.mailings import privacy

    nora = subscribed["nora"]
    categories.category_opt_out(person=nora, key="events", source="mailings:unsubscribe")
    data = privacy.export(nora)
    assert data["opted_out_of"] == ["events"]
    [record] = data["opted_out_records"]
    assert record["source"] == "mailings:unsubscribe"
    assert record["wording"].startswith("Email I want to receive: Events near me")


def test_unsubscribe_page_can_stop_only_the_mailings_category(
    client, admin, subscribed, everyone, smtp_server, django_capture_on_commit_callbacks
):
    send_and_work(
        make_mailing(admin, everyone, category="fundraising"),
        admin,
        django_capture_on_commit_callbacks,
    )
    message = smtp_server.to("nora@example.net")[0]
    url = re.search(r"<https://clarion\.example\.org(/m/u/[^>]+)>", message["List-Unsubscribe"])
    page = client.get(url.group(1))
    assert "Only stop Fundraising appeals" in page.content.decode()
    token = url.group(1).split("r=")[1]
    done = client.post(url.group(1), {"r": token, "only": "fundraising"})
    assert "You will not get “Fundraising appeals” any more" in done.content.decode()
    nora = subscribed["nora"]
    nora.refresh_from_db()
    assert nora.email_status == EmailStatus.SUBSCRIBED
    assert list(OptOut.objects.filter(person=nora).values_list("category", "source")) == [
        ("fundraising", "mailings:unsubscribe")
    ]


def test_one_click_unsubscribe_ignores_only_and_stops_everything(
    client, admin, subscribed, everyone, smtp_server, django_capture_on_commit_callbacks
):
    mailing = send_and_work(
        make_mailing(admin, everyone, category="fundraising"),
        admin,
        django_capture_on_commit_callbacks,
    )
    row = Recipient.objects.get(mailing=mailing, email="sid@example.net")
    token = tokens.recipient_token(row.pk)
    client.post(
        f"/m/u/?r={token}", {"r": token, "List-Unsubscribe": "One-Click", "only": "fundraising"}
    )
    sid = subscribed["sid"]
    sid.refresh_from_db()
    assert sid.email_status == EmailStatus.UNSUBSCRIBED
    assert not OptOut.objects.filter(person=sid).exists()


def test_signed_preference_page_offers_staff_made_categories(
    client, admin, subscribed, everyone, smtp_server, django_capture_on_commit_callbacks
):
    EmailCategory.objects.create(key="members-only", name="Members' briefings", order=9)
    mailing = send_and_work(
        make_mailing(admin, everyone), admin, django_capture_on_commit_callbacks
    )
    token = tokens.recipient_token(
        Recipient.objects.get(mailing=mailing, email="sid@example.net").pk
    )
    page = client.get(f"/m/p/?r={token}").content.decode()
    assert "Members&#x27; briefings" in page
    keep = ["news", "fundraising", "events", "local-organising"]
    client.post(f"/m/p/?r={token}", {"r": token, "categories": keep})
    assert list(
        OptOut.objects.filter(person=subscribed["sid"]).values_list("category", flat=True)
    ) == ["members-only"]


def test_admins_define_categories_and_organisers_cannot(client, admin, organiser):
    client.force_login(admin)
    response = client.post(
        "/staff/mailings/categories/",
        {"name": "Local organising news", "key": "local-news", "description": "", "order": ""},
    )
    assert response.status_code == 302
    category = EmailCategory.objects.get(key="local-news")
    # The composer offers it, after "none".
    composer = client.get("/staff/mailings/new/").content.decode()
    assert composer.index("None — general mail") < composer.index("Local organising news")
    # Renaming keeps the key; a bad key is a form error, not a 500.
    client.post(
        f"/staff/mailings/categories/{category.pk}/",
        {"name": "Local news", "key": "changed", "description": "x", "order": "3"},
    )
    category.refresh_from_db()
    assert (category.name, category.key) == ("Local news", "local-news")
    bad = client.post("/staff/mailings/categories/", {"name": "X", "key": "not a slug!"})
    assert bad.status_code == 400 and "slug" in bad.content.decode()

    client.force_login(organiser)
    assert client.post("/staff/mailings/categories/", {"name": "Y", "key": "y"}).status_code == 403
    assert client.post(f"/staff/mailings/categories/{category.pk}/delete/").status_code == 403
    assert EmailCategory.objects.filter(pk=category.pk).exists()
    client.force_login(admin)
    asks = client.get(f"/staff/mailings/categories/{category.pk}/delete/").content.decode()
    assert "Remove “Local news”?" in asks
    assert EmailCategory.objects.filter(pk=category.pk).exists()
    client.post(f"/staff/mailings/categories/{category.pk}/delete/")
    assert not EmailCategory.objects.filter(pk=category.pk).exists()
