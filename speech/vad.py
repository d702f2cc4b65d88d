"""Silence gate: keeps long pauses away from the decoder, which is the scarce resource (CPU)."""
from __future__ import annotations

import math
from collections import deque

import webrtcvad

VAD_RATES = (8000, 16000, 32000, 48000)  # the only rates webrtcvad accepts
FRAME_MS = 20
VAD_MODE = 2  # 0..3; 2 rejects line noise well without eating soft syllable onsets


class SilenceGate:
    """Decides, 20 ms at a time, which audio the decoder must see.

    Speech and the first `hangover_s` of each pause are passed through (the decoder needs trailing
    silence to find the end of an utterance); after that, audio is withheld until speech resumes,
    and then the last `preroll_s` of what was withheld is released first, so onsets are not clipped.
    """

    def __init__(self, rate: int, hangover_s: float = 0.6, preroll_s: float = 0.3) -> None:
        self.rate = rate
        self._vad = webrtcvad.Vad(VAD_MODE) if rate in VAD_RATES else None
        self._frame_samples = rate * FRAME_MS // 1000
        self._hangover = math.ceil(hangover_s * 1000 / FRAME_MS - 1e-9)
        self._preroll_max = round(preroll_s * 1000 / FRAME_MS)
        self._preroll: deque[tuple[bytes, int]] = deque()  # withheld frames that may still be released
        self._remainder = b""  # less than one frame, waiting for the next push
        self._pos = 0  # stream position (samples) of the first sample not yet framed
        self._silent_frames = 0
        self._in_silence = True  # nothing said yet at the start of a leg
        self._skipped_samples = 0

    @property
    def in_silence(self) -> bool:
        """True while audio is being withheld (a pause longer than the hangover)."""
        return self._in_silence and self._vad is not None

    @property
    def skipped_seconds(self) -> float:
        """Audio withheld for good so far (the preroll buffer may still be released, so not counted)."""
        return self._skipped_samples / self.rate

    def push(self, chunk: bytes) -> list[tuple[bytes, float]]:
        """What to feed the decoder now: (pcm, stream time in s of its first sample), in order."""
        if self._vad is None:  # unsupported rate: pass everything through
            start = self._pos
            self._pos += len(chunk) // 2
            return [(chunk, start / self.rate)] if chunk else []
        data = self._remainder + chunk
        size = self._frame_samples * 2
        whole = len(data) - len(data) % size
        self._remainder = data[whole:]
        out: list[tuple[bytearray, int, int]] = []  # (pcm, start, end) in samples, merged when contiguous
        for i in range(0, whole, size):
            frame, start = data[i:i + size], self._pos
            self._pos += self._frame_samples
            voiced = self._vad.is_speech(frame, self.rate)
            self._silent_frames = 0 if voiced else self._silent_frames + 1
            if self._in_silence and voiced:
                self._in_silence = False
                for held, held_start in self._preroll:
                    self._emit(out, held, held_start)
                self._preroll.clear()
            elif not self._in_silence and self._silent_frames > self._hangover:
                self._in_silence = True
            if self._in_silence:
                self._hold(frame, start)
            else:
                self._emit(out, frame, start)
        return [(bytes(pcm), start / self.rate) for pcm, start, _ in out]

    def flush(self) -> list[tuple[bytes, float]]:
        """End of stream: the trailing partial frame if speech is on; withheld audio counts as skipped."""
        tail, self._remainder = self._remainder, b""
        start = self._pos
        self._pos += len(tail) // 2
        for held, _ in self._preroll:
            self._skipped_samples += len(held) // 2
        self._preroll.clear()
        if not tail:
            return []
        if self.in_silence:
            self._skipped_samples += len(tail) // 2
            return []
        return [(tail, start / self.rate)]

    def _hold(self, frame: bytes, start: int) -> None:
        self._preroll.append((frame, start))
        while len(self._preroll) > self._preroll_max:
            dropped, _ = self._preroll.popleft()
            self._skipped_samples += len(dropped) // 2

    @staticmethod
    def _emit(out: list[tuple[bytearray, int, int]], frame: bytes, start: int) -> None:
        end = start + len(frame) // 2
        if out and out[-1][2] == start:
            pcm, first, _ = out[-1]
            pcm += frame
            out[-1] = (pcm, first, end)
        else:
            out.append((bytearray(frame), start, end))
