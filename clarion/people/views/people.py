"""Staff pages for finding and looking after people: the list, the person page, and
the small write actions on it (tags, lists, notes, edit).

Every person is reached through ``people.selectors`` (``people_for`` /
``access_person``), so an organiser never reaches anyone outside their area subtree.
"""

from __future__ import annotations

import importlib

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from clarion.areas.selectors import area_subtree_q
from clarion.core.services import client_ip
from clarion.people import proposals, services
from clarion.people.forms import NameForm, NoteForm, PeopleFilterForm, PersonEditForm
from clarion.people.models import (
    Activity,
    CustomField,
    Person,
    PersonList,
    ProposedChange,
    Tag,
)
from clarion.people.selectors import (
    access_person,
    access_segment,
    people_for,
    people_page,
    people_search,
)

from .panels import person_panels

PAGE_SIZE = 50
TIMELINE_PAGE_SIZE = 25
# Without a search or segment the list shows "more than N" instead of counting
# millions of rows on every page load.
COUNT_CAP = 1000


def _int_or_none(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _segment_people(user, segment):
    """People in ``segment`` for ``user``, or None while segments cannot be evaluated."""
    try:
        module = importlib.import_module("clarion.people.segments.selectors")
    except ImportError:
        return None
    segment_people = getattr(module, "segment_people", None)
    if segment_people is None:
        return None
    return segment_people(user, segment)


@login_required
def person_list(request):
    user = request.user
    form = PeopleFilterForm(request.GET or None, user=user)
    qs = people_for(user)
    segment = None
    filtered_exactly = False
    if request.GET.get("segment"):
        segment = access_segment(user, request.GET["segment"])
        try:
            members = _segment_people(user, segment)
        except ValidationError as exc:
            # A saved definition that no longer compiles (e.g. a deleted custom field).
            messages.error(request, " ".join(exc.messages))
            members = Person.objects.none()
        if members is None:
            messages.warning(request, _("Segments cannot be used to filter people yet."))
        else:
            qs = qs.filter(pk__in=members.values("pk"))
            filtered_exactly = True
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if data["q"]:
            qs = people_search(qs, data["q"])
            filtered_exactly = True
        if data["tag"]:
            qs = qs.filter(taggings__tag=data["tag"])
        if data["area"]:
            qs = qs.filter(area_subtree_q(data["area"]))
    elif form.is_bound:
        qs = qs.none()
    after = _int_or_none(request.GET.get("after"))
    people, next_after = people_page(qs.select_related("area"), after=after, size=PAGE_SIZE)

    count = None
    count_capped = False
    if filtered_exactly:
        count = qs.count()
    elif after is None and next_after is None:
        count = len(people)
    else:
        count = qs.order_by().values("pk")[: COUNT_CAP + 1].count()
        count_capped = count > COUNT_CAP
    params = request.GET.copy()
    params.pop("after", None)
    next_params = params.copy()
    if next_after is not None:
        next_params["after"] = str(next_after)
    return render(
        request,
        "people/person_list.html",
        {
            "form": form,
            "people": people,
            "segment": segment,
            "count": count,
            "count_capped": count_capped,
            "count_cap": COUNT_CAP,
            "is_first_page": after is None,
            "first_page_query": params.urlencode(),
            "next_query": next_params.urlencode() if next_after is not None else "",
        },
    )


def _timeline(person, before_id: int | None):
    qs = (
        Activity.objects.filter(person=person)
        .select_related("actor")
        .order_by("-created_at", "-id")
    )
    if before_id is not None:
        anchor = (
            Activity.objects.filter(person=person, pk=before_id).values("created_at", "pk").first()
        )
        if anchor is not None:
            qs = qs.filter(
                Q(created_at__lt=anchor["created_at"])
                | Q(created_at=anchor["created_at"], pk__lt=anchor["pk"])
            )
    rows = list(qs[: TIMELINE_PAGE_SIZE + 1])
    more = len(rows) > TIMELINE_PAGE_SIZE
    rows = rows[:TIMELINE_PAGE_SIZE]
    return rows, (rows[-1].pk if more else None)


@login_required
def person_detail(request, person_id: int):
    user = request.user
    person = access_person(user, person_id)
    visible = people_for(user)
    definitions = {d.key: d for d in CustomField.objects.all()}
    custom = [
        {"label": definitions[k].label if k in definitions else k, "value": v}
        for k, v in sorted(person.custom_fields.items())
    ]
    recruiter_visible = (
        bool(person.recruiter_id) and visible.filter(pk=person.recruiter_id).exists()
    )
    before = _int_or_none(request.GET.get("before"))
    activities, next_before = _timeline(person, before)
    taggings = person.taggings.select_related("tag").order_by("tag__name")
    memberships = person.list_memberships.select_related("list").order_by("list__name")
    return render(
        request,
        "people/person_detail.html",
        {
            "person": person,
            "other_emails": person.other_emails.order_by("email"),
            "other_phones": person.other_phones.order_by("number"),
            "identifiers": person.identifiers.order_by("system", "value"),
            "custom": custom,
            "recruiter_visible": recruiter_visible,
            "recruit_count": visible.filter(recruiter=person).count(),
            "taggings": taggings,
            "memberships": memberships,
            "consents": person.consents.all()[:50],
            "proposals": [
                {"proposal": p, "rows": proposals.proposal_rows(p)}
                for p in person.proposed_changes.filter(
                    status=ProposedChange.Status.PENDING, expires_at__gt=timezone.now()
                )[:5]
            ],
            "activities": activities,
            "timeline_older": next_before,
            "timeline_paged": before is not None,
            "all_tags": Tag.objects.order_by("name").values_list("name", flat=True)[:500],
            "all_lists": PersonList.objects.order_by("name").values_list("name", flat=True)[:500],
            "tag_form": NameForm(prefix="tag"),
            "list_form": NameForm(prefix="list"),
            "note_form": NoteForm(),
            "panels": person_panels(request, person),
        },
    )


def _back(person):
    return redirect("people:detail", person_id=person.pk)


def _form_error_message(request, form) -> None:
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)


