"""Segment conditions on the engagement score (registered from ``EngagementConfig.ready``).

How a decaying score is compared in SQL: each score row stores
``key = log2(score at ref) + ref / half_life``. Decay moves every score along the same
curve, so ``score now ≥ N`` holds exactly when ``key ≥ log2(N) + now / half_life``:
the threshold is computed once per query (in Python, from ``now``) and compared with
an indexed column — no per-row arithmetic and no nightly pass. People without a row
have a score of 0. Each test is an ``EXISTS`` (true or false, never NULL), so the
conditions behave inside "none of" groups.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clarion.people.segments.registry import ConditionType, register

from .models import EngagementScore
from .selectors import key_at_least, levels
from .services import settings_get

MAX_POINTS = 1_000_000_000


def _at_least(points: float, *, using: str) -> Q:
    """People whose score now is at least ``points`` (everyone when ``points`` ≤ 0)."""
    if points <= 0:
        return Q(pk__isnull=False)
    key = key_at_least(points, now=timezone.now(), settings=settings_get())
    return Q(
        Exists(EngagementScore.objects.using(using).filter(person=OuterRef("pk"), key__gte=key))
    )


def _more_than(points: float, *, using: str) -> Q:
    if points < 0:
        return Q(pk__isnull=False)
    if points == 0:
        return Q(
            Exists(
                EngagementScore.objects.using(using).filter(
                    person=OuterRef("pk"), key__isnull=False
                )
            )
        )
    key = key_at_least(points, now=timezone.now(), settings=settings_get())
    return Q(
        Exists(EngagementScore.objects.using(using).filter(person=OuterRef("pk"), key__gt=key))
    )


class ScoreForm(forms.Form):
    minimum = forms.DecimalField(
        label=_("At least"), required=False, min_value=0, max_value=MAX_POINTS, decimal_places=2
    )
    maximum = forms.DecimalField(
        label=_("At most"), required=False, min_value=0, max_value=MAX_POINTS, decimal_places=2
    )

    def clean(self):
        data = super().clean()
        low, high = data.get("minimum"), data.get("maximum")
        if low is None and high is None and not self.errors:
            raise ValidationError(_("Enter a lowest score, a highest score, or both."))
        if low is not None and high is not None and low > high:
            self.add_error("maximum", _("The highest score must not be below the lowest."))
        return data


@register
class ScoreRange(ConditionType):
    name = "score"
    label = _("Engagement score")
    Form = ScoreForm

    def compile(self, params, *, using):
        q = Q(pk__isnull=False)
        if params.get("minimum") is not None:
            q &= _at_least(float(params["minimum"]), using=using)
        if params.get("maximum") is not None:
            q &= ~_more_than(float(params["maximum"]), using=using)
        return q

    def describe(self, params):
        low, high = params.get("minimum"), params.get("maximum")
        if low is not None and high is not None:
            return _("Engagement score from %(low)s to %(high)s") % {"low": low, "high": high}
        if low is not None:
            return _("Engagement score at least %(low)s") % {"low": low}
        return _("Engagement score at most %(high)s") % {"high": high}


LEVEL_MATCH = [("at_least", _("at or above")), ("exactly", _("exactly"))]


def _level_choices():
    return [(name, name) for name, _threshold in levels(settings_get())]


class LevelForm(forms.Form):
    level = forms.ChoiceField(choices=_level_choices, label=_("Ladder level"))
    match = forms.ChoiceField(
        choices=LEVEL_MATCH, initial="at_least", required=False, label=_("Match")
    )

    def clean_match(self):
        return self.cleaned_data.get("match") or "at_least"


@register
class LadderLevel(ConditionType):
    name = "ladder_level"
    label = _("Ladder level")
    Form = LevelForm

    def compile(self, params, *, using):
        ladder = levels(settings_get())
        names = [name for name, _t in ladder]
        if params["level"] not in names:
            raise ValidationError(
                _("There is no ladder level %(level)s.") % {"level": params["level"]}
            )
        index = names.index(params["level"])
        q = _at_least(ladder[index][1], using=using)
        if params["match"] == "exactly" and index + 1 < len(ladder):
            q &= ~_at_least(ladder[index + 1][1], using=using)
        return q

    def describe(self, params):
        if params["match"] == "exactly":
            return _("Ladder level is %(level)s") % {"level": params["level"]}
        return _("Ladder level %(level)s or above") % {"level": params["level"]}
