"""Forms for action pages: the public action form (built per page) and staff forms."""

from __future__ import annotations

import re
import unicodedata

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clarion.areas.postcodes import InvalidPostcode, normalise_postcode
from clarion.core import hashing
from clarion.core.content import video_embed_url
from clarion.core.money import (
    MoneyError,
    format_money,
    max_pence,
    parse_money,
    plain_amount,
    to_pence,
)
from clarion.people.models import CustomField
from clarion.people.normalise import InvalidEmail, looks_like_formula, normalise_email

from .models import ActionPage

# Between suggested amounts: a comma followed by a space, a semicolon or a new line.
AMOUNT_SEPARATOR = re.compile(r",\s+|;|\n")
QUESTION_KINDS = ("text", "choice", "multi", "yesno", "number")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")


def check_text(value: str, *, label: str) -> str:
    """Reject what a person could not have meant to type: control characters and the
    replacement character left by a badly encoded form post."""
    if _CONTROL.search(value or ""):
        raise ValidationError(
            _("%(label)s contains characters we can't read. Please type it again.")
            % {"label": label}
        )
    return unicodedata.normalize("NFC", value or "")


def check_name(value: str, *, label: str) -> str:
    value = check_text(value, label=label).strip()
    if looks_like_formula(value):
        raise ValidationError(_("%(label)s can't start with =, +, - or @.") % {"label": label})
    if "<" in value or ">" in value:
        raise ValidationError(_("%(label)s can't contain < or >.") % {"label": label})
    return value


class _Described:
    """Ties each field's error message to its input for screen readers
    (aria-describedby points at the ``<p id="..._error">`` the template prints)."""

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                bound = self[name]
                ids = [f"{bound.auto_id}_error"]
                if self.fields[name].help_text:
                    ids.append(f"{bound.auto_id}_helptext")
                widget.attrs["aria-describedby"] = " ".join(ids)
                widget.attrs["aria-invalid"] = "true"


