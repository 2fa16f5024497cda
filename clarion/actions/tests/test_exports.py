"""Exporting an action page's signers and making a segment of them: scope (an organiser
gets only their area's signers, even when people from elsewhere signed their page; a
national page stays with national staff, as every staff page of it does), roles, CSV
content, spreadsheet-formula safety, the audit entry, and segment count = export rows."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from clarion.actions.models import ActionPage, Submission
from clarion.actions.tests.conftest import make_page
from clarion.core.models import AuditEntry
from clarion.core.testing import factories
from clarion.people.models import Segment
from clarion.people.segments.selectors import segment_count


def _sign(person, page, status=Submission.Status.CONFIRMED, **fields) -> Submission:
    return Submission.objects.create(
        page=page,
        person=person,
        email_canonical=person.email,
        email_domain="example.net",
        status=status,
        **fields,
    )


def _rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def national(areas):
    """A North page signed by two North people, one South person (anyone may sign any
    page) and one North person who has not confirmed."""
    page = make_page(slug="north-petition", title="North petition", area=areas.north)
    north = factories.person(first_name="Nora", postcode=areas.postcodes["north"])
    north2 = factories.person(first_name="Ned", postcode=areas.postcodes["north2"])
    south = factories.person(first_name="Sid", postcode=areas.postcodes["south"])
    pending = factories.person(first_name="Pat", postcode=areas.postcodes["north"])
    _sign(north, page, answers={"why": "Books"}, comment="Keep it open")
    _sign(north2, page)
    _sign(south, page)
    _sign(pending, page, status=Submission.Status.PENDING)
    return page


def test_north_organiser_exports_only_north_signers_of_their_page(client, organiser, national):
    client.force_login(organiser)
    rows = _rows(client.get(reverse("actions_staff:export", args=[national.pk])))
    assert sorted(r["first_name"] for r in rows) == ["Ned", "Nora"]


def test_a_national_page_is_not_exported_to_an_organiser(client, organiser, areas):
    page = make_page(slug="national", title="National petition")
    _sign(factories.person(postcode=areas.postcodes["north"]), page)
    client.force_login(organiser)
    assert client.get(reverse("actions_staff:detail", args=[page.pk])).status_code == 404
    assert client.get(reverse("actions_staff:export", args=[page.pk])).status_code == 404
    assert client.post(reverse("actions_staff:segment", args=[page.pk])).status_code == 404


def test_admin_exports_every_counted_signer_with_their_details(client, admin, national, areas):
    client.force_login(admin)
    rows = _rows(client.get(reverse("actions_staff:export", args=[national.pk])))
    assert sorted(r["first_name"] for r in rows) == ["Ned", "Nora", "Sid"]
    nora = next(r for r in rows if r["first_name"] == "Nora")
    assert nora["postcode"] == areas.postcodes["north"]
    assert nora["area"] == "City Ward"
    assert nora["email"].endswith("@example.net")
    assert nora["comment"] == "Keep it open"
    assert "Books" in nora["answers"]
    assert nora["signed_at"]


def test_south_organiser_cannot_export_a_north_page(client, south_organiser, areas):
    page = make_page(slug="north-only", area=areas.north)
    _sign(factories.person(postcode=areas.postcodes["north"]), page)
    _sign(factories.person(postcode=areas.postcodes["south"]), page)
    client.force_login(south_organiser)
    assert client.get(reverse("actions_staff:export", args=[page.pk])).status_code == 404
    assert client.post(reverse("actions_staff:segment", args=[page.pk])).status_code == 404
    assert not Segment.objects.exists()
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT).exists()


def test_analyst_may_export_but_not_save_a_segment(client, analyst, national):
    client.force_login(analyst)
    rows = _rows(client.get(reverse("actions_staff:export", args=[national.pk])))
    assert len(rows) == 3
    assert client.post(reverse("actions_staff:segment", args=[national.pk])).status_code == 403
    assert not Segment.objects.exists()


def test_logged_out_visitor_is_sent_to_log_in(client, national):
    response = client.get(reverse("actions_staff:export", args=[national.pk]))
    assert response.status_code == 302


def test_cells_that_look_like_formulas_are_neutralised(client, admin, areas):
    page = make_page(slug="formulas")
    person = factories.person(first_name="Eve", postcode=areas.postcodes["north"])
    _sign(person, page, comment='=HYPERLINK("http://evil")', answers={"q": "+1"})
    client.force_login(admin)
    (row,) = _rows(client.get(reverse("actions_staff:export", args=[page.pk])))
    assert row["comment"] == '\'=HYPERLINK("http://evil")'
    for value in row.values():
        assert not value.startswith(("=", "+", "-", "@"))


def test_export_is_audited_with_its_row_count(client, organiser, national):
    client.force_login(organiser)
    _rows(client.get(reverse("actions_staff:export", args=[national.pk])))
    entry = AuditEntry.objects.get(action=AuditEntry.Action.EXPORT)
    assert entry.actor == organiser
    assert entry.object_type == "action_page"
    assert str(entry.object_id) == str(national.pk)
    assert entry.detail["rows"] == 2
    assert "Nora" not in entry.summary


@pytest.mark.parametrize("who", ["admin", "organiser"])
def test_segment_of_signers_counts_the_export_rows(client, national, who, request):
    user = request.getfixturevalue(who)
    client.force_login(user)
    rows = _rows(client.get(reverse("actions_staff:export", args=[national.pk])))
    response = client.post(reverse("actions_staff:segment", args=[national.pk]))
    segment = Segment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("people:segment_detail", args=[segment.pk])
    assert segment.definition["conditions"][0]["type"] == "action_taken"
    assert segment_count(user, segment) == len(rows)
    assert client.get(response["Location"]).status_code == 200


def test_segment_needs_post(client, admin, national):
    client.force_login(admin)
    assert client.get(reverse("actions_staff:segment", args=[national.pk])).status_code == 405


def test_donation_pages_have_no_signer_export(client, admin):
    page = make_page(slug="give", kind=ActionPage.Kind.DONATION, goal=None)
    client.force_login(admin)
    assert client.get(reverse("actions_staff:export", args=[page.pk])).status_code == 404


def test_staff_page_links_to_export_and_segment(client, admin, organiser, analyst, national):
    export = reverse("actions_staff:export", args=[national.pk])
    segment = reverse("actions_staff:segment", args=[national.pk])
    client.force_login(admin)
    text = client.get(reverse("actions_staff:detail", args=[national.pk])).content.decode()
    assert export in text and segment in text
    client.force_login(analyst)
    text = client.get(reverse("actions_staff:detail", args=[national.pk])).content.decode()
    assert export in text and segment not in text


def test_a_person_who_signed_twice_is_one_row(client, admin, national):
    nora = Submission.objects.get(page=national, person__first_name="Nora").person
    Submission.objects.create(
        page=national,
        person=nora,
        email_canonical="nora.other@example.net",
        email_domain="example.net",
        comment="Second time",
    )
    client.force_login(admin)
    rows = _rows(client.get(reverse("actions_staff:export", args=[national.pk])))
    assert [r["comment"] for r in rows if r["first_name"] == "Nora"] == ["Keep it open"]
    client.post(reverse("actions_staff:segment", args=[national.pk]))
    assert segment_count(admin, Segment.objects.get()) == len(rows) == 3
