"""The demo's URLs plus the baseline of the poll benchmark and static files without DEBUG."""

from uuid import UUID

from django.contrib.staticfiles.views import serve
from django.urls import path, re_path
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as demo_urlpatterns
from progress_tracking.models import Knowledge

from .peers import bare_view, celery_progress_view


class MinimalView(APIView):
    """The cheapest authenticated DRF endpoint: the floor the status endpoint is held to.

    Same authentication (the project's DRF defaults: session cookie) and ``IsAuthenticated``
    as the progress API; JSON only, like the progress API.
    """

    permission_classes = (IsAuthenticated,)
    renderer_classes = (JSONRenderer,)

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class OneQueryView(MinimalView):
    """The minimal endpoint plus the one indexed ORM query that a poll cannot do without.

    It reads the same columns of the same row as a poll, and throws them away: the gap
    between this and the minimal endpoint is the framework's cost of that query, and the gap
    between this and the status endpoint is what the app itself adds.
    """

    def get(self, request: Request, session_id: UUID) -> Response:
        rows = Knowledge._default_manager.filter(progress_session_id=session_id).values_list(
            "meta", "progress_status", "progress_updated_at", "user_id"
        )[:1]
        list(rows)
        return Response({"ok": True})


# The minimal endpoint comes after the demo's URLs, as the progress API does: resolving the
# URL costs both the same.
urlpatterns = [
    *demo_urlpatterns,
    path("bench/ok", MinimalView.as_view(), name="bench-ok"),
    path("bench/one-query/<uuid:session_id>", OneQueryView.as_view(), name="bench-one-query"),
    path("bench/bare", bare_view, name="bench-bare"),
    path("bench/celery-progress/<str:task_id>", celery_progress_view, name="bench-celery"),
    re_path(r"^static/(?P<path>.*)$", serve, {"insecure": True}),
]
