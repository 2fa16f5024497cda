"""The staff settings form: points per category, the half-life and the ladder levels."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .categories import CATEGORIES
from .models import EngagementSettings

MAX_POINTS = 1000
LEVEL_ROWS = 8
MAX_THRESHOLD = 1_000_000


class SettingsForm(forms.Form):
    half_life_days = forms.IntegerField(
        label=_("Half-life (days)"),
        min_value=1,
        max_value=3650,
        help_text=_("After this many days, points earned count half as much."),
    )

    def __init__(self, *args, settings: EngagementSettings, **kwargs):
        initial = {"half_life_days": settings.half_life_days}
        for c in CATEGORIES:
            initial[f"w_{c.key}"] = settings.weights.get(c.key, c.default_points)
        for i, (name, threshold) in enumerate(settings.levels[:LEVEL_ROWS]):
            initial[f"level_{i}_name"] = name
            initial[f"level_{i}_threshold"] = threshold
        super().__init__(*args, initial=initial, **kwargs)
        for c in CATEGORIES:
            self.fields[f"w_{c.key}"] = forms.IntegerField(
                label=c.label, min_value=0, max_value=MAX_POINTS
            )
        for i in range(LEVEL_ROWS):
            self.fields[f"level_{i}_name"] = forms.CharField(
                label=_("Level %(n)s name") % {"n": i + 1}, max_length=40, required=False
            )
            self.fields[f"level_{i}_threshold"] = forms.IntegerField(
                label=_("Level %(n)s from (points)") % {"n": i + 1},
                min_value=0,
                max_value=MAX_THRESHOLD,
                required=False,
            )

    def weight_fields(self):
        return [self[f"w_{c.key}"] for c in CATEGORIES]

    def level_rows(self):
        return [
            (i + 1, self[f"level_{i}_name"], self[f"level_{i}_threshold"])
            for i in range(LEVEL_ROWS)
        ]

    def clean(self):
        data = super().clean()
        levels: list[tuple[str, int]] = []
        for i in range(LEVEL_ROWS):
            name = (data.get(f"level_{i}_name") or "").strip()
            threshold = data.get(f"level_{i}_threshold")
            if f"level_{i}_threshold" in self.errors:
                continue
            if not name and threshold is None:
                continue
            if not name:
                self.add_error(f"level_{i}_name", _("Give this level a name."))
                continue
            if threshold is None:
                self.add_error(f"level_{i}_threshold", _("Enter the points this level starts at."))
                continue
            levels.append((name, threshold))
        if not levels and not self.errors:
            raise ValidationError(_("Keep at least one level."))
        if levels:
            if levels[0][1] != 0:
                self.add_error("level_0_threshold", _("The first level starts at 0 points."))
            names = [name.casefold() for name, _t in levels]
            if len(set(names)) != len(names):
                raise ValidationError(_("Each level needs its own name."))
            for (_n1, low), (name, high) in zip(levels, levels[1:], strict=False):
                if high <= low:
                    raise ValidationError(
                        _("Each level must start above the one before it (%(name)s does not).")
                        % {"name": name}
                    )
        data["levels"] = levels
        data["weights"] = {c.key: data.get(f"w_{c.key}") for c in CATEGORIES}
        return data
