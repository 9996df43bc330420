from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProgressTrackingConfig(AppConfig):
    name = "progress_tracking"
    verbose_name = _("Progress tracking")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks

        checks.register()
