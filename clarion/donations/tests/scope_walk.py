"""The donations app's part of the scope walk (clarion/core/tests/test_scope_walk.py):
URL parameters for the donations API URLs and the donor export of a page (a North
page with a South donor is covered in test_exports.py)."""

from __future__ import annotations

# URL name -> function(world) -> kwargs (or a list of kwargs).
URL_KWARGS = {
    "api:fundraising_page": lambda w: {"page_id": w.south_donation.page_id},
    "api:fundraising_page_donations": lambda w: {"page_id": w.south_donation.page_id},
    "api:donation": lambda w: {"donation_id": w.south_donation.pk},
    "api:person_donations": lambda w: {"person_id": w.south.pk},
    "donations_staff:page_donors": lambda w: {"pk": w.south_donation.page_id},
    "donations_staff:page_donors_segment": lambda w: {"pk": w.south_donation.page_id},
}
