from django.apps import AppConfig


class MultiAppConfig(AppConfig):
    """A host app with four more progress models beside the default Knowledge."""

    name = "tests.multi_app"
    label = "multi_app"
    default_auto_field = "django.db.models.BigAutoField"
