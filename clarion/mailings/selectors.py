"""Reads for mailings: scoped access for staff, tokens for public endpoints, the
warnings shown before sending, and reports (aggregated from ledger and event rows)."""

from __future__ import annotations

import math
import re
from urllib.parse import urlsplit

from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncHour
from django.http import Http404
from django.utils.translation import gettext as _

from clarion.areas.selectors import area_subtree_q
from clarion.core import tokens as core_tokens
from clarion.core.site import is_own_url, site_url

from .models import Event, FromAddress, Link, Mailing, MailingTemplate, Recipient
from .sending import render, tokens


def mailings_for(user) -> QuerySet[Mailing]:
    """National staff see every mailing; organisers and area analysts those made
    inside their area subtree."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Mailing.objects.none()
    scope = user.scope_area
    if scope is None:
        return Mailing.objects.all()
    return Mailing.objects.filter(area_subtree_q(scope, field="area"))


def templates_for(user) -> QuerySet[MailingTemplate]:
    """The saved templates ``user`` may start from: the national ones and, for an
    organiser or area analyst, those saved inside their area subtree; national staff
    see every one."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return MailingTemplate.objects.none()
    scope = user.scope_area
    if scope is None:
        return MailingTemplate.objects.all()
    return MailingTemplate.objects.filter(
        Q(area__isnull=True) | area_subtree_q(scope, field="area")
    )


def access_template(user, template_id, *, write: bool = False) -> MailingTemplate:
    """A template ``user`` may see (404 otherwise). ``write`` (deleting) needs a
    writing role, and a national template may be removed by national staff only."""
    try:
        pk = int(template_id)
    except (TypeError, ValueError):
        raise Http404 from None
    template = templates_for(user).filter(pk=pk).first()
    if template is None:
        raise Http404
    if write and (not user.can_write or (template.area_id is None and user.scope_area is not None)):
        raise PermissionDenied
    return template


def access_mailing(user, mailing_id, *, write: bool = False) -> Mailing:
    try:
        pk = int(mailing_id)
    except (TypeError, ValueError):
        raise Http404 from None
    mailing = (
        mailings_for(user)
        .select_related("segment", "exclude_segment", "person_list", "area")
        .filter(pk=pk)
        .first()
    )
    if mailing is None:
        raise Http404
    if write and not user.can_write:
        raise PermissionDenied
    return mailing


def recipient_from_token(token: str | None) -> Recipient | None:
    rid = tokens.recipient_id_from_token(token)
    if rid is None:
        return None
    return Recipient.objects.select_related("mailing", "person").filter(pk=rid).first()


def mailing_from_token(token: str) -> dict | None:
    """For action pages and donations: the verified ``?mt=`` token (or its stored
    payload, ``"<mailing>:<variant>:<person>"``) as ``{"mailing": Mailing,
    "variant": int, "person_id": int}``; None if it does not verify."""
    if not token or len(token) > 500:
        return None
    parsed = tokens.parse_payload(token)
    if parsed is None:
        value = core_tokens.unsign(token, salt=core_tokens.MAILING_LINK)
        if value is None:
            return None
        parsed = tokens.parse_payload(str(value))
    if parsed is None:
        return None
    mailing = Mailing.objects.filter(pk=parsed[0]).first()
    if mailing is None:
        return None
    return {"mailing": mailing, "variant": parsed[1], "person_id": parsed[2]}


# --- from addresses ----------------------------------------------------------------------


def _area_chain(area) -> list[int]:
    """The ids of ``area`` and every area above it (from its materialised path)."""
    return [int(part) for part in area.path.strip("/").split("/") if part.isdigit()]


def from_addresses_for_area(area) -> QuerySet[FromAddress]:
    """The addresses a mailing of ``area`` may be sent from: those set for the area or
    any area above it; for a national mailing (None), the national ones."""
    if area is None:
        return FromAddress.objects.filter(area__isnull=True)
    return FromAddress.objects.filter(area_id__in=_area_chain(area))


