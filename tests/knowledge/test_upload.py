"""Uploading into a knowledge base: 202 at once, limits with clear 4xx, joined batches."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from knowledge.models import Document
from progress_tracking import capability, services
from progress_tracking.models import Knowledge

SAMPLES = Path(__file__).resolve().parents[2] / "knowledge" / "samples"


@pytest.fixture
def kb(user):
    return Knowledge.objects.create(name="Research", user=user)


@pytest.fixture
def client_in(client, user):
    client.force_login(user)
    return client


def upload(client, kb, *files, **headers):
    return client.post(
        reverse("knowledge:upload", args=[kb.pk]),
        {"files": list(files)},
        headers={"Accept": "application/json", **headers},
    )


def text_file(name="notes.txt", body=b"Hello world. " * 50):
    return SimpleUploadedFile(name, body, content_type="text/plain")


def test_upload_answers_202_with_the_session_and_processes_in_the_task(
    client_in, kb, immediate_tasks
):
    broken = SimpleUploadedFile("broken.pdf", b"%PDF-1.4 garbage", content_type="application/pdf")
    response = upload(client_in, kb, text_file(), broken)
    assert response.status_code == 202
    body = response.json()
    assert response["Location"] == body["status_url"]
    assert body["status_url"].endswith(f"/api/v1/progress/{body['session_id']}/status")
    claim = capability.verify(response[capability.HEADER])
    assert claim == capability.ReadClaim(body["session_id"], str(kb.user.pk))
    assert [d["name"] for d in body["documents"]] == ["notes.txt", "broken.pdf"]
    progress = services.get_progress(body["session_id"])
    assert progress["status"] == "completed"
    assert progress["processed_files"] == 2 and progress["failed_files"] == 1
    files = {f["name"]: f for f in progress["files"]}
    assert files["notes.txt"]["status"] == "completed"
    assert files["broken.pdf"]["status"] == "error" and files["broken.pdf"]["error"]
    notes = Document.objects.get(name="notes.txt")
    assert notes.status == "completed" and "Hello world" in notes.text
    assert str(notes.session_id) == body["session_id"]


def test_the_status_url_serves_the_session_to_its_owner(client_in, kb, immediate_tasks):
    body = upload(client_in, kb, text_file()).json()
    status = client_in.get(body["status_url"])
    assert status.status_code == 200 and status.json()["status"] == "completed"


def test_an_upload_during_a_running_batch_joins_it(client_in, kb, settings, tmp_path):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.MEDIA_ROOT = str(tmp_path)
    first = upload(client_in, kb, text_file("a.txt")).json()
    second = upload(client_in, kb, text_file("a.txt"), text_file("b.txt")).json()
    assert second["session_id"] == first["session_id"]
    assert [d["name"] for d in second["documents"]] == ["a (2).txt", "b.txt"]
    progress = services.get_progress(first["session_id"])
    assert [f["name"] for f in progress["files"]] == ["a.txt", "a (2).txt", "b.txt"]
    assert all(f["status"] == "pending" for f in progress["files"])


@pytest.mark.parametrize(
    ("files", "status", "words"),
    [
        ([], 400, "No files"),
        ([("virus.exe", b"MZ")], 415, ".exe files are not supported"),
        ([("report.docx", b"PK")], 415, "not supported"),
        ([("noext", b"x")], 415, "no file extension"),
        ([("big.txt", b"x" * 2048)], 413, "limit is"),
        ([(f"f{i}.txt", b"x") for i in range(4)], 400, "Too many files"),
    ],
)
def test_bad_uploads_get_a_clear_4xx_and_nothing_is_stored(
    client_in, kb, immediate_tasks, files, status, words
):
    immediate_tasks.KNOWLEDGE_MAX_UPLOAD_BYTES = 1024
    immediate_tasks.KNOWLEDGE_MAX_FILES = 3
    response = upload(client_in, kb, *[SimpleUploadedFile(n, b) for n, b in files])
    assert response.status_code == status
    assert words in response.json()["detail"]
    assert not Document.objects.exists()
    kb.refresh_from_db()
    assert kb.progress_session_id is None


def test_uploading_into_someone_elses_knowledge_base_is_404(
    client, other_user, kb, immediate_tasks
):
    client.force_login(other_user)
    response = upload(client, kb, text_file())
    assert response.status_code == 404 and response.json()["detail"]
    assert not Document.objects.exists()


def test_anonymous_upload_is_refused(client, kb, immediate_tasks):
    assert upload(client, kb, text_file()).status_code in {401, 403}


def test_a_plain_form_post_redirects_back_to_the_page(client_in, kb, immediate_tasks):
    response = upload(client_in, kb, text_file(), Accept="text/html")
    assert response.status_code == 302
    assert response["Location"] == reverse("knowledge:detail", args=[kb.pk])


def test_a_broken_task_queue_answers_503_and_fails_the_session(
    client_in, kb, immediate_tasks, monkeypatch
):
    def queue_down(*args):
        raise ConnectionError("queue down")

    monkeypatch.setattr("knowledge.views.enqueue_documents", queue_down)
    response = upload(client_in, kb, text_file())
    assert response.status_code == 503 and response.json()["detail"]
    kb.refresh_from_db()
    assert services.get_progress(kb.progress_session_id)["status"] == "error"
    # The document does not wait for good: it says why it was not processed.
    document = Document.objects.get()
    assert document.status == "error" and "queue" in document.error


def test_sample_files_process(client_in, kb, immediate_tasks):
    files = [
        SimpleUploadedFile(path.name, path.read_bytes())
        for path in sorted(SAMPLES.iterdir())
        if path.suffix in {".txt", ".md", ".pdf"} and not path.name.startswith("corrupt")
    ]
    assert files, "sample files are missing"
    progress = services.get_progress(upload(client_in, kb, *files).json()["session_id"])
    assert progress["failed_files"] == 0 and progress["status"] == "completed"
