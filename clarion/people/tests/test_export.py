import csv
import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from clarion.core.models import AuditEntry
from clarion.core.testing import factories
from clarion.people.imports.export import neutralise

pytestmark = pytest.mark.django_db


def _download(client, **params):
    response = client.get(reverse("people:export_csv"), {"download": "1", **params})
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_organiser_export_holds_only_people_in_their_area(
    organiser_client, north_person, south_person
):
    rows = _download(organiser_client)
    assert [r["email"] for r in rows] == [north_person.email]
    entry = AuditEntry.objects.get(action="export")
    assert entry.detail["rows"] == 1


def test_admin_export_holds_everyone_with_tags(admin_client, north_person, south_person):
    from clarion.people.services import tag_add

    tag_add(person=north_person, tag="Volunteer")
    rows = _download(admin_client)
    assert {r["email"] for r in rows} == {north_person.email, south_person.email}
    assert next(r for r in rows if r["email"] == north_person.email)["tags"] == "Volunteer"


def test_formula_cells_are_neutralised(admin_client, areas):
    factories.person(
        email="f@example.org", first_name="Fred", last_name="Formula", town='=HYPERLINK("http://x")'
    )
    row = _download(admin_client)[0]
    assert row["town"] == '\'=HYPERLINK("http://x")'
    assert [neutralise(v) for v in ("+1", "-2", "@a", "\tx", "ok")] == [
        "'+1",
        "'-2",
        "'@a",
        "'\tx",
        "ok",
    ]


def test_analyst_may_export_read_only(client, analyst, north_person):
    client.force_login(analyst)
    assert [r["email"] for r in _download(client)] == [north_person.email]


def test_export_page_shows_a_form(organiser_client):
    response = organiser_client.get(reverse("people:export_csv"))
    assert response.status_code == 200 and "Download CSV" in response.content.decode()


def test_unknown_segment_is_a_form_error_not_a_crash(organiser_client):
    response = organiser_client.get(
        reverse("people:export_csv"), {"download": "1", "segment": "999"}
    )
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()


def test_export_command_is_scoped_and_audited(organiser, north_person, south_person, tmp_path):
    path = tmp_path / "out.csv"
    call_command("export_people", "--as", organiser.email, "-o", str(path))
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert [r["email"] for r in rows] == [north_person.email]
    assert AuditEntry.objects.filter(action="export", actor=organiser).exists()


def test_pk_chunks_reads_every_row_once_in_key_order_across_chunk_edges(areas):
    from clarion.people.imports.export import pk_chunks
    from clarion.people.models import Person

    made = [factories.person(email=f"chunk{i}@example.net").pk for i in range(5)]
    queryset = Person.objects.filter(pk__in=made)
    for size in (1, 2, 5, 6):
        chunks = list(pk_chunks(queryset, ("pk", "email"), size=size))
        assert [row[0] for chunk in chunks for row in chunk] == sorted(made)
        assert all(len(chunk) <= size for chunk in chunks)


def test_csv_stream_neutralises_every_cell_but_keeps_the_header():
    from clarion.people.imports.export import csv_stream

    lines = list(csv_stream(["=header"], [["=SUM(A1)", "@x", "plain", None]]))
    assert lines[0] == "\ufeff=header\r\n"
    assert next(csv.reader(io.StringIO(lines[1]))) == ["'=SUM(A1)", "'@x", "plain", ""]
