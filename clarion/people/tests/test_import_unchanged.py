"""Importing the same file again reports the people as unchanged, not updated."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from clarion.people.imports.parsing import RowCleaner, csv_open, mapping_guess
from clarion.people.imports.services import ImportContext, people_import_rows
from clarion.people.models import ImportJob, Person

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
WRITE_PATHS = [False, True] if ON_POSTGRES else [False]


def _csv(areas) -> str:
    return (
        "First name,Last name,Email,Phone,Postcode\n"
        f"Nell,North,nell@example.org,07700 900001,{areas.postcodes['north']}\n"
        "Bo,Brown,bo@example.org,,\n"
        "Cy,,cy@example.org,07700 900003,\n"
        "Cy,,CY@example.org,,\n"
    )


def _import(text: str, *, use_copy: bool, tags=()):
    import io

    csv_file = csv_open(io.BytesIO(text.encode()))
    cleaner = RowCleaner(mapping_guess(csv_file.headers, []), {})
    rows = [cleaner.clean(line, cells) for line, cells in csv_file.rows()]
    counts, _rejects, _warned = people_import_rows(
        rows=rows, ctx=ImportContext(tags=list(tags)), use_copy=use_copy
    )
    return counts.created, counts.updated, counts.unchanged, counts.rejected


@pytest.mark.parametrize("use_copy", WRITE_PATHS)
def test_the_same_file_twice_is_unchanged_and_a_real_change_is_an_update(areas, use_copy):
    text = _csv(areas)
    assert _import(text, use_copy=use_copy) == (3, 0, 1, 0)
    modified = {p.pk: p.modified_at for p in Person.objects.all()}
    assert _import(text, use_copy=use_copy) == (0, 0, 4, 0)
    assert {p.pk: p.modified_at for p in Person.objects.all()} == modified

    edited = text.replace("Bo,Brown", "Bo,Browne").replace("Cy,,CY@", "Cy,,cy2@")
    assert _import(edited, use_copy=use_copy) == (1, 1, 2, 0)
    # A new tag changes each person it is added to (Cy's second row finds it there).
    assert _import(text, use_copy=use_copy, tags=["spring"]) == (0, 3, 1, 0)
    assert _import(text, use_copy=use_copy, tags=["spring"]) == (0, 0, 4, 0)


def test_the_command_and_the_result_page_show_unchanged(
    areas, admin, admin_client, tmp_path, capsys
):
    path = tmp_path / "people.csv"
    path.write_text(_csv(areas))
    call_command("import_people", str(path))
    call_command("import_people", str(path))
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("created")]
    assert lines == [
        "created 3, updated 0, unchanged 1, rejected 0",
        "created 0, updated 0, unchanged 4, rejected 0",
    ]

    upload = admin_client.post(
        reverse("people:import_upload"),
        {"file": SimpleUploadedFile("again.csv", _csv(areas).encode())},
    )
    job = ImportJob.objects.get(original_name="again.csv")
    assert upload.status_code == 302
    admin_client.post(
        reverse("people:import_detail", args=[job.pk]),
        {f"col_{i}": c for i, c in enumerate(job.mapping["columns"])} | {"tags": "", "lists": ""},
    )
    page = admin_client.get(reverse("people:import_detail", args=[job.pk])).content.decode()
    assert 'unchanged <strong data-field="unchanged">4</strong>' in page
    assert '<strong data-field="updated">0</strong>' in page
    listing = admin_client.get(reverse("people:import_list")).content.decode()
    assert "Unchanged" in listing