def from_addresses_for(user) -> QuerySet[FromAddress]:
    """What a staff user may see on the from-address page: everything for national
    staff; for an organiser only the addresses their own area may use."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return FromAddress.objects.none()
    if user.scope_area is None:
        return FromAddress.objects.select_related("area")
    return from_addresses_for_area(user.scope_area).select_related("area")


def access_from_address(user, address_id, *, write: bool = False) -> FromAddress:
    try:
        pk = int(address_id)
    except (TypeError, ValueError):
        raise Http404 from None
    address = from_addresses_for(user).filter(pk=pk).first()
    if address is None:
        raise Http404
    if write and not user.is_admin:
        raise PermissionDenied
    return address


def from_address_allowed(*, area, email: str) -> bool:
    """National mailings may come from any address; an area's mailings only from the
    addresses set for that area (or an area above it)."""
    if area is None:
        return True
    return from_addresses_for_area(area).filter(email__iexact=(email or "").strip()).exists()


# --- before sending ---------------------------------------------------------------------


def segment_block_problems(sources: list[str], user) -> list[str]:
    """``if_segment`` blocks naming a segment ``user`` cannot use (or that does not exist)."""
    from clarion.people.selectors import segments_for

    names = render.segment_names(" ".join(sources))
    if not names:
        return []
    known = (
        set(segments_for(user).filter(name__in=names).values_list("name", flat=True))
        if user
        else set()
    )
    return [
        _("There is no segment called “%(name)s” (used in an if_segment block).") % {"name": name}
        for name in names
        if name not in known
    ]


def recipient_count(mailing: Mailing, user) -> int:
    from .services import recipients_query

    return recipients_query(mailing, user).count()


def mailing_problems(mailing: Mailing, user, *, blocking_only: bool = False) -> list[str]:
    """Warnings before sending. With ``blocking_only`` only those that stop a send."""
    from .sending.compose import CompiledMailing, variant_sources

    blocking: list[str] = []
    warnings: list[str] = []
    for src in variant_sources(mailing):
        blocking += render.template_problems(src["subject"]) + render.template_problems(src["body"])
    blocking += render.template_problems(mailing.preheader)
    blocking += segment_block_problems(
        [mailing.preheader]
        + [src["subject"] + " " + src["body"] for src in variant_sources(mailing)],
        user,
    )
    if not from_address_allowed(area=mailing.area, email=mailing.from_email):
        blocking.append(
            _(
                "That from address is not allowed for this area. "
                "An administrator sets the addresses each area may use."
            )
        )
    if not mailing.segment_id and not mailing.person_list_id:
        blocking.append(_("Choose a segment or a list to send to."))
    if mailing.segment_id and not _segment_allowed(user, mailing.segment_id):
        blocking.append(_("You cannot use that segment."))
    if mailing.is_ab and not mailing.ab_test_percent:
        blocking.append(_("An A/B test needs a test sample size."))
    if not blocking:
        if recipient_count(mailing, user) == 0:
            blocking.append(
                _(
                    "Nobody would receive this mailing: the segment is empty or nobody in it is subscribed."
                )
            )
    if not site_url().startswith("https://"):
        warnings.append(
            _(
                "The site address is not https, so the one-click unsubscribe link will not be "
                "accepted by Gmail and Yahoo."
            )
        )
    if not blocking:
        try:
            compiled = CompiledMailing(mailing)
            warnings += closed_link_warnings(compiled.links)
        except render.MergeError as exc:
            blocking += exc.messages
    if blocking_only:
        return list(dict.fromkeys(blocking))
    return list(dict.fromkeys(blocking + warnings))


def _segment_allowed(user, segment_id) -> bool:
    from clarion.people.selectors import segments_for

    return segments_for(user).filter(pk=segment_id).exists()


def closed_link_warnings(links: list[str]) -> list[str]:
    if not apps.is_installed("clarion.actions"):
        return []
    page_model = apps.get_model("actions", "ActionPage")
    out = []
    pattern = re.compile(r"/(?:act|donate)/([\w-]+)/")
    for url in links:
        match = pattern.match(urlsplit(url).path) if is_own_url(url) else None
        if not match:
            continue
        page = page_model.objects.filter(slug=match.group(1)).first()
        if page is None:
            out.append(_("A link goes to a page that does not exist: %(url)s") % {"url": url})
        elif not page.is_open():
            out.append(_("A link goes to a page that is not open: %(url)s") % {"url": url})
    return out


# --- reports --------------------------------------------------------------------------------


def _attribution(mailing_ids: list[int]) -> dict[tuple[int, int], dict]:
    """Actions and donations carrying each mailing's link payload, per (mailing,
    variant). Reads the other apps' tables by their attribution field, lazily."""
    out: dict[tuple[int, int], dict] = {}
    if not mailing_ids:
        return out

    def slot(value: str) -> tuple[int, int] | None:
        parsed = tokens.parse_payload(value)
        if parsed is None or parsed[0] not in mailing_ids:
            return None
        return parsed[0], parsed[1]

    q = Q()
    for mid in mailing_ids:
        q |= Q(mailing_token__startswith=f"{mid}:")
    if apps.is_installed("clarion.actions"):
        submission = apps.get_model("actions", "Submission")
        for value in submission.objects.filter(q, status="confirmed").values_list(
            "mailing_token", flat=True
        ):
            key = slot(value)
            if key:
                out.setdefault(key, {"actions": 0, "donations": 0, "pence": 0})["actions"] += 1
    if apps.is_installed("clarion.donations"):
        donation = apps.get_model("donations", "Donation")
        for value, pence, refunded in donation.objects.filter(
            q, status__in=["succeeded", "refunded"]
        ).values_list("mailing_token", "amount_pence", "refunded_pence"):
            key = slot(value)
            if key:
                row = out.setdefault(key, {"actions": 0, "donations": 0, "pence": 0})
                row["donations"] += 1
                row["pence"] += pence - refunded
    return out


