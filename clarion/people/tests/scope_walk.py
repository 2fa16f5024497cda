"""The people app's part of the scope walk (clarion/core/tests/test_scope_walk.py): the
download of an import's uploaded file, and real private files for the South
organiser's import, holding the South person's details, so that a download reaching a
North organiser would show a marker."""

from __future__ import annotations

from django.core.files.base import ContentFile

# URL name -> function(world) -> kwargs (or a list of kwargs).
URL_KWARGS = {
    "people:import_file": lambda w: {"pk": w.south_import.pk},
}


def extend_world(w) -> None:
    row = f"{w.south.first_name},{w.south.last_name},{w.south.email},{w.south.phone}\n"
    w.south_import.file.save(
        "south.csv", ContentFile(f"First name,Last name,Email,Phone\n{row}".encode()), save=False
    )
    w.south_import.rejects.save(
        "rejects.csv", ContentFile(f"row,outcome,reason\n2,rejected,{row}".encode()), save=False
    )
    w.south_import.save(update_fields=["file", "rejects"])