class ActionForm(_Described, forms.Form):
    """What a supporter fills in. Fields depend on the page's kind and questions."""

    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=100)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=100, required=False)
    email = forms.CharField(
        label=gettext_lazy("Email"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    postcode = forms.CharField(
        label=gettext_lazy("Postcode"),
        max_length=10,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "postal-code"}),
    )
    # Honeypot: hidden from people by CSS and from assistive technology; bots fill it.
    website = forms.CharField(
        label=gettext_lazy("Leave this empty"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )
    # Attribution carried over from the page's address.
    source = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)
    ref = forms.CharField(required=False, max_length=16, widget=forms.HiddenInput)
    referrer = forms.CharField(required=False, max_length=500, widget=forms.HiddenInput)
    mt = forms.CharField(required=False, max_length=500, widget=forms.HiddenInput)
    utm_source = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)
    utm_medium = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)
    utm_campaign = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)
    utm_content = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)
    utm_term = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)

    ATTRIBUTION = (
        "source",
        "ref",
        "referrer",
        "mt",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_content",
        "utm_term",
    )

    def __init__(self, *args, page: ActionPage, **kwargs):
        super().__init__(*args, **kwargs)
        self.page = page
        self.fields["first_name"].widget.attrs["autocomplete"] = "given-name"
        self.fields["last_name"].widget.attrs["autocomplete"] = "family-name"
        if not page.ask_postcode:
            del self.fields["postcode"]
        if page.kind == ActionPage.Kind.LETTER:
            self.fields["letter_subject"] = forms.CharField(
                label=_("Subject"), max_length=200, initial=page.letter_subject or page.title
            )
            self.fields["letter_body"] = forms.CharField(
                label=_("Your letter"),
                max_length=10000,
                initial=page.letter_body,
                widget=forms.Textarea(attrs={"rows": 12}),
                help_text=_("Change it as you like: letters in your own words carry more weight."),
            )
        self.questions = (
            list(page.questions or [])
            if page.kind in (ActionPage.Kind.SIGNUP, ActionPage.Kind.SURVEY)
            else []
        )
        for q in self.questions:
            self.fields[f"q_{q['key']}"] = question_field(q)
        if page.ask_comment:
            self.fields["comment"] = forms.CharField(
                label=_("Comment (optional)"),
                max_length=2000,
                required=False,
                widget=forms.Textarea(attrs={"rows": 3}),
            )
        self.fields["email_consent"] = forms.BooleanField(
            label=page.consent_wording, required=False
        )
        if page.kind in (ActionPage.Kind.PETITION, ActionPage.Kind.PLEDGE):
            self.fields["show_name"] = forms.BooleanField(
                label=_("Show my first name and town on this page"), required=False
            )

    def honeypot_filled(self) -> bool:
        return bool((self.data.get("website") or "").strip())

    def clean_first_name(self):
        return check_name(self.cleaned_data["first_name"], label=_("First name"))

    def clean_last_name(self):
        return check_name(self.cleaned_data["last_name"], label=_("Last name"))

    def clean_email(self):
        value = check_text(self.cleaned_data["email"], label=_("Email"))
        try:
            email = normalise_email(value)
        except InvalidEmail:
            raise ValidationError(
                _("Enter a valid email address, like name@example.com.")
            ) from None
        if not email:
            raise ValidationError(_("Enter your email address."))
        return email

    def clean_postcode(self):
        value = check_text(self.cleaned_data.get("postcode", ""), label=_("Postcode")).strip()
        if not value:
            return ""
        try:
            return normalise_postcode(value)
        except InvalidPostcode:
            raise ValidationError(_("Enter a UK postcode, like SW1A 1AA.")) from None

    def clean_comment(self):
        return check_text(self.cleaned_data.get("comment", ""), label=_("Comment")).strip()

    def clean_letter_subject(self):
        return check_text(self.cleaned_data["letter_subject"], label=_("Subject")).strip()

    def clean_letter_body(self):
        return check_text(self.cleaned_data["letter_body"], label=_("Your letter")).strip()

    def clean(self):
        cleaned = super().clean()
        for name in self.ATTRIBUTION:
            value = cleaned.get(name) or ""
            cleaned[name] = _CONTROL.sub("", value).strip()
        for q in self.questions:
            name = f"q_{q['key']}"
            if isinstance(cleaned.get(name), str):
                try:
                    cleaned[name] = check_text(cleaned[name], label=q["label"]).strip()
                except ValidationError as exc:
                    self.add_error(name, exc)
        return cleaned

    def answers(self) -> tuple[dict, dict]:
        """(answers for the submission, custom field values for the person)."""
        answers, custom = {}, {}
        for q in self.questions:
            value = self.cleaned_data.get(f"q_{q['key']}")
            if q.get("kind") == "yesno":
                value = {"yes": True, "no": False}.get(value)
            elif q.get("kind") == "number" and value is not None:
                value = int(value) if value == value.to_integral_value() else str(value)
            if value in (None, "", []):
                continue
            answers[q["key"]] = value
            if q.get("custom_field"):
                custom[q["custom_field"]] = ", ".join(value) if isinstance(value, list) else value
        return answers, custom


def question_field(q: dict) -> forms.Field:
    label, required, kind = q["label"], bool(q.get("required")), q.get("kind", "text")
    choices = [(c, c) for c in q.get("choices") or []]
    if kind == "choice":
        return forms.ChoiceField(
            label=label, required=required, choices=choices, widget=forms.RadioSelect
        )
    if kind == "multi":
        return forms.MultipleChoiceField(
            label=label, required=required, choices=choices, widget=forms.CheckboxSelectMultiple
        )
    if kind == "yesno":
        return forms.ChoiceField(
            label=label,
            required=required,
            choices=[("yes", _("Yes")), ("no", _("No"))],
            widget=forms.RadioSelect,
        )
    if kind == "number":
        return forms.DecimalField(label=label, required=required, max_digits=12, decimal_places=2)
    return forms.CharField(label=label, required=required, max_length=1000)


