from django.apps import AppConfig


class SwappedAppConfig(AppConfig):
    """A host app that stores progress on its own model (``PROGRESS_TRACKING_MODEL``)."""

    name = "tests.swapped_app"
    label = "swapped_app"
    default_auto_field = "django.db.models.BigAutoField"
