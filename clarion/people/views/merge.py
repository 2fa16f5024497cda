"""Merging duplicate people, and the suggested-duplicates page.

Both people are fetched with ``access_person(..., write=True)``, so an organiser can
only merge two people who are both inside their area subtree, and analysts never.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from clarion.people import services
from clarion.people.forms import MergeConfirmForm, MergeSearchForm
from clarion.people.selectors import (
    access_person,
    duplicate_pairs,
    people_for,
    people_search,
)

CANDIDATES = 20


@login_required
def person_merge_search(request, person_id: int):
    person = access_person(request.user, person_id, write=True)
    form = MergeSearchForm(request.GET or None)
    candidates = []
    if form.is_bound and form.is_valid() and form.cleaned_data["q"]:
        qs = people_search(people_for(request.user), form.cleaned_data["q"])
        candidates = list(
            qs.exclude(pk=person.pk).select_related("area").order_by("-pk")[:CANDIDATES]
        )
    return render(
        request,
        "people/person_merge_search.html",
        {
            "person": person,
            "form": form,
            "candidates": candidates,
        },
    )


@login_required
def person_merge_confirm(request, person_id: int, other_id: int):
    first = access_person(request.user, person_id, write=True)
    second = access_person(request.user, other_id, write=True)
    if first.pk == second.pk:
        messages.error(request, _("Choose a different person to merge with."))
        return redirect("people:merge", person_id=first.pk)
    form = MergeConfirmForm(request.POST or None, first=first, second=second)
    if request.method == "POST" and form.is_valid():
        survivor, duplicate = (
            (first, second) if form.cleaned_data["survivor"] == first.pk else (second, first)
        )
        try:
            kept = services.person_merge(
                survivor=survivor, duplicate=duplicate, actor=request.user, request=request
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("people:detail", person_id=survivor.pk)
        messages.success(request, _("Merged. Everything is now on this record."))
        return redirect("people:detail", person_id=kept.pk)
    rows = []
    for label, attr in (
        (_("Name"), "full_name"),
        (_("Email"), "email"),
        (_("Phone"), "phone"),
        (_("Address"), "address_line1"),
        (_("Town"), "town"),
        (_("Postcode"), "postcode"),
        (_("Area"), "area"),
        (_("Email status"), "get_email_status_display"),
        (_("Membership"), "get_membership_status_display"),
        (_("Membership number"), "membership_number"),
        (_("Source"), "source_code"),
        (_("Created"), "created_at"),
    ):
        values = []
        for p in (first, second):
            value = getattr(p, attr)
            values.append(value() if callable(value) else value)
        rows.append({"label": label, "first": values[0], "second": values[1]})
    for p in (first, second):
        p.tag_names = list(p.taggings.order_by("tag__name").values_list("tag__name", flat=True))
        p.activity_count = p.activities.count()
    return render(
        request,
        "people/person_merge_confirm.html",
        {
            "first": first,
            "second": second,
            "rows": rows,
            "form": form,
        },
    )


@login_required
def person_duplicates(request):
    if not request.user.can_write:
        raise PermissionDenied
    return render(
        request, "people/person_duplicates.html", {"pairs": duplicate_pairs(request.user)}
    )
