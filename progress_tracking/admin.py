"""Admin for the default Knowledge model, plus a mixin for a host's own progress model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import admin_display, services
from .admin_display import stored_progress
from .conf import app_settings
from .exceptions import SessionNotFound
from .models import (
    FINAL_STATUSES,
    AbstractProgressModel,
    CleanupLease,
    Knowledge,
    ProgressStatus,
)
from .selectors import is_stale, parse_session_id, stale_filter

if TYPE_CHECKING:  # ModelAdmin is generic in django-stubs only
    from django_stubs_ext import StrOrPromise

    KnowledgeAdminBase = admin.ModelAdmin[Knowledge]
    CleanupLeaseAdminBase = admin.ModelAdmin[CleanupLease]
else:
    KnowledgeAdminBase = CleanupLeaseAdminBase = admin.ModelAdmin

# The progress model of whichever admin the mixin is part of.
Rows = QuerySet[AbstractProgressModel]


class ProgressStatusFilter(admin.SimpleListFilter):
    title = _("progress status")
    parameter_name = "progress"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, StrOrPromise]]:
        return [
            *ProgressStatus.choices,
            ("stale", _("Stale (awaiting cleanup)")),
            ("none", _("No progress")),
        ]

    def queryset(self, request: HttpRequest, queryset: Rows) -> Rows:
        # A status lists only sessions readers still see; the ones they treat as gone are
        # under "stale" until the cleanup removes them.
        value = self.value()
        now = timezone.now()
        if value == "none":
            return queryset.filter(progress_session_id=None)
        if value == "stale":
            return queryset.filter(stale_filter(now))
        if value in ProgressStatus.values:
            period = (
                app_settings.FINISHED_TTL if value in FINAL_STATUSES else app_settings.STALE_AFTER
            )
            return queryset.filter(progress_status=value, progress_updated_at__gte=now - period)
        return queryset


def _plus(declared: Sequence[object] | None, extra: Sequence[object]) -> tuple[object, ...]:
    """``declared`` followed by the ``extra`` entries it does not already name."""
    have = tuple(declared or ())
    return have + tuple(item for item in extra if item not in have)


class ProgressAdminMixin:
    """Progress columns, filter, search by session id, read-only fields and actions for any
    progress model's admin, added to whatever the host's ``ModelAdmin`` declares::

        @admin.register(Upload)
        class UploadAdmin(ProgressAdminMixin, admin.ModelAdmin):
            list_display = ("title", "owner")  # the progress columns follow these
    """

    progress_list_display = (
        "progress_status_display",
        "progress_percent",
        "current_file",
        "progress_message",
        "progress_updated_at",
        "progress_session_id",
    )
    progress_readonly_fields = (
        "progress_session_id",
        "progress_status",
        "progress_updated_at",
        "progress_overview",
        "meta_pretty",
    )
    progress_actions = ("clear_progress_action", "mark_failed_action")
    actions: Sequence[Any] | None = list(progress_actions)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Add the progress actions to the host's own ``actions`` (None: no actions at all).
        if self.actions is not None:
            own = list(self.actions)
            self.actions = own + [a for a in self.progress_actions if a not in own]

    def get_list_display(self, request: HttpRequest) -> Any:
        declared = super().get_list_display(request)  # type: ignore[misc]
        return _plus(declared, self.progress_list_display)

    def get_list_filter(self, request: HttpRequest) -> Any:
        declared = super().get_list_filter(request)  # type: ignore[misc]
        return _plus(declared, (ProgressStatusFilter,))

    def get_search_fields(self, request: HttpRequest) -> Any:
        # A search box even where the host declares no search fields; an exact session id
        # is found through its index (get_search_results), a part of one by text.
        declared = super().get_search_fields(request)  # type: ignore[misc]
        return _plus(declared, ("progress_session_id",))

    def get_readonly_fields(
        self, request: HttpRequest, obj: AbstractProgressModel | None = None
    ) -> Any:
        declared = super().get_readonly_fields(request, obj)  # type: ignore[misc]
        return _plus(declared, self.progress_readonly_fields)

    def get_fieldsets(
        self, request: HttpRequest, obj: AbstractProgressModel | None = None
    ) -> list[Any]:
        fieldsets = list(super().get_fieldsets(request, obj))  # type: ignore[misc]
        shown = {
            name
            for _, options in fieldsets
            for entry in options.get("fields", ())
            for name in (entry if isinstance(entry, list | tuple) else (entry,))
        }
        missing = [f for f in self.progress_readonly_fields if f not in shown]
        if missing:
            fieldsets.append((_("Progress"), {"fields": missing}))
        return fieldsets

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        # An exact session id is found through its index, not a LIKE over every row.
        session = parse_session_id(search_term.strip())
        if session is not None:
            return queryset.filter(progress_session_id=session), False
        return super().get_search_results(request, queryset, search_term)  # type: ignore[misc]

    @admin.display(description=_("status"), ordering="progress_status")
    def progress_status_display(self, obj: AbstractProgressModel) -> str:
        label = obj.get_progress_status_display()
        if not label:
            return "—"
        if is_stale(obj.progress_status, obj.progress_updated_at):
            return _("%(status)s (stale)") % {"status": label}
        return str(label)

    @admin.display(description=_("progress"))
    def progress_percent(self, obj: AbstractProgressModel) -> str:
        return admin_display.mini_bar(obj)

    @admin.display(description=_("session"))
    def progress_overview(self, obj: AbstractProgressModel) -> str:
        return admin_display.overview(obj)

    @admin.display(description=_("current file"))
    def current_file(self, obj: AbstractProgressModel) -> str:
        progress = stored_progress(obj)
        return (progress.get("current_file") if progress else None) or "—"

    @admin.display(description=_("message"))
    def progress_message(self, obj: AbstractProgressModel) -> str:
        progress = stored_progress(obj)
        return (progress.get("message") if progress else None) or "—"

    @admin.display(description=_("meta"))
    def meta_pretty(self, obj: AbstractProgressModel) -> str:
        return admin_display.meta_folded(obj)

    @admin.action(description=_("Clear progress of selected rows"), permissions=["change"])
    def clear_progress_action(self, request: HttpRequest, queryset: Rows) -> None:
        ids = queryset.exclude(progress_session_id=None).values_list(
            "progress_session_id", flat=True
        )
        cleared = sum(services.clear_progress(session_id) for session_id in ids if session_id)
        self.message_user(  # type: ignore[attr-defined]
            request,
            ngettext("Cleared progress of %d row.", "Cleared progress of %d rows.", cleared)
            % cleared,
            messages.SUCCESS,
        )

    @admin.action(description=_("Mark selected sessions as failed"), permissions=["change"])
    def mark_failed_action(self, request: HttpRequest, queryset: Rows) -> None:
        ids = queryset.filter(progress_status=ProgressStatus.PROCESSING).values_list(
            "progress_session_id", flat=True
        )
        reason = f"Marked as failed by {request.user} at {timezone.now():%Y-%m-%d %H:%M} UTC."
        failed = 0
        for session_id in ids:
            if session_id is None:  # a processing row always has one; the column is nullable
                continue
            try:
                result = services.mark_session_error(session_id, reason)
            except SessionNotFound:  # cleared since the list was shown
                continue
            # A session that finished meanwhile keeps its final state and is not counted.
            failed += result.get("error") == reason
        self.message_user(  # type: ignore[attr-defined]
            request,
            ngettext("Marked %d session as failed.", "Marked %d sessions as failed.", failed)
            % failed,
            messages.SUCCESS,
        )


if not Knowledge._meta.swapped:

    @admin.register(Knowledge)
    class KnowledgeAdmin(ProgressAdminMixin, KnowledgeAdminBase):
        list_display = ("name", "user")
        search_fields = ("name",)
        list_select_related = ("user",)
        readonly_fields = ("created_at", "updated_at")
        fields = ("name", "description", "user", "created_at", "updated_at")
        raw_id_fields = ("user",)
        ordering = ("-progress_updated_at", "-created_at")


@admin.register(CleanupLease)
class CleanupLeaseAdmin(CleanupLeaseAdminBase):
    """Read-only: when the automatic cleanup last ran, what it removed, when it runs next."""

    list_display = (
        "name",
        "last_started_at",
        "last_finished_at",
        "last_removed",
        "last_error",
        "due_at",
        "holder",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: CleanupLease | None = None) -> bool:
        return False


from . import admin_history  # noqa: E402,F401 - registers the history admin
