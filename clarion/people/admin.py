"""People in the low-level Django admin (superusers only): for inspection and repair.

Supporters are created and changed through Clarion's own pages and services, which
keep the timeline, matching and normalisation right; here they are read-only.
"""

from __future__ import annotations

from django.contrib import admin

from .models import (
    Activity,
    ConsentRecord,
    CustomField,
    ImportJob,
    Person,
    PersonList,
    Segment,
    Suppression,
    Tag,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Person)
class PersonAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "first_name",
        "last_name",
        "email",
        "postcode",
        "area",
        "email_status",
        "created_at",
    ]
    list_filter = ["email_status", "membership_status"]
    search_fields = ["email", "last_name", "postcode"]
    list_select_related = ["area"]
    show_full_result_count = False  # no full count on millions of rows


@admin.register(Activity)
class ActivityAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "person", "kind", "summary"]
    list_filter = ["kind"]
    raw_id_fields = ["person"]
    show_full_result_count = False


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "person", "channel", "granted", "source"]
    raw_id_fields = ["person"]
    show_full_result_count = False


@admin.register(Suppression)
class SuppressionAdmin(ReadOnlyAdmin):
    list_display = ["email_hash", "reason", "created_at"]
    search_fields = ["email_hash"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]


@admin.register(PersonList)
class PersonListAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin):
    list_display = ["label", "key", "kind"]


@admin.register(Segment)
class SegmentAdmin(ReadOnlyAdmin):
    list_display = ["name", "owner_area", "last_count", "modified_at"]
    search_fields = ["name"]


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdmin):
    list_display = [
        "original_name",
        "status",
        "created_count",
        "updated_count",
        "rejected_count",
        "created_at",
    ]
    list_filter = ["status"]
