"""Exporting a donation page's donors and making a segment of them: scope (an
organiser gets only their area's donors; a national page stays with national staff),
roles, one row per donor with their figures, refunds and failed gifts, formula safety,
the audit entry, and segment count = export rows."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from clarion.actions.models import ActionPage
from clarion.actions.tests.conftest import make_page
from clarion.core.models import AuditEntry
from clarion.core.testing import factories
from clarion.donations.models import Donation
from clarion.people.models import Segment
from clarion.people.segments.selectors import segment_count


def _give(person, page, pence, *, status=Donation.Status.SUCCEEDED, refunded=0, monthly=False):
    return Donation.objects.create(
        page=page,
        person=person,
        amount_pence=pence,
        refunded_pence=refunded,
        status=status,
        recurring=monthly,
        gateway="test",
        succeeded_at=timezone.now() if status == Donation.Status.SUCCEEDED else None,
    )


def _rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "donors" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return list(csv.DictReader(io.StringIO(text)))


def _donation_page(slug="north-fund", area=None) -> ActionPage:
    return make_page(slug=slug, title="North fund", area=area, kind=ActionPage.Kind.DONATION)


@pytest.fixture
def north_page(areas):
    """Nora gave twice (one monthly), Ned once then had it wholly refunded (status
    stays succeeded, net 0), Sid (South) gave, Pat's gift failed, and a gift with no
    known donor."""
    page = _donation_page(area=areas.north)
    nora = factories.person(first_name="Nora", postcode=areas.postcodes["north"])
    ned = factories.person(first_name="Ned", postcode=areas.postcodes["north2"])
    sid = factories.person(first_name="Sid", postcode=areas.postcodes["south"])
    pat = factories.person(first_name="Pat", postcode=areas.postcodes["north"])
    _give(nora, page, 1000)
    _give(nora, page, 2550, monthly=True, refunded=50)
    _give(ned, page, 700, refunded=700)
    _give(sid, page, 300)
    _give(pat, page, 5000, status=Donation.Status.FAILED)
    _give(None, page, 900)
    return page


def test_admin_gets_one_row_per_donor_with_their_figures(client, admin, north_page, areas):
    client.force_login(admin)
    rows = _rows(client.get(reverse("donations_staff:page_donors", args=[north_page.pk])))
    assert sorted(r["first_name"] for r in rows) == ["Nora", "Sid"]
    nora = next(r for r in rows if r["first_name"] == "Nora")
    assert nora["gifts"] == "2"
    assert nora["total"] == "35.00"
    assert nora["largest"] == "25.50"
    assert nora["monthly"] == "yes"
    assert nora["postcode"] == areas.postcodes["north"]
    assert nora["first_gift_at"] and nora["last_gift_at"]
    sid = next(r for r in rows if r["first_name"] == "Sid")
    assert (sid["gifts"], sid["total"], sid["monthly"]) == ("1", "3.00", "no")


def test_north_organiser_gets_only_north_donors(client, organiser, north_page):
    client.force_login(organiser)
    rows = _rows(client.get(reverse("donations_staff:page_donors", args=[north_page.pk])))
    assert [r["first_name"] for r in rows] == ["Nora"]


def test_national_and_other_area_pages_are_not_exported_to_an_organiser(
    client, organiser, south_organiser, north_page, areas
):
    national = _donation_page(slug="national-fund")
    _give(factories.person(postcode=areas.postcodes["north"]), national, 1000)
    client.force_login(organiser)
    assert client.get(reverse("donations_staff:page_donors", args=[national.pk])).status_code == 404
    url = reverse("donations_staff:page_donors_segment", args=[national.pk])
    assert client.post(url).status_code == 404
    client.force_login(south_organiser)
    url = reverse("donations_staff:page_donors", args=[north_page.pk])
    assert client.get(url).status_code == 404
    assert not Segment.objects.exists()
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT).exists()


def test_a_petition_has_no_donor_export(client, admin):
    page = make_page(slug="petition")
    client.force_login(admin)
    assert client.get(reverse("donations_staff:page_donors", args=[page.pk])).status_code == 404
    url = reverse("donations_staff:page_donors_segment", args=[page.pk])
    assert client.post(url).status_code == 404


def test_bad_ids_and_logged_out_visitors(client, admin, north_page):
    assert client.get(f"/staff/donations/page/{north_page.pk}/donors/").status_code == 302
    client.force_login(admin)
    assert client.get("/staff/donations/page/99999999/donors/").status_code == 404
    assert client.get("/staff/donations/page/99999999999999999999/donors/").status_code == 404


def test_analyst_may_export_but_not_save_a_segment(client, analyst, north_page):
    client.force_login(analyst)
    rows = _rows(client.get(reverse("donations_staff:page_donors", args=[north_page.pk])))
    assert len(rows) == 2
    url = reverse("donations_staff:page_donors_segment", args=[north_page.pk])
    assert client.post(url).status_code == 403
    assert not Segment.objects.exists()


def test_cells_that_look_like_formulas_are_neutralised(client, admin, areas):
    page = _donation_page(slug="formula-fund")
    donor = factories.person(
        first_name="=cmd|' /C calc'!A0", last_name="@SUM(A1)", postcode=areas.postcodes["north"]
    )
    _give(donor, page, 100)
    client.force_login(admin)
    (row,) = _rows(client.get(reverse("donations_staff:page_donors", args=[page.pk])))
    for value in row.values():
        assert not value.startswith(("=", "+", "-", "@"))
    assert row["first_name"].startswith("'=")
    assert row["last_name"] == "'@SUM(A1)"


def test_export_is_audited_with_its_row_count(client, organiser, north_page):
    client.force_login(organiser)
    _rows(client.get(reverse("donations_staff:page_donors", args=[north_page.pk])))
    entry = AuditEntry.objects.get(action=AuditEntry.Action.EXPORT)
    assert entry.actor == organiser
    assert entry.object_type == "action_page"
    assert str(entry.object_id) == str(north_page.pk)
    assert entry.detail["rows"] == 1
    assert "Nora" not in entry.summary


@pytest.mark.parametrize("who", ["admin", "organiser"])
def test_segment_of_donors_counts_the_export_rows(client, north_page, who, request):
    user = request.getfixturevalue(who)
    client.force_login(user)
    rows = _rows(client.get(reverse("donations_staff:page_donors", args=[north_page.pk])))
    response = client.post(reverse("donations_staff:page_donors_segment", args=[north_page.pk]))
    segment = Segment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("people:segment_detail", args=[segment.pk])
    assert segment_count(user, segment) == len(rows)
    assert client.get(response["Location"]).status_code == 200


def test_segment_needs_post(client, admin, north_page):
    client.force_login(admin)
    url = reverse("donations_staff:page_donors_segment", args=[north_page.pk])
    assert client.get(url).status_code == 405


def test_the_page_shows_donor_buttons_on_donation_pages_only(client, admin, north_page):
    client.force_login(admin)
    html = client.get(reverse("actions_staff:detail", args=[north_page.pk])).content.decode()
    assert reverse("donations_staff:page_donors", args=[north_page.pk]) in html
    assert "Export signers" not in html
    petition = make_page(slug="a-petition")
    html = client.get(reverse("actions_staff:detail", args=[petition.pk])).content.decode()
    assert "Export donors" not in html
    assert "Export signers" in html
