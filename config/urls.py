from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="knowledge:list"), name="home"),
    path("knowledge/", include("knowledge.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/progress/", include("progress_tracking.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["progress_tracking"]), name="jsi18n"),
]
