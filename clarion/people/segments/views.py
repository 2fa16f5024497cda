"""Staff pages for saved segments: list, builder (create/edit), detail, duplicate,
delete, and the JSON count the builder's live count calls.

Every count goes through ``segment_count`` (scoped by ``people_for``); every saved
segment is reached through ``access_segment`` / ``segments_for``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from clarion.core.services import client_ip
from clarion.people.models import Segment
from clarion.people.selectors import access_segment, segments_for

from .compiler import clean_definition, describe_tree, empty_definition
from .forms import OP_CHOICES, Builder, SegmentMetaForm, type_choices
from .registry import SegmentDefinitionError, condition_types
from .selectors import count_is_segments_own, segment_count
from .services import (
    segment_create,
    segment_delete,
    segment_duplicate,
    segment_record_count,
    segment_update,
)


def _people_text(count: int) -> str:
    return ngettext("%(count)s person", "%(count)s people", count) % {"count": f"{count:,}"}


@login_required
def segment_list(request):
    segments = segments_for(request.user).select_related("owner_area").order_by("name")
    return render(request, "people/segment_list.html", {"segments": segments})


def _templates_context() -> dict:
    """Blank rows and a blank group for segments.js to clone (``__prefix__`` and
    ``__group__`` are replaced with real prefixes in the browser)."""
    from .forms import GroupNode, RowNode

    rows = [
        RowNode(prefix="__prefix__", ctype=t, form=t.form(prefix="__prefix__"), group="__group__")
        for t in condition_types()
    ]
    group = GroupNode(prefix="__prefix__", op="any", parent="__group__", depth=2)
    return {"template_rows": rows, "template_group": group}


def _scope_segment(segment: Segment | None, user) -> Segment:
    """An unsaved Segment carrying the owner area a count must stay inside."""
    owner = segment.owner_area if segment is not None else user.scope_area
    return Segment(owner_area=owner)


def _builder_page(request, segment: Segment | None):
    if not request.user.can_write:
        raise PermissionDenied
    count = None
    if request.method == "POST":
        builder = Builder.from_post(request.POST)
        meta = SegmentMetaForm(request.POST)
        action = request.POST.get("action", "count")
        if action in ("count", "save"):
            try:
                definition = builder.definition()
                scoped = _scope_segment(segment, request.user)
                scoped.definition = definition
                count = segment_count(request.user, scoped)
            except SegmentDefinitionError as exc:
                builder.errors = exc.messages
                definition = None
            if action == "save" and definition is not None and meta.is_valid():
                data = meta.cleaned_data
                if segment is None:
                    segment = segment_create(
                        name=data["name"],
                        description=data["description"],
                        definition=definition,
                        user=request.user,
                    )
                else:
                    segment = segment_update(
                        segment=segment,
                        name=data["name"],
                        description=data["description"],
                        definition=definition,
                    )
                if count_is_segments_own(request.user, segment):
                    segment_record_count(segment=segment, count=count)
                messages.success(request, _("Segment “%(name)s” saved.") % {"name": segment.name})
                return redirect("people:segment_detail", pk=segment.pk)
            if action == "count":
                meta = SegmentMetaForm(
                    initial={
                        "name": request.POST.get("name", ""),
                        "description": request.POST.get("description", ""),
                    }
                )
        else:
            builder.apply(action, request.POST)
            builder.unbind()
            meta = SegmentMetaForm(
                initial={
                    "name": request.POST.get("name", ""),
                    "description": request.POST.get("description", ""),
                }
            )
    else:
        builder = Builder.from_definition(segment.definition if segment else empty_definition())
        meta = SegmentMetaForm(
            initial={"name": segment.name, "description": segment.description} if segment else None
        )
    context = {
        "segment": segment,
        "builder": builder,
        "meta": meta,
        "count": count,
        "count_text": _people_text(count) if count is not None else "",
        "type_choices": type_choices(),
        "op_choices": OP_CHOICES,
        **_templates_context(),
    }
    return render(request, "people/segment_form.html", context, status=200)


@login_required
def segment_new(request):
    return _builder_page(request, None)


@login_required
def segment_edit(request, pk):
    return _builder_page(request, access_segment(request.user, pk, write=True))


@login_required
def segment_detail(request, pk):
    segment = access_segment(request.user, pk)
    count, errors, description = None, [], []
    try:
        description = describe_tree(clean_definition(segment.definition))
        count = segment_count(request.user, segment)
    except SegmentDefinitionError as exc:
        errors = exc.messages
    if count is not None and count_is_segments_own(request.user, segment):
        segment_record_count(segment=segment, count=count)
    return render(
        request,
        "people/segment_detail.html",
        {
            "segment": segment,
            "count": count,
            "count_text": _people_text(count) if count is not None else "",
            "errors": errors,
            "description": description,
        },
    )


@login_required
@require_POST
def segment_copy(request, pk):
    segment = access_segment(request.user, pk, write=True)
    copy = segment_duplicate(segment=segment, user=request.user)
    messages.success(request, _("Made a copy of “%(name)s”.") % {"name": segment.name})
    return redirect("people:segment_edit", pk=copy.pk)


@login_required
def segment_remove(request, pk):
    segment = access_segment(request.user, pk, write=True)
    if request.method == "POST":
        name = segment.name
        segment_delete(segment=segment, user=request.user, ip=client_ip(request))
        messages.success(request, _("Segment “%(name)s” deleted.") % {"name": name})
        return redirect("people:segment_list")
    return render(request, "people/segment_confirm_delete.html", {"segment": segment})


@login_required
@require_POST
def segment_count_json(request):
    """The live count: the builder's fields in, ``{"count", "text"}`` or a 400 with
    ``{"errors": [...]}`` out. Read-only, so analysts may use it too."""
    builder = Builder.from_post(request.POST)
    segment = None
    if request.POST.get("segment"):
        segment = access_segment(request.user, request.POST["segment"])
    try:
        definition = builder.definition()
        scoped = _scope_segment(segment, request.user)
        scoped.definition = definition
        count = segment_count(request.user, scoped)
    except SegmentDefinitionError as exc:
        messages_ = [m for m in exc.messages if m] + builder.row_errors()
        return JsonResponse({"errors": messages_}, status=400)
    return JsonResponse({"count": count, "text": _people_text(count)})
