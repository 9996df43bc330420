from django.contrib import admin

from progress_tracking.admin import ProgressAdminMixin, ProgressStatusFilter

from .models import Document


@admin.register(Document)
class DocumentAdmin(ProgressAdminMixin, admin.ModelAdmin):
    """How a host gives its own progress model the app's admin columns and actions."""

    list_display = ("title", "owner", *ProgressAdminMixin.progress_list_display)
    list_filter = (ProgressStatusFilter,)
    search_fields = ("title",)
    readonly_fields = ProgressAdminMixin.progress_readonly_fields
    fields = ("title", "owner", *ProgressAdminMixin.progress_readonly_fields)
    raw_id_fields = ("owner",)
