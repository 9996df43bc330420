"""A host's own instance writes never lose, roll back or revive progress."""

from __future__ import annotations

import pytest
from django import forms
from django.db import DatabaseError, connection, transaction

from progress_tracking import services
from progress_tracking.exceptions import InvalidProgressData
from progress_tracking.models import PROGRESS_KEY, get_progress_model

pytestmark = pytest.mark.django_db


def stored(row):
    return get_progress_model()._base_manager.get(pk=row.pk)


def name_field():
    model = get_progress_model()
    return next(
        f.name
        for f in model._meta.fields
        if f.get_internal_type() == "CharField" and f.name not in ("progress_status",)
    )


@pytest.fixture
def running(knowledge):
    """The host's instance loaded before a worker reported progress."""
    sid = services.start_session(knowledge, total_files=2, files=["a.txt", "b.txt"])
    loaded = get_progress_model().objects.get(pk=knowledge.pk)
    services.update_file_progress(sid, "a.txt", progress=100, status="completed")
    return sid, loaded


def assert_progress_kept(sid, row):
    progress = services.get_progress(sid)
    assert progress is not None, "the host's save lost the session"
    assert progress["processed_files"] == 1
    fresh = stored(row)
    assert fresh.progress_session_id is not None and str(fresh.progress_session_id) == sid
    assert fresh.progress_status == "processing"
    # The worker's next write still finds its session.
    services.update_file_progress(sid, "b.txt", progress=50)


@pytest.mark.parametrize(
    "how",
    [
        "save",
        "save-update-fields-name",
        "save-update-fields-meta",
        "save-update-fields-progress-columns",
        "refresh-then-save",
        "save-positional",
    ],
)
def test_host_save_of_an_older_instance_keeps_the_workers_progress(running, how):
    sid, loaded = running
    field = name_field()
    setattr(loaded, field, "renamed by the host")
    loaded.meta["host_key"] = "host value"
    if how == "save":
        loaded.save()
    elif how == "save-update-fields-name":
        loaded.save(update_fields=[field])
    elif how == "save-update-fields-meta":
        loaded.save(update_fields=["meta", field])
    elif how == "save-update-fields-progress-columns":
        loaded.progress_status = "completed"
        loaded.save(update_fields=["progress_status", "progress_session_id"])
    elif how == "refresh-then-save":
        services.update_progress(sid, message="after the refresh")
        loaded.refresh_from_db()
        loaded.meta["host_key"] = "host value"
        setattr(loaded, field, "renamed by the host")
        services.update_file_progress(sid, "a.txt", progress=100, status="completed")
        loaded.save()
    elif how == "save-positional":
        loaded.save(False, False, None, None)
    assert_progress_kept(sid, loaded)
    fresh = stored(loaded)
    if how != "save-update-fields-progress-columns":
        assert getattr(fresh, field) == "renamed by the host"
    if how in ("save", "save-update-fields-meta", "refresh-then-save", "save-positional"):
        assert fresh.meta["host_key"] == "host value"
    # The host's instance keeps its own dict, not the database expression used to write it.
    assert isinstance(loaded.meta, dict)


def test_a_host_save_is_one_statement(running, django_assert_num_queries):
    _, loaded = running
    loaded.meta["host_key"] = 1
    with django_assert_num_queries(1):
        loaded.save()


def test_host_cannot_set_progress_columns_or_key(running):
    sid, loaded = running
    loaded.progress_status = "completed"
    loaded.progress_session_id = None
    loaded.meta[PROGRESS_KEY] = {"session_id": sid, "status": "completed", "progress": 100}
    loaded.save()
    assert services.get_progress(sid)["status"] == "processing"
    assert stored(loaded).progress_status == "processing"


def test_host_save_does_not_revive_cleared_progress(running):
    sid, loaded = running
    assert services.clear_progress(sid)
    loaded.meta["host_key"] = "kept"
    loaded.save()
    fresh = stored(loaded)
    assert PROGRESS_KEY not in fresh.meta
    assert fresh.meta["host_key"] == "kept"
    assert fresh.progress_session_id is None and fresh.progress_status == ""
    assert services.get_progress(sid) is None


def test_host_save_keeps_a_session_started_after_the_host_loaded(knowledge):
    loaded = get_progress_model().objects.get(pk=knowledge.pk)
    sid = services.start_session(knowledge, total_files=1)
    loaded.save()
    assert services.get_progress(sid)["session_id"] == sid


def test_model_form_save_keeps_progress(running):
    sid, loaded = running
    model = get_progress_model()
    field = name_field()
    form_class = forms.modelform_factory(model, fields=[field])
    form = form_class(data={field: "from a form"}, instance=loaded)
    assert form.is_valid(), form.errors
    form.save()
    assert_progress_kept(sid, loaded)
    assert getattr(stored(loaded), field) == "from a form"


def test_a_non_dict_meta_is_refused_and_changes_nothing(running):
    sid, loaded = running
    loaded.meta = ["not", "a", "dict"]
    with pytest.raises(InvalidProgressData, match="must stay a dict"):
        loaded.save()
    assert services.get_progress(sid)["processed_files"] == 1


@pytest.mark.parametrize("update_fields", [None, ["meta"]])
def test_a_deleted_row_is_not_inserted_again_with_its_progress(running, update_fields):
    sid, loaded = running
    get_progress_model()._base_manager.filter(pk=loaded.pk).delete()
    with pytest.raises(DatabaseError, match="did not affect any rows"), transaction.atomic():
        loaded.save(update_fields=update_fields)
    assert not get_progress_model()._base_manager.filter(pk=loaded.pk).exists()
    assert services.get_progress(sid) is None


def test_deferred_fields_stay_unwritten(running, django_assert_num_queries):
    sid, _ = running
    model = get_progress_model()
    field = name_field()
    partial = model.objects.only("pk", field).get(progress_session_id=sid)
    setattr(partial, field, "only this")
    with django_assert_num_queries(1):  # meta is neither loaded nor written
        partial.save()
    assert "meta" in partial.get_deferred_fields()
    assert getattr(stored(partial), field) == "only this"
    assert services.get_progress(sid)["processed_files"] == 1


def test_too_many_positional_arguments_raise_type_error(running):
    _, loaded = running
    with pytest.raises(TypeError):
        loaded.save(False, False, None, None, "extra")
    with pytest.raises(TypeError, match="multiple values"):
        loaded.save(False, force_insert=False)


@pytest.mark.django_db(transaction=True)
def test_host_save_inside_its_transaction_keeps_progress_written_meanwhile(make_knowledge):
    knowledge = make_knowledge()
    sid = services.start_session(knowledge, total_files=1, files=["a.txt"])
    with transaction.atomic():
        loaded = get_progress_model().objects.get(pk=knowledge.pk)
        # On PostgreSQL this write commits at once on a side connection; on SQLite it joins.
        services.update_file_progress(sid, "a.txt", progress=70)
        loaded.meta["host_key"] = connection.vendor
        loaded.save()
    assert services.get_progress(sid)["files"][0]["progress"] == 70
    assert stored(knowledge).meta["host_key"] == connection.vendor
