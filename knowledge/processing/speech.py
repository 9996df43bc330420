"""Speech in WAV files to text, with pocketsphinx and the US-English model it ships.

Audio is read a few seconds at a time, converted to 16 kHz mono 16-bit, and split into
utterances at pauses by pocketsphinx's voice activity detector. Each utterance is decoded
whole (``full_utt``), which normalises it on its own and recognises far better than
decoding a live stream; utterances are capped in length, so memory stays small however
long the recording is.
"""

from __future__ import annotations

import os
import wave
from array import array

from .audio import TARGET_RATE, PcmConverter, open_wav
from .base import Budget, ProcessingFailed, ProgressReporter, format_duration

_STEP_SECONDS = 5
_MAX_UTTERANCE_SECONDS = 20
_SILENT_SAMPLE = b"\x00\x00"


def transcribe_wav(path: str | os.PathLike[str], progress: ProgressReporter, budget: Budget) -> str:
    with open_wav(path) as (reader, wav_format):
        total = format_duration(wav_format.duration)
        if wav_format.frame_count == 0:
            progress.finish(f"{progress.name} is empty")
            return ""
        limit = budget.max_audio_seconds
        if limit is not None and wav_format.duration > limit:
            raise ProcessingFailed(
                f"The recording is {total} long; at most {format_duration(limit)} is "
                "transcribed. Split it into shorter files and upload them again."
            )
        converter = PcmConverter(
            channels=wav_format.channels,
            sample_width=wav_format.sample_width,
            rate=wav_format.rate,
        )
        transcriber = _Transcriber()
        frame_size = wav_format.channels * wav_format.sample_width
        done = 0
        while done < wav_format.frame_count:
            count = min(wav_format.rate * _STEP_SECONDS, wav_format.frame_count - done)
            frames = _read_frames(reader, count)
            if len(frames) < count * frame_size:
                raise ProcessingFailed("The WAV file ended before all of its audio was read.")
            transcriber.feed(converter.convert(frames))
            done += count
            progress.step(
                done / wav_format.frame_count,
                f"Transcribing {progress.name}: "
                f"{format_duration(done / wav_format.rate)} of {total}",
            )
        text = transcriber.finish()
    if text:
        progress.finish(f"Transcribed {total} of audio from {progress.name}")
    else:
        progress.finish(f"No speech recognised in {progress.name} ({total} of audio)")
    return text


def _read_frames(reader: wave.Wave_read, count: int) -> bytes:
    try:
        return reader.readframes(count)
    except (wave.Error, EOFError, OSError):
        raise ProcessingFailed("The WAV file could not be read to the end.") from None


class _Transcriber:
    """Feeds 16 kHz audio through the voice activity detector and decodes each utterance.

    Loading the model takes about 0.3 s, so one transcriber serves a whole file. A
    pocketsphinx Decoder must not be shared between threads; each file gets its own.
    """

    def __init__(self) -> None:
        from pocketsphinx import Decoder, Endpointer

        self._decoder = Decoder(loglevel="FATAL")
        self._endpointer = Endpointer(sample_rate=TARGET_RATE)
        self._frame_bytes: int = self._endpointer.frame_bytes
        self._max_utterance_bytes = _MAX_UTTERANCE_SECONDS * TARGET_RATE * 2
        self._unframed = b""  # audio shorter than one detector frame, kept for the next block
        self._utterance: list[bytes] = []
        self._utterance_bytes = 0
        self._texts: list[str] = []

    def feed(self, samples: array[int]) -> None:
        audio = self._unframed + samples.tobytes()
        framed = len(audio) - len(audio) % self._frame_bytes
        for start in range(0, framed, self._frame_bytes):
            speech = self._endpointer.process(audio[start : start + self._frame_bytes])
            if speech is not None:
                self._utterance.append(speech)
                self._utterance_bytes += len(speech)
                ended = not self._endpointer.in_speech
                if ended or self._utterance_bytes >= self._max_utterance_bytes:
                    self._decode_utterance()
        self._unframed = audio[framed:]

    def finish(self) -> str:
        """Decode what is left and return the whole transcript, one utterance a line."""
        if self._endpointer.in_speech:
            # end_stream() raises IndexError when given no audio at all, which happens when
            # a recording ends mid-utterance exactly on a detector frame boundary; one
            # sample of silence is a harmless tail.
            speech = self._endpointer.end_stream(self._unframed or _SILENT_SAMPLE)
            if speech is not None:
                self._utterance.append(speech)
        self._unframed = b""
        self._decode_utterance()
        return "\n".join(self._texts)

    def _decode_utterance(self) -> None:
        if not self._utterance:
            return
        audio = b"".join(self._utterance)
        self._utterance.clear()
        self._utterance_bytes = 0
        decoder = self._decoder
        try:
            decoder.start_utt()
            decoder.process_raw(audio, full_utt=True)
            decoder.end_utt()
        except RuntimeError:
            raise ProcessingFailed("Speech recognition failed on this recording.") from None
        hypothesis = decoder.hyp()
        if hypothesis is not None and hypothesis.hypstr:
            self._texts.append(hypothesis.hypstr)
