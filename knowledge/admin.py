from django.contrib import admin

from .models import Document


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ("name", "knowledge", "status", "size", "created_at", "processed_at")
    list_filter = ("status",)
    search_fields = ("name", "knowledge__name")
    raw_id_fields = ("knowledge",)
    readonly_fields = ("session_id", "created_at", "processed_at")
