"""Reads for mailings: scoped access for staff, tokens for public endpoints, the
warnings shown before sending, and reports (aggregated from ledger and event rows)."""

from __future__ import annotations

import math
import re

from django.apps import apps
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncHour
from django.http import Http404
from django.utils.translation import gettext as _

from clarion.areas.selectors import area_subtree_q

from .models import Event, Link, Mailing, Recipient
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


def access_mailing(user, mailing_id, *, write: bool = False) -> Mailing:
    try:
        pk = int(mailing_id)
    except (TypeError, ValueError):
        raise Http404 from None
    mailing = mailings_for(user).select_related("segment", "exclude_segment", "person_list", "area").filter(pk=pk).first()
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
        try:
            parsed = tokens.parse_payload(str(signing.loads(token, salt=tokens.MAILING_LINK_SALT)))
        except signing.BadSignature:
            return None
    if parsed is None:
        return None
    mailing = Mailing.objects.filter(pk=parsed[0]).first()
    if mailing is None:
        return None
    return {"mailing": mailing, "variant": parsed[1], "person_id": parsed[2]}


# --- before sending ---------------------------------------------------------------------


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
    if not mailing.segment_id and not mailing.person_list_id:
        blocking.append(_("Choose a segment or a list to send to."))
    if mailing.segment_id and not _segment_allowed(user, mailing.segment_id):
        blocking.append(_("You cannot use that segment."))
    if mailing.is_ab and not mailing.ab_test_percent:
        blocking.append(_("An A/B test needs a test sample size."))
    if not blocking:
        if recipient_count(mailing, user) == 0:
            blocking.append(_("Nobody would receive this mailing: the segment is empty or nobody in it is subscribed."))
    from django.conf import settings

    if not settings.SITE_URL.startswith("https://"):
        warnings.append(_("The site address is not https, so the one-click unsubscribe link will not be "
                          "accepted by Gmail and Yahoo."))
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
    from django.conf import settings

    if not apps.is_installed("clarion.actions"):
        return []
    page_model = apps.get_model("actions", "ActionPage")
    out = []
    pattern = re.compile(re.escape(settings.SITE_URL) + r"/(?:act|donate)/([\w-]+)/")
    for url in links:
        match = pattern.match(url)
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
        for value in submission.objects.filter(q, status="confirmed").values_list("mailing_token", flat=True):
            key = slot(value)
            if key:
                out.setdefault(key, {"actions": 0, "donations": 0, "pence": 0})["actions"] += 1
    if apps.is_installed("clarion.donations"):
        donation = apps.get_model("donations", "Donation")
        for value, pence, refunded in donation.objects.filter(q, status__in=["succeeded", "refunded"]).values_list(
                "mailing_token", "amount_pence", "refunded_pence"):
            key = slot(value)
            if key:
                row = out.setdefault(key, {"actions": 0, "donations": 0, "pence": 0})
                row["donations"] += 1
                row["pence"] += pence - refunded
    return out


def _figures() -> dict:
    return {k: 0 for k in ("recipients", "sent", "failed", "uncertain", "suppressed", "queued", "bounced",
                           "opens", "machine_opens", "clicks", "unsubscribes", "complaints", "actions",
                           "donations", "pence")}


def mailing_report(mailing: Mailing) -> dict:
    """Figures for the whole mailing and per variant, plus unique clicks per link."""
    by_variant: dict[int | None, dict] = {}

    def row(v):
        return by_variant.setdefault(v, _figures())

    for v, status, n in (Recipient.objects.filter(mailing=mailing).values_list("variant", "status")
                         .annotate(n=Count("id")).values_list("variant", "status", "n")):
        r = row(v)
        r["recipients"] += n
        if status in ("sent", "failed", "uncertain", "suppressed"):
            r[status] += n
        elif status in ("queued", "claimed", "in_flight", "held"):
            r["queued"] += n
    events = Event.objects.filter(mailing=mailing)
    uniq = {
        "opens": events.filter(kind=Event.Kind.OPEN, machine=False),
        "machine_opens": events.filter(kind=Event.Kind.OPEN, machine=True),
        "clicks": events.filter(kind=Event.Kind.CLICK, machine=False),
        "unsubscribes": events.filter(kind=Event.Kind.UNSUBSCRIBE),
        "complaints": events.filter(kind=Event.Kind.COMPLAINT),
        "bounced": events.filter(kind=Event.Kind.BOUNCE),
    }
    for key, qs in uniq.items():
        for v, n in qs.values("variant").annotate(n=Count("recipient_id", distinct=True)).values_list("variant", "n"):
            row(v)[key] += n
    for (_mid, v), figs in _attribution([mailing.pk]).items():
        r = row(v)
        for k in ("actions", "donations", "pence"):
            r[k] += figs[k]
    total = _figures()
    for figs in by_variant.values():
        for k in total:
            total[k] += figs[k]
    for figs in [total, *by_variant.values()]:
        figs["money"] = money(figs["pence"])
    links = []
    counts = dict(events.filter(kind=Event.Kind.CLICK, machine=False).values("link_index")
                  .annotate(n=Count("recipient_id", distinct=True)).values_list("link_index", "n"))
    for link in Link.objects.filter(mailing=mailing):
        links.append({"url": link.url, "index": link.index, "clicks": counts.get(link.index, 0)})
    variants = []
    if mailing.is_ab:
        from .sending.compose import variant_sources

        sources = variant_sources(mailing)
        for i in range(mailing.ab_variants):
            figs = by_variant.get(i) or {**_figures(), "money": money(0)}
            variants.append({"index": i, "label": "ABCD"[i], "subject": sources[i]["subject"], **figs,
                             "rate": _rate(mailing, figs)})
    timeline = list(
        events.filter(machine=False, kind__in=[Event.Kind.OPEN, Event.Kind.CLICK])
        .annotate(hour=TruncHour("created_at"))
        .values("hour", "kind").annotate(n=Count("id")).order_by("hour")
    )
    return {"total": total, "variants": variants, "links": links, "timeline": timeline,
            "significance": ab_significance(mailing, variants) if variants else None}