def _figures() -> dict:
    return {
        k: 0
        for k in (
            "recipients",
            "sent",
            "failed",
            "uncertain",
            "suppressed",
            "queued",
            "bounced",
            "opens",
            "machine_opens",
            "clicks",
            "unsubscribes",
            "complaints",
            "actions",
            "donations",
            "pence",
        )
    }


def _report_by_variant(mailing: Mailing, events: QuerySet) -> dict[int | None, dict]:
    """Recipient statuses, unique opens/clicks/unsubscribes/complaints/bounces and
    attributed actions and gifts, per variant (None when the mailing is not A/B)."""
    by_variant: dict[int | None, dict] = {}

    def row(v):
        return by_variant.setdefault(v, _figures())

    for v, status, n in (
        Recipient.objects.filter(mailing=mailing)
        .values_list("variant", "status")
        .annotate(n=Count("id"))
        .values_list("variant", "status", "n")
    ):
        r = row(v)
        r["recipients"] += n
        if status in ("sent", "failed", "uncertain", "suppressed"):
            r[status] += n
        elif status in ("queued", "claimed", "in_flight", "held"):
            r["queued"] += n
    uniq = {
        "opens": events.filter(kind=Event.Kind.OPEN, machine=False),
        "machine_opens": events.filter(kind=Event.Kind.OPEN, machine=True),
        "clicks": events.filter(kind=Event.Kind.CLICK, machine=False),
        "unsubscribes": events.filter(kind=Event.Kind.UNSUBSCRIBE),
        "complaints": events.filter(kind=Event.Kind.COMPLAINT),
        "bounced": events.filter(kind=Event.Kind.BOUNCE),
    }
    for key, qs in uniq.items():
        for v, n in (
            qs.values("variant")
            .annotate(n=Count("recipient_id", distinct=True))
            .values_list("variant", "n")
        ):
            row(v)[key] += n
    for (_mid, v), figs in _attribution([mailing.pk]).items():
        r = row(v)
        for k in ("actions", "donations", "pence"):
            r[k] += figs[k]
    return by_variant


def _report_links(mailing: Mailing, events: QuerySet) -> list[dict]:
    """Each link of the mailing with its unique human clicks."""
    counts = dict(
        events.filter(kind=Event.Kind.CLICK, machine=False)
        .values("link_index")
        .annotate(n=Count("recipient_id", distinct=True))
        .values_list("link_index", "n")
    )
    return [
        {"url": link.url, "index": link.index, "clicks": counts.get(link.index, 0)}
        for link in Link.objects.filter(mailing=mailing)
    ]


def _report_variants(mailing: Mailing, by_variant: dict[int | None, dict]) -> list[dict]:
    """An A/B mailing's variants with their sources and figures ([] otherwise)."""
    variants: list[dict] = []
    if not mailing.is_ab:
        return variants
    from .sending.compose import variant_sources

    sources = variant_sources(mailing)
    for i in range(mailing.ab_variants):
        figs = by_variant.get(i) or {**_figures(), "money": money(0)}
        variants.append(
            {
                "index": i,
                "label": "ABCD"[i],
                "subject": sources[i]["subject"],
                "from_name": sources[i]["from_name"],
                "own_body": sources[i]["body"] != mailing.body,
                **figs,
                "rate": _rate(mailing, figs),
            }
        )
    return variants


