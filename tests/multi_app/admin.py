from django.contrib import admin

from progress_tracking.admin import ProgressAdminMixin

from .models import Export, Import


@admin.register(Export)
class ExportAdmin(ProgressAdminMixin, admin.ModelAdmin):
    """One-line adoption: the mixin adds every progress column, filter and action."""


@admin.register(Import)
class ImportAdmin(ProgressAdminMixin, admin.ModelAdmin):
    """A host admin with its own columns, filter, search and fields keeps them all."""

    list_display = ("title", "created_by")
    list_filter = ("created_by",)
    search_fields = ("title",)
    fields = ("title", "created_by")
    actions = ["mark_reviewed"]

    @admin.action(description="Mark reviewed")
    def mark_reviewed(self, request, queryset):
        queryset.update(title="reviewed")
