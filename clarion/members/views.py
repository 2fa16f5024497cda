"""The members' home: sign in by email link, my details, preferences and consent,
membership and card, and my events. Every page but sign-in needs a member session
(``auth.member_required``) and shows only the signed-in person's own records."""

from __future__ import annotations

import base64
import io
from urllib.parse import urlencode

import segno
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from clarion.core.ratelimit import ratelimit_hits
from clarion.core.services import client_ip
from clarion.core.site import site_url
from clarion.events.models import Event, Rsvp
from clarion.events.selectors import host_token, manage_token
from clarion.events.services import rsvp_cancel
from clarion.mailings import categories as email_categories
from clarion.people import proposals
from clarion.people.models import ConsentRecord, EmailStatus, MembershipStatus, ProposedChange
from clarion.people.selectors import people_for
from clarion.people.services import person_find

from . import auth, services
from . import membership as lifecycle
from .forms import DetailsForm, MembershipCancelForm, PreferencesForm, SignInForm
from .models import Membership
from .payments import DuesError, changes
from .payments.forms import TypeChangeForm
from .selectors import membership_of, membership_types_active
from .tasks import signin_email

# --- Signing in ----------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    """Ask for a link. The answer is the same whether the address is known or not, and
    so is the work done here: both look the address up and count the same limits;
    only a known address has a link made and emailed, by a task."""
    if request.method != "POST" and auth.current_member(request) is not None:
        return redirect("members:home")
    form = SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        ip = client_ip(request) or "unknown"
        per_email, per_ip = ratelimit_hits(
            [
                ("members-link-email", email, services.LINK_LIMIT_WINDOW),
                ("members-link-ip", ip, services.LINK_LIMIT_WINDOW),
            ]
        )
        if per_email > services.LINK_EMAIL_LIMIT or per_ip > services.LINK_IP_LIMIT:
            form.add_error(
                None, _("Too many sign-in links were asked for. Please try again in an hour.")
            )
            return render(request, "members/sign_in.html", {"form": form}, status=429)
        secret = request.COOKIES.get(auth.BROWSER_COOKIE, "")
        if not secret or len(secret) > 100:
            secret = services.new_secret()
        person = person_find(email=email)
        if person is not None and person.email:
            browser_hash = services.secret_hash(secret)
            transaction.on_commit(
                lambda: signin_email.enqueue(person_id=person.pk, browser_hash=browser_hash)
            )
        response = render(request, "members/sign_in_sent.html", {"minutes": services.LINK_MINUTES})
        auth.browser_cookie_set(response, secret)
        return response
    return render(
        request, "members/sign_in.html", {"form": form}, status=400 if form.is_bound else 200
    )


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def sign_in_link(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link. A GET only shows a button (mail scanners follow links); the
    POST spends the link, in the browser that asked for it only."""
    link = services.signin_link_find(token)
    now = timezone.now()
    if link is None or link.used_at is not None or link.expires_at <= now:
        return _link_refused(request, "bad")
    browser = request.COOKIES.get(auth.BROWSER_COOKIE, "")
    if not browser or services.secret_hash(browser) != link.browser_hash:
        return _link_refused(request, "other_browser")
    if request.method != "POST":
        return render(request, "members/sign_in_link.html", {})
    result = services.signin_link_use(token=token, browser_secret=browser, ip=client_ip(request))
    if result.outcome != "ok":
        return _link_refused(request, result.outcome)
    response = redirect("members:home")
    auth.member_cookie_set(response, result.session_key)
    response.delete_cookie(auth.BROWSER_COOKIE, samesite="Lax")
    return response


def _link_refused(request: HttpRequest, outcome: str) -> HttpResponse:
    return render(
        request,
        "members/sign_in_refused.html",
        {"outcome": outcome, "form": SignInForm()},
        status=404 if outcome == "bad" else 403,
    )


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    services.member_session_end(
        key=request.COOKIES.get(auth.MEMBER_COOKIE, ""), ip=client_ip(request)
    )
    response = redirect("members:sign_in")
    auth.member_cookie_clear(response)
    messages.success(request, _("You have signed out."))
    return response


