"""PCM helpers: WAV reading, resampling (soxr) and framing. All audio is s16le mono bytes."""
from __future__ import annotations

import wave
from collections.abc import Iterator
from dataclasses import dataclass
from os import PathLike

import numpy as np
import soxr

SAMPLE_WIDTH = 2  # bytes per s16le sample


@dataclass(frozen=True)
class Pcm:
    samples: bytes  # s16le mono
    rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_WIDTH / self.rate


def read_wav(path: str | PathLike[str]) -> Pcm:
    """A 16-bit PCM WAV file as mono s16le; stereo is averaged down to mono."""
    try:
        with wave.open(str(path), "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            data = w.readframes(w.getnframes())
    except wave.Error as exc:  # e.g. float or compressed WAVs, which the wave module refuses
        raise ValueError(f"{path}: not a 16-bit PCM WAV file ({exc})") from exc
    if width != SAMPLE_WIDTH:
        raise ValueError(f"{path}: {8 * width}-bit samples; only 16-bit PCM WAV is supported")
    if channels not in (1, 2):
        raise ValueError(f"{path}: {channels} channels; only mono or stereo is supported")
    if channels == 2:
        pairs = np.frombuffer(data, dtype="<i2").reshape(-1, 2).astype(np.int32)
        data = (pairs.sum(axis=1) // 2).astype("<i2").tobytes()
    return Pcm(samples=data, rate=rate)


def resample(samples: bytes, src_rate: int, dst_rate: int) -> bytes:
    """One-shot resampling of a whole buffer (for streams use Resampler: no edge effects per chunk)."""
    if src_rate == dst_rate or not samples:
        return samples
    x = np.frombuffer(samples, dtype="<i2")
    return soxr.resample(x, src_rate, dst_rate).astype("<i2").tobytes()


class Resampler:
    """Streaming resampler: keeps filter state between chunks, so frame borders do not click."""

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        self.src_rate, self.dst_rate = src_rate, dst_rate
        self._stream = soxr.ResampleStream(src_rate, dst_rate, 1, dtype="int16")

    def push(self, samples: bytes) -> bytes:
        x = np.frombuffer(samples, dtype="<i2")
        return self._stream.resample_chunk(x).astype("<i2").tobytes()

    def flush(self) -> bytes:
        """The samples still held in the filter (call once, at the end of the stream)."""
        return self._stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True).astype("<i2").tobytes()


def frames(samples: bytes, rate: int, frame_ms: int = 20) -> Iterator[bytes]:
    """Consecutive frames of `frame_ms`; the last, shorter frame is kept."""
    size = rate * frame_ms // 1000 * SAMPLE_WIDTH
    for i in range(0, len(samples), size):
        yield samples[i:i + size]
