"""Segment definitions: their format, strict validation, and compilation to a ``Q``.

A definition is JSON stored on ``Segment.definition``::

    {"op": "all", "conditions": [
        {"type": "tag", "tags": [3, 7], "match": "any"},
        {"type": "area", "area": "R-N"},
        {"op": "not", "conditions": [
            {"type": "email_status", "statuses": ["unsubscribed", "bouncing"]}
        ]}
    ]}

- A *group* has exactly the keys ``op`` and ``conditions``. ``all`` matches people
  who meet every condition, ``any`` those who meet at least one, ``not`` those who meet
  none of them. An empty group places no limit (everyone matches), so a new segment
  starts as "everyone in your scope".
- A *condition* has ``type`` (a name in ``registry``) and that type's parameters; its
  form validates them, and unknown keys are errors.
- The top level is always a group. Groups nest up to ``MAX_DEPTH`` levels and a
  definition holds at most ``MAX_CONDITIONS`` conditions.

Anything else raises ``SegmentDefinitionError`` (a ``ValidationError``) whose messages
name the condition by position ("Condition 2.1 (Has tag): …"), so views show them as
form errors or a 400 JSON body, never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Q
from django.utils.translation import gettext as _

from .registry import ConditionType, SegmentDefinitionError, condition_type

GROUP_OPS = ("all", "any", "not")
MAX_DEPTH = 5
MAX_CONDITIONS = 100
_SCALARS = (str, int, float, bool, type(None))


@dataclass
class CleanCondition:
    ctype: ConditionType
    params: dict[str, Any]


@dataclass
class CleanGroup:
    op: str
    children: list[CleanGroup | CleanCondition] = field(default_factory=list)


def empty_definition() -> dict[str, Any]:
    return {"op": "all", "conditions": []}


def _label(position: str) -> str:
    return (
        _("the top group") if not position else _("condition %(position)s") % {"position": position}
    )


def _flat_params(params: dict[str, Any]) -> bool:
    for value in params.values():
        if isinstance(value, list):
            if len(value) > 1000 or not all(isinstance(v, _SCALARS) for v in value):
                return False
        elif not isinstance(value, _SCALARS):
            return False
    return True


class _Cleaner:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.count = 0

    def group(self, node: Any, position: str, depth: int) -> CleanGroup | None:
        if not isinstance(node, dict) or "op" not in node:
            self.errors.append(
                _("%(what)s must be a group with “op” and “conditions”.")
                % {"what": _label(position).capitalize()}
            )
            return None
        extra = set(node) - {"op", "conditions"}
        if extra:
            self.errors.append(
                _("%(what)s has unknown keys: %(keys)s.")
                % {
                    "what": _label(position).capitalize(),
                    "keys": ", ".join(sorted(str(k)[:40] for k in extra)),
                }
            )
            return None
        op, children = node.get("op"), node.get("conditions", [])
        if op not in GROUP_OPS:
            self.errors.append(
                _("%(what)s: “op” must be all, any or not.")
                % {"what": _label(position).capitalize()}
            )
            return None
        if not isinstance(children, list):
            self.errors.append(
                _("%(what)s: “conditions” must be a list.")
                % {"what": _label(position).capitalize()}
            )
            return None
        if depth > MAX_DEPTH:
            self.errors.append(
                _("Groups can be nested at most %(n)s levels deep.") % {"n": MAX_DEPTH}
            )
            return None
        group = CleanGroup(op=op)
        for index, child in enumerate(children, start=1):
            child_position = f"{position}.{index}" if position else str(index)
            if isinstance(child, dict) and "op" in child and "type" not in child:
                cleaned = self.group(child, child_position, depth + 1)
            else:
                cleaned = self.condition(child, child_position)
            if cleaned is not None:
                group.children.append(cleaned)
            if self.count > MAX_CONDITIONS:
                self.errors.append(
                    _("A segment can have at most %(n)s conditions.") % {"n": MAX_CONDITIONS}
                )
                return None
        return group

    def condition(self, node: Any, position: str) -> CleanCondition | None:
        self.count += 1
        what = _label(position).capitalize()
        if not isinstance(node, dict) or "type" not in node:
            self.errors.append(_("%(what)s must have a “type”.") % {"what": what})
            return None
        ctype = condition_type(node["type"])
        if ctype is None:
            self.errors.append(
                _("%(what)s: there is no condition type “%(type)s”.")
                % {"what": what, "type": str(node["type"])[:60]}
            )
            return None
        what = f"{what} ({ctype.label})"
        params = {k: v for k, v in node.items() if k != "type"}
        form = ctype.form()
        unknown = set(params) - set(form.fields)
        if unknown:
            self.errors.append(
                _("%(what)s has unknown settings: %(keys)s.")
                % {"what": what, "keys": ", ".join(sorted(str(k)[:40] for k in unknown))}
            )
            return None
        if not _flat_params(params):
            self.errors.append(
                _("%(what)s: settings must be plain values or lists of them.") % {"what": what}
            )
            return None
        form = ctype.form(params)
        if not form.is_valid():
            for name, messages in form.errors.items():
                label = form.fields[name].label if name in form.fields else ""
                for message in messages:
                    if label:
                        self.errors.append(f"{what}: {label}: {message}")
                    else:
                        self.errors.append(f"{what}: {message}")
            return None
        return CleanCondition(ctype=ctype, params=form.cleaned_data)


def clean_definition(definition: Any) -> CleanGroup:
    """Validate ``definition`` and return its parsed tree (raises SegmentDefinitionError)."""
    cleaner = _Cleaner()
    tree = cleaner.group(definition, "", 1)
    if cleaner.errors or tree is None:
        raise SegmentDefinitionError(cleaner.errors or [_("The segment definition is not valid.")])
    return tree


def tree_to_json(tree: CleanGroup) -> dict[str, Any]:
    def node(item: CleanGroup | CleanCondition) -> dict[str, Any]:
        if isinstance(item, CleanGroup):
            return {"op": item.op, "conditions": [node(c) for c in item.children]}
        return {"type": item.ctype.name, **item.ctype.to_json(item.params)}

    return node(tree)


def validate_definition(definition: Any) -> dict[str, Any]:
    """The normalised form of ``definition`` (ids for objects, ISO dates), for saving."""
    return tree_to_json(clean_definition(definition))


def _split_facts(part: Q) -> tuple[list[Any], list[Any]]:
    """(``PersonFacts`` tests, other children) of an ANDed, non-negated ``Q``; a ``Q``
    of any other shape is kept whole."""
    from .conditions import PersonFacts

    if part.negated or (part.connector != Q.AND and len(part.children) > 1):
        return [], [part]
    facts = [child for child in part.children if isinstance(child, PersonFacts)]
    rest = [child for child in part.children if not isinstance(child, PersonFacts)]
    return facts, rest


def _combine_all(parts: list[Q]) -> Q:
    """AND ``parts``, folding their ``facts`` tests (PostgreSQL) into one expression so
    PostgreSQL answers them with a single GIN scan that intersects the posting lists
    itself, instead of a bitmap per condition ANDed afterwards."""
    from .conditions import PersonFacts

    facts: list[PersonFacts] = []
    rest: list[Any] = []
    for part in parts:
        part_facts, part_rest = _split_facts(part)
        facts.extend(part_facts)
        rest.extend(part_rest)
    if len(facts) < 2:
        combined = parts[0]
        for part in parts[1:]:
            combined &= part
        return combined
    combined = Q(PersonFacts.merge(facts))
    for child in rest:
        combined &= child if isinstance(child, Q) else Q(child)
    return combined


def _combine_any(parts: list[Q]) -> Q:
    """OR ``parts``; those that are each one ``facts`` test of "has this one" or "has any
    of these" become a single "has any of" (one index scan instead of one per part)."""
    from .conditions import PersonFacts

    ids: list[int] = []
    rest: list[Q] = []
    for part in parts:
        test = part.children[0] if len(part.children) == 1 and not part.negated else None
        if (
            isinstance(test, PersonFacts)
            and len(test.terms) == 1
            and (test.terms[0][0] == "&&" or len(test.terms[0][1]) == 1)
        ):
            ids.extend(test.terms[0][1])
        else:
            rest.append(part)
    combined = Q(PersonFacts.overlaps(ids)) if ids else rest.pop(0)
    for part in rest:
        combined |= part
    return combined


