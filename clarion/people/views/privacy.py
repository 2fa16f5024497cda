"""Subject access (download everything held about a person) and erasure — admins only.

Both run every app's registration in ``clarion.core.privacy`` (invariant 7).
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from clarion.people import services
from clarion.people.selectors import access_person


def _admin_person(request, person_id):
    person = access_person(request.user, person_id, write=True)
    if not request.user.is_admin:
        raise PermissionDenied
    return person


@login_required
@require_POST
def person_export(request, person_id: int):
    person = _admin_person(request, person_id)
    data = services.person_export_record(person=person, actor=request.user, request=request)
    body = json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="person-{person.pk}.json"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
def person_erase(request, person_id: int):
    person = _admin_person(request, person_id)
    if request.method == "POST":
        if request.POST.get("confirm") != "erase":
            messages.error(request, _("Tick the box to confirm the erasure."))
        else:
            services.person_erase(person=person, actor=request.user, request=request)
            messages.success(
                request,
                _(
                    "The person has been erased. Only a hash of their email is kept, so "
                    "they are never mailed again."
                ),
            )
            return redirect("people:list")
    return render(request, "people/person_erase.html", {"person": person})
