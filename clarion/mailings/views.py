"""Public endpoints reached from inside an email: one-click unsubscribe (RFC 8058),
the preference page, the open pixel and the click redirect. None needs a login or a
cookie; each is authenticated by the signed recipient token ``r`` alone."""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from clarion.core.site import is_own_url, own_url_on_site

from . import categories, selectors, services
from .forms import PreferencesForm
from .models import EmailCategory, Link
from .sending import tokens

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _invalid(request: HttpRequest) -> HttpResponse:
    return render(request, "mailings/public/invalid.html", status=404)


@csrf_exempt  # RFC 8058: mail providers POST without cookies; the signed token authenticates.
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest) -> HttpResponse:
    """GET shows a confirm page only (link scanners must not unsubscribe anyone);
    POST — the provider's one-click request or the confirm button — unsubscribes."""
    recipient = selectors.recipient_from_token(request.GET.get("r") or request.POST.get("r"))
    if recipient is None:
        return _invalid(request)
    category = _category_of(recipient)
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        token = tokens.recipient_token(recipient.pk)
        # "Only stop this kind of email": never for a provider's one-click request,
        # which means everything (RFC 8058).
        if not one_click and category is not None and request.POST.get("only") == category.key:
            categories.category_opt_out(
                person=recipient.person, key=category.key, source="mailings:unsubscribe"
            )
            return render(
                request,
                "mailings/public/unsubscribed.html",
                {"token": token, "category": category},
            )
        services.recipient_unsubscribe(
            recipient=recipient, how="one-click" if one_click else "link"
        )
        return render(request, "mailings/public/unsubscribed.html", {"token": token})
    return render(
        request,
        "mailings/public/unsubscribe_confirm.html",
        {
            "token": tokens.recipient_token(recipient.pk),
            "recipient": recipient,
            "category": category,
        },
    )


def _category_of(recipient) -> EmailCategory | None:
    """The category of the recipient's mailing, if it has one that still exists."""
    key = recipient.mailing.category
    if not key or recipient.person_id is None:
        return None
    return EmailCategory.objects.filter(key=key).first()


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    token = request.GET.get("r") or request.POST.get("r")
    recipient = selectors.recipient_from_token(token)
    if recipient is None or recipient.person is None:
        return _invalid(request)
    person = recipient.person
    opted_out = categories.opted_out_keys(person)
    initial = {"categories": [c.key for c in categories.categories() if c.key not in opted_out]}
    form = PreferencesForm(request.POST or None, initial=initial)
    saved = False
    if request.method == "POST" and form.is_valid():
        services.preferences_save(
            recipient=recipient,
            unsubscribe_all=form.cleaned_data["unsubscribe_all"],
            categories=form.cleaned_data["categories"],
        )
        saved = True
        person.refresh_from_db()
    return render(
        request,
        "mailings/public/preferences.html",
        {
            "form": form,
            "token": tokens.recipient_token(recipient.pk),
            "saved": saved,
            "subscribed": person.email_status == "subscribed",
        },
        status=400 if form.errors else 200,
    )


@never_cache
def open_pixel(request: HttpRequest) -> HttpResponse:
    recipient = selectors.recipient_from_token(request.GET.get("r"))
    if recipient is not None:
        services.open_record(
            recipient=recipient, user_agent=request.META.get("HTTP_USER_AGENT", "")
        )
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = "no-store, private"
    return response


def _with_attribution(url: str, token: str) -> str:
    """Add ``mt`` to links into this site, so the action or gift credits the mailing.

    A link is ours by its host name (see ``is_own_url``), not by a prefix of the site
    address: one written as ``http://host:8000/`` or ``https://`` while the site now
    runs elsewhere is moved onto the configured address, where it still answers."""
    if not is_own_url(url):
        return url
    parts = urlsplit(own_url_on_site(url))
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "mt"]
    query.append(("mt", token))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


@never_cache
def click(request: HttpRequest) -> HttpResponse:
    recipient = selectors.recipient_from_token(request.GET.get("r"))
    try:
        index = int(request.GET.get("l", ""))
    except ValueError:
        index = -1
    if recipient is None or index < 0:
        return _invalid(request)
    link = Link.objects.filter(mailing_id=recipient.mailing_id, index=index).first()
    if link is None:
        return _invalid(request)
    services.click_record(
        recipient=recipient, link=link, user_agent=request.META.get("HTTP_USER_AGENT", "")
    )
    token = tokens.mailing_link_token(recipient.mailing_id, recipient.variant, recipient.person_id)
    return HttpResponseRedirect(_with_attribution(link.url, token))


def invalid_link_message() -> str:
    return _("This link is not valid. It may have been copied incompletely.")
