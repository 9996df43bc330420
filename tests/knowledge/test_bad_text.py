"""The knowledge page renders a session whose row holds text UTF-8 cannot encode (stored on
SQLite by releases before the services validated text)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from progress_tracking import services
from progress_tracking.models import PROGRESS_KEY, Knowledge

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="only SQLite ever stored lone surrogates"
)


def test_the_page_answers_200_with_the_text_replaced(client, user):
    kb = Knowledge.objects.create(name="Research", user=user)
    sid = services.start_session(kb, files=["a.txt"])
    meta = Knowledge.objects.get(pk=kb.pk).meta
    meta[PROGRESS_KEY]["files"][0]["name"] = "\ud800.txt"
    meta[PROGRESS_KEY]["message"] = "reading \udfff"
    Knowledge.objects.filter(pk=kb.pk).update(meta=meta)
    client.force_login(user)
    response = client.get(reverse("knowledge:detail", args=[kb.pk]))
    assert response.status_code == 200
    assert "\ufffd.txt" in response.content.decode()
    assert services.get_progress(sid)["message"] == "reading \ufffd"
