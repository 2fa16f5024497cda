"""Donations' personal data, registered with ``clarion.core.privacy`` (invariant 7).

Erasure anonymises instead of deleting. A donation is a financial record the
organisation must keep (accounts, tax, and for a political party the donation records
electoral law requires), so the row stays with its amount, currency, status, dates,
page and gateway ids (needed to reconcile with, and refund through, the payment
processor). Everything that ties it to the person goes: the person and recruiter
links, the referrer, UTM fields and mailing token. Active monthly plans of an erased
person are cancelled, at the gateway too, so they are never charged again.

If an organisation must keep a donor's identity for a reportable donation, it should
decline the erasure request (a lawful exemption) rather than run it.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from clarion.core import privacy

from .models import Donation, RecurringPlan


def export(person) -> dict[str, Any]:
    donations = [
        {
            "id": d.pk,
            "amount_pence": d.amount_pence,
            "refunded_pence": d.refunded_pence,
            "currency": d.currency,
            "monthly": d.recurring,
            "status": d.status,
            "page": d.page.title,
            "created_at": d.created_at,
            "succeeded_at": d.succeeded_at,
            "source": d.source,
            "referrer": d.referrer,
            "utm": d.utm,
            "permissibility": d.permissibility,
            "receipt_sent_at": d.receipt_sent_at,
        }
        for d in Donation.objects.filter(person=person)
        .select_related("page")
        .order_by("created_at", "pk")
    ]
    plans = [
        {
            "id": p.pk,
            "amount_pence": p.amount_pence,
            "currency": p.currency,
            "interval": p.interval,
            "status": p.status,
            "page": p.page.title,
            "created_at": p.created_at,
            "cancelled_at": p.cancelled_at,
        }
        for p in RecurringPlan.objects.filter(person=person)
        .select_related("page")
        .order_by("created_at", "pk")
    ]
    return {"donations": donations, "recurring_plans": plans}


def erase(person) -> None:
    active = list(
        RecurringPlan.objects.filter(person=person, status=RecurringPlan.Status.ACTIVE)
        .exclude(gateway_subscription_id="")
        .values_list("pk", flat=True)
    )
    RecurringPlan.objects.filter(person=person, status=RecurringPlan.Status.ACTIVE).update(
        status=RecurringPlan.Status.CANCELLED,
        cancelled_at=timezone.now(),
        cancel_reason="donor erased",
    )
    RecurringPlan.objects.filter(person=person).update(person=None)
    Donation.objects.filter(person=person).update(
        person=None,
        recruiter=None,
        referrer="",
        utm={},
        mailing_token="",
        modified_at=timezone.now(),
    )
    Donation.objects.filter(recruiter=person).update(recruiter=None)
    if active:
        from .tasks import plan_gateway_cancel_task

        transaction.on_commit(lambda: [plan_gateway_cancel_task.enqueue(pk) for pk in active])


def merge(survivor, duplicate) -> None:
    Donation.objects.filter(person=duplicate).update(person=survivor)
    Donation.objects.filter(recruiter=duplicate).update(recruiter=survivor)
    RecurringPlan.objects.filter(person=duplicate).update(person=survivor)


privacy.register("donations", export=export, erase=erase, merge=merge)
