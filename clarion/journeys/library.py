"""Shipped templates to start a journey from. Each is the ``steps`` and trigger of an
export file (``services.journey_export``), with the sender filled in when it is made
(``services.journey_from_template``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

DONATED = {"op": "all", "conditions": [{"type": "donated", "amount": "0.01"}]}


def _petition_donate(sender: dict) -> dict[str, Any]:
    return {
        "name": _("Petition signer → donor"),
        "description": _(
            "Thank a petition signer, wait two days, ask them to give; those who give "
            "leave as converted."
        ),
        "trigger": {"type": "action", "config": {"page_kind": "petition"}},
        "steps": [
            {
                "key": "thanks",
                "type": "email",
                "config": {
                    **sender,
                    "subject": "Thank you for signing, {{ first_name|default:'friend' }}",
                    "body": (
                        "Dear {{ first_name|default:'friend' }},\n\nThank you for adding your "
                        "name. Every signature makes us harder to ignore.\n\nCould you share "
                        "the petition? {{ share_link }}\n\n"
                        f"[See what else you can do]({sender['site_url']}/)"
                    ),
                },
                "next": "wait",
            },
            {"key": "wait", "type": "wait", "config": {"days": 2}, "next": "ask"},
            {
                "key": "ask",
                "type": "email",
                "config": {
                    **sender,
                    "category": "fundraising",
                    "subject": "Will you chip in, {{ first_name|default:'friend' }}?",
                    "body": (
                        "Dear {{ first_name|default:'friend' }},\n\nCampaigns like this one "
                        "are paid for by people like you. Could you give £5 today?"
                    ),
                },
                "next": "give_time",
            },
            # Goals are noticed when the person's next step is due: give them time.
            {"key": "give_time", "type": "wait", "config": {"days": 3}, "next": "gave"},
            {"key": "gave", "type": "goal", "config": {"definition": DONATED}, "next": "end"},
            {"key": "end", "type": "end"},
        ],
    }


def _welcome(sender: dict) -> dict[str, Any]:
    return {
        "name": _("Welcome series"),
        "description": _("Three emails over a week for people tagged “new supporter”."),
        "trigger": {"type": "tag_added", "config": {"tag": "new supporter"}},
        "steps": [
            {
                "key": "welcome",
                "type": "email",
                "config": {
                    **sender,
                    "subject": "Welcome, {{ first_name|default:'friend' }}",
                    "body": "Dear {{ first_name|default:'friend' }},\n\nWelcome to {{ organisation }}.",
                },
                "next": "wait1",
            },
            {"key": "wait1", "type": "wait", "config": {"days": 3}, "next": "local"},
            {
                "key": "local",
                "type": "email",
                "config": {
                    **sender,
                    "subject": "What is happening in {{ area|default:'your area' }}",
                    "body": "Dear {{ first_name|default:'friend' }},\n\nMeet people near you.",
                },
                "next": "wait2",
            },
            {"key": "wait2", "type": "wait", "config": {"days": 4}, "next": "tag"},
            {"key": "tag", "type": "tag_add", "config": {"tag": "welcomed"}, "next": "end"},
            {"key": "end", "type": "end"},
        ],
    }


def _host_ask(sender: dict) -> dict[str, Any]:
    return {
        "name": _("Came to an event → ask to host"),
        "description": _(
            "When someone attends an event, an organiser of their area is asked to phone "
            "them about hosting one."
        ),
        "trigger": {"type": "attended", "config": {}},
        "steps": [
            {
                "key": "call",
                "type": "human",
                "config": {"note": "They came to an event: phone them about hosting one."},
                "next": "end",
            },
            {"key": "end", "type": "end"},
        ],
    }


TEMPLATES = {
    "petition_donate": _petition_donate,
    "welcome": _welcome,
    "host_ask": _host_ask,
}


def template_choices() -> list[tuple[str, str]]:
    sample = {"from_name": "", "from_email": "", "site_url": ""}
    return [(key, str(build(sample)["name"])) for key, build in TEMPLATES.items()]


def template_data(key: str, *, from_name: str, from_email: str) -> dict[str, Any] | None:
    build = TEMPLATES.get(key)
    if build is None:
        return None
    # The site's address is read when the journey is made (links in emails are tracked).
    site = settings.SITE_URL.rstrip("/")
    data = build({"from_name": from_name, "from_email": from_email, "site_url": site})
    for step in data["steps"]:
        step.get("config", {}).pop("site_url", None)
    data["name"] = str(data["name"])
    data["description"] = str(data["description"])
    return data
