"""The journey drawn top to bottom as SVG, with each step's figures on it. Returns
shapes and text for the template (no script, no inline style: presentation
attributes only, so the Content Security Policy holds); text is escaped by it."""

from __future__ import annotations

from django.utils.translation import gettext as _

from .steps import step_type

WIDTH = 640
BOX_W = 420
BOX_H = 64
GAP = 34
LEFT = 20


# About how many characters of the 14 px bold title fit in a box.
TITLE_CHARS = 48


def _fit(text: str) -> str:
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1].rstrip() + "…"


def journey_drawing(stats: list[dict]) -> dict:
    boxes = []
    y = 10
    position = {row["step"].pk: i for i, row in enumerate(stats)}
    for i, row in enumerate(stats):
        step = row["step"]
        stype = step_type(step.type)
        title = stype.describe(step.config) if stype else step.type
        figures = _("entered %(e)s · waiting %(w)s · passed %(p)s") % {
            "e": row["entered"],
            "w": row["waiting"],
            "p": row["passed"],
        }
        extra = []
        if step.type == "email":
            extra.append(
                _("sent %(s)s · opened %(o)s · clicked %(c)s")
                % {"s": row["sent"], "o": row["opened"], "c": row["clicked"]}
            )
        if step.type == "human":
            extra.append(
                _("to do %(o)s · done %(d)s · not reached %(n)s")
                % {"o": row["todo_open"], "d": row["todo_done"], "n": row["todo_not_reached"]}
            )
        if step.type in ("decision", "split"):
            extra.append(_("yes %(y)s · no %(n)s") % {"y": row["yes"], "n": row["no"]})
        if row["converted"]:
            extra.append(_("converted %(n)s") % {"n": row["converted"]})
        if row["left"]:
            extra.append(_("left %(n)s") % {"n": row["left"]})
        branches = []
        for name in ("next", "yes", "no"):
            target_id = getattr(step, f"{name}_id")
            if target_id is None:
                continue
            target = position.get(target_id)
            if name == "next" and target == i + 1:
                continue  # drawn as the arrow below
            label = {"next": _("then"), "yes": _("yes"), "no": _("no")}[name]
            key = stats[target]["step"].key if target is not None else "?"
            branches.append(f"{label} → {key}")
        follows = step.next_id is not None and position.get(step.next_id) == i + 1
        boxes.append(
            {
                "x": LEFT,
                "y": y,
                "w": BOX_W,
                "h": BOX_H,
                "key": step.key,
                "title": _fit(str(title)),
                "figures": figures,
                "extra": " · ".join(extra),
                "branches": ", ".join(branches),
                "arrow": {"x": LEFT + BOX_W // 2, "y1": y + BOX_H, "y2": y + BOX_H + GAP - 4}
                if follows or (step.type in ("decision", "split") and i + 1 < len(stats))
                else None,
                "text_x": LEFT + 12,
                "side_x": LEFT + BOX_W + 12,
            }
        )
        y += BOX_H + GAP
    return {"width": WIDTH, "height": max(y, 40), "boxes": boxes}
