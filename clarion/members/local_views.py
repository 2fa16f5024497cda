"""The member's local party (their area, its group page and events, and a message to
its organisers) and their actions and recruits (what they signed and gave, who they
brought in, and the area's opt-in recruiters' table).

Like every member page these need a member session (``auth.member_required``) and
read only through ``local_selectors``, which start from the signed-in person: no
parameter names another person."""

from __future__ import annotations

import logging
import smtplib

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from clarion.core.money import format_money
from clarion.core.ratelimit import ratelimit_hits
from clarion.core.services import client_ip

from . import auth
from . import local_selectors as selectors
from . import local_services as services
from .local_forms import LocalContactForm, RecruitersTableForm

logger = logging.getLogger("clarion.members")

ACTIVITY_PAGE_SIZE = 20


# --- My local party ------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@auth.member_required
def local(request: HttpRequest) -> HttpResponse:
    member = request.member
    area = member.area
    line = selectors.area_line(area)
    organisers = selectors.organisers_for(area, line=line)
    form = LocalContactForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and form.is_valid():
        per_member, per_ip = ratelimit_hits(
            [
                ("members-contact-person", str(member.pk), services.CONTACT_MEMBER_WINDOW),
                (
                    "members-contact-ip",
                    client_ip(request) or "unknown",
                    services.CONTACT_IP_WINDOW,
                ),
            ]
        )
        if per_member > services.CONTACT_MEMBER_LIMIT or per_ip > services.CONTACT_IP_LIMIT:
            form.add_error(
                None,
                _(
                    "You have sent as many messages as we allow for now. Please try again "
                    "tomorrow; your organisers will reply to the messages you already sent."
                ),
            )
            status = 429
        else:
            try:
                sent = services.local_contact_send(
                    person=member,
                    subject=form.cleaned_data["subject"],
                    message=form.cleaned_data["message"],
                    ip=client_ip(request),
                )
            except services.NoOneToContact:
                # The page says there is nobody to write to (and shows no form).
                status = 503
            except (smtplib.SMTPException, OSError):
                logger.exception("Member %s: message to organisers not sent", member.pk)
                form.add_error(
                    None,
                    _(
                        "Your message could not be sent just now; nothing was sent. "
                        "Please try again in a few minutes."
                    ),
                )
                status = 503
            else:
                if sent.area_name:
                    text = _("Your message was sent to the organisers of %(area)s.") % {
                        "area": sent.area_name
                    }
                else:
                    text = _("Your message was sent to our national team.")
                messages.success(request, text)
                return redirect("members:local")
    elif form.is_bound:
        status = 400
    return render(
        request,
        "members/local.html",
        {
            "member": member,
            "area": area,
            "area_line": line,
            "group_url": reverse("groups:detail", kwargs={"pk": area.pk}) if area else "",
            "events": selectors.local_events(member),
            "near_miles": selectors.NEAR_MILES,
            "organisers": organisers,
            "form": form,
            "section": "local",
        },
        status=status,
    )


# --- My actions and recruits ---------------------------------------------------------


# What the member did on each kind of action page, as the badge says it.
ACTION_VERBS = {
    "petition": gettext_lazy("Signed"),
    "pledge": gettext_lazy("Pledged"),
    "signup": gettext_lazy("Signed up"),
    "letter": gettext_lazy("Wrote"),
    "survey": gettext_lazy("Answered"),
}


def _activity_row(row: tuple) -> dict:
    at, kind, title, slug, page_kind, state, amount, refunded, currency, monthly, _pk = row
    item = {
        "at": at,
        "kind": kind,
        "title": title,
        "slug": slug,
        "state": state,
        "verb": ACTION_VERBS.get(page_kind, ACTION_VERBS["petition"]),
    }
    if kind == "gift":
        item["amount"] = format_money(int(amount), currency or "GBP")
        item["refunded"] = format_money(int(refunded), currency or "GBP") if refunded else ""
        item["monthly"] = bool(monthly)
    return item


@require_safe
@auth.member_required
def actions(request: HttpRequest) -> HttpResponse:
    member = request.member
    paginator = Paginator(selectors.activity_of(member), ACTIVITY_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    table = selectors.recruiters_table(member.area)
    return render(
        request,
        "members/activity.html",
        {
            "member": member,
            "page": page,
            "rows": [_activity_row(row) for row in page.object_list],
            "recruits": selectors.recruits_of(member),
            "recruits_total": selectors.recruits_total(member),
            "signatures_recruited": selectors.signatures_recruited(member),
            "opted_in": selectors.opted_in(member),
            "table": table,
            "table_size": selectors.TABLE_SIZE,
            "area": member.area,
            "form": RecruitersTableForm(),
            "section": "actions",
        },
    )


@require_POST
@auth.member_required
def recruiters_table(request: HttpRequest) -> HttpResponse:
    """Join or leave the area's recruiters' table (the member's own row only)."""
    form = RecruitersTableForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose whether to show you in the table."))
        return redirect(reverse("members:actions") + "#recruiters-table")
    show = form.cleaned_data["show"]
    changed = services.recruiters_table_set(person=request.member, show=show, ip=client_ip(request))
    if not changed:
        messages.info(request, _("Nothing was changed."))
    elif show:
        messages.success(request, _("You are in your area's recruiters' table."))
    else:
        messages.success(request, _("You are no longer in your area's recruiters' table."))
    return redirect(reverse("members:actions") + "#recruiters-table")