def money(pence: int) -> str:
    return f"£{pence // 100:,}.{pence % 100:02d}"


def _rate(mailing: Mailing, figs: dict) -> float:
    base = max(1, figs["sent"])
    metric = mailing.ab_metric
    value = {"opens": figs["opens"], "clicks": figs["clicks"], "actions": figs["actions"], "money": figs["pence"]}[metric]
    return value / base


def ab_leader(mailing: Mailing) -> int:
    report = mailing_report(mailing)
    best = max(report["variants"], key=lambda v: (v["rate"], -v["index"]), default=None)
    return best["index"] if best else 0


def ab_significance(mailing: Mailing, variants: list[dict]) -> dict | None:
    """Two-proportion z-test between the two best variants (opens/clicks/actions);
    returns {"p": p-value, "leader": label} or None when it cannot be computed."""
    if len(variants) < 2 or mailing.ab_metric == Mailing.Metric.MONEY:
        return None
    ranked = sorted(variants, key=lambda v: v["rate"], reverse=True)
    a, b = ranked[0], ranked[1]
    key = {"opens": "opens", "clicks": "clicks", "actions": "actions"}[mailing.ab_metric]
    n1, n2 = a["sent"], b["sent"]
    if not n1 or not n2:
        return None
    x1, x2 = a[key], b[key]
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return {"p": 1.0, "leader": a["label"]}
    z = (x1 / n1 - x2 / n2) / se
    p = math.erfc(abs(z) / math.sqrt(2))
    return {"p": round(p, 4), "leader": a["label"]}


def mailing_list_rows(user) -> list[dict]:
    """Mailings side by side, newest first (one grouped query each for ledger and events)."""
    mailings = list(mailings_for(user).select_related("segment")[:200])
    ids = [m.pk for m in mailings]
    ledger: dict[int, dict] = {}
    for mid, status, n in (Recipient.objects.filter(mailing_id__in=ids).values("mailing_id", "status")
                           .annotate(n=Count("id")).values_list("mailing_id", "status", "n")):
        ledger.setdefault(mid, {})[status] = n
    ev: dict[int, dict] = {}
    for mid, kind, n in (Event.objects.filter(mailing_id__in=ids, machine=False).values("mailing_id", "kind")
                         .annotate(n=Count("recipient_id", distinct=True)).values_list("mailing_id", "kind", "n")):
        ev.setdefault(mid, {})[kind] = n
    attribution = _attribution(ids)
    rows = []
    for m in mailings:
        sent = ledger.get(m.pk, {}).get("sent", 0)
        acts = sum(v["actions"] for (mid, _v), v in attribution.items() if mid == m.pk)
        pence = sum(v["pence"] for (mid, _v), v in attribution.items() if mid == m.pk)
        rows.append({
            "mailing": m, "sent": sent, "recipients": sum(ledger.get(m.pk, {}).values()),
            "opens": ev.get(m.pk, {}).get("open", 0), "clicks": ev.get(m.pk, {}).get("click", 0),
            "unsubscribes": ev.get(m.pk, {}).get("unsubscribe", 0), "actions": acts, "pence": pence,
            "open_rate": (ev.get(m.pk, {}).get("open", 0) / sent) if sent else None, "money": money(pence),
        })
    return rows
