"""The low-level Django admin, for superusers only (at /django-admin/).

It is not the staff interface. Logging in goes through Clarion's own throttled login
and two-factor; the audit log is read-only here as everywhere.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from .models import AuditEntry, User


def _superuser_only(request: HttpRequest) -> bool:
    return bool(request.user.is_active and request.user.is_superuser)


def _login_through_clarion(request: HttpRequest, extra_context=None):
    """The admin's own login form would skip throttling and two-factor: send people to
    Clarion's login instead. A logged-in user who is not a superuser is refused rather
    than sent round in a loop."""
    if request.user.is_authenticated:
        raise PermissionDenied
    target = request.GET.get("next") or reverse("admin:index")
    return redirect(f"{reverse('core:login')}?{urlencode({'next': target})}")


admin.site.has_permission = _superuser_only
admin.site.login = _login_through_clarion
admin.site.site_header = _("Clarion low-level admin")
admin.site.site_title = _("Clarion admin")


class UserCreationForm(forms.ModelForm):
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)

    class Meta:
        model = User
        fields = ["email", "name", "role", "area"]

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("A staff user with this email already exists."))
        return email

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        user.set_password(self.cleaned_data["password"])
        if commit:
            user.save()
        return user


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    add_form = UserCreationForm
    ordering = ["email"]
    list_display = ["email", "name", "role", "area", "is_active", "is_superuser"]
    list_filter = ["role", "is_active", "is_superuser"]
    search_fields = ["email", "name"]
    readonly_fields = ["last_login", "date_joined"]
    autocomplete_fields = ["area"]
    fieldsets = [
        (None, {"fields": ["email", "password", "name"]}),
        (_("Access"), {"fields": ["role", "area", "is_active", "is_staff", "is_superuser"]}),
        (_("Dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "password", "name", "role", "area"]})
    ]
    filter_horizontal: list[str] = []


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor_email", "action", "summary", "ip_address"]
    list_filter = ["action"]
    search_fields = ["actor_email", "summary", "object_id"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