def mailing_report(mailing: Mailing) -> dict:
    """Figures for the whole mailing and per variant, plus unique clicks per link."""
    events = Event.objects.filter(mailing=mailing)
    by_variant = _report_by_variant(mailing, events)
    total = _figures()
    for figs in by_variant.values():
        for k in total:
            total[k] += figs[k]
    for figs in [total, *by_variant.values()]:
        figs["money"] = money(figs["pence"])
    links = _report_links(mailing, events)
    variants = _report_variants(mailing, by_variant)
    timeline = list(
        events.filter(machine=False, kind__in=[Event.Kind.OPEN, Event.Kind.CLICK])
        .annotate(hour=TruncHour("created_at"))
        .values("hour", "kind")
        .annotate(n=Count("id"))
        .order_by("hour")
    )
    return {
        "total": total,
        "variants": variants,
        "links": links,
        "timeline": timeline,
        "chart": mailing_chart(mailing),
        "significance": ab_significance(mailing, variants) if variants else None,
    }


def money(pence: int) -> str:
    return f"£{pence // 100:,}.{pence % 100:02d}"


def _rate(mailing: Mailing, figs: dict) -> float:
    base = max(1, figs["sent"])
    metric = mailing.ab_metric
    value = {
        "opens": figs["opens"],
        "clicks": figs["clicks"],
        "actions": figs["actions"],
        "money": figs["pence"],
    }[metric]
    return value / base


def ab_leader(mailing: Mailing) -> int:
    report = mailing_report(mailing)
    best = max(report["variants"], key=lambda v: (v["rate"], -v["index"]), default=None)
    return best["index"] if best else 0


SIGNIFICANCE_TEST = _("two-sided two-proportion z-test (pooled), between the two leading variants")


def ab_significance(mailing: Mailing, variants: list[dict]) -> dict | None:
    """How likely the gap between the two leading variants is luck.

    A two-sided two-proportion z-test with a pooled proportion: the proportion is
    unique opens, unique clicks or actions per message sent; for money it is the
    proportion of recipients who gave (amounts are too skewed for a z-test on means).
    Returns ``{"p", "z", "leader", "runner_up", "test", "significant"}`` or None when
    it cannot be computed (fewer than two variants or nothing sent)."""
    if len(variants) < 2:
        return None
    ranked = sorted(variants, key=lambda v: (v["rate"], -v["index"]), reverse=True)
    a, b = ranked[0], ranked[1]
    key = {"opens": "opens", "clicks": "clicks", "actions": "actions", "money": "donations"}[
        mailing.ab_metric
    ]
    n1, n2 = a["sent"], b["sent"]
    if not n1 or not n2:
        return None
    x1, x2 = min(a[key], n1), min(b[key], n2)
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = 0.0 if se == 0 else (x1 / n1 - x2 / n2) / se
    p = 1.0 if se == 0 else math.erfc(abs(z) / math.sqrt(2))
    return {
        "p": round(p, 4),
        "z": round(z, 2),
        "leader": a["label"],
        "runner_up": b["label"],
        "test": SIGNIFICANCE_TEST,
        "significant": p < 0.05,
    }


# --- chart over time ------------------------------------------------------------------------

CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 640, 220, 36
CHART_MAX_HOURS = 24 * 14


def _action_times(mailing: Mailing) -> list:
    if not apps.is_installed("clarion.actions"):
        return []
    submission = apps.get_model("actions", "Submission")
    return list(
        submission.objects.filter(mailing_token__startswith=f"{mailing.pk}:", status="confirmed")
        .annotate(hour=TruncHour("created_at"))
        .values("hour")
        .annotate(n=Count("id"))
        .values_list("hour", "n")
    )


