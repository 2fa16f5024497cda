"""The segment builder as an HTML form that works without JavaScript.

POST layout (``segments.js`` writes the same fields when it adds rows):

- ``g0-op``: all / any / not for the top group;
- ``node``: repeated, the prefix of every other row and group in page order
  (``r3`` a condition, ``g1`` a group);
- ``r3-type``, ``r3-group`` and the condition form's fields with prefix ``r3``;
- ``g1-op`` and ``g1-group`` (its parent group).

Buttons are ``action=count``, ``save``, ``add:g1`` (with ``add-type-g1``),
``addgroup:g1`` and ``remove:r3`` / ``remove:g1``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .compiler import GROUP_OPS, MAX_CONDITIONS
from .registry import ConditionType, SegmentDefinitionError, condition_type, condition_types

PREFIX = re.compile(r"^[rg][0-9]{1,4}$")
MAX_UI_DEPTH = 3
OP_CHOICES = [
    ("all", gettext_lazy("all of these")),
    ("any", gettext_lazy("any of these")),
    ("not", gettext_lazy("none of these")),
]


class SegmentMetaForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=150)
    description = forms.CharField(
        label=gettext_lazy("Description"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


# Condition types whose choices are shown as a checkbox list rather than a multi-select.
PICKER_TYPES = ("tag", "list")


class PickerWidget(forms.CheckboxSelectMultiple):
    """Tags or lists as checkboxes: no Ctrl-click to pick several, works without
    JavaScript; segments.js adds a filter box over a long list."""


def use_pickers(ctype: ConditionType, form: forms.Form) -> forms.Form:
    """Swap the multi-selects of a tag or list condition's form for checkbox lists (the
    field, its cleaning and the POST layout are unchanged: repeated values)."""
    if ctype.name in PICKER_TYPES:
        for field in form.fields.values():
            if type(field.widget) is forms.SelectMultiple:
                picker = PickerWidget(attrs=field.widget.attrs)
                picker.choices = field.widget.choices
                field.widget = picker
    return form


@dataclass
class RowNode:
    prefix: str
    ctype: ConditionType
    form: forms.Form
    group: str

    is_group = False

    def __post_init__(self) -> None:
        use_pickers(self.ctype, self.form)

    def unbind(self) -> None:
        if self.form.is_bound:
            initial = {bf.name: bf.value() for bf in self.form}
            self.form = use_pickers(
                self.ctype, self.ctype.form(initial=initial, prefix=self.prefix)
            )


@dataclass
class GroupNode:
    prefix: str
    op: str
    parent: str | None
    depth: int
    children: list[Any] = field(default_factory=list)

    is_group = True

    @property
    def can_nest(self) -> bool:
        return self.depth < MAX_UI_DEPTH

    @property
    def op_choices(self):
        return OP_CHOICES


class Builder:
    """A tree of GroupNode / RowNode built from POST data or from a definition."""

    def __init__(self) -> None:
        self.root = GroupNode(prefix="g0", op="all", parent=None, depth=1)
        self.groups: dict[str, GroupNode] = {"g0": self.root}
        self.rows: dict[str, RowNode] = {}
        self.errors: list[str] = []
        self._next = 1

    # --- building -------------------------------------------------------------------

    def _new_prefix(self, letter: str) -> str:
        while f"r{self._next}" in self.rows or f"g{self._next}" in self.groups:
            self._next += 1
        prefix = f"{letter}{self._next}"
        self._next += 1
        return prefix

    @classmethod
    def from_post(cls, data) -> Builder:
        builder = cls()
        op = data.get("g0-op", "all")
        builder.root.op = op if op in GROUP_OPS else "all"
        if op not in GROUP_OPS:
            builder.errors.append(
                _("Choose whether people must match all, any or none of the conditions.")
            )
        seen: set[str] = set()
        nodes = data.getlist("node") if hasattr(data, "getlist") else data.get("node", [])
        if len(nodes) > MAX_CONDITIONS + 20:
            builder.errors.append(
                _("A segment can have at most %(n)s conditions.") % {"n": MAX_CONDITIONS}
            )
            nodes = nodes[: MAX_CONDITIONS + 20]
        for prefix in nodes:
            if not isinstance(prefix, str) or not PREFIX.match(prefix) or prefix in seen:
                continue
            seen.add(prefix)
            parent = builder.groups.get(data.get(f"{prefix}-group", "g0"))
            if parent is None:
                builder.errors.append(_("A condition refers to a group that is not on the page."))
                continue
            if prefix.startswith("g"):
                op = data.get(f"{prefix}-op", "all")
                if op not in GROUP_OPS or parent.depth >= MAX_UI_DEPTH:
                    builder.errors.append(_("A group could not be read; check its settings."))
                    continue
                group = GroupNode(
                    prefix=prefix, op=op, parent=parent.prefix, depth=parent.depth + 1
                )
                builder.groups[prefix] = group
                parent.children.append(group)
            else:
                ctype = condition_type(data.get(f"{prefix}-type"))
                if ctype is None:
                    builder.errors.append(_("A condition has an unknown type and was left out."))
                    continue
                row = RowNode(
                    prefix=prefix,
                    ctype=ctype,
                    form=ctype.form(data, prefix=prefix),
                    group=parent.prefix,
                )
                builder.rows[prefix] = row
                parent.children.append(row)
            builder._next = max(builder._next, int(prefix[1:]) + 1)
        return builder

    @classmethod
    def from_definition(cls, definition: Any) -> Builder:
        builder = cls()
        if not isinstance(definition, dict):
            return builder
        builder.root.op = definition.get("op") if definition.get("op") in GROUP_OPS else "all"

        def walk(node: dict, group: GroupNode) -> None:
            for child in (
                node.get("conditions", []) if isinstance(node.get("conditions"), list) else []
            ):
                if not isinstance(child, dict):
                    continue
                if "op" in child and "type" not in child:
                    if group.depth >= MAX_UI_DEPTH:
                        builder.errors.append(
                            _("This segment nests groups deeper than the builder shows.")
                        )
                        continue
                    sub = GroupNode(
                        prefix=builder._new_prefix("g"),
                        op=child.get("op") if child.get("op") in GROUP_OPS else "all",
                        parent=group.prefix,
                        depth=group.depth + 1,
                    )
                    builder.groups[sub.prefix] = sub
                    group.children.append(sub)
                    walk(child, sub)
                    continue
                ctype = condition_type(child.get("type"))
                if ctype is None:
                    builder.errors.append(
                        _("A condition of an unknown type (%(type)s) was left out.")
                        % {"type": str(child.get("type"))[:60]}
                    )
                    continue
                prefix = builder._new_prefix("r")
                params = {k: v for k, v in child.items() if k != "type"}
                row = RowNode(
                    prefix=prefix,
                    ctype=ctype,
                    form=ctype.form(initial=params, prefix=prefix),
                    group=group.prefix,
                )
                builder.rows[prefix] = row
                group.children.append(row)

        walk(definition, builder.root)
        return builder

    # --- editing (the no-JavaScript buttons) ------------------------------------------

    def apply(self, action: str, data) -> None:
        verb, _sep, target = action.partition(":")
        if verb == "add" and target in self.groups:
            ctype = condition_type(data.get(f"add-type-{target}"))
            if ctype is None:
                self.errors.append(_("Choose a kind of condition to add."))
                return
            prefix = self._new_prefix("r")
            row = RowNode(prefix=prefix, ctype=ctype, form=ctype.form(prefix=prefix), group=target)
            self.rows[prefix] = row
            self.groups[target].children.append(row)
        elif verb == "addgroup" and target in self.groups and self.groups[target].can_nest:
            parent = self.groups[target]
            group = GroupNode(
                prefix=self._new_prefix("g"), op="any", parent=target, depth=parent.depth + 1
            )
            self.groups[group.prefix] = group
            parent.children.append(group)
        elif verb == "remove" and (
            target in self.rows or (target in self.groups and target != "g0")
        ):
            node = self.rows.pop(target, None) or self.groups.pop(target)
            parent = self.groups.get(node.group if isinstance(node, RowNode) else node.parent)
            if parent is not None:
                parent.children = [c for c in parent.children if c.prefix != target]

    def unbind(self) -> None:
        """Show rows without errors (after add/remove, before the user asked to count)."""
        for row in self.rows.values():
            row.unbind()

    # --- reading --------------------------------------------------------------------

    def definition(self) -> dict[str, Any]:
        """The definition the form describes (raises SegmentDefinitionError, with each
        bad row's errors left on its form for the page to show)."""
        errors = list(self.errors)
        bad_rows = 0

        def node(group: GroupNode) -> dict[str, Any]:
            nonlocal bad_rows
            items = []
            for child in group.children:
                if isinstance(child, GroupNode):
                    items.append(node(child))
                elif child.form.is_valid():
                    items.append(
                        {"type": child.ctype.name, **child.ctype.to_json(child.form.cleaned_data)}
                    )
                else:
                    bad_rows += 1
            return {"op": group.op, "conditions": items}

        result = node(self.root)
        if bad_rows:
            errors.append(_("Some conditions need fixing; see the messages next to them."))
        if errors:
            raise SegmentDefinitionError(errors)
        return result

    def row_errors(self) -> list[str]:
        """Every row's errors as plain text (for the JSON count endpoint)."""
        messages = []
        for row in self.rows.values():
            for name, errs in row.form.errors.items():
                label = row.form.fields[name].label if name in row.form.fields else ""
                for message in errs:
                    messages.append(f"{row.ctype.label}: {label + ': ' if label else ''}{message}")
        return messages


def type_choices() -> list[tuple[str, str]]:
    return [(t.name, str(t.label)) for t in condition_types()]
