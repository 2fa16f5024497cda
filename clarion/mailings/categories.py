"""Email categories: the kinds of bulk mail people may stop one by one.

Staff define the categories (``EmailCategory``); a mailing names one by its key, or
none (general mail). A person's choice not to receive a category is an ``OptOut`` row
holding the words they were shown, where they chose and when; the sender skips them
(``sending.deliver``, one set-based ``NOT EXISTS``) and the breakdown counts them.
Every change is on the person's timeline.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clarion.people.models import Activity, Person
from clarion.people.services import activity_record

from .models import EmailCategory, OptOut

# The heading above the category boxes on every preference page; kept with each
# opt-out so the record says what the person was answering.
CATEGORIES_QUESTION = gettext_lazy("Email I want to receive")


# The categories a new installation starts with (made by migration 0005, which keeps
# its own copy); staff rename, add and remove them.
STARTING = [
    ("news", "News and campaign updates", "What we are doing and how it is going.", 1),
    ("fundraising", "Fundraising appeals", "Asks for money to pay for the campaign.", 2),
    ("events", "Events near me", "Meetings, socials and action days in your area.", 3),
    ("local-organising", "Local organising", "Calls from your local party to help out.", 4),
]


def starting_categories_create() -> None:
    """Make the starting categories that are missing (tests whose database was
    emptied after the migrations ran; harmless to repeat)."""
    for key, name, description, order in STARTING:
        EmailCategory.objects.get_or_create(
            key=key, defaults={"name": name, "description": description, "order": order}
        )


def categories() -> QuerySet[EmailCategory]:
    return EmailCategory.objects.all()


def category_wording(category: EmailCategory) -> str:
    """The words of a category's box as shown, with the question it answers."""
    label = category.name
    if category.description:
        label = f"{label} — {category.description}"
    return f"{CATEGORIES_QUESTION}: {label}"


def opted_out_keys(person: Person) -> set[str]:
    return set(OptOut.objects.filter(person=person).values_list("category", flat=True))


def opt_outs_of(person: Person) -> list[dict]:
    """The categories ``person`` stopped, with when and the name now shown."""
    names = dict(EmailCategory.objects.values_list("key", "name"))
    return [
        {"name": names.get(o.category, o.category), "at": o.created_at, "source": o.source}
        for o in OptOut.objects.filter(person=person).order_by("created_at", "pk")
    ]


def composer_choices() -> list[tuple[str, str]]:
    """The composer's category menu: none (general mail) first, then staff's order."""
    return [("", _("None — general mail (stopped only by unsubscribing)"))] + [
        (c.key, c.name) for c in categories()
    ]


@transaction.atomic
def person_categories_set(*, person: Person, wanted: Iterable[str], source: str) -> bool:
    """Keep sending ``person`` the categories in ``wanted`` and stop the others;
    returns whether anything changed. Unknown keys in ``wanted`` are ignored. Locks
    the person's row, so two saves at once cannot both add the same opt-out."""
    Person.objects.select_for_update().filter(pk=person.pk).first()
    wanted = set(wanted)
    current = opted_out_keys(person)
    stopped, restarted = [], []
    for category in categories():
        if category.key in wanted and category.key in current:
            OptOut.objects.filter(person=person, category=category.key).delete()
            restarted.append(category)
        elif category.key not in wanted and category.key not in current:
            OptOut.objects.create(
                person=person,
                category=category.key,
                wording=category_wording(category),
                source=source,
            )
            stopped.append(category)
    if stopped or restarted:
        _record(person, stopped=stopped, restarted=restarted, source=source)
    return bool(stopped or restarted)


@transaction.atomic
def category_opt_out(*, person: Person, key: str, source: str) -> bool:
    """Stop one category for ``person`` (the unsubscribe page's "only stop this");
    returns False when it was already stopped or no such category exists."""
    category = EmailCategory.objects.filter(key=key).first()
    if category is None:
        return False
    Person.objects.select_for_update().filter(pk=person.pk).first()
    if OptOut.objects.filter(person=person, category=key).exists():
        return False
    OptOut.objects.create(
        person=person, category=key, wording=category_wording(category), source=source
    )
    _record(person, stopped=[category], restarted=[], source=source)
    return True


def _record(person: Person, *, stopped: list, restarted: list, source: str) -> None:
    parts = []
    if stopped:
        parts.append(_("stopped %(list)s") % {"list": ", ".join(c.name for c in stopped)})
    if restarted:
        parts.append(_("started again %(list)s") % {"list": ", ".join(c.name for c in restarted)})
    activity_record(
        person=person,
        kind=Activity.Kind.EMAIL,
        summary=_("Email categories: %(changes)s") % {"changes": "; ".join(parts)},
        data={
            "stopped": [c.key for c in stopped],
            "started": [c.key for c in restarted],
            "source": source,
        },
    )


# --- Staff ------------------------------------------------------------------------------


def category_save(*, actor, category: EmailCategory) -> EmailCategory:
    """Add or change a category (administrators only). The key of an existing
    category is not changed: mailings and opt-outs refer to it."""
    if not getattr(actor, "is_admin", False):
        raise PermissionDenied
    if category.pk:
        category.key = EmailCategory.objects.values_list("key", flat=True).get(pk=category.pk)
    category.save()
    return category


def category_remove(*, actor, category: EmailCategory) -> None:
    """Stop offering a category. People's opt-outs from it are kept (they are their
    recorded choice, and hold again if the key is ever made again), so mailings that
    still name it keep skipping those people."""
    if not getattr(actor, "is_admin", False):
        raise PermissionDenied
    category.delete()
