"""Reads for action pages: public counts, recent signers, staff scoping and dashboards."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from clarion.areas.selectors import area_subtree_q
from clarion.core.site import site_url
from clarion.people.models import Person

from . import plugins
from .models import ActionPage, Submission


def count_refresh_seconds() -> int:
    """How stale a shown count may be: counts are cached this long (default 2 s,
    setting ``CLARION_ACTION_COUNT_SECONDS``). Signing never waits on a counter row;
    the price is that a count shown to the public lags by at most this interval."""
    return int(getattr(settings, "CLARION_ACTION_COUNT_SECONDS", 2))


def _count_key(page_id: int) -> str:
    return f"actions:count:{page_id}"


def page_count_fresh(page: ActionPage) -> int:
    """Counted submissions, straight from the (page, status, created_at) index."""
    if page.kind == ActionPage.Kind.DONATION:
        return page_money(page)["count"]
    return Submission.objects.filter(page_id=page.pk, status=Submission.Status.CONFIRMED).count()


def page_count(page: ActionPage) -> int:
    """The count to show: ``page_count_fresh`` cached for ``count_refresh_seconds``."""
    key = _count_key(page.pk)
    value = cache.get(key)
    if value is None:
        value = page_count_fresh(page)
        cache.set(key, value, timeout=count_refresh_seconds())
    return int(value)


def page_count_add(page: ActionPage, n: int) -> None:
    """Add ``n`` to the cached count, if one is cached: a supporter sees their own
    signature counted at once, without every signature recounting the page.

    Redis (and the local-memory cache) add atomically and keep the key's expiry, so
    the count is still recounted every refresh interval. Other caches (the database
    cache) read and rewrite the value with their default expiry, which would lose
    concurrent additions and keep the result for minutes: there the cached count is
    dropped instead, and the next view counts afresh."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache
    from django.core.cache.backends.redis import RedisCache

    if not isinstance(caches["default"], (RedisCache, LocMemCache)):
        page_count_forget(page)
        return
    try:
        cache.incr(_count_key(page.pk), n)
    except ValueError:  # nothing cached: the next view counts afresh
        pass


def page_count_add_and_mark(page: ActionPage, n: int, mark_key: str, timeout: int) -> bool | None:
    """``page_count_add`` and ``cache.add(mark_key, 1, timeout)`` in one Redis round
    trip (the intake path's count and kick); returns whether the mark was set, or
    None when the cache is not Redis (the caller then does the two apart)."""
    from django.core.cache import caches

    from clarion.core.cache import RedisCache

    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    _total, added = backend.incr_and_add(_count_key(page.pk), n, mark_key, 1, timeout)
    return added


def page_count_forget(page: ActionPage) -> None:
    cache.delete(_count_key(page.pk))


