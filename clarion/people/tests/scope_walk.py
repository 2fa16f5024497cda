"""The people app's part of the scope walk (clarion/core/tests/test_scope_walk.py): the
download of an import's uploaded file, and real private files for the South
organiser's import, holding the South person's details, so that a download reaching a
North organiser would show a marker."""

from __future__ import annotations

from django.core.files.base import ContentFile

# URL name -> function(world) -> kwargs (or a list of kwargs).
URL_KWARGS = {
    "people:import_file": lambda w: {"pk": w.south_import.pk},
    # A change a public form proposed for the South person, pending their confirmation.
    "people:proposal_decide": lambda w: {
        "person_id": w.south.pk,
        "proposal_id": w.south_proposal.pk,
    },
    "people_public:proposal": lambda w: {"token": "bad-token"},
}


# The mailbox owner's confirmation page is public (a signed link in an email).
PUBLIC_NAMESPACES = ("people_public",)


def extend_world(w) -> None:
    from clarion.people.services import person_upsert

    w.south_proposal = person_upsert(
        email=w.south.email, first_name="Proposed", public=True, source_code="walk"
    ).proposal
    row = f"{w.south.first_name},{w.south.last_name},{w.south.email},{w.south.phone}\n"
    w.south_import.file.save(
        "south.csv", ContentFile(f"First name,Last name,Email,Phone\n{row}".encode()), save=False
    )
    w.south_import.rejects.save(
        "rejects.csv", ContentFile(f"row,outcome,reason\n2,rejected,{row}".encode()), save=False
    )
    w.south_import.save(update_fields=["file", "rejects"])


def snapshot(person_id: int) -> dict:
    from clarion.people.models import ProposedChange

    return {
        "proposals": list(
            ProposedChange.objects.filter(person_id=person_id)
            .order_by("pk")
            .values_list("pk", "status", "decided_by_id")
        )
    }
