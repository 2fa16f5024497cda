from __future__ import annotations

from django.contrib import admin

from .models import Area, Postcode
from .services import area_create, area_move


@admin.register(Area)
class AreaAdmin(admin.ModelAdmin):
    """Saving goes through the area services so the materialised paths stay right."""

    list_display = ["name", "code", "kind", "parent", "depth"]
    list_filter = ["kind", "depth"]
    search_fields = ["name", "code"]
    readonly_fields = ["path", "depth"]
    autocomplete_fields = ["parent"]

    def save_model(self, request, obj, form, change):
        if not change:
            created = area_create(code=obj.code, name=obj.name, kind=obj.kind, parent=obj.parent)
            obj.pk, obj.path, obj.depth = created.pk, created.path, created.depth
            return
        old_parent_id = Area.objects.filter(pk=obj.pk).values_list("parent_id", flat=True).first()
        obj.save(update_fields=["code", "name", "kind"])
        if old_parent_id != obj.parent_id:
            area_move(area=obj, parent=obj.parent)

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deleting a node would orphan paths below it; areas are retired by moving.
        return False


@admin.register(Postcode)
class PostcodeAdmin(admin.ModelAdmin):
    list_display = ["postcode", "area", "latitude", "longitude"]
    search_fields = ["postcode"]
    autocomplete_fields = ["area"]
