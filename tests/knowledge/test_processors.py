"""Turning uploaded files into text: every format, its progress reports and its failures.

Plain functions, no database: runs with or without the pytest-django plugin.
"""

from __future__ import annotations

import codecs
import io
import itertools
import math
import struct
import tempfile
import wave
from array import array
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge.processing import (
    SUPPORTED_EXTENSIONS,
    ProcessingFailed,
    UnsupportedFile,
    check_supported,
    extract_text,
)
from knowledge.processing.audio import TARGET_RATE, PcmConverter
from knowledge.processing.base import format_duration, format_size
from knowledge.processing.markdown import MarkdownStripper

SAMPLES = Path(__file__).resolve().parents[2] / "knowledge" / "samples"


class Recorder:
    """An on_progress callback that remembers every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, str]] = []

    def __call__(self, fraction: float, message: str) -> None:
        self.calls.append((fraction, message))

    @property
    def fractions(self) -> list[float]:
        return [fraction for fraction, _ in self.calls]

    @property
    def messages(self) -> list[str]:
        return [message for _, message in self.calls]

    def assert_well_formed(self) -> None:
        assert self.calls, "on_progress was never called"
        fractions = self.fractions
        assert all(0.0 <= fraction <= 1.0 for fraction in fractions)
        assert all(a < b for a, b in itertools.pairwise(fractions)), fractions
        assert fractions[-1] == 1.0
        assert all(isinstance(message, str) and message for message in self.messages)


def extract(path: Path, **kwargs: object) -> tuple[str, Recorder]:
    recorder = Recorder()
    text = extract_text(path, on_progress=recorder, **kwargs)  # type: ignore[arg-type]
    recorder.assert_well_formed()
    return text, recorder


def write_wav(path: Path, frames: bytes, *, channels: int, width: int, rate: int) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(frames)
    return path


def read_samples(path: Path) -> tuple[array[int], int]:
    with wave.open(str(path)) as source:
        assert (source.getnchannels(), source.getsampwidth()) == (1, 2)
        return array("h", source.readframes(source.getnframes())), source.getframerate()


def sine(frequency: float, seconds: float, rate: int, amplitude: float = 0.5) -> list[float]:
    """Samples in -1..1."""
    count = int(seconds * rate)
    return [amplitude * math.sin(2 * math.pi * frequency * n / rate) for n in range(count)]


def pcm_bytes(values: list[float], *, channels: int, width: int) -> bytes:
    """Interleave the same signal on every channel, as little-endian PCM of ``width`` bytes."""
    out = bytearray()
    top = 2 ** (8 * width - 1) - 1
    for value in values:
        sample = round(value * top)
        if width == 1:
            encoded = bytes([sample + 128])
        else:
            encoded = sample.to_bytes(width, "little", signed=True)
        out += encoded * channels
    return bytes(out)


def zero_crossings(samples: array[int]) -> int:
    return sum(1 for a, b in itertools.pairwise(samples) if (a < 0) != (b < 0))


# --- File types ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filename",
    ["notes.txt", "REPORT.PDF", "guide.md", "guide.markdown", "hello.Wav", "dir/sub/a.b.txt"],
)
def test_check_supported_accepts_supported_extensions(filename):
    check_supported(filename)


@pytest.mark.parametrize(
    "filename", ["setup.exe", "letter.docx", "archive.tar.gz", "notes.txt.exe"]
)
def test_check_supported_rejects_other_types_readably(filename):
    with pytest.raises(UnsupportedFile) as caught:
        check_supported(filename)
    message = str(caught.value)
    assert filename in message
    assert "not supported" in message
    assert ".pdf" in message and ".wav" in message


def test_check_supported_rejects_a_name_without_extension():
    with pytest.raises(UnsupportedFile, match="no file extension"):
        check_supported("README")


def test_unsupported_file_is_a_processing_failure():
    assert issubclass(UnsupportedFile, ProcessingFailed)
    assert {".txt", ".md", ".markdown", ".pdf", ".wav"} == SUPPORTED_EXTENSIONS


def test_extract_text_refuses_unsupported_type_before_reading(tmp_path):
    path = tmp_path / "program.exe"
    path.write_bytes(b"MZ\x90\x00")
    recorder = Recorder()
    with pytest.raises(UnsupportedFile):
        extract_text(path, on_progress=recorder)
    assert recorder.calls == []


def test_filename_decides_the_type_over_the_stored_path(tmp_path):
    stored = tmp_path / "upload-3f2a9c"  # storage names often have no extension
    stored.write_text("stored under a random name", encoding="utf-8")
    assert extract_text(stored, filename="notes.txt") == "stored under a random name"
    with pytest.raises(UnsupportedFile):
        extract_text(tmp_path / "x.txt", filename="x.docx")


def test_missing_file_fails_readably(tmp_path):
    with pytest.raises(ProcessingFailed, match="could not be read"):
        extract_text(tmp_path / "gone.txt")


def test_exceptions_from_on_progress_propagate_unchanged():
    class Cancelled(Exception):
        pass

    def cancel(fraction, message):
        raise Cancelled

    def storage_down(fraction, message):
        raise OSError("database is unreachable")

    with pytest.raises(Cancelled):
        extract_text(SAMPLES / "report.pdf", on_progress=cancel)
    with pytest.raises(OSError, match="unreachable") as caught:
        extract_text(SAMPLES / "notes.txt", on_progress=storage_down)
    assert not isinstance(caught.value, ProcessingFailed)


# --- Plain text ------------------------------------------------------------------------------


def test_plain_text_sample():
    text, recorder = extract(SAMPLES / "notes.txt")
    assert text == (SAMPLES / "notes.txt").read_text(encoding="utf-8")
    assert "Server-Sent Events" in text
    assert recorder.messages[-1] == f"Extracted {len(text):,} characters from notes.txt"


def test_big_text_is_read_in_chunks_with_a_step_each(tmp_path):
    line = "Ünïcödé text, with multi-byte characters split across chunk boundaries. ✓\n"
    content = line * 6000  # about 470 KB: several 64 KiB chunks
    path = tmp_path / "big.txt"
    path.write_text(content, encoding="utf-8")
    text, recorder = extract(path)
    assert text == content
    assert len(recorder.calls) >= 7
    assert recorder.messages[0].startswith("Reading big.txt: 64 KiB of ")


def test_newlines_are_normalised_even_across_chunks(tmp_path):
    chunk = 64 * 1024
    data = b"a" * (chunk - 1) + b"\r" + b"\nnext\rold mac\r\nwindows"
    path = tmp_path / "crlf.txt"
    path.write_bytes(data)
    text, _ = extract(path)
    assert text == "a" * (chunk - 1) + "\nnext\nold mac\nwindows"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (codecs.BOM_UTF8 + "café".encode(), "café"),
        ("naïve ☕".encode("utf-16"), "naïve ☕"),
    ],
)
def test_byte_order_marks(tmp_path, data, expected):
    path = tmp_path / "bom.txt"
    path.write_bytes(data)
    assert extract(path)[0] == expected


def test_empty_text_file_completes(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    text, recorder = extract(path)
    assert text == ""
    assert recorder.calls == [(1.0, "Extracted 0 characters from empty.txt")]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not valid UTF-8"),
        (b"plain ascii\x00\x01\x02 with NUL bytes", "binary"),
        ("caf\u00e9 in Latin-1".encode("latin-1"), "not valid UTF-8"),
        (b"ends mid-character " + "é".encode()[:1], "not valid UTF-8"),
    ],
)
def test_binary_or_undecodable_text_fails_readably(tmp_path, data, reason):
    path = tmp_path / "upload.txt"
    path.write_bytes(data)
    with pytest.raises(ProcessingFailed, match=reason) as caught:
        extract_text(path)
    assert "Traceback" not in str(caught.value)
    assert "codec" not in str(caught.value)


def test_format_helpers():
    assert format_duration(0) == "0:00"
    assert format_duration(42.9) == "0:42"
    assert format_duration(3725) == "1:02:05"
    assert format_size(512) == "512 bytes"
    assert format_size(64 * 1024) == "64 KiB"
    assert format_size(5 * 1024 * 1024 // 2) == "2.5 MiB"


# --- Markdown --------------------------------------------------------------------------------


def test_markdown_sample_keeps_words_and_drops_markup():
    text, recorder = extract(SAMPLES / "guide.md")
    assert text.startswith("Uploading files to a knowledge base\n")
    assert "A knowledge base collects documents, notes and recordings so" in text
    assert "Plain text\t.txt\tread as UTF-8" in text
    assert "The file is uploaded and a progress bar appears." in text
    assert "Tip: scanned PDFs contain pictures of text" in text
    assert "See the operations guide for worker settings." in text
    assert "python manage.py cleanup_progress --dry-run" in text
    for markup in ("**", "](", "```", "# ", "| ---", "> Tip", "- A file"):
        assert markup not in text
    assert recorder.messages[-1].startswith("Extracted ")


def strip(markdown: str) -> str:
    stripper = MarkdownStripper()
    return stripper.feed(markdown) + stripper.close()


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("## Title ##", "Title"),
        ("Title\n=====\nbody", "Title\nbody"),
        ("* one\n  - two\n3. three\n- [x] done", "one\n  two\nthree\ndone"),
        ("> quoted *and* > kept", "quoted and > kept"),
        ("***both*** and **bold _inside_**", "both and bold inside"),
        ("snake_case_name and 2 * 3 * 4", "snake_case_name and 2 * 3 * 4"),
        ("`code *stays*` but *this* goes", "code *stays* but this goes"),
        (r"\*not emphasis\* \# \[x\]", "*not emphasis* # [x]"),
        ("![a cat](cat.png) [link](https://x.y/(z)) [ref][1]", "a cat link ref"),
        ("[1]: https://example.com\ntext", "text"),
        ("<b>bold</b> &amp; <https://example.com> ~~old~~", "bold & https://example.com old"),
        ("```python\n# not a heading\n**raw**\n```\nafter", "# not a heading\n**raw**\nafter"),
        ("~~~~\n```\ninside\n~~~~", "```\ninside\n"),
        ("| a | b |\n|:--|--:|\n| 1 | 2 |", "a\tb\n1\t2"),
        ("---\n***\n_ _ _", ""),
    ],
)
def test_markdown_stripping(markdown, expected):
    assert strip(markdown) == expected


@settings(max_examples=50, database=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=1200), max_size=30))
def test_markdown_stripping_does_not_depend_on_chunk_boundaries(cuts):
    markdown = (SAMPLES / "guide.md").read_text(encoding="utf-8")
    stripper = MarkdownStripper()
    pieces = []
    previous = 0
    for cut in sorted(set(cuts)):
        pieces.append(stripper.feed(markdown[previous:cut]))
        previous = max(previous, cut)
    pieces.append(stripper.feed(markdown[previous:]))
    pieces.append(stripper.close())
    assert "".join(pieces) == strip(markdown)


# --- PDF -------------------------------------------------------------------------------------


def test_pdf_sample_page_by_page():
    text, recorder = extract(SAMPLES / "report.pdf")
    assert text.startswith("Quarterly report: document processing\n")
    assert "workers processed 1,284 files" in text
    assert text.rstrip().endswith("Sweep stale sessions every five minutes.")
    assert recorder.messages == [
        "Reading report.pdf: page 1 of 3",
        "Reading report.pdf: page 2 of 3",
        "Reading report.pdf: page 3 of 3",
        f"Extracted {len(text):,} characters from report.pdf (3 pages)",
    ]


def write_pdf(path: Path, writer) -> Path:
    buffer = io.BytesIO()
    writer.write(buffer)
    path.write_bytes(buffer.getvalue())
    return path


def test_pdf_without_text_completes(tmp_path):
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    writer.add_blank_page(width=612, height=792)
    text, recorder = extract(write_pdf(tmp_path / "scan.pdf", writer))
    assert text == ""
    assert (
        recorder.messages[-1] == "No text found in scan.pdf, 2 pages (scanned images are not read)"
    )


def test_pdf_locked_only_against_editing_is_read(tmp_path):
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=SAMPLES / "report.pdf")
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    text, _ = extract(write_pdf(tmp_path / "locked.pdf", writer))
    assert "Quarterly report" in text


def test_password_protected_pdf_fails_readably(tmp_path):
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=SAMPLES / "report.pdf")
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    with pytest.raises(ProcessingFailed, match="protected by a password"):
        extract_text(write_pdf(tmp_path / "secret.pdf", writer))


def test_pdf_needing_a_missing_crypto_library_fails_readably(tmp_path, monkeypatch):
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import DependencyError

    writer = PdfWriter(clone_from=SAMPLES / "report.pdf")
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    path = write_pdf(tmp_path / "aes.pdf", writer)

    def decrypt(self, password):
        raise DependencyError("cryptography>=3.1 is required for AES algorithm")

    monkeypatch.setattr(PdfReader, "decrypt", decrypt)
    with pytest.raises(ProcessingFailed, match="cannot decrypt"):
        extract_text(path)


@pytest.mark.parametrize(
    "data",
    [
        (SAMPLES / "corrupt.pdf").read_bytes(),
        b"",
        b"%PDF-1.4\n",
        (SAMPLES / "notes.txt").read_bytes(),
    ],
    ids=["corrupt-sample", "empty", "header-only", "text-named-pdf"],
)
def test_corrupt_pdf_fails_readably(tmp_path, data):
    path = tmp_path / "broken.pdf"
    path.write_bytes(data)
    with pytest.raises(ProcessingFailed) as caught:
        extract_text(path)
    assert str(caught.value) == (
        "The PDF file is damaged or is not a PDF, so its text cannot be read."
    )


# --- WAV: conversion -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "channels", "width"),
    [
        (22_050, 2, 1),
        (22_050, 2, 2),
        (44_100, 2, 3),
        (48_000, 1, 4),
        (8_000, 1, 2),
        (16_000, 3, 2),
        (11_025, 1, 1),
    ],
)
def test_pcm_converter_to_16_khz_mono_16_bit(rate, channels, width):
    seconds, frequency = 1.0, 440.0
    frames = pcm_bytes(sine(frequency, seconds, rate), channels=channels, width=width)
    converter = PcmConverter(channels=channels, sample_width=width, rate=rate)
    frame_size = channels * width
    block = 1000 * frame_size + frame_size  # odd-sized blocks, carried state must join them
    output = array("h")
    for start in range(0, len(frames), block):
        output += converter.convert(frames[start : start + block])

    assert output.typecode == "h"
    assert abs(len(output) - seconds * TARGET_RATE) <= 2
    # The pitch is kept: a 440 Hz tone crosses zero 880 times a second.
    assert abs(zero_crossings(output) - 2 * frequency * seconds) <= 4
    # So is the loudness (half of full scale), within what the averaging filter takes off.
    assert 0.4 * 32767 < max(output) <= 32767
    assert -32768 <= min(output) < -0.4 * 32767


def test_pcm_converter_gives_the_same_samples_whatever_the_block_size():
    rate, channels, width = 22_050, 2, 2
    frames = pcm_bytes(sine(300.0, 0.5, rate), channels=channels, width=width)
    whole = PcmConverter(channels=channels, sample_width=width, rate=rate).convert(frames)
    for block_frames in (1, 7, 333, 4096):
        converter = PcmConverter(channels=channels, sample_width=width, rate=rate)
        block = block_frames * channels * width
        pieces = array("h")
        for start in range(0, len(frames), block):
            pieces += converter.convert(frames[start : start + block])
        assert pieces == whole


def test_pcm_converter_silence_stays_silent():
    converter = PcmConverter(channels=2, sample_width=1, rate=22_050)
    output = converter.convert(bytes([128]) * 2 * 22_050)
    assert set(output) == {0}


# --- WAV: transcription ----------------------------------------------------------------------


# What hello.wav says: "Hello world. This is a test of the knowledge base."
SPOKEN_WORDS = {"hello", "world", "this", "is", "a", "test", "of", "the", "knowledge", "base"}


def assert_recognised(text: str) -> None:
    """pocketsphinx is imperfect: ask for "hello" and most of the other words, not all."""
    heard = set(text.lower().split())
    assert "hello" in heard, text
    assert len(heard & SPOKEN_WORDS) >= 5, text


def test_speech_sample_is_transcribed():
    text, recorder = extract(SAMPLES / "hello.wav")
    assert_recognised(text)
    assert "test" in text.split()
    assert recorder.messages == [
        "Transcribing hello.wav: 0:03 of 0:03",
        "Transcribed 0:03 of audio from hello.wav",
    ]


def test_speech_at_22050_hz_stereo_8_bit_is_transcribed(tmp_path):
    # The committed sample, upsampled to espeak-ng's native rate and widened to stereo, then
    # stored as 8-bit: the converter must undo all of it well enough to recognise speech.
    samples, rate = read_samples(SAMPLES / "hello.wav")
    target = 22_050
    count = len(samples) * target // rate
    values = []
    for n in range(count):
        position = n * rate / target
        index = min(int(position), len(samples) - 2)
        fraction = position - index
        values.append((samples[index] * (1 - fraction) + samples[index + 1] * fraction) / 32768)
    path = write_wav(
        tmp_path / "speech.wav",
        pcm_bytes(values, channels=2, width=1),
        channels=2,
        width=1,
        rate=target,
    )
    text, _ = extract(path)
    assert_recognised(text)


def test_speech_running_to_the_end_of_the_file_is_transcribed(tmp_path):
    samples, rate = read_samples(SAMPLES / "hello.wav")
    # Drop the trailing pause and the last word: the file now ends while speech goes on.
    path = write_wav(
        tmp_path / "cut-off.wav",
        samples[: len(samples) - rate * 7 // 10].tobytes(),
        channels=1,
        width=2,
        rate=rate,
    )
    text, _ = extract(path)
    assert "hello" in text.split(), text


def test_long_speech_is_decoded_in_bounded_utterances(monkeypatch):
    from knowledge.processing import speech

    monkeypatch.setattr(speech, "_MAX_UTTERANCE_SECONDS", 1)
    text, _ = extract(SAMPLES / "hello.wav")
    assert len(text.splitlines()) >= 3, text
    assert "hello" in text.split(), text


def test_silence_gives_no_text(tmp_path):
    path = write_wav(
        tmp_path / "silence.wav", bytes(2 * 16_000 * 12), channels=1, width=2, rate=16_000
    )
    text, recorder = extract(path)
    assert text == ""
    assert recorder.messages == [
        "Transcribing silence.wav: 0:05 of 0:12",
        "Transcribing silence.wav: 0:10 of 0:12",
        "Transcribing silence.wav: 0:12 of 0:12",
        "No speech recognised in silence.wav (0:12 of audio)",
    ]


def test_empty_recording_completes(tmp_path):
    path = write_wav(tmp_path / "empty.wav", b"", channels=1, width=2, rate=16_000)
    text, recorder = extract(path)
    assert text == ""
    assert recorder.calls == [(1.0, "empty.wav is empty")]


def test_truncated_wav_fails_readably(tmp_path):
    data = (SAMPLES / "hello.wav").read_bytes()
    path = tmp_path / "cut.wav"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ProcessingFailed, match="truncated") as caught:
        extract_text(path)
    assert "announces 0:03 of audio" in str(caught.value)


def test_wav_cut_inside_its_header_fails_readably(tmp_path):
    path = tmp_path / "cut.wav"
    path.write_bytes((SAMPLES / "hello.wav").read_bytes()[:30])
    with pytest.raises(ProcessingFailed, match="damaged or incomplete"):
        extract_text(path)


def wav_with_format_tag(tag: int, *, width: int = 4) -> bytes:
    data = bytes(16_000 * width)
    fmt = struct.pack("<HHIIHH", tag, 1, 16_000, 16_000 * width, width, 8 * width)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(
    ("tag", "width"), [(3, 4), (6, 1), (0x11, 1)], ids=["float", "alaw", "adpcm"]
)
def test_non_pcm_wav_fails_readably(tmp_path, tag, width):
    path = tmp_path / "encoded.wav"
    path.write_bytes(wav_with_format_tag(tag, width=width))
    with pytest.raises(ProcessingFailed, match="only uncompressed integer PCM"):
        extract_text(path)


def test_file_that_is_not_a_wav_fails_readably(tmp_path):
    path = tmp_path / "song.wav"
    path.write_bytes(b"ID3\x04\x00" + bytes(200))  # an MP3 renamed to .wav
    with pytest.raises(ProcessingFailed, match="not a WAV audio file"):
        extract_text(path)


@pytest.mark.parametrize("rate", [100, 1_000_000])
def test_wav_with_unusable_sample_rate_fails_readably(tmp_path, rate):
    path = write_wav(tmp_path / "odd.wav", bytes(200), channels=1, width=2, rate=rate)
    with pytest.raises(ProcessingFailed, match="not a usable audio rate"):
        extract_text(path)


# --- Anything at all -------------------------------------------------------------------------


@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    extension=st.sampled_from(sorted(SUPPORTED_EXTENSIONS)),
    data=st.one_of(
        st.binary(max_size=2048),
        st.builds(
            lambda prefix, rest: prefix + rest,
            st.sampled_from([b"%PDF-1.4\n", b"RIFF\x24\x00\x00\x00WAVEfmt ", b"# Title\n"]),
            st.binary(max_size=512),
        ),
    ),
)
def test_random_bytes_give_text_or_processing_failed(tmp_path, extension, data):
    path = tmp_path / f"random{extension}"
    path.write_bytes(data)
    recorder = Recorder()
    try:
        text = extract_text(path, on_progress=recorder)
    except ProcessingFailed as exc:
        assert str(exc)
    else:
        assert isinstance(text, str)
        recorder.assert_well_formed()


@settings(max_examples=50, deadline=None, database=None)
@given(
    channels=st.integers(min_value=0, max_value=3),
    width=st.integers(min_value=0, max_value=5),
    rate=st.sampled_from([0, 1, 8_000, 22_050, 44_100, 2**31 - 1]),
    frames=st.binary(max_size=4000),
    cut=st.integers(min_value=0, max_value=64),
)
def test_random_wav_headers_give_text_or_processing_failed(channels, width, rate, frames, cut):
    fmt = struct.pack("<HHIIHH", 1, channels, rate, 0, channels * width, 8 * width)
    body = b"WAVEfmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(frames)) + frames
    data = b"RIFF" + struct.pack("<I", len(body)) + body
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "random.wav"
        path.write_bytes(data[: len(data) - cut])
        try:
            text = extract_text(path)
        except ProcessingFailed as exc:
            assert str(exc)
        else:
            assert isinstance(text, str)
