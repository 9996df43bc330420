from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/progress/", include("progress_tracking.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["progress_tracking"]), name="jsi18n"),
]
