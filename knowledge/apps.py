from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KnowledgeConfig(AppConfig):
    name = "knowledge"
    verbose_name = _("Knowledge bases")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from progress_tracking.signals import progress_cancelled

        from .recovery import cancel_documents

        # A cancelled batch's documents end cancelled at once, also those still queued.
        progress_cancelled.connect(cancel_documents, dispatch_uid="knowledge.cancel_documents")
