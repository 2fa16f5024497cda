"""Segment condition "Donated": people whose counted gifts (net of refunds) reach an
amount, optionally since a date and on one page. Registered from DonationsConfig.ready().
"""

from __future__ import annotations

from django import forms
from django.db.models import F, Q, Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clarion.core.money import MoneyField
from clarion.people.segments.registry import ConditionType, register


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