# --- Home ----------------------------------------------------------------------------


@require_safe
@auth.member_required
def home(request: HttpRequest) -> HttpResponse:
    member = request.member
    return render(
        request,
        "members/home.html",
        {
            "member": member,
            "is_member": member.membership_status != MembershipStatus.NONE,
            "proposals": _open_proposals(member).count(),
            "section": "home",
        },
    )


# --- My details ----------------------------------------------------------------------


def _open_proposals(member):
    return ProposedChange.objects.filter(
        person=member, status=ProposedChange.Status.PENDING, expires_at__gt=timezone.now()
    ).order_by("-created_at")


DETAIL_FIELDS = (
    "first_name",
    "last_name",
    "address_line1",
    "address_line2",
    "town",
    "postcode",
    "phone",
)


@require_http_methods(["GET", "HEAD", "POST"])
@auth.member_required
def details(request: HttpRequest) -> HttpResponse:
    member = request.member
    initial = {name: getattr(member, name) for name in DETAIL_FIELDS}
    form = DetailsForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            changed = services.member_details_update(
                person=member, ip=client_ip(request), **form.cleaned_data
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            if changed:
                messages.success(request, _("Your details are saved."))
            else:
                messages.info(request, _("Nothing was changed."))
            return redirect("members:details")
    rows = [
        {"proposal": p, "rows": proposals.proposal_rows(p)} for p in _open_proposals(member)[:5]
    ]
    return render(
        request,
        "members/details.html",
        {"form": form, "member": member, "proposals": rows, "section": "details"},
        status=400 if form.is_bound else 200,
    )


@require_POST
@auth.member_required
def proposal_decide(request: HttpRequest) -> HttpResponse:
    """Accept or dismiss a change a public form proposed, for the member's own record
    only. Accepting is the mailbox owner's confirmation (they signed in by a link sent
    to that mailbox), so it is the same as confirming by the emailed link."""
    try:
        pk = int(request.POST.get("proposal", ""))
    except ValueError:
        raise Http404 from None
    proposal = _open_proposals(request.member).filter(pk=pk).select_related("person").first()
    if proposal is None:
        messages.error(request, _("That change was already decided or has expired."))
        return redirect("members:details")
    if request.POST.get("decision") == "accept":
        done = proposals.proposal_confirm(proposal=proposal, ip=client_ip(request))
        if done is None:
            messages.error(request, _("That change was already decided or has expired."))
        else:
            messages.success(request, _("The new details are saved."))
    else:
        proposals.proposal_dismiss(proposal=proposal, ip=client_ip(request))
        messages.success(request, _("The change was dismissed; nothing was changed."))
    return redirect("members:details")


# --- Preferences and consent ---------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@auth.member_required
def preferences(request: HttpRequest) -> HttpResponse:
    member = request.member
    suppressed = services.email_suppressed(member)
    consents = {
        channel: services.consent_current(member, channel)
        for channel in (ConsentRecord.Channel.SMS, ConsentRecord.Channel.PHONE)
    }
    stopped = email_categories.opted_out_keys(member)
    initial = {
        "email": member.email_status == EmailStatus.SUBSCRIBED,
        "categories": [c.key for c in email_categories.categories() if c.key not in stopped],
        "sms": bool(consents["sms"] and consents["sms"].granted),
        "phone": bool(consents["phone"] and consents["phone"].granted),
    }
    form = PreferencesForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        email_label=services.EMAIL_CONSENT_WORDING,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                changed = services.member_email_subscription_set(
                    person=member, subscribe=data["email"]
                )
                if "categories" in form.fields:
                    changed |= email_categories.person_categories_set(
                        person=member, wanted=data["categories"], source=services.CONSENT_SOURCE
                    )
                for channel in ("sms", "phone"):
                    changed |= services.member_consent_set(
                        person=member, channel=channel, granted=data[channel]
                    )
        except services.PreferenceRefused as exc:
            form.add_error("email", str(exc))
        else:
            if changed:
                messages.success(request, _("Your choices are saved."))
            else:
                messages.info(request, _("Nothing was changed."))
            return redirect("members:preferences")
    return render(
        request,
        "members/preferences.html",
        {
            "form": form,
            "member": member,
            "suppressed": suppressed,
            "consents": consents,
            "stopped_categories": email_categories.opt_outs_of(member),
            "section": "preferences",
        },
        status=400 if form.is_bound else 200,
    )


# --- Membership ----------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@auth.member_required
def membership(request: HttpRequest) -> HttpResponse:
    """My membership. The POST changes my membership type (``payments.changes``: the
    card or Direct Debit subscription first, then the record)."""
    member = request.member
    row = membership_of(member)
    changeable = row is not None and row.status in lifecycle.TYPE_CHANGEABLE
    other_types = (
        membership_types_active().exclude(pk=row.membership_type_id) if changeable else None
    )
    form = None
    if changeable and other_types.exists():
        form = TypeChangeForm(request.POST if request.method == "POST" else None, types=other_types)
    if request.method == "POST":
        if form is None:
            messages.info(request, _("Your membership type cannot be changed now."))
            return redirect("members:membership")
        status = 400
        if form.is_valid():
            try:
                changes.type_change(
                    person=member,
                    membership_type=form.cleaned_data["membership_type"],
                    ip=client_ip(request),
                )
            except ValidationError as exc:
                form.add_error("membership_type", exc.messages[0])
            except DuesError as exc:
                form.add_error("membership_type", str(exc))
            else:
                messages.success(
                    request,
                    _("Your membership type is now %(type)s.")
                    % {"type": form.cleaned_data["membership_type"].name},
                )
                return redirect("members:membership")
    else:
        status = 200
    # Card and Direct Debit keep their period: only those types are offered (a POST of
    # another is refused with the reason by the service).
    fixed_period = row is not None and row.pays_by != Membership.PaysBy.MANUAL
    change_types = []
    if form is not None:
        change_types = [
            t
            for t in form.fields["membership_type"].queryset
            if not fixed_period or t.period == row.membership_type.period
        ]
    renewable = row is not None and row.status in (
        Membership.Status.LAPSED,
        Membership.Status.CANCELLED,
    )
    renew_query = ""
    if renewable and row.membership_type.active:
        renew_query = urlencode(
            {"type": row.membership_type_id}
            | ({"pays_by": row.pays_by} if row.pays_by != Membership.PaysBy.MANUAL else {})
        )
    return render(
        request,
        "members/membership.html",
        {
            "member": member,
            "membership": row,
            "is_member": member.membership_status != MembershipStatus.NONE or row is not None,
            "active": member.membership_status == MembershipStatus.ACTIVE,
            "can_cancel": row is not None and row.status in CANCELLABLE,
            "types": membership_types_active(),
            "changeable": changeable,
            "change_form": form if change_types or (form is not None and form.is_bound) else None,
            "change_types": change_types,
            "fixed_period": fixed_period,
            "renewable": renewable,
            "renew_query": renew_query,
            "section": "membership",
        },
        status=status,
    )


# Statuses a member may cancel from their page.
CANCELLABLE = (Membership.Status.PENDING, Membership.Status.ACTIVE, Membership.Status.GRACE)


@require_http_methods(["GET", "HEAD", "POST"])
@auth.member_required
def membership_cancel(request: HttpRequest) -> HttpResponse:
    """Cancel my membership: a confirmation page (GET), then the POST cancels,
    through ``membership.membership_cancel`` (audited)."""
    member = request.member
    row = membership_of(member)
    if row is None or row.status not in CANCELLABLE:
        messages.info(request, _("You have no membership to cancel."))
        return redirect("members:membership")
    form = MembershipCancelForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        said = form.cleaned_data["reason"]
        lifecycle.membership_cancel(
            person=member,
            reason=_("Cancelled by the member") + (f": {said}" if said else ""),
            ip=client_ip(request),
        )
        messages.success(request, _("Your membership is cancelled."))
        return redirect("members:membership")
    return render(
        request,
        "members/membership_cancel.html",
        {"form": form, "membership": row, "member": member, "section": "membership"},
        status=400 if form.is_bound else 200,
    )


def _qr_data_uri(text: str) -> str:
    buffer = io.BytesIO()
    segno.make(text, error="m").save(
        buffer, kind="svg", scale=5, border=2, xmldecl=False, dark="#1b1f24"
    )
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@require_safe
@auth.member_required
def card(request: HttpRequest) -> HttpResponse:
    """The printable membership card: only for an active member."""
    member = request.member
    if member.membership_status != MembershipStatus.ACTIVE:
        return render(request, "members/card.html", {"member": member, "card": None}, status=404)
    card = services.member_card_get_or_create(person=member)
    return render(
        request,
        "members/card.html",
        {
            "member": member,
            "card": card,
            "qr": _qr_data_uri(
                site_url(
                    reverse(
                        "members:card_check", kwargs={"token": services.member_card_token(card)}
                    )
                )
            ),
        },
    )


@never_cache
@require_safe
def card_check(request: HttpRequest, token: str) -> HttpResponse:
    """Where a phone's camera lands when it reads a card's QR code. Staff whose scope
    covers the member see who it is and whether the membership is active; anyone else
    (signed out, another area, a forged or replaced card) learns nothing, not even
    whether the card is real."""
    person = None
    if request.user.is_authenticated:
        found = services.member_card_person(token)
        if found is not None:
            person = people_for(request.user).filter(pk=found.pk).first()
    response = render(
        request,
        "members/card_check.html",
        {
            "person": person,
            "staff": request.user.is_authenticated,
            "active": person is not None
            and person.membership_status == MembershipStatus.ACTIVE
            and (person.renews_on is None or person.renews_on >= timezone.localdate()),
        },
        status=200 if person is not None or not request.user.is_authenticated else 404,
    )
    patch_cache_control(response, private=True)
    return response


# --- My events -----------------------------------------------------------------------


def _my_rsvps(member):
    since = timezone.now()
    return (
        Rsvp.objects.filter(person=member, event__ends_at__gte=since)
        .exclude(status=Rsvp.Status.CANCELLED)
        .exclude(event__status__in=(Event.Status.CANCELLED, Event.Status.DECLINED))
        .select_related("event")
        .order_by("event__starts_at")
    )


@require_safe
@auth.member_required
def events(request: HttpRequest) -> HttpResponse:
    member = request.member
    rsvps = [
        {
            "rsvp": r,
            "manage_url": reverse(
                "events:manage", kwargs={"pk": r.event_id, "token": manage_token(r)}
            ),
        }
        for r in _my_rsvps(member)[:50]
    ]
    hosted = [
        {
            "event": e,
            "host_url": reverse("events:host", kwargs={"pk": e.pk, "token": host_token(e)}),
        }
        for e in Event.objects.filter(host_person=member, ends_at__gte=timezone.now())
        .exclude(status__in=(Event.Status.CANCELLED, Event.Status.DECLINED))
        .order_by("starts_at")[:50]
    ]
    return render(
        request,
        "members/events.html",
        {"member": member, "rsvps": rsvps, "hosted": hosted, "section": "events"},
    )


@require_http_methods(["GET", "HEAD", "POST"])
@auth.member_required
def event_cancel(request: HttpRequest) -> HttpResponse:
    """Cancel one of the member's own RSVPs (through the events service), after a
    confirmation page."""
    try:
        pk = int(
            request.POST.get("rsvp", "")
            if request.method == "POST"
            else request.GET.get("rsvp", "")
        )
    except ValueError:
        raise Http404 from None
    rsvp = _my_rsvps(request.member).filter(pk=pk).first()
    if rsvp is None:
        raise Http404
    if request.method != "POST":
        return render(request, "members/event_cancel.html", {"rsvp": rsvp, "section": "events"})
    rsvp_cancel(rsvp=rsvp)
    messages.success(
        request, _("Your RSVP to “%(title)s” is cancelled.") % {"title": rsvp.event.title}
    )
    return redirect("members:events")
