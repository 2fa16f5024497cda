"""Staff pages for journeys: the list, a journey from a template, a journey drawn with
its per-step figures, publish / pause / archive, and the user's to-dos. Journeys are
reached only through ``selectors.access_journey`` and to-dos through
``selectors.access_todo`` (which keeps to people ``people_for(user)`` reaches)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from clarion.mailings.selectors import from_addresses_for_area

from . import selectors, services
from .drawing import journey_drawing
from .forms import (
    FromTemplateForm,
    StatusForm,
    StepsForm,
    TestSearchForm,
    TestStartForm,
    TodoForm,
    TriggerKindForm,
    TriggerSettingsForm,
)
from .models import Enrolment, Journey


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def journey_list(request: HttpRequest) -> HttpResponse:
    journeys = (
        selectors.journeys_for(request.user)
        .annotate(
            entered=Count("enrolments"),
            active=Count("enrolments", filter=Q(enrolments__state=Enrolment.State.ACTIVE)),
            converted=Count("enrolments", filter=Q(enrolments__state=Enrolment.State.CONVERTED)),
        )
        .select_related("area")[:200]
    )
    allowed = from_addresses_for_area(request.user.scope_area).first()
    initial = {
        "from_name": (allowed.name if allowed and allowed.name else request.user.get_full_name()),
        "from_email": allowed.email if allowed else request.user.email,
    }
    form = FromTemplateForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if not request.user.can_write:
            raise PermissionDenied
        if form.is_valid():
            try:
                journey = services.journey_from_template(
                    key=form.cleaned_data["template"],
                    actor=request.user,
                    from_name=form.cleaned_data["from_name"],
                    from_email=form.cleaned_data["from_email"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("Journey made as a draft. Publish it to start it."))
                return redirect("journeys_staff:detail", pk=journey.pk)
    return render(
        request,
        "journeys/list.html",
        {"journeys": journeys, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
def journey_detail(request: HttpRequest, pk: int) -> HttpResponse:
    journey = selectors.access_journey(request.user, pk)
    stats = selectors.step_stats(journey)
    return render(
        request,
        "journeys/detail.html",
        {
            "journey": journey,
            "stats": stats,
            "drawing": journey_drawing(stats),
            "totals": selectors.journey_totals(journey),
            "trigger": _trigger_words(journey),
            "test_run": selectors.latest_test_run(journey, request.user),
            "can_test": journey.status in (Journey.Status.DRAFT, Journey.Status.TEST),
            "can_change_trigger": journey.status in services.TRIGGER_CHANGE_STATUSES,
        },
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def journey_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Pick a person (searched within the user's scope) and start a test run."""
    from . import testruns

    journey = selectors.access_journey(request.user, pk, write=True)
    search = TestSearchForm(request.GET if "q" in request.GET else None)
    matches = []
    if search.is_bound and search.is_valid():
        matches = selectors.test_people(request.user, search.cleaned_data["q"])
    errors: list[str] = []
    if request.method == "POST":
        form = TestStartForm(request.POST)
        if not form.is_valid():
            errors.append(_("Choose the person to test with."))
        else:
            try:
                run = services.journey_test_start(
                    journey=journey, actor=request.user, person_id=form.cleaned_data["person"]
                )
            except ValidationError as exc:
                errors += exc.messages
            else:
                testruns.advance(run_id=run.pk)
                messages.success(
                    request,
                    _("Test started: emails go to %(address)s.") % {"address": run.send_to},
                )
                return redirect(reverse("journeys_staff:detail", args=[journey.pk]) + "#test-run")
    return render(
        request,
        "journeys/test.html",
        {
            "journey": journey,
            "search": search,
            "matches": matches,
            "errors": errors,
            "can_test": journey.status in (Journey.Status.DRAFT, Journey.Status.TEST),
            "wait_seconds": int(testruns.test_wait().total_seconds()),
        },
        status=400 if errors or (search.is_bound and search.errors) else 200,
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def journey_trigger(request: HttpRequest, pk: int) -> HttpResponse:
    """Choose the trigger: its kind (a GET form), then that kind's settings."""
    from .triggers import trigger_type

    journey = selectors.access_journey(request.user, pk, write=True)
    source = request.POST if request.method == "POST" else request.GET
    kind_form = TriggerKindForm(
        source if "kind" in source else None, initial={"kind": journey.trigger_type}
    )
    kind = journey.trigger_type
    if kind_form.is_bound:
        kind = kind_form.cleaned_data["kind"] if kind_form.is_valid() else None
    ttype = trigger_type(kind)
    settings_form = None
    if ttype is not None:
        initial = journey.trigger_config if kind == journey.trigger_type else {}
        initial = {k: v for k, v in initial.items() if not isinstance(v, dict)}
        settings_form = TriggerSettingsForm(
            request.POST if request.method == "POST" else None,
            ttype=ttype,
            user=request.user,
            initial=initial,
            prefix="s",
        )
        if request.method == "POST" and settings_form.is_valid():
            try:
                services.journey_trigger_set(
                    journey=journey,
                    actor=request.user,
                    trigger_type=ttype.name,
                    trigger_config=settings_form.config(),
                )
            except ValidationError as exc:
                for message in exc.messages:
                    settings_form.add_error(None, message)
            else:
                messages.success(request, _("Trigger saved."))
                return redirect("journeys_staff:detail", pk=journey.pk)
    failed = bool(kind_form.is_bound and kind_form.errors) or bool(
        settings_form is not None and settings_form.errors
    )
    return render(
        request,
        "journeys/trigger.html",
        {
            "journey": journey,
            "kind_form": kind_form,
            "settings_form": settings_form,
            "ttype": ttype,
            "can_change": journey.status in services.TRIGGER_CHANGE_STATUSES,
            "current": _trigger_words(journey),
        },
        status=400 if failed else 200,
    )


def _trigger_words(journey) -> str:
    from .triggers import trigger_type

    ttype = trigger_type(journey.trigger_type)
    if ttype is None:  # a trigger no longer shipped
        return journey.trigger_type
    return ttype.describe(journey.trigger_config)


@login_required
@require_POST
def journey_status(request: HttpRequest, pk: int) -> HttpResponse:
    journey = selectors.access_journey(request.user, pk, write=True)
    form = StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose publish, pause, archive or back to draft."))
        return redirect("journeys_staff:detail", pk=journey.pk)
    move = form.cleaned_data["move"]
    if move == "archive" and request.POST.get("confirm") != "yes":
        # Archiving stops the journey for good and takes everyone out: ask first.
        return render(request, "journeys/archive_confirm.html", {"journey": journey})
    try:
        services.journey_set_status(journey=journey, actor=request.user, move=move)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("Journey updated."))
    return redirect("journeys_staff:detail", pk=journey.pk)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def journey_steps(request: HttpRequest, pk: int) -> HttpResponse:
    journey = selectors.access_journey(request.user, pk, write=request.method == "POST")
    current = json.dumps(services.journey_export(journey)["steps"], indent=2, ensure_ascii=False)
    form = StepsForm(request.POST or None, initial={"steps": current})
    if request.method == "POST" and form.is_valid():
        try:
            version = services.journey_steps_replace(
                journey=journey, actor=request.user, steps=form.cleaned_data["steps"]
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            messages.success(request, _("Steps saved (version %(n)s).") % {"n": version})
            return redirect("journeys_staff:detail", pk=journey.pk)
    return render(
        request,
        "journeys/steps.html",
        {"journey": journey, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def journey_duplicate(request: HttpRequest, pk: int) -> HttpResponse:
    journey = selectors.access_journey(request.user, pk, write=True)
    try:
        copy = services.journey_duplicate(journey=journey, actor=request.user)
    except ValidationError as exc:
        # e.g. a from address the copier's area may not use
        for message in exc.messages:
            messages.error(request, message)
        return redirect("journeys_staff:detail", pk=journey.pk)
    messages.success(request, _("Copied as a draft."))
    return redirect("journeys_staff:detail", pk=copy.pk)


@login_required
def todo_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "journeys/todos.html",
        {"todos": selectors.todos_for(request.user)[:200], "form": TodoForm()},
    )


@login_required
@require_POST
def todo_mark(request: HttpRequest, pk: int) -> HttpResponse:
    todo = selectors.access_todo(request.user, pk)
    if not request.user.can_write:
        raise PermissionDenied
    form = TodoForm(request.POST)
    # The dashboard's forms come back to the dashboard; only a path on this site.
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ) or not back.startswith("/"):
        back = reverse("journeys_staff:todos")
    if not form.is_valid():
        messages.error(request, _("Choose done or not reached."))
        return redirect(back)
    services.todo_mark(
        todo=todo,
        actor=request.user,
        status=form.cleaned_data["status"],
        note=form.cleaned_data["note"],
    )
    messages.success(request, _("To-do recorded."))
    return redirect(back)
