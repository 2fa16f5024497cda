"""Shipped templates to start a journey from. Each is the ``steps`` and trigger of an
export file (``services.journey_export``), with the sender filled in when it is made
(``services.journey_from_template``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from clarion.mailings.models import EmailCategory

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


def _event_definition(role: str) -> dict[str, Any]:
    # Events that started in the last three weeks: the one they RSVP'd to, if it has
    # happened by the time of the check.
    return {
        "op": "all",
        "conditions": [{"type": "event", "role": role, "window": "last_days", "days": 21}],
    }


def _rsvp_follow_up(sender: dict) -> dict[str, Any]:
    return {
        "name": _("RSVP → reminder → thanks, or sorry we missed you"),
        "description": _(
            "Confirm an RSVP with the practical details; two weeks later thank those who "
            "came and point them to the next event, or tell those who did not come that "
            "they were missed. People whose event has not happened yet by then get "
            "neither (for one event, set the trigger's event and replace the wait with "
            "one until the day after it)."
        ),
        "trigger": {"type": "rsvp", "config": {}},
        "steps": [
            {
                "key": "reminder",
                "type": "email",
                "config": {
                    **sender,
                    "category": "events",
                    "subject": "See you there, {{ first_name|default:'friend' }}",
                    "body": (
                        "Dear {{ first_name|default:'friend' }},\n\nThank you for saying "
                        "you will come. Put the date in your diary: the details, and a way "
                        "to change your plans, are in your RSVP confirmation.\n\n"
                        f"[Your events]({sender['site_url']}/members/events/)"
                    ),
                },
                "next": "wait",
            },
            # A wait step cannot read the event's time: give the event time to happen.
            {"key": "wait", "type": "wait", "config": {"days": 14}, "next": "came"},
            {
                "key": "came",
                "type": "decision",
                "config": {"definition": _event_definition("attended")},
                "yes": "thanks",
                "no": "missed",
            },
            {
                "key": "thanks",
                "type": "email",
                "config": {
                    **sender,
                    "category": "events",
                    "subject": "Thank you for coming, {{ first_name|default:'friend' }}",
                    "body": (
                        "Dear {{ first_name|default:'friend' }},\n\nThank you for coming. "
                        "Events like that one are how we win.\n\n"
                        f"[Find the next event near you]({sender['site_url']}/events/)"
                    ),
                },
                "next": "end",
            },
            # Not checked in: a no-show only once their event has ended (an event still
            # to come makes no no-show), so nobody is told they were missed too early.
            {
                "key": "missed",
                "type": "decision",
                "config": {"definition": _event_definition("no_show")},
                "yes": "sorry",
                "no": "end",
            },
            {
                "key": "sorry",
                "type": "email",
                "config": {
                    **sender,
                    "category": "events",
                    "subject": "Sorry we missed you, {{ first_name|default:'friend' }}",
                    "body": (
                        "Dear {{ first_name|default:'friend' }},\n\nWe were sorry not to "
                        "see you. Plans change; there will be another one soon.\n\n"
                        f"[Find another event]({sender['site_url']}/events/)"
                    ),
                },
                "next": "end",
            },
            {"key": "end", "type": "end"},
        ],
    }


def _membership(*statuses: str) -> dict[str, Any]:
    return {"op": "all", "conditions": [{"type": "membership", "statuses": list(statuses)}]}


def _lapsing_renew(sender: dict) -> dict[str, Any]:
    return {
        "name": _("Lapsing member → renew"),
        "description": _(
            "Thirty days before an active member's renewal date, ask them to renew; after "
            "the date, those still active are tagged “renewed”."
        ),
        "trigger": {"type": "renews_soon", "config": {"days": 30}},
        "steps": [
            {
                "key": "ask",
                "type": "email",
                "config": {
                    **sender,
                    # About their own membership: general mail, not a category.
                    "category": "",
                    "subject": "Your membership renews soon, {{ first_name|default:'friend' }}",
                    "body": (
                        "Dear {{ first_name|default:'friend' }},\n\nYour membership "
                        "of {{ organisation }} renews in a month. If you pay by Direct "
                        "Debit or card there is nothing to do; otherwise, please renew so "
                        "you keep your vote and your say.\n\n"
                        f"[Your membership]({sender['site_url']}/members/membership/)"
                    ),
                },
                "next": "wait",
            },
            # A goal of "active" would be met at once (they are active when they enter),
            # so the check is a decision made after the renewal date.
            {"key": "wait", "type": "wait", "config": {"days": 32}, "next": "still"},
            {
                "key": "still",
                "type": "decision",
                "config": {"definition": _membership("active")},
                "yes": "renewed",
                "no": "end",
            },
            {"key": "renewed", "type": "tag_add", "config": {"tag": "renewed"}, "next": "end"},
            {"key": "end", "type": "end"},
        ],
    }


def _lapsed_win_back(sender: dict) -> dict[str, Any]:
    return {
        "name": _("Lapsed → win back"),
        "description": _(
            "When a membership lapses, ask them to come back, and again a week later; "
            "those who rejoin leave as converted."
        ),
        "trigger": {"type": "membership_lapsed", "config": {}},
        "steps": [
            {
                "key": "ask",
                "type": "email",
                "config": {
                    **sender,
                    "category": "news",
                    "subject": "We miss you, {{ first_name|default:'friend' }}",
                    "body": (
                        "Dear {{ first_name|default:'friend' }},\n\nYour membership of "
                        "{{ organisation }} has lapsed. Rejoin in two minutes and keep "
                        "your say in what we do.\n\n"
                        f"[Rejoin]({sender['site_url']}/members/join/)"
                    ),
                },
                "next": "wait",
            },
            {"key": "wait", "type": "wait", "config": {"days": 7}, "next": "again"},
            {
                "key": "again",
                "type": "email",
                "config": {
                    **sender,
                    "category": "news",
                    "subject": "Still with us, {{ first_name|default:'friend' }}?",
                    "body": (
                        "Dear {{ first_name|default:'friend' }},\n\nMembers decide what "
                        "we campaign on and who stands for us. Will you rejoin?\n\n"
                        f"[Rejoin]({sender['site_url']}/members/join/)"
                    ),
                },
                "next": "give_time",
            },
            # Goals are noticed when the person's next step is due: give them time.
            {"key": "give_time", "type": "wait", "config": {"days": 14}, "next": "back"},
            {
                "key": "back",
                "type": "goal",
                "config": {"definition": _membership("active")},
                "next": "end",
            },
            {"key": "end", "type": "end"},
        ],
    }


TEMPLATES = {
    "petition_donate": _petition_donate,
    "welcome": _welcome,
    "host_ask": _host_ask,
    "rsvp_follow_up": _rsvp_follow_up,
    "lapsing_renew": _lapsing_renew,
    "lapsed_win_back": _lapsed_win_back,
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
    # A category staff have removed since the template was written: general mail.
    keys = set(EmailCategory.objects.values_list("key", flat=True))
    for step in data["steps"]:
        config = step.get("config", {})
        config.pop("site_url", None)
        if config.get("category") and config["category"] not in keys:
            config["category"] = ""
    data["name"] = str(data["name"])
    data["description"] = str(data["description"])
    return data
