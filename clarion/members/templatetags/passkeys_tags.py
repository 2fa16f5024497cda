"""``{% passkey_sign_in %}``: the "Use a passkey" part of a sign-in page, offered only
where the site can have passkeys. It stays hidden until the passkey script finds a
browser that supports them, so without JavaScript the page offers the email link only."""

from __future__ import annotations

from django import template

from clarion.members.passkeys import relying_party

register = template.Library()


@register.inclusion_tag("members/passkey_sign_in.html", takes_context=True)
def passkey_sign_in(context) -> dict:
    return {"available": relying_party() is not None, "csrf_token": context.get("csrf_token")}
