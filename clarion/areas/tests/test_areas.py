"""Area pages: the tree in the user's scope with people counts, detail, CSV upload."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from clarion.areas.models import Area, Postcode
from clarion.core.models import AuditEntry
from clarion.core.testing import factories


def area_names(response) -> list[str]:
    return re.findall(r'<a href="/staff/areas/\d+/">([^<]+)</a>', response.content.decode())


def row_counts(response, name) -> tuple[str, str]:
    page = response.content.decode()
    match = re.search(
        rf">{re.escape(name)}</a></td>\s*<td>[^<]*</td>\s*<td>[^<]*</td>\s*"
        r'<td class="num">([\d,]+)</td>\s*<td class="num">([\d,]+)</td>',
        page,
    )
    assert match, f"no row for {name}"
    return match.group(1), match.group(2)


@pytest.fixture
def people(areas):
    for pc in ("north", "north", "north2", "south"):
        factories.person(postcode=areas.postcodes[pc])
    factories.person()  # no postcode, no area
    # One person directly in the North region itself.
    p = factories.person()
    type(p).objects.filter(pk=p.pk).update(area=areas.north)


def test_admin_sees_the_whole_tree_with_counts_from_one_query(
    admin_client, people, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8):
        response = admin_client.get(reverse("areas:list"))
    assert area_names(response) == [
        "Demo Nation",
        "The North",
        "Leeds Central",
        "City Ward",
        "The South",
        "Bristol East",
        "Easton Ward",
    ]
    assert row_counts(response, "Demo Nation") == ("0", "5")
    assert row_counts(response, "The North") == ("1", "4")
    assert row_counts(response, "City Ward") == ("3", "3")
    assert row_counts(response, "The South") == ("0", "1")
    assert "No area" in response.content.decode()


def test_people_counts_are_grouped_in_a_single_query(admin_client, people):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        admin_client.get(reverse("areas:list"))
    person_queries = [q["sql"] for q in ctx.captured_queries if "people_person" in q["sql"]]
    assert len(person_queries) == 1 and "GROUP BY" in person_queries[0]


def test_organiser_sees_only_their_subtree(organiser_client, people):
    response = organiser_client.get(reverse("areas:list"))
    assert area_names(response) == ["The North", "Leeds Central", "City Ward"]
    assert row_counts(response, "The North") == ("1", "4")
    page = response.content.decode()
    assert "The South" not in page and "No area" not in page
    assert "Upload areas" not in page


def test_area_detail_shows_children_with_counts(organiser_client, areas, people):
    response = organiser_client.get(reverse("areas:detail", args=[areas.north.pk]))
    page = response.content.decode()
    assert "<h1>The North</h1>" in page and "R-N" in page
    assert 'data-stat="direct">1<' in page and 'data-stat="total">4<' in page
    assert "Leeds Central" in page and "City Ward" not in page  # children only, not grandchildren


def test_area_outside_scope_is_not_found(organiser_client, areas):
    for area in (areas.south, areas.bristol_east, areas.nation):
        assert organiser_client.get(reverse("areas:detail", args=[area.pk])).status_code == 404
    assert organiser_client.get("/staff/areas/999999/").status_code == 404


def test_breadcrumbs_link_only_areas_in_scope(organiser_client, areas):
    page = organiser_client.get(
        reverse("areas:detail", args=[areas.leeds_central.pk])
    ).content.decode()
    crumbs = page.split('class="breadcrumbs"', 1)[1].split("</nav>", 1)[0]
    assert "The North" in crumbs and "Leeds Central" in crumbs
    assert "Demo Nation" not in crumbs


def upload(client, kind, text, name="file.csv", encoding="utf-8"):
    return client.post(
        reverse("areas:upload"),
        {
            "kind": kind,
            "file": SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv"),
        },
    )


@pytest.mark.parametrize("persona", ["organiser", "analyst"])
def test_only_admins_upload(client, request, persona, areas):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("areas:upload")).status_code == 403
    assert upload(client, "areas", "code,name,kind,parent_code\nX,X,branch,\n").status_code == 403
    assert not Area.objects.filter(code="X").exists()


def test_admin_uploads_an_areas_csv(admin_client, areas):
    response = upload(
        admin_client,
        "areas",
        "\ufeffcode,name,kind,parent_code\nB-LDS2,Hyde Park,branch,C-LDS\nC-LDS,Leeds Central & Hyde,constituency,R-N\n",
    )
    page = response.content.decode()
    assert "Created 1, updated 1, rejected 0." in page
    hyde = Area.objects.get(code="B-LDS2")
    assert hyde.parent == areas.leeds and hyde.path == f"{areas.leeds.path}{hyde.pk}/"
    assert Area.objects.get(code="C-LDS").name == "Leeds Central & Hyde"
    assert AuditEntry.objects.filter(
        action="import", object_type="areas", detail__created=1
    ).exists()


def test_bad_area_lines_are_listed_and_nothing_loads(admin_client, areas):
    response = upload(
        admin_client,
        "areas",
        "code,name,kind,parent_code\nOK1,Fine,branch,R-N\n,No code,branch,\nK2,Bad kind,planet,\nK3,Orphan,branch,NOPE\n",
    )
    page = response.content.decode()
    assert "Nothing was loaded" in page
    assert "Line 3: code and name are required." in page
    assert "Line 4: unknown kind" in page
    assert "Line 5: parent &#x27;NOPE&#x27; is not a known area code." in page
    assert not Area.objects.filter(code="OK1").exists()


def test_too_long_values_are_reported_by_line(admin_client, areas):
    page = upload(
        admin_client, "areas", f"code,name,kind,parent_code\n{'X' * 40},Long,branch,\n"
    ).content.decode()
    assert "Line 2: code is longer than 32 characters." in page
    assert Area.objects.count() == 7


def test_moving_an_area_inside_itself_is_a_message(admin_client, areas):
    page = upload(
        admin_client, "areas", "code,name,kind,parent_code\nR-N,The North,region,B-LDS1\n"
    ).content.decode()
    assert "cannot be moved inside itself" in page
    areas.north.refresh_from_db()
    assert areas.north.parent == areas.nation


def test_admin_uploads_postcodes_and_bad_lines_are_skipped(admin_client, areas):
    response = upload(
        admin_client,
        "postcodes",
        "postcode,latitude,longitude,area_code\nls6 1aa,53.81,-1.57,B-LDS1\nNOT A PC,1,1,\nLS6 2BB,95,0,\n"
        "LS6 3DD,53.8,-1.5,ZZZ\nLS1 4AP,53.0,-1.0,B-LDS1\n",
    )
    page = response.content.decode()
    assert "Created 1, updated 1, rejected 3." in page
    assert "Line 3: needs a valid postcode" in page
    assert "Line 4: latitude or longitude out of range." in page
    assert "Line 5: unknown area code" in page
    assert Postcode.objects.get(postcode="LS6 1AA").area == areas.leeds_central
    assert Postcode.objects.get(postcode="LS1 4AP").latitude == 53.0


def test_a_file_that_is_not_utf8_gets_a_clear_error(admin_client, areas):
    response = upload(
        admin_client, "areas", "code,name,kind,parent_code\nX,Ynys Môn,branch,\n", encoding="utf-16"
    )
    assert response.status_code == 200
    assert "not UTF-8" in response.content.decode()
    assert not Area.objects.filter(code="X").exists()


def test_empty_or_missing_file_gets_a_clear_error(admin_client, areas):
    assert "file is empty" in upload(admin_client, "areas", "").content.decode()
    assert "The file is empty." in upload(admin_client, "areas", " \n").content.decode()
    response = admin_client.post(reverse("areas:upload"), {"kind": "areas"})
    assert "This field is required." in response.content.decode()


def test_a_file_without_the_right_columns_is_explained(admin_client, areas):
    page = upload(admin_client, "areas", "id;label\n1;x\n").content.decode()
    assert "The file needs the columns code, name, kind and parent_code." in page


def test_area_names_are_escaped(admin_client, areas):
    upload(
        admin_client, "areas", 'code,name,kind,parent_code\nXSS,"<script>x()</script>",branch,N\n'
    )
    page = admin_client.get(reverse("areas:list")).content.decode()
    assert "<script>x()</script>" not in page and "&lt;script&gt;x()&lt;/script&gt;" in page


def test_superuser_adds_and_moves_areas_in_django_admin_keeping_paths(client, admin, areas):
    from clarion.core.models import User

    User.objects.filter(pk=admin.pk).update(is_superuser=True)
    client.force_login(admin)
    for url in (
        "/django-admin/areas/area/",
        "/django-admin/areas/postcode/",
        "/django-admin/core/user/",
        "/django-admin/people/person/",
    ):
        assert client.get(url).status_code == 200, url
    response = client.post(
        "/django-admin/areas/area/add/",
        {"code": "B-LDS2", "name": "Hyde Park", "kind": "branch", "parent": areas.leeds.pk},
    )
    assert response.status_code == 302
    hyde = Area.objects.get(code="B-LDS2")
    assert hyde.path == f"{areas.leeds.path}{hyde.pk}/"
    client.post(
        f"/django-admin/areas/area/{areas.leeds.pk}/change/",
        {
            "code": "C-LDS",
            "name": "Leeds Central",
            "kind": "constituency",
            "parent": areas.south.pk,
        },
    )
    hyde.refresh_from_db()
    assert hyde.path.startswith(areas.south.path) and hyde.depth == 3
