"""Public local group pages: the list of groups (and "find my group" by postcode),
and a page per area with its upcoming events, how to get involved and a join form.
The join form has the action pages' defences: a honeypot, and limits per address
and per mailbox in the shared cache."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from clarion.areas.geocoding import geocode
from clarion.areas.models import Area
from clarion.core.ratelimit import ratelimit_hits
from clarion.core.services import client_ip
from clarion.people.normalise import canonical_email

from .forms import GroupFindForm, GroupJoinForm
from .services import group_consent_wording, group_join

MAX_GROUPS_LISTED = 2000
DEPTH_CLASSES = 6


def _limits() -> dict:
    return {
        "ip": int(getattr(settings, "CLARION_GROUPS_IP_LIMIT", 30)),
        "email": int(getattr(settings, "CLARION_GROUPS_EMAIL_LIMIT", 5)),
    }


def public_area(pk) -> Area:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    area = Area.objects.select_related("parent").filter(pk=pk).first()
    if area is None:
        raise Http404
    return area


@require_http_methods(["GET", "HEAD"])
def group_list(request: HttpRequest) -> HttpResponse:
    """Every area's group page, as the tree; a postcode finds the visitor's own."""
    form = GroupFindForm(request.GET or None)
    if form.is_bound and form.is_valid():
        location = geocode(form.cleaned_data["postcode"])
        if location is not None and location.area_id is not None:
            return redirect("groups:detail", pk=location.area_id)
        form.add_error("postcode", _("We don't know a local group for that postcode yet."))
    areas = list(Area.objects.order_by("path")[:MAX_GROUPS_LISTED])
    top = min((a.depth for a in areas), default=0)
    rows = [{"area": a, "indent": min(a.depth - top, DEPTH_CLASSES)} for a in areas]
    return render(
        request,
        "groups/list.html",
        {"form": form, "rows": rows},
        status=400 if form.is_bound and form.errors else 200,
    )


def _context(area: Area, form: GroupJoinForm, *, joined: bool = False) -> dict:
    from clarion.events.selectors import area_upcoming_events

    ancestor_ids = [int(part) for part in area.path.strip("/").split("/")[:-1]]
    return {
        "area": area,
        "form": form,
        "joined": joined,
        "events": list(area_upcoming_events(area)),
        "ancestors": list(Area.objects.filter(pk__in=ancestor_ids).order_by("depth")),
        "children": list(area.children.order_by("name")),
        "paragraphs": [p.strip() for p in area.get_involved.split("\n\n") if p.strip()],
        "feed_url": reverse("events:area_feed", kwargs={"area_id": area.pk}),
    }


@require_http_methods(["GET", "HEAD", "POST"])
def group_detail(request: HttpRequest, pk: int) -> HttpResponse:
    area = public_area(pk)
    wording = group_consent_wording(area)
    if request.method != "POST":
        form = GroupJoinForm(
            consent_wording=wording,
            initial={"source": (request.GET.get("source") or "")[:100]},
        )
        return render(
            request,
            "groups/detail.html",
            _context(area, form, joined=request.GET.get("joined") == "1"),
        )
    limits = _limits()
    ip_hit = ("groups:ip", client_ip(request) or "unknown", 600)
    form = GroupJoinForm(request.POST, consent_wording=wording)
    if not form.is_valid():
        if ratelimit_hits([ip_hit])[0] > limits["ip"]:
            return _too_many(request, area)
        return render(request, "groups/detail.html", _context(area, form), status=400)
    if form.honeypot_filled():
        if ratelimit_hits([ip_hit])[0] > limits["ip"]:
            return _too_many(request, area)
        # Look like success to the bot; record nothing.
        return redirect(reverse("groups:detail", kwargs={"pk": area.pk}) + "?joined=1")
    data = form.cleaned_data
    email_hit = ("groups:email", canonical_email(data["email"]), 3600)
    ip_total, email_total = ratelimit_hits([ip_hit, email_hit])
    if ip_total > limits["ip"] or email_total > limits["email"]:
        return _too_many(request, area)
    try:
        group_join(
            area=area,
            email=data["email"],
            first_name=data["first_name"],
            last_name=data.get("last_name", ""),
            postcode=data.get("postcode", ""),
            email_consent=bool(data.get("email_consent")),
            source=data.get("source", ""),
        )
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
        return render(request, "groups/detail.html", _context(area, form), status=400)
    return redirect(reverse("groups:detail", kwargs={"pk": area.pk}) + "?joined=1")


def _too_many(request: HttpRequest, area: Area) -> HttpResponse:
    response = render(request, "groups/too_many.html", {"area": area}, status=429)
    response["Retry-After"] = "600"
    return response