def page_progress(page: ActionPage, count: int) -> dict:
    """Goal, percentage (capped at 100) and the goal to show: when a page passes its
    goal the next round number above the count becomes the target."""
    goal = page.goal or 0
    shown_goal = goal
    if goal and count >= goal:
        step = 10 ** max(len(str(count)) - 1, 1)
        shown_goal = (count // step + 1) * step
    percent = min(100, int(count * 100 / shown_goal)) if shown_goal else None
    return {"goal": shown_goal, "percent": percent, "reached": bool(goal and count >= goal)}


def page_money(page: ActionPage) -> dict:
    """Money raised on a donation page, from the donations app (see ``plugins``)."""
    plugin = plugins.donations()
    if plugin is None:
        return {"count": 0, "amount_pence": 0}
    return plugin.totals(page)


def recent_signers(page: ActionPage, *, limit: int = 8) -> list[dict]:
    """First name and town of the latest counted signers who agreed to be shown."""
    key = f"actions:recent:{page.pk}"
    rows = cache.get(key)
    if rows is None:
        rows = [
            {"first_name": first, "town": town, "at": at}
            for first, town, at in Submission.objects.filter(
                page_id=page.pk,
                status=Submission.Status.CONFIRMED,
                show_name=True,
                person__isnull=False,  # not those still in intake
            )
            .order_by("-created_at")
            .values_list("person__first_name", "person__town", "created_at")[:limit]
        ]
        cache.set(key, rows, timeout=count_refresh_seconds())
    return rows


def public_page_seconds() -> float:
    """How long a web process reuses a public page's row without reading it again
    (default 2 s, setting ``CLARION_PUBLIC_PAGE_SECONDS``; 0 reads it every time)."""
    return float(getattr(settings, "CLARION_PUBLIC_PAGE_SECONDS", 2))


# slug → (monotonic time read, the page as read). Per process, bounded; see public_page.
_PUBLIC_PAGES: dict[str, tuple[float, ActionPage]] = {}
_PUBLIC_PAGES_MAX = 512


def public_page_forget(slug: str | None = None) -> None:
    """Drop this process's copy of the page ``slug`` (every page when None): every
    page when one is saved or deleted, and again when that transaction commits."""
    if slug is None:
        _PUBLIC_PAGES.clear()
    else:
        _PUBLIC_PAGES.pop(slug, None)


def public_page(slug: str) -> ActionPage:
    """A page the public may see (live or closed, not a draft), or 404.

    Every public request starts here, signatures included. The row is one plain
    look-up on the unique slug (no ordering, no join: ``next_page`` loads when a view
    follows it), and each web process keeps what it read for ``public_page_seconds``
    (2 s): reading and building the row was about a third of a signature's time in
    the view. Each caller gets its own copy, so nothing set on one request's page
    reaches another's. A page saved or deleted in this process is forgotten at once
    (``public_page_forget``, from the model's signals); other processes see a change,
    such as closing the page, within those 2 seconds. A draft or a missing slug is
    read again each time (nothing kept)."""
    if not slug or len(slug) > 80:
        raise Http404
    seconds = public_page_seconds()
    now = time.monotonic()
    held = _PUBLIC_PAGES.get(slug)
    if held is not None and now - held[0] < seconds:
        return copy.copy(held[1])
    rows = ActionPage.objects.filter(slug=slug).order_by()[:1]
    page = rows[0] if rows else None
    if page is None or page.status == ActionPage.Status.DRAFT:
        _PUBLIC_PAGES.pop(slug, None)
        raise Http404
    if seconds > 0:
        if len(_PUBLIC_PAGES) >= _PUBLIC_PAGES_MAX:
            _PUBLIC_PAGES.clear()
        _PUBLIC_PAGES[slug] = (now, copy.copy(page))
    return page


def page_by_share_code(code: str) -> Person | None:
    """The person whose personal share link this is (``?ref=CODE``)."""
    code = (code or "").strip()
    if not code or len(code) > 16:
        return None
    return Person.objects.filter(share_code=code).first()


def page_thanks_url(page: ActionPage, person: Person | None = None) -> str:
    """Where to send someone after acting on ``page`` (the donations app uses it too):
    the thank-you page, personalised with a signed token when ``person`` is given."""
    from .services import thanks_token

    url = reverse("actions:thanks", kwargs={"slug": page.slug})
    if person is not None and person.pk:
        url += "?p=" + thanks_token(person)
    return url


def submission_thanks_url(submission: Submission) -> str:
    """The thank-you page after ``submission`` went into intake: it names the row
    (``?s=``), not a person, who may not exist yet."""
    from .services import thanks_submission_token

    url = reverse("actions:thanks", kwargs={"slug": submission.page.slug})
    return url + "?s=" + thanks_submission_token(submission)


def page_public_url(page: ActionPage, *, ref: str = "") -> str:
    url = site_url(reverse("actions:page", kwargs={"slug": page.slug}))
    return f"{url}?ref={ref}" if ref else url


def recruits_count(person: Person) -> int:
    """How many people ``person`` brought in: people recorded with them as recruiter."""
    return Person.objects.filter(recruiter=person).count()


# --- Staff ----------------------------------------------------------------------------


def pages_for(user) -> QuerySet[ActionPage]:
    """Pages ``user`` may manage: all for national staff, their area's subtree for
    organisers (national pages stay with national staff)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return ActionPage.objects.none()
    qs = ActionPage.objects.select_related("area")
    scope = user.scope_area
    if scope is None:
        return qs
    return qs.filter(area_subtree_q(scope))


def access_page(user, page_id, *, write: bool = False) -> ActionPage:
    try:
        pk = int(page_id)
    except (TypeError, ValueError):
        raise Http404 from None
    page = pages_for(user).filter(pk=pk).first()
    if page is None:
        raise Http404
    if write and not user.can_write:
        raise PermissionDenied
    return page


@dataclass
class Dashboard:
    total: int
    pending: int
    invalid: int
    per_day: list[dict]
    sources: list[dict]
    referrers: list[dict]
    recruiters: list[dict]
    recruited: int
    next_step: dict
    money: dict | None
    ip_hashes: list[dict]


def page_dashboard(user, page: ActionPage, *, days: int = 30) -> Dashboard:
    """Figures for the staff page dashboard. Recruiters are people, so only those
    ``user`` may see are named (invariant 4); the totals are page-wide."""
    from clarion.people.selectors import people_for

    subs = Submission.objects.filter(page=page)
    counted = subs.filter(status=Submission.Status.CONFIRMED)
    by_status = dict(subs.values_list("status").annotate(n=Count("id")).order_by())
    since = timezone.now() - timedelta(days=days)
    per_day = list(
        counted.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(n=Count("id"))
        .order_by("day")
    )
    peak = max((row["n"] for row in per_day), default=0)
    for row in per_day:
        row["percent"] = int(row["n"] * 100 / peak) if peak else 0
    sources = list(counted.values("source").annotate(n=Count("id")).order_by("-n", "source")[:10])
    referrers = list(
        counted.exclude(referrer_domain="")
        .values("referrer_domain")
        .annotate(n=Count("id"))
        .order_by("-n", "referrer_domain")[:10]
    )
    visible = people_for(user)
    top = list(
        counted.filter(recruiter__isnull=False)
        .values("recruiter")
        .annotate(n=Count("id"))
        .order_by("-n", "recruiter")[:20]
    )
    people = visible.in_bulk([row["recruiter"] for row in top])
    recruiters = [
        {"person": people[row["recruiter"]], "n": row["n"]}
        for row in top
        if row["recruiter"] in people
    ][:10]
    recruited = counted.filter(recruiter__isnull=False).count()
    total = by_status.get(Submission.Status.CONFIRMED, 0)
    clicked = counted.filter(next_step_at__isnull=False).count()
    next_step = {"clicked": clicked, "percent": round(clicked * 100 / total, 1) if total else 0.0}
    if page.next_page_id and page.next_page and page.next_page.kind != ActionPage.Kind.DONATION:
        acted = Submission.objects.filter(
            page_id=page.next_page_id,
            status=Submission.Status.CONFIRMED,
            person_id__in=counted.values("person_id"),
        ).count()
        next_step["acted"] = acted
        next_step["acted_percent"] = round(acted * 100 / total, 1) if total else 0.0
    money = None
    if page.kind == ActionPage.Kind.DONATION:
        money = page_money(page)
    elif page.next_page_id and page.next_page and page.next_page.kind == ActionPage.Kind.DONATION:
        money = page_money(page.next_page)
    ip_hashes = list(
        subs.exclude(ip_hash="")
        .exclude(status=Submission.Status.INVALID)
        .values("ip_hash")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .order_by("-n")[:5]
    )
    return Dashboard(
        total=total,
        pending=by_status.get(Submission.Status.PENDING, 0),
        invalid=by_status.get(Submission.Status.INVALID, 0),
        per_day=per_day,
        sources=sources,
        referrers=referrers,
        recruiters=recruiters,
        recruited=recruited,
        next_step=next_step,
        money=money,
        ip_hashes=ip_hashes,
    )


def survey_results(page: ActionPage) -> list[dict]:
    """Per question: counts per choice (choice, multi-choice, yes/no), or the latest
    answers (text, number). Counted submissions only."""
    answers = list(
        Submission.objects.filter(page=page, status=Submission.Status.CONFIRMED)
        .order_by("-created_at")
        .values_list("answers", flat=True)[:5000]
    )
    results = []
    for question in page.questions or []:
        key = question["key"]
        kind = question.get("kind", "text")
        row = {"question": question, "kind": kind, "answered": 0}
        if kind in ("choice", "multi", "yesno"):
            tally: dict[str, int] = {}
            options = question.get("choices") or []
            if kind == "yesno":
                options = ["yes", "no"]
            for option in options:
                tally[str(option)] = 0
            for ans in answers:
                value = ans.get(key)
                if value in (None, "", []):
                    continue
                row["answered"] += 1
                for v in value if isinstance(value, list) else [value]:
                    label = "yes" if v is True else "no" if v is False else str(v)
                    tally[label] = tally.get(label, 0) + 1
            top = max(tally.values(), default=0)
            row["tally"] = [
                {"option": k, "n": n, "percent": int(n * 100 / top) if top else 0}
                for k, n in tally.items()
            ]
        else:
            values = [ans.get(key) for ans in answers if ans.get(key) not in (None, "")]
            row["answered"] = len(values)
            row["values"] = values[:50]
        results.append(row)
    return results


def page_list_rows(user) -> list[dict]:
    pages = list(pages_for(user).order_by("-created_at")[:200])
    counts = dict(
        Submission.objects.filter(page__in=pages, status=Submission.Status.CONFIRMED)
        .values_list("page")
        .annotate(n=Count("id"))
        .order_by()
    )
    return [{"page": p, "count": counts.get(p.pk, 0)} for p in pages]


def submissions_matching(page: ActionPage, q: Q) -> int:
    return (
        Submission.objects.filter(page=page)
        .exclude(status=Submission.Status.INVALID)
        .filter(q)
        .count()
    )


# --- API (Action Network petitions and forms) -------------------------------------------


def _api_key_areas(key) -> list:
    return [area for area in (key.owner.scope_area, key.area) if area is not None]


def api_pages(key, kinds) -> QuerySet[ActionPage]:
    """Pages of ``kinds`` an API key may read: national pages, and pages inside both
    the owner's scope and the key's own area. A page holds no personal data, so a
    national page is readable by an area's key (its signatures still are not)."""
    qs = ActionPage.objects.filter(kind__in=kinds)
    areas = _api_key_areas(key)
    if not areas:
        return qs
    inside = Q()
    for area in areas:
        inside &= area_subtree_q(area)
    return qs.filter(Q(area__isnull=True) | inside)


def api_page(key, kinds, page_id, *, write: bool = False) -> ActionPage:
    """The page ``page_id`` of ``kinds`` the key may read (ApiError 404 otherwise).

    ``write=True`` also requires that the key may change it (ApiError 403): a key
    limited to an area changes only pages inside that area, never national ones."""
    from django.utils.translation import gettext as _

    from clarion.api.errors import ApiError
    from clarion.api.selectors import int_id

    pk = int_id(page_id)
    page = api_pages(key, kinds).filter(pk=pk).first() if pk else None
    if page is None:
        if ActionPage.Kind.PETITION in kinds:
            thing = _("petition")
        elif tuple(kinds) == (ActionPage.Kind.LETTER,):
            thing = _("advocacy campaign")
        elif tuple(kinds) == (ActionPage.Kind.SURVEY,):
            thing = _("survey")
        else:
            thing = _("form")
        raise ApiError(
            404,
            _("Couldn't find %(thing)s with id = %(id)s")
            % {"thing": thing, "id": str(page_id)[:50]},
        )
    if write and not api_page_writable(key, page):
        raise ApiError(403, _("This API key is limited to an area and may not change this page."))
    return page


def api_page_writable(key, page: ActionPage) -> bool:
    areas = _api_key_areas(key)
    if not areas:
        return True
    return page.area is not None and all(page.area.is_within(area) for area in areas)


def api_submissions(key, **filters) -> QuerySet[Submission]:
    """Submissions of the people the API key reaches (invariant 4), narrowed by
    ``filters``, with ``modified_at`` (the latest of created, confirmed and
    invalidated) annotated for filtering."""
    from django.db.models.functions import Coalesce, Greatest

    from clarion.api.selectors import api_people

    # Rows still in intake have no person yet: the API sees them once processed.
    qs = Submission.objects.filter(person__isnull=False, **filters)
    people = api_people(key)
    if people.query.has_filters():
        # Only a key that reaches everyone (no scope at all) skips the semi-join.
        qs = qs.filter(person_id__in=people.values("pk"))
    return qs.annotate(
        modified_at=Greatest(
            "created_at",
            Coalesce("confirmed_at", "created_at"),
            Coalesce("invalidated_at", "created_at"),
        )
    )


def api_submission(key, page: ActionPage, submission_id) -> Submission:
    """One submission on ``page`` by a person the key reaches (ApiError 404 otherwise)."""
    from django.utils.translation import gettext as _

    from clarion.api.errors import ApiError
    from clarion.api.selectors import int_id

    pk = int_id(submission_id)
    found = api_submissions(key, page=page).filter(pk=pk).first() if pk else None
    if found is None:
        thing = {
            ActionPage.Kind.PETITION: _("signature"),
            ActionPage.Kind.LETTER: _("outreach"),
        }.get(page.kind, _("submission"))
        raise ApiError(
            404,
            _("Couldn't find %(thing)s with id = %(id)s")
            % {"thing": thing, "id": str(submission_id)[:50]},
        )
    return found


def api_page_totals(pages: list[ActionPage]) -> dict[int, int]:
    """Counted submissions per page for a page of API results, in one query."""
    return dict(
        Submission.objects.filter(page__in=pages, status=Submission.Status.CONFIRMED)
        .values_list("page")
        .annotate(n=Count("id"))
        .order_by()
    )


def api_pages_with_totals(qs: QuerySet[ActionPage]) -> QuerySet[ActionPage]:
    """``qs`` with ``api_total``, its counted submissions, for one page of API results
    (the API's ``collection_response`` re-reads a page's rows through this)."""
    return qs.annotate(
        api_total=Count("submissions", filter=Q(submissions__status=Submission.Status.CONFIRMED))
    )
