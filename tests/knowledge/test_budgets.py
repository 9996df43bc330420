"""Hostile files end with a clear error within their budget; the reader runs in a child."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from knowledge.isolation import ExtractionCrashed, extract_in_child
from knowledge.processing import Budget, ProcessingFailed, extract_text

from .hostile import noise_wav, shared_stream_pdf

SAMPLES = Path(__file__).resolve().parents[2] / "knowledge" / "samples"


@pytest.mark.parametrize(
    ("frames", "extra"),
    [(34, 0), (34, 480), (67, 0)],
    ids=["1s-exact-frames", "1s-mid-frame", "2s-exact-frames"],
)
def test_noise_ending_on_a_detector_frame_is_transcribed_not_crashed(tmp_path, frames, extra):
    # The exact-frame files made pocketsphinx's Endpointer.end_stream raise IndexError.
    path = noise_wav(tmp_path / "noise.wav", frames_of_960=frames, extra_bytes=extra)
    text = extract_text(path)
    assert isinstance(text, str)


def test_the_shared_stream_pdf_fails_at_once_on_its_content_budget(tmp_path):
    pdf = shared_stream_pdf(tmp_path / "crafted.pdf", pages=200, operators=20_000)
    with pytest.raises(ProcessingFailed, match="drawing instructions"):
        extract_text(pdf, budget=Budget(max_pdf_content_bytes=1024 * 1024))


def test_a_pdf_within_its_content_budget_is_read(tmp_path):
    pdf = shared_stream_pdf(tmp_path / "small.pdf", pages=3, operators=10)
    text = extract_text(pdf, budget=Budget(max_pdf_content_bytes=1024 * 1024, max_pages=3))
    assert text.count("aaaaaaaaaa") == 3


def test_too_many_pages_fail_before_reading(tmp_path):
    pdf = shared_stream_pdf(tmp_path / "long.pdf", pages=11, operators=1)
    with pytest.raises(ProcessingFailed, match="11 pages; at most 10"):
        extract_text(pdf, budget=Budget(max_pages=10))


def test_too_long_a_recording_fails_before_transcribing():
    calls = []
    with pytest.raises(ProcessingFailed, match="0:03 long; at most 0:02"):
        extract_text(
            SAMPLES / "hello.wav",
            budget=Budget(max_audio_seconds=2),
            on_progress=lambda *args: calls.append(args),
        )
    assert calls == []


def test_the_child_reports_progress_and_returns_the_text():
    calls = []
    text = extract_in_child(
        str(SAMPLES / "report.pdf"),
        filename="report.pdf",
        on_progress=lambda fraction, message: calls.append((fraction, message)),
        budget=Budget(),
        time_limit=60,
    )
    assert "workers processed 1,284 files" in text
    assert calls[0] == (pytest.approx(1 / 3), "Reading report.pdf: page 1 of 3")
    assert calls[-1][0] == 1.0


def test_a_file_over_its_time_budget_is_stopped(tmp_path, monkeypatch):
    # No content budget: only the time limit can stop this file (each page parses the
    # whole shared stream again).
    pdf = shared_stream_pdf(tmp_path / "crafted.pdf", pages=500, operators=100_000)
    spawned = []
    original_popen = __import__("subprocess").Popen

    def popen(*args, **kwargs):
        spawned.append(original_popen(*args, **kwargs))
        return spawned[-1]

    monkeypatch.setattr("knowledge.isolation.subprocess.Popen", popen)
    with pytest.raises(ProcessingFailed, match="took longer than 0:01, the time allowed"):
        extract_in_child(
            str(pdf),
            filename="crafted.pdf",
            on_progress=lambda *args: None,
            budget=Budget(),
            time_limit=1,
        )
    # The runaway reader is gone, not left running in the background.
    assert spawned[0].poll() is not None


def test_a_file_the_child_cannot_read_fails_readably(tmp_path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(ProcessingFailed, match="damaged or is not a PDF"):
        extract_in_child(
            str(broken),
            filename="broken.pdf",
            on_progress=lambda *args: None,
            budget=Budget(),
            time_limit=60,
        )


def test_a_crashing_child_is_reported_with_its_output_in_the_log(monkeypatch, caplog):
    monkeypatch.setattr(
        "knowledge.isolation.child_command",
        lambda: [sys.executable, "-c", "import sys; sys.stderr.write('parser bug'); sys.exit(3)"],
    )
    with pytest.raises(ExtractionCrashed, match="exit code 3"):
        extract_in_child(
            str(SAMPLES / "notes.txt"),
            filename="notes.txt",
            on_progress=lambda *args: None,
            budget=Budget(),
            time_limit=60,
        )
    assert "parser bug" in caplog.text


def test_an_exception_from_on_progress_stops_the_child_and_propagates():
    class Cancelled(Exception):
        pass

    def cancel(fraction, message):
        raise Cancelled

    with pytest.raises(Cancelled):
        extract_in_child(
            str(SAMPLES / "report.pdf"),
            filename="report.pdf",
            on_progress=cancel,
            budget=Budget(),
            time_limit=60,
        )


@pytest.fixture
def child_main(monkeypatch):
    """The child's main() in this process, its protocol stream captured."""
    from knowledge.processing import __main__ as child

    stream = io.StringIO()
    monkeypatch.setattr(child, "_protocol_stream", lambda: stream)

    def run(**arguments):
        assert child.main(arguments) == 0
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    return run


def test_the_child_protocol_reports_steps_then_the_text(child_main):
    messages = child_main(path=str(SAMPLES / "report.pdf"), filename="report.pdf")
    assert messages[0] == {
        "progress": pytest.approx(1 / 3),
        "message": "Reading report.pdf: page 1 of 3",
    }
    assert "workers processed 1,284 files" in messages[-1]["text"]


def test_the_child_protocol_reports_a_failure_as_a_sentence(child_main, tmp_path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    messages = child_main(path=str(broken), filename="broken.pdf", budget={"max_pages": 5})
    assert messages == [
        {"failed": "The PDF file is damaged or is not a PDF, so its text cannot be read."}
    ]


def test_the_child_reports_running_out_of_memory(child_main, monkeypatch):
    def hungry(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr("knowledge.processing.__main__.extract_text", hungry)
    messages = child_main(path="x.txt", filename="x.txt")
    assert messages == [{"failed": "Reading this file needs more memory than a file is allowed."}]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_child_ends_when_its_worker_dies(tmp_path):
    # A worker killed while its child reads a runaway file: the child must not run on.
    pdf = shared_stream_pdf(tmp_path / "crafted.pdf", pages=500, operators=100_000)
    worker = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, os, subprocess, sys\n"
            "arguments = json.dumps({'path': sys.argv[1], 'filename': 'crafted.pdf',"
            " 'parent': os.getpid()})\n"
            "child = subprocess.Popen([sys.executable, '-m', 'knowledge.processing', arguments],"
            " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
            "print(child.pid)\n",
            str(pdf),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    child = int(worker.stdout)
    deadline = time.monotonic() + 30
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child)
