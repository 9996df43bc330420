"""URLs of ``tests.settings_app_only``: the admin and the progress API, nothing of the host."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/progress/", include("progress_tracking.urls")),
]
