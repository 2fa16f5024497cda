"""The mailbox owner's side of a proposed change: a link from the email shows the
details side by side and applies them only on a POST, so a mail scanner that follows
the link changes nothing."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from clarion.core.services import client_ip
from clarion.people import proposals


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def proposal_view(request: HttpRequest, token: str) -> HttpResponse:
    proposal = proposals.proposal_by_token(token)
    if proposal is None or not proposal.is_open:
        return render(request, "people/proposal_confirm.html", {"outcome": "bad"}, status=404)
    if request.method == "POST":
        if request.POST.get("decision") == "dismiss":
            proposals.proposal_dismiss(proposal=proposal, ip=client_ip(request))
            outcome = "dismissed"
        else:
            done = proposals.proposal_confirm(proposal=proposal, ip=client_ip(request))
            outcome = "confirmed" if done is not None else "bad"
        return render(request, "people/proposal_confirm.html", {"outcome": outcome})
    context = {"outcome": "", "rows": proposals.proposal_rows(proposal)}
    return render(request, "people/proposal_confirm.html", context)
