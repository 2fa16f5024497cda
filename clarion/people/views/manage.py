"""Tags, lists and custom field definitions: every staff user sees them (with counts
limited to their own scope); only admins rename, delete or define them."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from clarion.areas.selectors import area_subtree_q
from clarion.people import services
from clarion.people.forms import CustomFieldForm, ListForm, NameForm
from clarion.people.models import CustomField, PersonList, Tag


def _require_admin(user) -> None:
    if not user.is_admin:
        raise PermissionDenied


def _scoped_count(user, relation: str) -> Count:
    """Count people through ``relation`` that ``user`` may see (never beyond scope)."""
    scope = user.scope_area
    if scope is None:
        return Count(relation)
    return Count(relation, filter=area_subtree_q(scope, field=f"{relation}__person__area"))


def _add_errors(form, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


@login_required
def tag_list(request):
    tags = Tag.objects.annotate(people_count=_scoped_count(request.user, "taggings")).order_by(
        "name"
    )
    return render(request, "people/tag_list.html", {"tags": tags})


@login_required
def tag_edit(request, tag_id: int):
    _require_admin(request.user)
    tag = get_object_or_404(Tag, pk=tag_id)
    form = NameForm(request.POST or None, initial={"name": tag.name})
    if request.method == "POST" and form.is_valid():
        try:
            services.tag_rename(tag=tag, name=form.cleaned_data["name"])
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Tag renamed."))
            return redirect("people:tag_list")
    count = tag.taggings.count()
    return render(request, "people/tag_edit.html", {"tag": tag, "form": form, "count": count})


@login_required
def tag_delete(request, tag_id: int):
    _require_admin(request.user)
    tag = get_object_or_404(Tag, pk=tag_id)
    if request.method == "POST":
        count = services.tag_delete(tag=tag, actor=request.user, request=request)
        messages.success(
            request, _("Tag deleted; %(count)s people no longer have it.") % {"count": count}
        )
        return redirect("people:tag_list")
    return render(request, "people/tag_delete.html", {"tag": tag, "count": tag.taggings.count()})


@login_required
def list_list(request):
    lists = PersonList.objects.annotate(
        people_count=_scoped_count(request.user, "memberships")
    ).order_by("name")
    form = ListForm(prefix="new") if request.user.is_admin else None
    if request.method == "POST":
        _require_admin(request.user)
        form = ListForm(request.POST, prefix="new")
        if form.is_valid():
            try:
                services.list_save(
                    name=form.cleaned_data["name"], description=form.cleaned_data["description"]
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, _("List created."))
                return redirect("people:list_list")
    return render(request, "people/list_list.html", {"lists": lists, "form": form})


@login_required
def list_edit(request, list_id: int):
    _require_admin(request.user)
    plist = get_object_or_404(PersonList, pk=list_id)
    form = ListForm(
        request.POST or None, initial={"name": plist.name, "description": plist.description}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.list_save(
                plist=plist,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("List saved."))
            return redirect("people:list_list")
    return render(
        request,
        "people/list_edit.html",
        {"plist": plist, "form": form, "count": plist.memberships.count()},
    )


@login_required
def list_delete(request, list_id: int):
    _require_admin(request.user)
    plist = get_object_or_404(PersonList, pk=list_id)
    if request.method == "POST":
        count = services.list_delete(plist=plist, actor=request.user, request=request)
        messages.success(request, _("List deleted; it had %(count)s people.") % {"count": count})
        return redirect("people:list_list")
    return render(
        request, "people/list_delete.html", {"plist": plist, "count": plist.memberships.count()}
    )


@login_required
def customfield_list(request):
    return render(
        request, "people/customfield_list.html", {"fields": CustomField.objects.order_by("label")}
    )


@login_required
def customfield_edit(request, field_id: int | None = None):
    _require_admin(request.user)
    field = get_object_or_404(CustomField, pk=field_id) if field_id is not None else None
    form = CustomFieldForm(request.POST or None, field=field)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.custom_field_save(
                field=field,
                key=data["key"],
                label=data["label"],
                kind=data["kind"],
                choices=form.choice_list(),
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Custom field saved."))
            return redirect("people:customfield_list")
    return render(request, "people/customfield_edit.html", {"field": field, "form": form})
