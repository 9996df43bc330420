"""Uploads refused early and cleanly: while they stream, as JSON, with nothing left behind."""

from __future__ import annotations

import io
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import reverse

from knowledge.models import Document
from knowledge.upload_handler import LimitedUploadHandler
from knowledge.uploads import UploadRejected, unique_names
from progress_tracking import services
from progress_tracking.exceptions import InvalidProgressData
from progress_tracking.models import Knowledge

from .hostile import long_name


@pytest.fixture
def kb(user):
    return Knowledge.objects.create(name="Research", user=user)


@pytest.fixture
def client_in(client, user):
    client.force_login(user)
    return client


def upload(client, kb, *files):
    return client.post(
        reverse("knowledge:upload", args=[kb.pk]),
        {"files": list(files)},
        headers={"Accept": "application/json"},
    )


def stored_files(settings) -> list[str]:
    return [name for _, _, names in os.walk(settings.MEDIA_ROOT) for name in names]


def assert_nothing_left(kb, settings):
    assert not Document.objects.exists()
    assert stored_files(settings) == []
    kb.refresh_from_db()
    assert kb.progress_session_id is None


def test_the_size_limit_stops_a_file_while_it_streams(settings, tmp_path):
    settings.KNOWLEDGE_MAX_UPLOAD_BYTES = 200 * 1024
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    handler = LimitedUploadHandler()
    handler.new_file("files", "big.txt", "text/plain", None)
    chunk = b"x" * handler.chunk_size
    written = []
    with pytest.raises(UploadRejected) as refused:
        for start in range(0, 10_000 * len(chunk), len(chunk)):
            handler.receive_data_chunk(chunk, start)
            written.append(os.path.getsize(handler.file.temporary_file_path()))
    assert refused.value.status_code == 413
    assert (
        str(refused.value.detail) == '"big.txt" is over the limit; the limit is 200 KiB per file.'
    )
    # The temporary file never held more than the limit, and it is gone.
    assert max(written) <= 200 * 1024
    assert len(written) == 3
    assert os.listdir(tmp_path) == []


def test_an_announced_body_bigger_than_any_upload_is_refused_unread(settings):
    settings.KNOWLEDGE_MAX_UPLOAD_BYTES = 1024
    settings.KNOWLEDGE_MAX_FILES = 2
    handler = LimitedUploadHandler()
    with pytest.raises(UploadRejected) as refused:
        handler.handle_raw_input(io.BytesIO(), {}, 10 * 1024 * 1024, "x")
    assert refused.value.status_code == 413
    assert "at most 2 files of 1 KiB each" in str(refused.value.detail)


def test_a_refused_upload_deletes_the_files_it_already_received(settings, tmp_path):
    settings.KNOWLEDGE_MAX_FILES = 1
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    handler = LimitedUploadHandler()
    handler.new_file("files", "a.txt", "text/plain", None)
    handler.receive_data_chunk(b"hello", 0)
    handler.file_complete(5)
    assert len(os.listdir(tmp_path)) == 1
    with pytest.raises(UploadRejected, match="Too many files"):
        handler.new_file("files", "b.txt", "text/plain", None)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("files", "status", "words"),
    [
        ([("big.txt", b"x" * 300_000)], 413, '"big.txt" is over the limit'),
        ([("ok.txt", b"x"), ("virus.exe", b"MZ")], 415, ".exe files are not supported"),
        ([(f"f{i}.txt", b"x") for i in range(4)], 400, "Too many files"),
    ],
)
def test_refusals_while_streaming_are_json_and_leave_nothing(
    client_in, kb, immediate_tasks, files, status, words
):
    immediate_tasks.KNOWLEDGE_MAX_UPLOAD_BYTES = 200_000
    immediate_tasks.KNOWLEDGE_MAX_FILES = 3
    response = upload(client_in, kb, *[SimpleUploadedFile(n, b) for n, b in files])
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert words in response.json()["detail"]
    assert_nothing_left(kb, immediate_tasks)


def test_more_files_than_django_allows_is_json_too(client_in, kb, immediate_tasks):
    # Django's own DATA_UPLOAD_MAX_NUMBER_FILES (100) answered with an HTML 400 page.
    immediate_tasks.KNOWLEDGE_MAX_FILES = 500
    files = [SimpleUploadedFile(f"f{i}.txt", b"x") for i in range(101)]
    response = upload(client_in, kb, *files)
    assert response.status_code == 400
    assert "The upload was refused" in response.json()["detail"]
    assert_nothing_left(kb, immediate_tasks)


def test_a_body_announced_too_big_is_refused_as_json(client_in, kb, immediate_tasks):
    immediate_tasks.KNOWLEDGE_MAX_UPLOAD_BYTES = 1024
    immediate_tasks.KNOWLEDGE_MAX_FILES = 1
    body = encode_multipart(BOUNDARY, {"files": [SimpleUploadedFile("a.txt", b"x" * 3_000_000)]})
    response = client_in.generic(
        "POST",
        reverse("knowledge:upload", args=[kb.pk]),
        body,
        content_type=MULTIPART_CONTENT,
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 413
    assert "at most 1 files of 1 KiB each" in response.json()["detail"]
    assert_nothing_left(kb, immediate_tasks)


def test_duplicate_255_character_names_stay_unique_within_the_limit(client_in, kb, immediate_tasks):
    name = long_name(".txt")
    files = [SimpleUploadedFile(name, b"Words in a file.") for _ in range(3)]
    response = upload(client_in, kb, *files)
    assert response.status_code == 202
    names = [d["name"] for d in response.json()["documents"]]
    assert len(set(names)) == 3 and all(len(n) <= 255 for n in names)
    assert names[1].endswith(" (2).txt") and names[2].endswith(" (3).txt")
    progress = services.get_progress(response.json()["session_id"])
    assert progress["status"] == "completed" and progress["failed_files"] == 0


def test_unique_names_shorten_the_stem_not_the_extension():
    name = long_name(".pdf")
    assert unique_names([name, name], []) == [name, "n" * 247 + " (2).pdf"]
    assert unique_names(["a.txt"], ["a.txt", "a (2).txt"]) == ["a (3).txt"]
    absurd = "x." + "e" * 300
    assert all(len(n) <= 255 for n in unique_names([absurd, absurd], []))


def test_a_name_the_session_refuses_leaves_no_document_or_file(
    client_in, kb, immediate_tasks, monkeypatch
):
    def refuse(*args, **kwargs):
        raise InvalidProgressData("filename contains characters that cannot be stored.")

    monkeypatch.setattr("knowledge.views.services.start_session", refuse)
    response = upload(client_in, kb, SimpleUploadedFile("a.txt", b"x"))
    assert response.status_code == 400
    assert "cannot be stored" in response.json()["detail"]
    assert_nothing_left(kb, immediate_tasks)
