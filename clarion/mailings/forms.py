from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from clarion.areas.selectors import areas_visible_to
from clarion.people.models import PersonList
from clarion.people.selectors import segments_for

from . import selectors
from .categories import CATEGORIES_QUESTION, categories, composer_choices
from .models import EmailCategory, FromAddress, Mailing
from .sending import render

VARIANT_LETTERS = "bcd"


class MailingForm(forms.ModelForm):
    subject_b = forms.CharField(label=_("Subject B"), max_length=250, required=False)
    from_name_b = forms.CharField(
        label=_("From name B (blank: same as A)"), max_length=100, required=False
    )
    body_b = forms.CharField(
        label=_("Body B (blank: same as A)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "class": "mono"}),
    )
    subject_c = forms.CharField(label=_("Subject C"), max_length=250, required=False)
    from_name_c = forms.CharField(
        label=_("From name C (blank: same as A)"), max_length=100, required=False
    )
    body_c = forms.CharField(
        label=_("Body C (blank: same as A)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "class": "mono"}),
    )
    subject_d = forms.CharField(label=_("Subject D"), max_length=250, required=False)
    from_name_d = forms.CharField(
        label=_("From name D (blank: same as A)"), max_length=100, required=False
    )
    body_d = forms.CharField(
        label=_("Body D (blank: same as A)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "class": "mono"}),
    )

    class Meta:
        model = Mailing
        fields = [
            "name",
            "category",
            "segment",
            "exclude_segment",
            "person_list",
            "subject",
            "preheader",
            "from_name",
            "from_email",
            "reply_to",
            "body_format",
            "body",
            "frequency_cap_hours",
            "rate_per_second",
            "ab_variants",
            "ab_test_percent",
            "ab_wait_minutes",
            "ab_metric",
            "ab_auto",
        ]
        widgets = {"body": forms.Textarea(attrs={"rows": 16, "class": "mono"})}
        help_texts = {
            "body": _(
                'Markdown or HTML. Merge fields: {{ first_name|default:"friend" }}, {{ area }}, '
                "{{ share_link }}, {{ recruit_count }}, {{ last_gift }}; conditions: "
                '{% if area %}…{% endif %}; by segment: {% if_segment "Donors" %}…{% else %}…'
                "{% endif_segment %}. Links to pages are tracked and credit this mailing."
            ),
            "ab_variants": _(
                "1 for no test; 2–4 to test subjects, from names and bodies (variant A is "
                "the mailing above)."
            ),
            "ab_test_percent": _(
                "Each variant goes to this share of the recipients; after the wait the "
                "winner goes to the rest."
            ),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        choices = composer_choices()
        current = self.instance.category
        if current and current not in dict(choices):
            choices.append((current, current))  # a category removed since; still valid here
        self.fields["category"] = forms.ChoiceField(
            label=_("Category"),
            choices=choices,
            required=False,
            help_text=Mailing._meta.get_field("category").help_text,
        )
        segments = segments_for(user)
        self.fields["segment"].queryset = segments
        self.fields["exclude_segment"].queryset = segments
        self.fields["person_list"].queryset = PersonList.objects.all()
        area = self.instance.area if self.instance.pk else user.scope_area
        self.area = area
        # True when nobody has allowed this area any from address yet: the composer says
        # so (with where to add one) instead of a bare "This field is required".
        self.no_from_address = False
        if area is not None:
            # Organisers pick from the addresses an administrator allowed their area.
            allowed = list(
                selectors.from_addresses_for_area(area).values_list("email", flat=True).distinct()
            )
            self.no_from_address = not allowed
            self.fields["from_email"] = forms.ChoiceField(
                label=_("from address"),
                choices=[(e, e) for e in allowed],
                help_text=_("The addresses an administrator allowed for your area.")
                if allowed
                else _("No from address is allowed for %(area)s yet: an administrator adds one.")
                % {"area": area.name},
                error_messages={
                    "invalid_choice": _("That from address is not allowed for this area."),
                    "required": _(
                        "No from address is allowed for %(area)s yet, so this mailing cannot "
                        "be saved. An administrator adds one on the From addresses page."
                    )
                    % {"area": area.name}
                    if not allowed
                    else _("Choose a from address."),
                },
            )
        if self.instance.pk:
            by_index = {v.index: v for v in self.instance.variants.all()}
            for i, letter in enumerate(VARIANT_LETTERS, start=1):
                if i in by_index:
                    for part in ("subject", "from_name", "body"):
                        self.fields[f"{part}_{letter}"].initial = getattr(by_index[i], part)

    # The composer's sections (mailings/staff/form.html), in order; the A/B test is an
    # optional section, folded away unless it is in use or has an error.
    SECTIONS = (
        (
            "audience",
            _("1. Audience"),
            ("name", "category", "segment", "exclude_segment", "person_list"),
        ),
        ("sender", _("2. From"), ("from_name", "from_email", "reply_to")),
        ("content", _("3. Content"), ("subject", "preheader", "body_format", "body")),
        ("pace", _("4. Pace"), ("frequency_cap_hours", "rate_per_second")),
    )
    AB_FIELDS = ("ab_variants", "ab_test_percent", "ab_wait_minutes", "ab_metric", "ab_auto")

    def sections(self) -> list[dict]:
        return [
            {
                "key": key,
                "title": title,
                "fields": [self[name] for name in names if name in self.fields],
            }
            for key, title, names in self.SECTIONS
        ]

    def ab_settings(self) -> list:
        return [self[name] for name in self.AB_FIELDS]

    def ab_variant_groups(self) -> list[dict]:
        return [
            {
                "letter": letter.upper(),
                "fields": [self[f"{part}_{letter}"] for part in ("subject", "from_name", "body")],
            }
            for letter in VARIANT_LETTERS
        ]

    def ab_open(self) -> bool:
        names = list(self.AB_FIELDS) + [
            f"{part}_{letter}"
            for letter in VARIANT_LETTERS
            for part in ("subject", "from_name", "body")
        ]
        if any(self[name].errors for name in names):
            return True
        try:
            return int(self["ab_variants"].value() or 1) > 1
        except (TypeError, ValueError):
            return True

    def clean_subject(self):
        value = self.cleaned_data["subject"]
        problems = render.template_problems(value)
        if problems:
            raise forms.ValidationError(problems)
        return value

    def clean_body(self):
        value = self.cleaned_data["body"]
        problems = render.template_problems(value) + selectors.segment_block_problems(
            [value], self.user
        )
        if problems:
            raise forms.ValidationError(problems)
        return value

    def clean_preheader(self):
        value = self.cleaned_data["preheader"]
        problems = render.template_problems(value)
        if problems:
            raise forms.ValidationError(problems)
        return value

    def clean(self):
        data = super().clean()
        n = data.get("ab_variants") or 1
        if n < 1 or n > 4:
            self.add_error("ab_variants", _("Choose between 1 and 4 variants."))
            return data
        if n > 1:
            for letter in VARIANT_LETTERS[: n - 1]:
                parts = {
                    part: data.get(f"{part}_{letter}", "")
                    for part in ("subject", "from_name", "body")
                }
                if not any(parts.values()):
                    self.add_error(
                        f"subject_{letter}",
                        _("Give this variant a subject, a from name or a body of its own."),
                    )
                for part in ("subject", "body"):
                    problems = render.template_problems(parts[part])
                    if part == "body":
                        problems += selectors.segment_block_problems([parts[part]], self.user)
                    if parts[part] and problems:
                        self.add_error(f"{part}_{letter}", problems)
            percent = data.get("ab_test_percent") or 0
            if percent < 1 or percent * n > 100:
                self.add_error(
                    "ab_test_percent",
                    _("Choose a sample between 1%% and %(max)s%% per variant.") % {"max": 100 // n},
                )
        if not data.get("segment") and not data.get("person_list"):
            self.add_error("segment", _("Choose a segment or a list to send to."))
        return data

    def variants(self) -> list[dict]:
        d = self.cleaned_data
        out = [{"subject": "", "from_name": "", "body": ""}]
        for letter in VARIANT_LETTERS:
            out.append(
                {part: d.get(f"{part}_{letter}", "") for part in ("subject", "from_name", "body")}
            )
        return out


class FromAddressForm(forms.ModelForm):
    class Meta:
        model = FromAddress
        fields = ["area", "email", "name"]
        help_texts = {
            "area": _(
                "Blank: for national mailings. An address set for an area may be used by "
                "mailings of that area and every area below it."
            )
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = areas_visible_to(user)
        self.fields["area"].required = False

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()


class SendForm(forms.Form):
    when = forms.DateTimeField(
        label=_("Send at (blank: now)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
    )
    confirm = forms.BooleanField(label=_("I have checked the preview and the recipient count."))


MAX_TEST_ADDRESSES = 5


class TestSendForm(forms.Form):
    """Where a test goes: up to five addresses of staff users (blank: your own)."""

    addresses = forms.CharField(
        label=_("Send the test to"),
        required=False,
        help_text=_(
            "Up to five staff addresses, separated by commas or spaces. Blank: your own address."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_addresses(self) -> list[str]:
        raw = [a for a in re.split(r"[\s,;]+", self.cleaned_data["addresses"] or "") if a]
        addresses = list({a.lower(): a for a in raw}.values())
        if not addresses:
            return [self.user.email]
        if len(addresses) > MAX_TEST_ADDRESSES:
            raise forms.ValidationError(
                _("A test can go to at most %(n)s addresses.") % {"n": MAX_TEST_ADDRESSES}
            )
        others = selectors.not_staff_addresses(addresses, self.user)
        if others:
            raise forms.ValidationError(
                _("Tests go only to staff users' addresses; these are not: %(list)s")
                % {"list": ", ".join(others)}
            )
        return addresses


class PreferencesForm(forms.Form):
    categories = forms.MultipleChoiceField(
        label=CATEGORIES_QUESTION,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    unsubscribe_all = forms.BooleanField(label=_("Unsubscribe me from all email"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["categories"].choices = category_choices()


def category_choices() -> list[tuple[str, str]]:
    """A preference page's category boxes: each category's name and what it brings."""
    return [
        (c.key, f"{c.name} — {c.description}" if c.description else c.name) for c in categories()
    ]


class EmailCategoryForm(forms.ModelForm):
    class Meta:
        model = EmailCategory
        fields = ["name", "key", "description", "order"]
        help_texts = {"order": _("Lower numbers are listed first.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["order"].required = False
        if self.instance.pk:
            self.fields["key"].disabled = True

    def clean_order(self):
        return self.cleaned_data.get("order") or 0


class WinnerForm(forms.Form):
    variant = forms.IntegerField(min_value=0, max_value=3)


class TemplateSaveForm(forms.Form):
    name = forms.CharField(label=_("Template name"), max_length=150)
