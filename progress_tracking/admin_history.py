"""Admin of the history: a read-only list and a per-day statistics page with its chart."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import history_stats
from .models import ProgressHistory

if TYPE_CHECKING:  # ModelAdmin is generic in django-stubs only
    HistoryAdminBase = admin.ModelAdmin[ProgressHistory]
else:
    HistoryAdminBase = admin.ModelAdmin

DEFAULT_DAYS = 30
MAX_DAYS = 366


def owner_labels(ids: list[str]) -> dict[str, str]:
    """Each owner id with the user's name (or the id alone if that user is gone)."""
    labels = {owner: owner for owner in ids}
    try:
        users = get_user_model()._default_manager.filter(pk__in=ids)
        for user in users:
            labels[str(user.pk)] = str(user)
    except (ValueError, TypeError):  # ids of another user model's key type
        pass
    return labels


class OwnerFilter(admin.SimpleListFilter):
    title = _("owner")
    parameter_name = "owner"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        ids = owners()
        labels = owner_labels(ids)
        return [(owner, labels[owner]) for owner in ids]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[ProgressHistory]
    ) -> QuerySet[ProgressHistory]:
        value = self.value()
        return queryset.filter(owner_id=value) if value is not None else queryset


def owners() -> list[str]:
    found = ProgressHistory._default_manager.exclude(owner_id="").values_list("owner_id", flat=True)
    return sorted(set(found))


def model_labels() -> list[str]:
    found = ProgressHistory._default_manager.values_list("model_label", flat=True)
    return sorted(set(found))


@admin.register(ProgressHistory)
class ProgressHistoryAdmin(HistoryAdminBase):
    """Finished sessions, read-only; "Statistics" shows them per day."""

    list_display = (
        "finished_at",
        "status",
        "model_label",
        "object_id",
        "owner_id",
        "duration_display",
        "total_files",
        "failed_files",
        "message",
    )
    list_filter = ("status", "model_label", OwnerFilter, "finished_at")
    search_fields = ("=session_id", "=object_id", "message", "error")
    date_hierarchy = "finished_at"
    change_list_template = "admin/progress_tracking/progresshistory/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: ProgressHistory | None = None
    ) -> bool:
        return False

    @admin.display(description=_("duration"), ordering="duration_seconds")
    def duration_display(self, obj: ProgressHistory) -> str:
        if obj.duration_seconds is None:
            return "—"
        return str(timedelta(seconds=round(obj.duration_seconds)))

    def get_urls(self) -> list[URLPattern]:
        stats = path(
            "statistics/",
            self.admin_site.admin_view(self.statistics_view),
            name="progress_tracking_progresshistory_statistics",
        )
        return [stats, *super().get_urls()]

    def statistics_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        days = _days(request.GET.get("days"))
        model = request.GET.get("model") or ""
        owner = request.GET.get("owner") or ""
        today = timezone.localdate()
        first = today - timedelta(days=days - 1)
        records = ProgressHistory._default_manager.filter(
            finished_at__gte=timezone.make_aware(datetime.combine(first, time.min))
        )
        if model:
            records = records.filter(model_label=model)
        if owner:
            records = records.filter(owner_id=owner)
        rows = records.values_list("finished_at", "status", "duration_seconds", "total_files")
        per_day = history_stats.daily(
            history_stats.finished_of(rows, timezone.get_current_timezone()), first, today
        )
        owner_ids = owners()
        labels = owner_labels(owner_ids)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Progress history: statistics"),
            "days": list(reversed(per_day)),
            "chart": history_stats.chart(per_day),
            "total": sum(d.sessions for d in per_day),
            "period": days,
            "periods": (7, 30, 90, 365),
            "models": model_labels(),
            "owners": [(o, labels[o]) for o in owner_ids],
            "model": model,
            "owner": owner,
        }
        return TemplateResponse(
            request, "admin/progress_tracking/progresshistory/statistics.html", context
        )


def _days(value: str | None) -> int:
    try:
        days = int(value) if value else DEFAULT_DAYS
    except ValueError:
        return DEFAULT_DAYS
    return min(MAX_DAYS, max(1, days))
