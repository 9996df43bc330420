from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProgressTrackingConfig(AppConfig):
    name = "progress_tracking"
    verbose_name = _("Progress tracking")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, signals, sweeper

        checks.register()
        # Every progress write is traffic that may start the automatic cleanup.
        for signal in (
            signals.progress_started,
            signals.progress_updated,
            signals.progress_completed,
            signals.progress_failed,
            signals.progress_cancelled,
        ):
            signal.connect(sweeper.sweep_after_write)
