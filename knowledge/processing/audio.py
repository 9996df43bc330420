"""Reading WAV files and converting their PCM audio to 16 kHz mono 16-bit, in pure Python.

No ``audioop`` (removed in Python 3.13) and no numpy: byte slicing and the ``array`` module
do the sample-width conversion and mixing at C speed; only resampling loops in Python.
"""

from __future__ import annotations

import os
import struct
import sys
import wave
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import repeat
from operator import floordiv
from typing import BinaryIO

from .base import ProcessingFailed, format_duration

TARGET_RATE = 16_000
_MIN_RATE = 4_000
_MAX_RATE = 384_000
# Unsigned 8-bit samples become signed by flipping the top bit.
_SIGN_FLIP = bytes(value ^ 0x80 for value in range(256))


@dataclass(frozen=True)
class WavFormat:
    channels: int
    sample_width: int  # bytes per sample
    rate: int  # frames per second
    frame_count: int

    @property
    def duration(self) -> float:
        return self.frame_count / self.rate


@contextmanager
def open_wav(path: str | os.PathLike[str]) -> Iterator[tuple[wave.Wave_read, WavFormat]]:
    """Open a PCM WAV file, check it is whole and usable, and give its reader and format."""
    with open(path, "rb") as stream, _read_header(stream) as reader:
        wav_format = WavFormat(
            channels=reader.getnchannels(),
            sample_width=reader.getsampwidth(),
            rate=reader.getframerate(),
            frame_count=reader.getnframes(),
        )
        _check_format(wav_format)
        # wave leaves the file at the start of the audio data, so the file's size tells
        # at once whether all the audio the header announces is really there.
        available = os.fstat(stream.fileno()).st_size - stream.tell()
        frame_size = wav_format.channels * wav_format.sample_width
        if available < wav_format.frame_count * frame_size:
            raise ProcessingFailed(
                "The WAV file is truncated: its header announces "
                f"{format_duration(wav_format.duration)} of audio, but the file holds "
                f"only {format_duration(available // frame_size / wav_format.rate)}."
            )
        yield reader, wav_format


def _read_header(stream: BinaryIO) -> wave.Wave_read:
    try:
        return wave.open(stream, "rb")
    except wave.Error as exc:
        raise ProcessingFailed(_describe_wave_error(exc)) from None
    except (EOFError, struct.error):
        raise ProcessingFailed(
            "The WAV file is damaged or incomplete: its header cannot be read."
        ) from None


def _describe_wave_error(exc: wave.Error) -> str:
    detail = str(exc)
    if detail.startswith("unknown format"):
        # Compressed (ADPCM, mu-law, ...) or floating-point audio; on Python 3.11 also the
        # "extensible" header that some tools write even for plain PCM.
        return (
            "The WAV file's audio encoding is not supported: only uncompressed integer PCM "
            "is. Convert it to 16-bit PCM WAV and upload it again."
        )
    if "RIFF" in detail or "WAVE" in detail:
        return "The file is not a WAV audio file."
    return f"The WAV file is damaged or uses an unsupported layout ({detail})."


def _check_format(wav_format: WavFormat) -> None:
    if not 1 <= wav_format.sample_width <= 4:
        raise ProcessingFailed(
            f"The WAV file uses {wav_format.sample_width * 8}-bit samples; "
            "only 8, 16, 24 and 32-bit PCM is supported."
        )
    if not _MIN_RATE <= wav_format.rate <= _MAX_RATE:
        raise ProcessingFailed(
            f"The WAV file's sample rate ({wav_format.rate:,} Hz) is not a usable audio rate."
        )


class PcmConverter:
    """Turns successive blocks of WAV frames into 16 kHz mono signed 16-bit samples.

    State carries over between blocks, so a file converted block by block gives the same
    samples as the whole file converted at once, whatever the block sizes.
    """

    def __init__(self, *, channels: int, sample_width: int, rate: int) -> None:
        self._channels = channels
        self._sample_width = sample_width
        # Rates of twice the target or more are first averaged down by a whole factor: a
        # cheap low-pass that keeps high frequencies from folding into the speech band.
        self._decimation = max(1, rate // TARGET_RATE)
        self._resampler = _LinearResampler(rate, self._decimation)
        self._pending = array("h")  # samples waiting for a full group to average

    def convert(self, frames: bytes) -> array[int]:
        frame_size = self._channels * self._sample_width
        samples = _to_16_bit(frames[: len(frames) - len(frames) % frame_size], self._sample_width)
        samples = _average_groups(samples, self._channels)
        if self._decimation > 1:
            samples = self._pending + samples
            usable = len(samples) - len(samples) % self._decimation
            self._pending = samples[usable:]
            samples = _average_groups(samples[:usable], self._decimation)
        return self._resampler.feed(samples)


def _to_16_bit(frames: bytes, width: int) -> array[int]:
    """Signed 16-bit samples in native byte order from little-endian PCM of any width."""
    if width == 2:
        little_endian = frames[: len(frames) - len(frames) % 2]
    else:
        count = len(frames) // width
        buffer = bytearray(2 * count)
        if width == 1:
            buffer[1::2] = frames[:count].translate(_SIGN_FLIP)
        else:
            # Keep the two most significant bytes of each 24- or 32-bit sample.
            buffer[0::2] = frames[width - 2 : count * width : width]
            buffer[1::2] = frames[width - 1 : count * width : width]
        little_endian = bytes(buffer)
    samples = array("h", little_endian)
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _average_groups(samples: array[int], size: int) -> array[int]:
    """Average each run of ``size`` consecutive samples (channels of a frame, or decimation)."""
    if size == 1:
        return samples
    columns = [samples[offset::size] for offset in range(size)]
    return array("h", map(floordiv, map(sum, zip(*columns, strict=True)), repeat(size)))


class _LinearResampler:
    """Linear interpolation from ``source_rate`` to the target rate, block after block."""

    def __init__(self, source_rate: int, divisor: int) -> None:
        # The stream's rate is source_rate / divisor (after decimation); positions are kept as
        # exact integers in units of 1 / (divisor * TARGET_RATE) input samples, so no drift.
        self._step = source_rate
        self._unit = divisor * TARGET_RATE
        self._identity = source_rate == self._unit
        self._position = 0  # of the next output sample, relative to the start of _previous
        self._previous = array("h")  # the last input sample, needed to interpolate onwards

    def feed(self, samples: array[int]) -> array[int]:
        if self._identity:
            return samples
        buffer = self._previous + samples
        step, unit = self._step, self._unit
        position = self._position
        output = array("h")
        last = len(buffer) - 1
        while position // unit < last:
            index, remainder = divmod(position, unit)
            left = buffer[index]
            output.append(left + (buffer[index + 1] - left) * remainder // unit)
            position += step
        if buffer:
            self._previous = buffer[-1:]
            self._position = position - last * unit
        return output