class DonationForm(ActionForm):
    """The public donation form: the person's details plus amount and frequency."""

    amount = forms.ChoiceField(
        label=gettext_lazy("Amount"), required=False, widget=forms.RadioSelect
    )
    other_amount = forms.CharField(
        label=gettext_lazy("Other amount (£)"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    frequency = forms.ChoiceField(
        label=gettext_lazy("How often"),
        initial="once",
        widget=forms.RadioSelect,
        choices=[("once", gettext_lazy("Once")), ("monthly", gettext_lazy("Monthly"))],
    )

    MIN_PENCE = 100

    @staticmethod
    def max_pence() -> int:
        # One limit for the form and the donations service (CLARION_DONATION_MAX_PENCE).
        return max_pence()

    def __init__(self, *args, page: ActionPage, **kwargs):
        super().__init__(*args, page=page, **kwargs)
        amounts = [int(a) for a in page.suggested_amounts or [] if str(a).isdigit()]
        self.fields["amount"].choices = [
            (str(a), money_label(a, page.currency)) for a in amounts
        ] + [("other", _("Other amount"))]
        # One amount chosen when the form opens (the second, as donation pages usually
        # put the one they hope for there); "once" is chosen for how often.
        if amounts:
            self.fields["amount"].initial = str(amounts[1] if len(amounts) > 1 else amounts[0])
        self.fields["other_amount"].help_text = _(
            "Typing an amount here replaces the one chosen above."
        )
        if page.currency != "GBP":
            self.fields["other_amount"].label = _("Other amount (%(currency)s)") % {
                "currency": page.currency
            }
        if not page.allow_monthly:
            del self.fields["frequency"]
        self.fields.pop("show_name", None)
        # Order: amount first, then the person.
        order = ["amount", "other_amount", "frequency"]
        self.order_fields(order + [f for f in self.fields if f not in order])

    def clean(self):
        cleaned = super().clean()
        choice = cleaned.get("amount") or ""
        other = (cleaned.get("other_amount") or "").strip()
        pence = None
        # A typed amount wins over the chosen button: one is chosen for the supporter
        # when the form opens, and typing an amount is the clearer wish.
        if choice and choice != "other" and not other:
            pence = int(choice)
        elif other:
            try:
                # parse_money refuses anything above the online maximum itself.
                pence = to_pence(
                    parse_money(other, currency=self.page.currency, maximum_pence=self.max_pence())
                )
            except MoneyError as exc:
                self.add_error("other_amount", exc.message)
                return cleaned
        if pence is None:
            self.add_error("amount", _("Choose an amount or enter another amount."))
        elif pence < self.MIN_PENCE:
            self.add_error("other_amount", _("The smallest gift we can take is 1.00."))
        elif pence > self.max_pence():
            self.add_error(
                "other_amount",
                _(
                    "The largest donation we can take online is %(amount)s; please contact us about a larger gift."
                )
                % {"amount": format_money(self.max_pence(), self.page.currency)},
            )
        cleaned["amount_pence"] = pence
        cleaned["recurring"] = cleaned.get("frequency") == "monthly"
        return cleaned


def money_label(pence: int, currency: str = "GBP") -> str:
    symbol = {"GBP": "£", "EUR": "€", "USD": "$"}.get(currency, currency + " ")
    pounds, rest = divmod(int(pence), 100)
    return f"{symbol}{pounds:,}" if not rest else f"{symbol}{pounds:,}.{rest:02d}"


# --- Staff ----------------------------------------------------------------------------


def parse_questions(text: str) -> list[dict]:
    """Questions typed one per line: ``Label | kind | choice, choice | required | field``.

    kind is text, choice, multi, yesno or number (default text); "required" (or
    "yes") makes it required; field names a custom field the answer is saved to.
    """
    questions, keys = [], set()
    for n, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = [p.strip() for p in line.split("|")]
        parts += [""] * (5 - len(parts))
        label, kind, choices, required, custom = parts[:5]
        kind = (kind or "text").lower()
        if not label:
            raise ValidationError(_("Line %(n)s: the question needs a label.") % {"n": n})
        if kind not in QUESTION_KINDS:
            raise ValidationError(
                _("Line %(n)s: the kind must be one of %(kinds)s.")
                % {"n": n, "kinds": ", ".join(QUESTION_KINDS)}
            )
        options = [c.strip() for c in choices.split(",") if c.strip()]
        if kind in ("choice", "multi") and len(options) < 2:
            raise ValidationError(
                _("Line %(n)s: give at least two choices, separated by commas.") % {"n": n}
            )
        if custom and not CustomField.objects.filter(key=custom).exists():
            raise ValidationError(
                _("Line %(n)s: there is no custom field %(key)s.") % {"n": n, "key": custom}
            )
        key = slugify(label)[:40].replace("-", "_") or f"q{n}"
        while key in keys:
            key += "_2"
        keys.add(key)
        questions.append(
            {
                "key": key,
                "label": label[:200],
                "kind": kind,
                "choices": options[:30],
                "required": required.lower() in {"required", "yes", "y", "true", "1"},
                "custom_field": custom,
            }
        )
    return questions


def format_questions(questions: list[dict]) -> str:
    lines = []
    for q in questions or []:
        lines.append(
            " | ".join(
                [
                    q["label"],
                    q.get("kind", "text"),
                    ", ".join(q.get("choices") or []),
                    "required" if q.get("required") else "",
                    q.get("custom_field", ""),
                ]
            ).rstrip(" |")
        )
    return "\n".join(lines)


# The builder's fields that belong to one kind of page; a form for a kind has only its own.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    ActionPage.Kind.PETITION: (),
    ActionPage.Kind.PLEDGE: ("pledge_text",),
    ActionPage.Kind.SIGNUP: ("questions_text",),
    ActionPage.Kind.LETTER: (
        "target_name",
        "target_role",
        "target_email",
        "letter_subject",
        "letter_body",
    ),
    ActionPage.Kind.SURVEY: ("questions_text",),
    ActionPage.Kind.DONATION: ("amounts_text", "allow_monthly", "currency"),
}
KIND_HELP = {
    ActionPage.Kind.PETITION: gettext_lazy("People add their name to a demand; the count grows."),
    ActionPage.Kind.PLEDGE: gettext_lazy("People promise to do something: “I pledge to …”."),
    ActionPage.Kind.SIGNUP: gettext_lazy(
        "Collect volunteers or interest, with your own questions."
    ),
    ActionPage.Kind.LETTER: gettext_lazy(
        "People email a decision-maker a letter they can edit first."
    ),
    ActionPage.Kind.SURVEY: gettext_lazy("Ask questions and see the answers tallied."),
    ActionPage.Kind.DONATION: gettext_lazy("Raise money, one-off or monthly."),
}
# The builder in sections, in order; ``None`` stands for the kind's own fields.
PAGE_SECTIONS: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    (
        gettext_lazy("The page"),
        ("title", "slug", "summary", "body", "hero_image", "hero_alt", "video_url"),
    ),
    (gettext_lazy("Details for this kind of page"), None),
    (gettext_lazy("Who and when"), ("area", "starts_at", "ends_at", "goal")),
    (
        gettext_lazy("The form"),
        (
            "ask_postcode",
            "ask_comment",
            "consent_wording",
            "button_label",
            "double_opt_in",
            "tags",
            "list_name",
        ),
    ),
    (
        gettext_lazy("After someone acts"),
        ("thanks_message", "share_text", "next_step", "next_page", "next_url"),
    ),
    (gettext_lazy("Status"), ("status",)),
)