def compile_tree(tree: CleanGroup, *, using: str = DEFAULT_DB_ALIAS) -> Q:
    def node(item: CleanGroup | CleanCondition) -> Q | None:
        if isinstance(item, CleanCondition):
            return item.ctype.compile(item.params, using=using)
        parts = [q for q in (node(child) for child in item.children) if q is not None]
        if not parts:
            return None
        if item.op == "all":
            return _combine_all(parts)
        combined = _combine_any(parts)
        return ~combined if item.op == "not" else combined

    return node(tree) or Q()


def compile_definition(definition: Any, *, using: str = DEFAULT_DB_ALIAS) -> Q:
    """A ``Q`` over ``people.Person`` for ``definition`` (raises SegmentDefinitionError).

    Reads a few rows to resolve ids (tags, area subtrees, postcodes), so call it per
    count rather than caching the result across requests. Apply it on top of
    ``people_for(user)``; ``segments.selectors.segment_people`` does both.
    """
    return compile_tree(clean_definition(definition), using=using)


def describe_tree(tree: CleanGroup) -> list[Any]:
    """Nested (text, children) pairs describing ``tree`` for the segment page."""
    op_text = {"all": _("All of"), "any": _("Any of"), "not": _("None of")}

    def node(item: CleanGroup | CleanCondition) -> dict[str, Any]:
        if isinstance(item, CleanCondition):
            return {"text": str(item.ctype.describe(item.params)), "children": []}
        return {"text": op_text[item.op], "children": [node(c) for c in item.children]}

    return [node(tree)]
