"""Segment conditions on money, registered from DonationsConfig.ready():

- ``donated`` (kept for saved segments): counted gifts (net of refunds) reaching an
  amount, optionally since a date and on one page;
- ``gifts``: the number of gifts, their total or the largest one (net of refunds) at
  least ``at_least``, in a time window on when each gift succeeded;
- ``last_gift``: a counted gift within the last ``days``;
- ``recurring_active``: has an active monthly plan.

Gifts that count: succeeded and not wholly refunded, with a known donor (see
``counted_gifts``). Every condition is ``pk IN (SELECT person_id …)`` without NULLs,
so TRUE or FALSE for everyone and usable inside "none of".
"""

from __future__ import annotations

import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from clarion.core.money import MoneyField
from clarion.people.segments.registry import ConditionType, register
from clarion.people.segments.windows import (
    MAX_AT_LEAST,
    MAX_DAYS,
    WINDOW_ORDER,
    WindowForm,
    describe_window,
    people_with_rows,
    window_json,
    window_q,
)


class DonatedForm(forms.Form):
    # A total over many gifts, so not capped at the single-gift maximum.
    amount = MoneyField(label=gettext_lazy("At least (£)"), maximum_pence=10**11)
    since = forms.DateField(label=gettext_lazy("Since"), required=False)
    page = forms.IntegerField(label=gettext_lazy("On page (id)"), required=False, min_value=1)


@register
class Donated(ConditionType):
    name = "donated"
    label = gettext_lazy("Donated at least")
    Form = DonatedForm

    def compile(self, params, *, using):
        from .models import Donation

        gifts = Donation.objects.using(using).filter(
            status=Donation.Status.SUCCEEDED, person__isnull=False
        )
        if params.get("since"):
            gifts = gifts.filter(succeeded_at__date__gte=params["since"])
        if params.get("page"):
            gifts = gifts.filter(page_id=params["page"])
        pence = int((params["amount"] * 100).to_integral_value())
        donors = (
            gifts.values("person_id")
            .annotate(total=Sum(F("amount_pence") - F("refunded_pence")))
            .filter(total__gte=pence)
            .values("person_id")
        )
        return Q(pk__in=donors)

    def describe(self, params):
        text = _("Donated at least £%(amount)s") % {"amount": params["amount"]}
        if params.get("since"):
            text += " " + _("since %(date)s") % {"date": params["since"].isoformat()}
        if params.get("page"):
            text += " " + _("on page %(page)s") % {"page": params["page"]}
        return text


# --- Gifts in a time window, the last gift, and recurring plans -----------------------

MEASURES = [
    ("count", gettext_lazy("number of gifts")),
    ("total", gettext_lazy("total given (£)")),
    ("largest", gettext_lazy("largest gift (£)")),
]


def counted_gifts(*, using: str):
    """Gifts that count as given: succeeded and not wholly refunded (a partial refund
    leaves the rest), with a known donor. Failed, pending, cancelled and refunded
    gifts never count; amounts are net of refunds."""
    from .models import Donation

    return Donation.objects.using(using).filter(
        status=Donation.Status.SUCCEEDED,
        person__isnull=False,
        refunded_pence__lt=F("amount_pence"),
    )


class GiftsForm(WindowForm):
    measure = forms.ChoiceField(choices=MEASURES, initial="count", label=gettext_lazy("Measure"))
    at_least = forms.CharField(
        label=gettext_lazy("At least"),
        required=False,
        max_length=30,
        help_text=gettext_lazy("A number of gifts, or an amount in pounds."),
    )

    field_order = ["measure", "at_least", *WINDOW_ORDER]

    def clean(self):
        data = super().clean()
        measure, raw = data.get("measure"), (data.get("at_least") or "").strip()
        if measure == "count":
            if not raw:
                data["at_least"] = 1
            elif raw.isdigit() and 1 <= int(raw) <= MAX_AT_LEAST:
                data["at_least"] = int(raw)
            else:
                self.add_error(
                    "at_least",
                    _("Enter a whole number of gifts from 1 to %(max)s.") % {"max": MAX_AT_LEAST},
                )
        elif measure in ("total", "largest"):
            if not raw:
                self.add_error("at_least", _("Enter an amount."))
            else:
                try:
                    data["at_least"] = MoneyField(maximum_pence=10**11).clean(raw)
                except ValidationError as exc:
                    self.add_error("at_least", exc)
        return data


@register
class Gifts(ConditionType):
    name = "gifts"
    label = gettext_lazy("Gifts")
    Form = GiftsForm

    def compile(self, params, *, using):
        gifts = counted_gifts(using=using).filter(window_q(params, "succeeded_at"))
        measure = params["measure"]
        if measure == "count":
            return people_with_rows(gifts, "person_id", params["at_least"])
        pence = int((params["at_least"] * 100).to_integral_value())
        net = F("amount_pence") - F("refunded_pence")
        if measure == "largest":
            # The largest gift reaches the amount when any one gift does.
            return people_with_rows(gifts.alias(net=net).filter(net__gte=pence), "person_id")
        donors = (
            gifts.order_by()
            .values("person_id")
            .annotate(total=Sum(net))
            .filter(total__gte=pence)
            .values("person_id")
        )
        return Q(pk__in=donors)

    def to_json(self, params):
        value = params["at_least"]
        return {
            "measure": params["measure"],
            "at_least": value if params["measure"] == "count" else str(value),
            **window_json(params),
        }

    def describe(self, params):
        measure, value = params["measure"], params["at_least"]
        if measure == "count":
            text = ngettext("Gave at least %(n)s gift", "Gave at least %(n)s gifts", value) % {
                "n": value
            }
        elif measure == "total":
            text = _("Gave at least £%(amount)s in total") % {"amount": value}
        else:
            text = _("Gave a single gift of at least £%(amount)s") % {"amount": value}
        return text + describe_window(params)


class LastGiftForm(forms.Form):
    days = forms.IntegerField(
        label=gettext_lazy("Within the last (days)"), min_value=1, max_value=MAX_DAYS
    )


@register
class LastGift(ConditionType):
    name = "last_gift"
    label = gettext_lazy("Last gift")
    Form = LastGiftForm

    def compile(self, params, *, using):
        since = timezone.now() - datetime.timedelta(days=params["days"])
        return people_with_rows(
            counted_gifts(using=using).filter(succeeded_at__gte=since), "person_id"
        )

    def describe(self, params):
        return _("Last gift within the last %(days)s days") % {"days": params["days"]}


@register
class RecurringActive(ConditionType):
    name = "recurring_active"
    label = gettext_lazy("Has an active monthly gift")

    def compile(self, params, *, using):
        from .models import RecurringPlan

        plans = RecurringPlan.objects.using(using).filter(status=RecurringPlan.Status.ACTIVE)
        return people_with_rows(plans, "person_id")

    def describe(self, params):
        return _("Has an active monthly gift")
