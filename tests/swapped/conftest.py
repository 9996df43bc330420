"""Fixtures for tests of a host's own progress model (``tests.settings_swapped``)."""

from __future__ import annotations

import pytest
from django.apps import apps


@pytest.fixture
def document_model(db):
    return apps.get_model("swapped_app", "Document")


@pytest.fixture
def document(document_model, user):
    return document_model.objects.create(
        title="Quarterly report", owner=user, meta={"source": "scanner"}
    )
