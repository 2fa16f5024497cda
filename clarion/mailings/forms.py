from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from clarion.people.models import PersonList
from clarion.people.selectors import segments_for

from .models import Mailing
from .sending import render


class MailingForm(forms.ModelForm):
    subject_b = forms.CharField(label=_("Subject B"), max_length=250, required=False)
    subject_c = forms.CharField(label=_("Subject C"), max_length=250, required=False)
    subject_d = forms.CharField(label=_("Subject D"), max_length=250, required=False)
    from_name_b = forms.CharField(label=_("From name B (blank: same as A)"), max_length=100, required=False)

    class Meta:
        model = Mailing
        fields = [
            "name", "category", "segment", "exclude_segment", "person_list", "subject", "preheader",
            "from_name", "from_email", "reply_to", "body_format", "body", "frequency_cap_hours",
            "rate_per_second", "ab_variants", "ab_test_percent", "ab_wait_minutes", "ab_metric", "ab_auto",
        ]
        widgets = {"body": forms.Textarea(attrs={"rows": 16, "class": "mono"})}
        help_texts = {
            "body": _("Markdown or HTML. Merge fields: {{ first_name|default:\"friend\" }}, {{ area }}, "
                      "{{ share_link }}, {{ recruit_count }}, {{ last_gift }}; conditions: "
                      "{% if area %}…{% endif %}. Links to pages are tracked and credit this mailing."),
            "ab_variants": _("1 for no test; 2–4 to test subjects (and from names)."),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        segments = segments_for(user)
        self.fields["segment"].queryset = segments
        self.fields["exclude_segment"].queryset = segments
        self.fields["person_list"].queryset = PersonList.objects.all()
        if self.instance.pk:
            by_index = {v.index: v for v in self.instance.variants.all()}
            for i, letter in ((1, "b"), (2, "c"), (3, "d")):
                if i in by_index:
                    self.fields[f"subject_{letter}"].initial = by_index[i].subject
            if 1 in by_index:
                self.fields["from_name_b"].initial = by_index[1].from_name

    def clean_subject(self):
        value = self.cleaned_data["subject"]
        problems = render.template_problems(value)
        if problems:
            raise forms.ValidationError(problems)
        return value

    def clean_body(self):
        value = self.cleaned_data["body"]
        problems = render.template_problems(value)
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
            for letter in "bcd"[: n - 1]:
                subject = data.get(f"subject_{letter}", "")
                if not subject:
                    self.add_error(f"subject_{letter}", _("Write a subject for this variant."))
                elif render.template_problems(subject):
                    self.add_error(f"subject_{letter}", render.template_problems(subject))
            percent = data.get("ab_test_percent") or 0
            if percent < 1 or percent * n > 100:
                self.add_error("ab_test_percent", _("Choose a sample between 1%% and %(max)s%% per variant.")
                               % {"max": 100 // n})
        if not data.get("segment") and not data.get("person_list"):
            self.add_error("segment", _("Choose a segment or a list to send to."))
        return data

    def variants(self) -> list[dict]:
        d = self.cleaned_data
        out = [{"subject": "", "from_name": "", "body": ""}]
        for letter in "bcd":
            out.append({"subject": d.get(f"subject_{letter}", ""),
                        "from_name": d.get("from_name_b", "") if letter == "b" else "", "body": ""})
        return out


class SendForm(forms.Form):
    when = forms.DateTimeField(label=_("Send at (blank: now)"), required=False,
                               widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                               input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"])
    confirm = forms.BooleanField(label=_("I have checked the preview and the recipient count."))


class PreferencesForm(forms.Form):
    categories = forms.MultipleChoiceField(
        label=_("Send me"), choices=Mailing.Category.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    unsubscribe_all = forms.BooleanField(label=_("Unsubscribe me from all email"), required=False)


class WinnerForm(forms.Form):
    variant = forms.IntegerField(min_value=0, max_value=3)