def mailing_chart(mailing: Mailing) -> dict | None:
    """Human opens, clicks and actions per hour since the send started, as SVG
    polyline points (drawn by the template; no script, no inline style)."""
    per_kind: dict[str, dict] = {"opens": {}, "clicks": {}, "actions": {}}
    rows = (
        Event.objects.filter(
            mailing=mailing, machine=False, kind__in=[Event.Kind.OPEN, Event.Kind.CLICK]
        )
        .annotate(hour=TruncHour("created_at"))
        .values("hour", "kind")
        .annotate(n=Count("id"))
        .values_list("hour", "kind", "n")
    )
    for hour, kind, n in rows:
        per_kind["opens" if kind == Event.Kind.OPEN else "clicks"][hour] = n
    for hour, n in _action_times(mailing):
        per_kind["actions"][hour] = n
    hours = sorted({h for d in per_kind.values() for h in d})
    if not hours:
        return None
    start = hours[0]
    count = min(CHART_MAX_HOURS, int((hours[-1] - start).total_seconds() // 3600) + 1)
    from datetime import timedelta

    axis = [start + timedelta(hours=i) for i in range(count)]
    peak = max(1, max(n for d in per_kind.values() for n in d.values()))
    inner_w = CHART_WIDTH - 2 * CHART_PAD
    inner_h = CHART_HEIGHT - 2 * CHART_PAD
    step = inner_w / max(1, count - 1)

    def x(i: int) -> float:
        return round(CHART_PAD + (i * step if count > 1 else inner_w / 2), 1)

    def y(n: int) -> float:
        return round(CHART_HEIGHT - CHART_PAD - n * inner_h / peak, 1)

    series = []
    labels = {"opens": _("Opens"), "clicks": _("Clicks"), "actions": _("Actions")}
    for key in ("opens", "clicks", "actions"):
        values = [per_kind[key].get(h, 0) for h in axis]
        series.append(
            {
                "key": key,
                "label": labels[key],
                "total": sum(values),
                "points": " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(values)),
                "dots": [
                    {"x": x(i), "y": y(v), "n": v, "hour": axis[i]}
                    for i, v in enumerate(values)
                    if v
                ],
            }
        )
    ticks = sorted({0, count - 1, (count - 1) // 2})
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "pad": CHART_PAD,
        "peak": peak,
        "top": CHART_PAD,
        "bottom": CHART_HEIGHT - CHART_PAD,
        "right": CHART_WIDTH - CHART_PAD,
        "series": series,
        "hours": count,
        "ticks": [{"x": x(i), "hour": axis[i]} for i in ticks],
    }


def mailing_list_rows(user) -> list[dict]:
    """Mailings side by side, newest first (one grouped query each for ledger and events)."""
    mailings = list(mailings_for(user).select_related("segment")[:200])
    ids = [m.pk for m in mailings]
    ledger: dict[int, dict] = {}
    for mid, status, n in (
        Recipient.objects.filter(mailing_id__in=ids)
        .values("mailing_id", "status")
        .annotate(n=Count("id"))
        .values_list("mailing_id", "status", "n")
    ):
        ledger.setdefault(mid, {})[status] = n
    ev: dict[int, dict] = {}
    for mid, kind, n in (
        Event.objects.filter(mailing_id__in=ids, machine=False)
        .values("mailing_id", "kind")
        .annotate(n=Count("recipient_id", distinct=True))
        .values_list("mailing_id", "kind", "n")
    ):
        ev.setdefault(mid, {})[kind] = n
    attribution = _attribution(ids)
    rows = []
    for m in mailings:
        sent = ledger.get(m.pk, {}).get("sent", 0)
        acts = sum(v["actions"] for (mid, _v), v in attribution.items() if mid == m.pk)
        pence = sum(v["pence"] for (mid, _v), v in attribution.items() if mid == m.pk)
        rows.append(
            {
                "mailing": m,
                "sent": sent,
                "recipients": sum(ledger.get(m.pk, {}).values()),
                "opens": ev.get(m.pk, {}).get("open", 0),
                "clicks": ev.get(m.pk, {}).get("click", 0),
                "unsubscribes": ev.get(m.pk, {}).get("unsubscribe", 0),
                "actions": acts,
                "pence": pence,
                "open_rate": (ev.get(m.pk, {}).get("open", 0) / sent) if sent else None,
                "money": money(pence),
            }
        )
    return rows


# --- audience breakdown ---------------------------------------------------------------


def audience_breakdown(mailing: Mailing, user) -> dict:
    """Why the people chosen become fewer recipients, for a mailing before it is sent.

    Each step removes people from what the step before left, so the steps add up:
    ``total - sum(removed) == recipients``. The ledger part reuses the sender's own
    freeze query (``services.recipients_query``); the send-time part repeats the three
    checks ``sending.deliver`` makes before each message (suppression list, opt-out of
    the mailing's category, frequency cap), worked out as of now. Only people in
    ``user``'s scope are ever counted (invariant 4): people of other areas in a
    national segment are neither in ``total`` nor in any step.

    Returns ``{"total": int, "steps": [(label, int), ...], "recipients": int,
    "people": QuerySet}`` (``people``: who would be mailed now). Reads only; counts are
    set-based queries, except the suppression list, whose hashes are computed in
    Python as the freeze does.
    """
    from datetime import timedelta

    from django.utils import timezone

    from clarion.people.models import EmailStatus, Person, Suppression
    from clarion.people.normalise import email_hash
    from clarion.people.segments.selectors import segment_people
    from clarion.people.selectors import people_for

    from .models import OptOut
    from .services import recipients_query

    chosen = segment_people(user, mailing.segment) if mailing.segment_id else people_for(user)
    if mailing.person_list_id:
        chosen = chosen.filter(list_memberships__list_id=mailing.person_list_id)
    left = Person.objects.filter(pk__in=chosen.order_by().values("pk"))
    total = count = left.count()
    steps: list[tuple[str, int]] = []

    def step(label: str, nxt) -> None:
        nonlocal left, count
        n = nxt.count()
        steps.append((label, count - n))
        left, count = nxt, n

    if mailing.exclude_segment_id:
        step(
            _("in the excluded segment"),
            left.exclude(pk__in=segment_people(user, mailing.exclude_segment).values("pk")),
        )
    if mailing.area_id:
        step(_("outside the mailing's area"), left.filter(area_subtree_q(mailing.area)))
    step(_("no email address"), left.exclude(email__isnull=True).exclude(email=""))
    # The sender's freeze query is the authority on who gets a ledger row; of those it
    # drops here, the bouncing and complained are told apart from the unsubscribed.
    frozen = left.filter(pk__in=recipients_query(mailing, user).order_by().values("pk"))
    bounced = (
        left.exclude(pk__in=frozen.values("pk"))
        .filter(email_status__in=[EmailStatus.BOUNCING, EmailStatus.COMPLAINED])
        .count()
    )
    step(_("unsubscribed or never subscribed"), frozen)
    steps[-1] = (steps[-1][0], steps[-1][1] - bounced)
    steps.append((_("bounced or complained"), bounced))

    hashes: dict[str, list[int]] = {}
    on_list: set[int] = set()
    for pk, address in left.order_by().values_list("pk", "email").iterator(chunk_size=2000):
        hashes.setdefault(email_hash(address), []).append(pk)
        if len(hashes) >= 500:
            on_list |= _suppressed(Suppression, hashes)
            hashes = {}
    on_list |= _suppressed(Suppression, hashes)
    step(_("on the suppression list"), left.exclude(pk__in=on_list))
    if mailing.category:  # general mail has no category to opt out of
        step(
            _("opted out of %(category)s") % {"category": mailing.get_category_display()},
            left.exclude(
                pk__in=OptOut.objects.filter(category=mailing.category).values("person_id")
            ),
        )
    if mailing.frequency_cap_hours:
        since = timezone.now() - timedelta(hours=mailing.frequency_cap_hours)
        step(
            _("mailed in the last %(hours)s hours (frequency cap)")
            % {"hours": mailing.frequency_cap_hours},
            left.exclude(
                pk__in=Recipient.objects.filter(sent_at__gte=since, person_id__isnull=False)
                .exclude(mailing_id=mailing.pk)
                .values("person_id")
            ),
        )
    return {"total": total, "steps": steps, "recipients": count, "people": left}


def _suppressed(model, hashes: dict[str, list[int]]) -> set[int]:
    if not hashes:
        return set()
    found = model.objects.filter(email_hash__in=list(hashes)).values_list("email_hash", flat=True)
    return {pk for h in found for pk in hashes[h]}


def not_staff_addresses(addresses: list[str], user) -> list[str]:
    """Those of ``addresses`` that are neither ``user``'s own nor an active staff
    user's (compared without case), in the order given."""
    from django.contrib.auth import get_user_model

    staff = {
        e.lower()
        for e in get_user_model()
        .objects.filter(is_active=True)
        .filter(_iexact_any("email", {a.lower() for a in addresses}))
        .values_list("email", flat=True)
    }
    staff.add((user.email or "").lower())
    return [a for a in addresses if a.lower() not in staff]


def _iexact_any(field: str, values) -> Q:
    q = Q(pk__in=[])
    for value in values:
        q |= Q(**{f"{field}__iexact": value})
    return q


PREVIEW_MATCHES = 10


def preview_people(user, query: str) -> list:
    """People in ``user``'s scope matching a name or an email (the staff search's
    rules), at most ``PREVIEW_MATCHES``. Nobody outside the scope is ever found."""
    from clarion.people.selectors import people_for, people_search

    if not (query or "").strip():
        return []
    return list(
        people_search(people_for(user), query[:254])
        .select_related("area")
        .order_by("last_name", "first_name", "pk")[:PREVIEW_MATCHES]
    )
