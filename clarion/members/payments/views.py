"""The "Join" page: choose a membership type and pay by Direct Debit (GoCardless) or
card (Stripe). A signed-in member joins as themselves. A supporter who is not signed in
gives name, email and postcode: a new person is created through
``people.services.person_upsert(public=True)`` and goes on to pay; an address Clarion
already knows is never joined from an unauthenticated form (that would let anyone make
someone else a member): its owner is emailed a sign-in link and joins once signed in.
Either way a sign-in link is emailed."""

from __future__ import annotations

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from clarion.core.ratelimit import ratelimit_hits
from clarion.core.services import client_ip
from clarion.core.site import site_url
from clarion.people.models import EmailStatus
from clarion.people.services import ConsentInput, person_upsert

from .. import auth, services
from ..models import Membership
from ..selectors import membership_of, membership_types_active
from ..tasks import signin_email
from . import DuesError, gocardless, stripe_dues
from .forms import JOIN_CONSENT_WORDING, PAYS_BY, JoinForm

RETURN_SALT = "members.payments.gocardless-return"
JOIN_LIMIT_WINDOW = 3600
JOIN_IP_LIMIT = 20


def _private(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)
    return response


def _page(request, template: str, context: dict, *, member, status: int = 200):
    context = {
        "base_template": "members/base.html" if member is not None else "public_base.html",
        "member": member,
        "section": "membership",
        **context,
    }
    return _private(render(request, template, context, status=status))


def _email_link(request: HttpRequest, response: HttpResponse, person) -> None:
    """Email ``person`` a sign-in link bound to this browser (as the sign-in page does)."""
    secret = request.COOKIES.get(auth.BROWSER_COOKIE, "")
    if not secret or len(secret) > 100:
        secret = services.new_secret()
    browser_hash = services.secret_hash(secret)
    person_id = person.pk
    transaction.on_commit(
        lambda: signin_email.enqueue(person_id=person_id, browser_hash=browser_hash)
    )
    auth.browser_cookie_set(response, secret)


def _payment_start(request: HttpRequest, *, person, membership_type, pays_by: str) -> str:
    join_url = site_url(reverse("members_join:join"))
    if pays_by == "direct_debit":
        started = gocardless.flow_start(
            person=person,
            membership_type=membership_type,
            redirect_uri_for=lambda br: site_url(
                reverse("members_join:dd_return", args=[signing.dumps(br, salt=RETURN_SALT)])
            ),
            exit_uri=join_url,
        )
        return started.redirect_url
    return stripe_dues.checkout_start(
        person=person,
        membership_type=membership_type,
        success_url=site_url(reverse("members_join:thanks")) + "?by=card",
        cancel_url=join_url,
    )


def _preselected(request: HttpRequest, types) -> dict:
    """``?type=<id>&pays_by=<way>`` (the "Renew" link of a lapsed or cancelled member's
    page) preselects an offered type and way of paying; anything else is ignored."""
    initial = {}
    type_id = request.GET.get("type", "")
    if type_id.isdigit() and len(type_id) < 19 and types.filter(pk=int(type_id)).exists():
        initial["membership_type"] = int(type_id)
    if request.GET.get("pays_by") in dict(PAYS_BY):
        initial["pays_by"] = request.GET["pays_by"]
    return initial


@require_http_methods(["GET", "HEAD", "POST"])
def join(request: HttpRequest) -> HttpResponse:
    member = auth.current_member(request)
    current = membership_of(member) if member is not None else None
    if current is not None and current.status in (
        Membership.Status.ACTIVE,
        Membership.Status.GRACE,
    ):
        return _page(request, "members/join/already.html", {"membership": current}, member=member)
    types = membership_types_active()
    form = JoinForm(
        request.POST if request.method == "POST" else None,
        types=types,
        signed_in=member is not None,
        initial=_preselected(request, types),
    )
    context = {"form": form, "types": types}
    if request.method != "POST" or not form.is_valid():
        status = 400 if form.is_bound else 200
        return _page(request, "members/join/join.html", context, member=member, status=status)
    data = form.cleaned_data
    if member is None:
        (per_ip,) = ratelimit_hits(
            [("members-join-ip", client_ip(request) or "unknown", JOIN_LIMIT_WINDOW)]
        )
        if per_ip > JOIN_IP_LIMIT:
            form.add_error(None, _("Too many tries from here. Please try again in an hour."))
            return _page(request, "members/join/join.html", context, member=None, status=429)
        try:
            with transaction.atomic():
                consent = (
                    ConsentInput(
                        channel="email", wording=str(JOIN_CONSENT_WORDING), source="members:join"
                    )
                    if data.get("email_consent")
                    else None
                )
                result = person_upsert(
                    email=data["email"],
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                    postcode=data["postcode"],
                    email_status=EmailStatus.SUBSCRIBED if consent else None,
                    consent=consent,
                    source_code="members:join",
                    public=True,
                )
        except ValidationError as exc:
            for field, messages in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
                target = field if field in form.fields else None
                for message in messages:
                    form.add_error(target, message)
            return _page(request, "members/join/join.html", context, member=None, status=400)
        person = result.person
        if not result.created:
            response = _page(request, "members/join/sign_in_sent.html", {}, member=None)
            _email_link(request, response, person)
            return response
    else:
        person = member
    try:
        url = _payment_start(
            request, person=person, membership_type=data["membership_type"], pays_by=data["pays_by"]
        )
    except DuesError as exc:
        form.add_error(None, str(exc))
        return _page(request, "members/join/join.html", context, member=member, status=503)
    response = redirect(url)
    if member is None:
        _email_link(request, response, person)
    return _private(response)


@require_safe
def direct_debit_return(request: HttpRequest, token: str) -> HttpResponse:
    """Where GoCardless's hosted flow sends the member back: finish the Billing Request
    (join and create the subscription) now if it is fulfilled. If GoCardless cannot be
    asked, the ``billing_requests fulfilled`` webhook finishes it later."""
    try:
        billing_request_id = signing.loads(token, salt=RETURN_SALT, max_age=7 * 86400)
    except signing.BadSignature:
        return _page(
            request,
            "members/join/problem.html",
            {"message": _("This link is not valid. Please start joining again.")},
            member=auth.current_member(request),
            status=404,
        )
    try:
        outcome = gocardless.billing_request_complete(str(billing_request_id))
    except DuesError:
        outcome = "waiting"
    query = "?by=direct_debit" + ("&waiting=1" if outcome.startswith("waiting") else "")
    return _private(redirect(reverse("members_join:thanks") + query))


@require_safe
def thanks(request: HttpRequest) -> HttpResponse:
    return _page(
        request,
        "members/join/thanks.html",
        {
            "by": request.GET.get("by", ""),
            "waiting": request.GET.get("waiting") == "1",
        },
        member=auth.current_member(request),
    )
