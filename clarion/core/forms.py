from __future__ import annotations

import datetime as dt

from django import forms
from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import AuditEntry, User
from .ratelimit import ratelimit_count

LOGIN_EMAIL_SCOPE = "login-email"
LOGIN_IP_SCOPE = "login-ip"


def login_ip_max_failures() -> int:
    """Failures one address may make per window: enough for a shared office NAT."""
    return getattr(settings, "LOGIN_MAX_IP_FAILURES", settings.LOGIN_MAX_FAILURES * 4)


class LoginForm(forms.Form):
    """Email and password, refused while the email or the address is locked out.

    The lockout message is the same whether or not the account exists.
    """

    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    error_messages = {
        "invalid": _(
            "That email and password do not match an active account. Check them and try again."
        ),
        "locked": _(
            "Too many failed attempts. For your security, logging in is paused for a while; "
            "try again in %(minutes)s minutes."
        ),
    }

    def __init__(self, request, *args, **kwargs):
        self.request = request
        self.user: User | None = None
        self.locked = False
        super().__init__(*args, **kwargs)

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def is_locked(self, email: str, ip: str) -> bool:
        return (
            ratelimit_count(scope=LOGIN_EMAIL_SCOPE, ident=email) >= settings.LOGIN_MAX_FAILURES
            or ratelimit_count(scope=LOGIN_IP_SCOPE, ident=ip) >= login_ip_max_failures()
        )

    def locked_error(self) -> forms.ValidationError:
        minutes = max(1, round(settings.LOGIN_LOCKOUT_SECONDS / 60))
        return forms.ValidationError(
            self.error_messages["locked"], code="locked", params={"minutes": minutes}
        )

    def clean(self):
        cleaned = super().clean()
        email, password = cleaned.get("email"), cleaned.get("password")
        if not email or not password:
            return cleaned
        from .services import client_ip

        if self.is_locked(email, client_ip(self.request) or "unknown"):
            self.locked = True
            raise self.locked_error()
        self.user = authenticate(self.request, email=email, password=password)
        if self.user is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return cleaned


class TokenForm(forms.Form):
    """One code from an authenticator app (six digits) or a backup code."""

    code = forms.CharField(
        label=_("Code"),
        max_length=16,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "text",
                "autofocus": True,
                "spellcheck": "false",
            }
        ),
    )

    def clean_code(self) -> str:
        return "".join(self.cleaned_data["code"].split()).lower()


class StaffUserForm(forms.ModelForm):
    """Role and area for a staff user; explains instead of hitting the database rule."""

    class Meta:
        model = User
        fields = ["name", "role", "area"]
        help_texts = {
            "role": _(
                "National admins see and change everything. Area organisers see and change "
                "people in their area only. Analysts read and change nothing."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The area field's own queryset (areas.Area through the foreign key), in tree order.
        self.fields["area"].queryset = self.fields["area"].queryset.order_by("path")
        self.fields["area"].help_text = _(
            "Required for area organisers. Analysts with an area read only that area; without one, everything."
        )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("role") == User.Role.ORGANISER and not cleaned.get("area"):
            self.add_error(
                "area", _("An area organiser must have an area. Choose the area they organise.")
            )
        return cleaned


class StaffUserCreateForm(StaffUserForm):
    email = forms.EmailField(label=_("Email"), max_length=254)
    password = forms.CharField(
        label=_("Initial password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_(
            "Optional. Leave empty to get a one-time link the new user opens to choose "
            "their own password. Nothing is emailed."
        ),
    )

    class Meta(StaffUserForm.Meta):
        fields = ["email", "name", "role", "area"]

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("A staff user with this email already exists."))
        return email

    def clean_password(self) -> str:
        password = self.cleaned_data.get("password") or ""
        if password:
            candidate = User(
                email=self.cleaned_data.get("email", ""), name=self.data.get("name", "")
            )
            password_validation.validate_password(password, candidate)
        return password


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(
        label=_("Action"),
        required=False,
        choices=[("", _("Any action")), *AuditEntry.Action.choices],
    )
    actor = forms.CharField(label=_("Staff email"), required=False, max_length=254)
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return cleaned

    @staticmethod
    def day_start(day: dt.date) -> dt.datetime:
        """Midnight at the start of ``day`` in the organisation's time zone."""
        return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
