from django import template

from clarion.donations.money import format_money

register = template.Library()


@register.filter
def money(pence, currency: str = "GBP") -> str:
    """``{{ donation.amount_pence|money:donation.currency }}`` → £12.50"""
    if pence is None or pence == "":
        return ""
    return format_money(int(pence), currency or "GBP")
