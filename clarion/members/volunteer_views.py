"""The member's volunteering page: the skills, interests and times they offer.

The choices are volunteering tags (``clarion.people.volunteering``), which staff edit
on the tags page and segment on with the ``volunteer`` condition."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from clarion.people import volunteering

from . import auth
from .forms import VolunteerChoicesForm, VolunteeringForm


@require_http_methods(["GET", "HEAD", "POST"])
@auth.member_required
def volunteering_page(request: HttpRequest) -> HttpResponse:
    member = request.member
    lists = volunteering.volunteer_choices()
    have = volunteering.volunteer_tag_ids(member)
    initial = {vlist.key: [t.pk for t in tags if t.pk in have] for vlist, tags in lists}
    form = VolunteeringForm(
        request.POST if request.method == "POST" else None, initial=initial, lists=lists
    )
    if request.method == "POST" and form.is_valid():
        if volunteering.volunteering_set(person=member, tag_ids=form.tag_ids()):
            messages.success(request, _("Thank you: your volunteering choices are saved."))
        else:
            messages.info(request, _("Nothing was changed."))
        return redirect("members:volunteering")
    return render(
        request,
        "members/volunteering.html",
        {"form": form, "member": member, "section": "volunteering"},
        status=400 if form.is_bound else 200,
    )


# --- Staff ----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def staff_choices(request: HttpRequest) -> HttpResponse:
    """The volunteering choices offered to members; administrators add new ones (and
    rename or remove them on the tags page, as any tag)."""
    admin = request.user.is_admin
    form = VolunteerChoicesForm(
        request.POST if request.method == "POST" else None, lists=volunteering.LISTS
    )
    if request.method == "POST":
        if not admin:
            raise PermissionDenied
        if form.is_valid():
            added = 0
            for vlist in volunteering.LISTS:
                added += len(
                    volunteering.volunteer_choices_add(
                        list_key=vlist.key, labels=form.cleaned_data[vlist.key]
                    )
                )
            messages.success(request, _("Choices saved: %(n)s.") % {"n": added})
            return redirect("members_staff:volunteering")
    return render(
        request,
        "members/staff/volunteering.html",
        {
            "lists": [
                (vlist, [(t, vlist.choice_label(t)) for t in tags])
                for vlist, tags in volunteering.volunteer_choices()
            ],
            "form": form if admin else None,
        },
        status=400 if form.is_bound else 200,
    )
