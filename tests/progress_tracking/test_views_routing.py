"""One view per operation: the URL the retired stream and clearing share routes by method."""

from __future__ import annotations

import pytest
from django.urls import resolve, reverse
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate

from progress_tracking import services, views
from progress_tracking.routing import MethodRouter

pytestmark = pytest.mark.django_db

ALL_METHODS = "GET, DELETE, HEAD, OPTIONS"


def detail_url(session_id: str) -> str:
    return reverse("progress_tracking:detail", kwargs={"session_id": session_id})


@pytest.fixture
def api(user):
    client = APIClient()
    client.force_login(user)
    return client


def test_each_url_and_method_has_a_view_of_its_own():
    by_name = {
        name: resolve(reverse(f"progress_tracking:{name}", kwargs=kwargs)).func.cls
        for name, kwargs in [
            ("list", {}),
            ("status", {"session_id": "x"}),
            ("cancel", {"session_id": "x"}),
            ("detail", {"session_id": "x"}),
        ]
    }
    assert by_name["list"] is views.SessionListView
    assert by_name["status"] is views.SessionStatusView
    assert by_name["cancel"] is views.SessionCancelView
    router = by_name["detail"]
    assert issubclass(router, MethodRouter)
    assert dict(router.routes) == {"GET": views.LegacyStreamView, "DELETE": views.SessionClearView}
    # The operation views serve their own method only (and OPTIONS).
    assert views.LegacyStreamView().allowed_methods == ["GET", "OPTIONS"]
    assert views.SessionClearView().allowed_methods == ["DELETE", "OPTIONS"]


def test_every_answer_of_the_shared_url_names_all_its_methods(api, knowledge):
    sid = services.start_session(knowledge)
    gone = APIClient().get(detail_url(sid))
    assert (gone.status_code, gone["Allow"]) == (410, ALL_METHODS)
    head = APIClient().head(detail_url(sid))
    assert (head.status_code, head["Allow"]) == (410, ALL_METHODS)
    refused = api.put(detail_url(sid))
    assert (refused.status_code, refused["Allow"]) == (405, ALL_METHODS)
    assert refused.json() == {"detail": 'Method "PUT" not allowed.'}
    cleared = api.delete(detail_url(sid))
    assert (cleared.status_code, cleared["Allow"]) == (200, ALL_METHODS)


def test_methods_the_url_does_not_serve_need_authentication_like_clearing(knowledge):
    sid = services.start_session(knowledge)
    assert APIClient().post(detail_url(sid)).status_code == 403
    assert APIClient().options(detail_url(sid)).status_code == 403


def test_the_operation_views_work_on_their_own(user, knowledge):
    """A host may mount them on URLs of its own: each brings its own rules."""
    sid = services.start_session(knowledge)
    factory = APIRequestFactory()
    legacy = views.LegacyStreamView.as_view()(
        factory.get(f"/api/v1/progress/{sid}"), session_id=sid
    )
    assert legacy.status_code == 410  # anonymous: this view needs no authentication
    anonymous = views.SessionClearView.as_view()(factory.delete("/"), session_id=sid)
    assert anonymous.status_code == 403
    request = factory.delete("/")
    force_authenticate(request, user=user)
    cleared = views.SessionClearView.as_view()(request, session_id=sid)
    assert cleared.status_code == 200
    assert services.get_progress(sid) is None