def unique_slug(title: str, *, exclude_pk: int | None = None) -> str:
    """A free web address made from ``title`` (``-2``, ``-3`` … added when taken)."""
    base = slugify(title)[:70].strip("-") or "page"
    taken = ActionPage.objects.exclude(pk=exclude_pk)
    slug, n = base, 1
    while taken.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def kind_choices() -> list[tuple[str, str, str]]:
    """Each kind as (value, label, what it is for), for the builder's first step."""
    return [(value, label, KIND_HELP[value]) for value, label in ActionPage.Kind.choices]


class KindChoiceForm(forms.Form):
    """The builder's first step: what kind of page."""

    kind = forms.ChoiceField(
        label=gettext_lazy("What kind of page?"),
        choices=ActionPage.Kind.choices,
        widget=forms.RadioSelect,
    )


class PageForm(_Described, forms.ModelForm):
    video_url = forms.URLField(
        label=gettext_lazy("Video"),
        required=False,
        assume_scheme="https",
        help_text=gettext_lazy("A YouTube or Vimeo address; it is embedded privately."),
    )
    next_url = forms.URLField(
        label=gettext_lazy("Next step link"), required=False, assume_scheme="https"
    )
    questions_text = forms.CharField(
        label=gettext_lazy("Questions"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=gettext_lazy(
            "Sign-up forms and surveys: one per line, as Label | kind | choices | required | custom field. "
            "Kinds: text, choice, multi, yesno, number."
        ),
    )
    amounts_text = forms.CharField(
        label=gettext_lazy("Suggested amounts"),
        required=False,
        help_text=gettext_lazy(
            "Donation pages: amounts separated by a comma and a space, e.g. 5, 10, 25.50."
        ),
    )

    class Meta:
        model = ActionPage
        fields = [
            "kind",
            "title",
            "slug",
            "status",
            "summary",
            "body",
            "hero_image",
            "hero_alt",
            "area",
            "starts_at",
            "ends_at",
            "goal",
            "pledge_text",
            "ask_postcode",
            "ask_comment",
            "target_name",
            "target_role",
            "target_email",
            "letter_subject",
            "letter_body",
            "allow_monthly",
            "currency",
            "consent_wording",
            "button_label",
            "thanks_message",
            "share_text",
            "next_step",
            "next_page",
            "tags",
            "list_name",
            "double_opt_in",
        ]
        widgets = {
            "starts_at": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
            "ends_at": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
            "body": forms.Textarea(attrs={"rows": 10}),
            "letter_body": forms.Textarea(attrs={"rows": 8}),
            "thanks_message": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, user, kind: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        from clarion.areas.selectors import areas_visible_to

        from .selectors import pages_for

        self.user = user
        self.fields["area"].queryset = areas_visible_to(user)
        if user.scope_area is not None:
            self.fields["area"].required = True
            self.fields["area"].empty_label = None
        next_pages = pages_for(user).exclude(status=ActionPage.Status.DRAFT)
        if self.instance.pk:
            next_pages = next_pages.exclude(pk=self.instance.pk)
        self.fields["next_page"].queryset = next_pages
        self.fields["questions_text"].initial = format_questions(self.instance.questions)
        self.fields["video_url"].initial = self.instance.video_url
        self.fields["next_url"].initial = self.instance.next_url
        self.fields["amounts_text"].initial = ", ".join(
            plain_amount(a) for a in self.instance.suggested_amounts or []
        )
        # The kind is chosen first (or is the page's own) and fixed: the form for a kind
        # has only that kind's fields, so a petition never shows a letter's target.
        self.kind = self.instance.kind if self.instance.pk else kind
        if self.kind not in KIND_FIELDS:
            self.kind = ActionPage.Kind.PETITION
        del self.fields["kind"]
        own = set(KIND_FIELDS[self.kind])
        for name in {n for names in KIND_FIELDS.values() for n in names} - own:
            del self.fields[name]
        if not self.instance.pk:
            # A new page starts as a draft; the page's Publish button sets it live.
            del self.fields["status"]
        self.fields["slug"].required = False
        self.fields["slug"].help_text = _(
            "The end of the page's address. Leave empty to make one from the title."
        )
        self.order_fields(
            [
                "kind",
                "title",
                "slug",
                "status",
                "summary",
                "body",
                "hero_image",
                "hero_alt",
                "video_url",
                "area",
                "starts_at",
                "ends_at",
                "goal",
                "pledge_text",
                "ask_postcode",
                "ask_comment",
                "questions_text",
                "target_name",
                "target_role",
                "target_email",
                "letter_subject",
                "letter_body",
                "amounts_text",
                "allow_monthly",
                "currency",
                "consent_wording",
                "button_label",
                "thanks_message",
                "share_text",
                "next_step",
                "next_page",
                "next_url",
            ]
        )

    def clean_video_url(self):
        url = self.cleaned_data.get("video_url", "")
        if url and video_embed_url(url) is None:
            raise ValidationError(_("Give a YouTube or Vimeo video address."))
        return url

    def clean_questions_text(self):
        return parse_questions(self.cleaned_data.get("questions_text", ""))

    @staticmethod
    def parse_amounts(text: str, currency: str) -> list[int]:
        """Suggested amounts in pence, from amounts separated by a comma and a space
        (or a semicolon or a new line): a comma with a digit straight after it could be
        a thousands separator, so "5,100" is refused rather than read as one amount or
        as two."""
        if len(text) > 500:
            raise ValidationError(_("Give at most eight amounts."))
        amounts = []
        for part in AMOUNT_SEPARATOR.split(text):
            part = part.strip()
            if not part:
                continue
            if "," in part:
                raise ValidationError(
                    _(
                        "%(value)s could be one amount or several: separate amounts with a "
                        "comma and a space, like 5, 10, 25, and write thousands without a "
                        "comma, like 1000."
                    )
                    % {"value": part}
                )
            try:
                amount = parse_money(part, currency=currency)
            except MoneyError as exc:
                raise ValidationError(
                    _("%(value)s: %(problem)s") % {"value": part, "problem": exc.message}
                ) from None
            amounts.append(to_pence(amount))
        return amounts[:8]

    def sections(self) -> list[tuple[str, list]]:
        """The form's bound fields in the builder's sections (empty sections left out)."""
        result = []
        for title, names in PAGE_SECTIONS:
            if names is None:
                title = _("%(kind)s details") % {"kind": ActionPage.Kind(self.kind).label}
                names = KIND_FIELDS[self.kind]
            fields = [self[name] for name in names if name in self.fields]
            if fields:
                result.append((title, fields))
        return result

    def clean_slug(self):
        slug = self.cleaned_data.get("slug") or ""
        if not slug:
            title = (self.data.get(self.add_prefix("title")) or "").strip()
            slug = unique_slug(title, exclude_pk=self.instance.pk)
        return slug

    def clean(self):
        cleaned = super().clean()
        kind = self.kind
        if "amounts_text" in cleaned:
            # Read here rather than in clean_amounts_text: the currency is cleaned later.
            try:
                cleaned["amounts_text"] = self.parse_amounts(
                    cleaned["amounts_text"] or "", cleaned.get("currency") or "GBP"
                )
            except ValidationError as exc:
                self.add_error("amounts_text", exc)
        if kind == ActionPage.Kind.LETTER and not cleaned.get("target_email"):
            self.add_error("target_email", _("A letter page needs the target's email address."))
        if kind == ActionPage.Kind.SURVEY and not cleaned.get("questions_text"):
            self.add_error("questions_text", _("A survey needs at least one question."))
        if (
            kind == ActionPage.Kind.DONATION
            and "amounts_text" in cleaned
            and not cleaned["amounts_text"]
        ):
            self.add_error("amounts_text", _("Give at least one suggested amount."))
        step = cleaned.get("next_step")
        if step in (ActionPage.NextStep.PAGE, ActionPage.NextStep.DONATE) and not cleaned.get(
            "next_page"
        ):
            self.add_error("next_page", _("Choose the page for the next step."))
        if step == ActionPage.NextStep.MEMBER and not cleaned.get("next_url"):
            self.add_error("next_url", _("Give the link where people join."))
        starts, ends = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("The closing time must be after the opening time."))
        return cleaned

    def save(self, commit=True):
        page = super().save(commit=False)
        page.kind = self.kind
        page.video_url = self.cleaned_data.get("video_url") or ""
        page.next_url = self.cleaned_data.get("next_url") or ""
        if "questions_text" in self.fields:
            page.questions = self.cleaned_data.get("questions_text") or []
        if "amounts_text" in self.fields:
            page.suggested_amounts = self.cleaned_data.get("amounts_text") or []
        return page


class InvalidateForm(_Described, forms.Form):
    ip = forms.CharField(
        label=gettext_lazy("IP address or IP hash"),
        required=False,
        max_length=64,
        help_text=gettext_lazy(
            "An address (it is hashed the same way) or a hash from the dashboard."
        ),
    )
    email_domain = forms.CharField(
        label=gettext_lazy("Email domain"), required=False, max_length=254
    )
    since = forms.DateTimeField(
        label=gettext_lazy("From"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    until = forms.DateTimeField(
        label=gettext_lazy("Until"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=200)

    def clean_ip(self):
        from ipaddress import ip_address

        value = check_text(self.cleaned_data.get("ip", ""), label=_("IP address")).strip()
        if not value:
            return ""
        if re.fullmatch(r"[0-9a-f]{32}", value):
            return value
        try:
            return hashing.ip_hash(str(ip_address(value)))
        except ValueError:
            raise ValidationError(_("Enter an IP address or a 32-character hash.")) from None

    def clean_email_domain(self):
        value = check_text(self.cleaned_data.get("email_domain", ""), label=_("Email domain"))
        return value.strip().lower().lstrip("@")

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not any(
            cleaned.get(k) for k in ("ip", "email_domain", "since", "until")
        ):
            raise ValidationError(_("Choose an IP address, an email domain or a time window."))
        return cleaned
