"""URLs of the polling API; a host mounts them with
``path("api/v1/progress/", include("progress_tracking.urls"))``.

The id segment takes any string (slashes and newlines included) so that every malformed id
reaches the views and gets the API's JSON 404 rather than the site's HTML one.
"""

from django.urls import path, re_path

from . import fastpath, views

app_name = "progress_tracking"

urlpatterns = [
    path("", views.SessionListView.as_view(), name="list"),
    re_path(
        r"^(?P<session_id>(?s:.*))/status\Z",
        fastpath.with_read_capability(views.SessionStatusView.as_view()),
        name="status",
    ),
    re_path(r"^(?P<session_id>(?s:.*))/cancel\Z", views.SessionCancelView.as_view(), name="cancel"),
    re_path(r"^(?P<session_id>(?s:.+))\Z", views.SessionView.as_view(), name="detail"),
]
