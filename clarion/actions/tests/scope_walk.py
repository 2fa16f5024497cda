"""The actions app's entries for the scope walk (core/tests/test_scope_walk.py)."""

from __future__ import annotations

from clarion.actions.models import Submission


def _signature(w, page):
    return Submission.objects.get(page=page, person=w.south)


URL_KWARGS = {
    "actions_staff:publish": lambda w: [{"pk": w.south_page.pk}, {"pk": w.national_page.pk}],
    # Signers' export and segment: a South page (404) and a national page the South
    # person signed (only North signers may show).
    **{
        f"actions_staff:{name}": (lambda w: [{"pk": w.south_page.pk}, {"pk": w.national_page.pk}])
        for name in ("export", "segment")
    },
    # The API (Action Network petitions and forms): South pages the South person acted on.
    "api:petition": lambda w: [
        {"petition_id": w.south_page.pk},
        {"petition_id": w.national_page.pk},
    ],
    "api:signatures": lambda w: [
        {"petition_id": w.south_page.pk},
        {"petition_id": w.national_page.pk},
    ],
    "api:signature": lambda w: [
        {"petition_id": page.pk, "signature_id": _signature(w, page).pk}
        for page in (w.south_page, w.national_page)
    ],
    "api:person_signatures": lambda w: {"person_id": w.south.pk},
    "api:person_submissions": lambda w: {"person_id": w.south.pk},
    "api:person_signature": lambda w: {
        "person_id": w.south.pk,
        "signature_id": _signature(w, w.national_page).pk,
    },
    "api:person_submission": lambda w: {
        "person_id": w.south.pk,
        "submission_id": _signature(w, w.national_page).pk,
    },
    "api:form": lambda w: {"form_id": w.national_page.pk},
    "api:submissions": lambda w: {"form_id": w.national_page.pk},
    "api:submission": lambda w: {
        "form_id": w.national_page.pk,
        "submission_id": _signature(w, w.national_page).pk,
    },
}