@login_required
@require_POST
def person_tag_add(request, person_id: int):
    person = access_person(request.user, person_id, write=True)
    form = NameForm(request.POST, prefix="tag")
    if form.is_valid():
        name = form.cleaned_data["name"]
        if services.tag_add(person=person, tag=name, actor=request.user):
            messages.success(request, _("Tagged %(tag)s.") % {"tag": name})
        else:
            messages.info(request, _("They already had the tag %(tag)s.") % {"tag": name})
    else:
        _form_error_message(request, form)
    return _back(person)


@login_required
@require_POST
def person_tag_remove(request, person_id: int, tag_id: int):
    person = access_person(request.user, person_id, write=True)
    tag = get_object_or_404(Tag, pk=tag_id)
    if services.tag_remove(person=person, tag=tag, actor=request.user):
        messages.success(request, _("Removed the tag %(tag)s.") % {"tag": tag.name})
    return _back(person)


@login_required
@require_POST
def person_list_add(request, person_id: int):
    person = access_person(request.user, person_id, write=True)
    form = NameForm(request.POST, prefix="list")
    if form.is_valid():
        plist = services.lists_by_name([form.cleaned_data["name"]])[0]
        if services.list_add(person=person, plist=plist, actor=request.user):
            messages.success(request, _("Added to the list %(name)s.") % {"name": plist.name})
        else:
            messages.info(
                request, _("They were already on the list %(name)s.") % {"name": plist.name}
            )
    else:
        _form_error_message(request, form)
    return _back(person)


@login_required
@require_POST
def person_list_remove(request, person_id: int, list_id: int):
    person = access_person(request.user, person_id, write=True)
    plist = get_object_or_404(PersonList, pk=list_id)
    if services.list_remove(person=person, plist=plist, actor=request.user):
        messages.success(request, _("Removed from the list %(name)s.") % {"name": plist.name})
    return _back(person)


@login_required
@require_POST
def person_note_add(request, person_id: int):
    person = access_person(request.user, person_id, write=True)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            services.note_add(person=person, text=form.cleaned_data["text"], actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Note added."))
    else:
        _form_error_message(request, form)
    return _back(person)


@login_required
@require_POST
def person_proposal_decide(request, person_id: int, proposal_id: int):
    """Accept or dismiss a change a public form proposed (old and new are shown side
    by side on the person page). Only staff who may edit the person reach it."""
    person = access_person(request.user, person_id, write=True)
    proposal = get_object_or_404(ProposedChange, pk=proposal_id, person=person)
    if request.POST.get("decision") == "accept":
        changed = proposals.proposal_accept(
            proposal=proposal, actor=request.user, ip=client_ip(request)
        )
        if changed is None:
            messages.error(request, _("That proposal is no longer open."))
        else:
            messages.success(request, _("The proposed details are applied."))
    elif proposals.proposal_dismiss(proposal=proposal, actor=request.user, ip=client_ip(request)):
        messages.success(request, _("The proposed details are dismissed."))
    else:
        messages.error(request, _("That proposal is no longer open."))
    return _back(person)


@login_required
def person_edit(request, person_id: int):
    person = access_person(request.user, person_id, write=True)
    definitions = list(CustomField.objects.order_by("label"))
    if request.method == "POST":
        form = PersonEditForm(request.POST, person=person, definitions=definitions)
        if form.is_valid():
            data = form.cleaned_data
            try:
                changed = services.person_update(
                    person=person,
                    actor=request.user,
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                    email=data["email"],
                    phone=data["phone"],
                    address_line1=data["address_line1"],
                    address_line2=data["address_line2"],
                    town=data["town"],
                    postcode=data["postcode"],
                    custom_fields=form.custom_values(),
                    email_status=data["email_status"],
                    email_status_reason=data["email_status_reason"],
                    membership_number=data["membership_number"],
                    membership_status=data["membership_status"],
                    joined_on=data["joined_on"],
                    renews_on=data["renews_on"],
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                if changed:
                    messages.success(request, _("Saved."))
                else:
                    messages.info(request, _("Nothing changed."))
                return _back(person)
    else:
        form = PersonEditForm(person=person, definitions=definitions)
    return render(request, "people/person_edit.html", {"person": person, "form": form})


def require_admin(user) -> None:
    if not user.is_admin:
        raise PermissionDenied
