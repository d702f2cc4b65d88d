"""Streaming recognition of live call legs: one shared Vosk model, decoding in a thread pool.

Sample rate: phone legs arrive as 8 kHz slin, and the model is trained on 16 kHz. We give Vosk the
leg's own rate (KaldiRecognizer(model, 8000)): the model's mfcc.conf has --allow-upsample=true, so
Kaldi upsamples inside the feature pipeline. Measured on the reference clip resampled to 8 kHz
(also after a G.711 mu-law round trip): the same text, 甚至出现交易几乎停滞的情况, word times
within 0.03 s and confidences within 0.04 of upsampling 8k->16k with soxr first, at the same CPU
cost. So no extra resampling pass and no per-leg resampler state in the common case.
"""
from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import threading
import time
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Union

from speech.audio import Resampler
from speech.model import ModelNotFound, load_model, loaded_graph, model_problem
from speech.vad import SilenceGate

if TYPE_CHECKING:
    import vosk

log = logging.getLogger(__name__)

# A live leg delivers a 20 ms frame at a time; decoding each on its own costs an executor hop and
# a partial lattice search per frame, about twice the CPU of 0.1 s steps (bench/speech.py).
MIN_BATCH_SECONDS = 0.1
BATCH_SECONDS = 0.5  # audio per executor call at most: a leg that fell behind catches up in few hops
STEP_SECONDS = 0.1  # AcceptWaveform granularity inside a call, so an endpoint is seen where it happens
LAG_REPEAT_SECONDS = 0.5  # Lag(behind=True) at most this often per leg


@dataclass(frozen=True)
class Segment:
    start: float  # seconds from leg start (stream time, skipped silence included)
    end: float
    text: str
    confidence: float  # mean word confidence, 0..1
    words: list[dict] = field(default_factory=list)  # vosk words, start/end in stream time


@dataclass(frozen=True)
class Partial:
    text: str
    audio_time: float  # stream time up to which audio was decoded
    arrived_at: float  # time.monotonic() when the newest audio included arrived


@dataclass(frozen=True)
class Final:
    segment: Segment


@dataclass(frozen=True)
class Lag:
    seconds: float
    behind: bool


SpeechEvent = Union[Partial, Final, Lag]
Sink = Callable[[SpeechEvent], Awaitable[None] | None]


def join_words(tokens: list[str]) -> str:
    """Vosk separates every word by a space; Chinese is written without, Latin/digit runs keep one."""
    out = ""
    for token in tokens:
        if out and _latin(out[-1]) and _latin(token[0]):
            out += " "
        out += token
    return out


def _latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


class SpeechEngine:
    """One model and one decoding thread pool shared by every leg of the process."""

    def __init__(self, model_dir: Path | None = None, workers: int | None = None,
                 partial_interval: float = 0.25, lag_threshold: float = 1.0, vad: bool = True,
                 warm_recognizers: int | None = None) -> None:
        self.model_dir = model_dir
        self.workers = workers or os.cpu_count() or 1
        # A new KaldiRecognizer costs about 0.8-1.25 CPU-s over its first seconds of speech (its
        # decoding graph caches fill); one reused after Reset() decodes the same audio for about
        # a seventh of that. Ended legs hand theirs back, up to this many are kept.
        self.warm_recognizers = warm_recognizers if warm_recognizers is not None else 2 * self.workers
        # Per rate: (recognizer, seconds it has been fed). Vosk's word times keep counting across
        # Reset(), so a reused recognizer's clock starts where its previous leg left it.
        self._idle_recognizers: dict[int, list[tuple[vosk.KaldiRecognizer, float]]] = {}
        self._pool_lock = threading.Lock()  # taken and returned on executor threads
        self.partial_interval = partial_interval
        self.lag_threshold = lag_threshold
        self.vad = vad
        self.model: vosk.Model | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._legs: set[LegStream] = set()
        # Why there is no transcription (e.g. "off: model not found (run: make model)"); None while
        # the model is loaded or not yet tried. Calls still work without it: legs then discard audio.
        self.unavailable: str | None = None
        self.stats: dict[str, float] = {
            "legs_open": 0, "seconds_received": 0.0, "seconds_decoded": 0.0, "seconds_skipped": 0.0,
            "recognizers_created": 0, "recognizers_reused": 0,
        }

    async def start(self) -> None:
        """Load the model in the pool (about 0.4 s of CPU), not on the event loop. Idempotent."""
        if self._executor is None:
            # Vosk's cffi calls release the GIL, so threads decode in parallel (bench/speech_decoding.py)
            # and share one model in memory, which processes could not.
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="vosk")
        if self.model is None:
            loop = asyncio.get_running_loop()
            try:
                self.model = await loop.run_in_executor(self._executor, load_model, self.model_dir)
            except ModelNotFound as exc:
                # A missing model turns transcription off; it must not take the phone channel
                # (screen pops, call tickets) or the gateway down with it.
                reason = model_problem(self.model_dir) or "model could not be loaded"
                self.unavailable = f"off: {reason} (run: make model)"
                log.warning("live transcription off: no usable Vosk model", extra={"reason": str(exc).splitlines()[0]})
            else:
                self.unavailable = None

    @property
    def graph(self) -> str | None:
        """"static" (composed ahead: `hotline models graph`), "model" (the model's own lookahead
        graph, several times the CPU on new speech), or None without a loaded model."""
        return loaded_graph(self.model_dir) if self.model is not None else None

    @property
    def transcription(self) -> str:
        """"on", "off: <reason> (run: make model)", or "not started"."""
        if self.model is not None:
            return "on"
        return self.unavailable or "not started"

    def open_leg(self, sample_rate: int, sink: Sink) -> "LegStream | DiscardingLeg":
        """A new stream; call from the event loop after start(). Without a model (transcription
        off) the stream takes the audio and discards it."""
        if self.unavailable is not None and self.model is None:
            return DiscardingLeg()
        if self.model is None or self._executor is None:
            raise RuntimeError("SpeechEngine.open_leg() before `await engine.start()`")
        leg = LegStream(self, sample_rate, sink)
        self._legs.add(leg)
        self.stats["legs_open"] += 1
        return leg

    async def close(self) -> None:
        """Close the open legs (their last words are kept), then shut the pool down."""
        await asyncio.gather(*(leg.close() for leg in list(self._legs)))
        with self._pool_lock:
            self._idle_recognizers.clear()
        executor, self._executor, self.model = self._executor, None, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, True)

    def take_recognizer(self, rate: int) -> "tuple[vosk.KaldiRecognizer, float]":
        """A warm recognizer for `rate` if one is idle, else a new one, with the time (seconds
        fed so far) its word times start from (executor thread only)."""
        with self._pool_lock:
            idle = self._idle_recognizers.get(rate)
            if idle:
                self.stats["recognizers_reused"] += 1
                return idle.pop()
            self.stats["recognizers_created"] += 1
        import vosk

        rec = vosk.KaldiRecognizer(self.model, rate)  # ~50 ms: kept off the loop
        rec.SetWords(True)
        return rec, 0.0

    def return_recognizer(self, rate: int, rec: "vosk.KaldiRecognizer", fed: float) -> None:
        """Keep a leg's recognizer (fed `fed` seconds in all) for the next leg (executor thread only)."""
        rec.Reset()
        with self._pool_lock:
            if sum(len(v) for v in self._idle_recognizers.values()) < self.warm_recognizers:
                self._idle_recognizers.setdefault(rate, []).append((rec, fed))

    @property
    def idle_recognizers(self) -> int:
        with self._pool_lock:
            return sum(len(v) for v in self._idle_recognizers.values())

    def _leg_closed(self, leg: LegStream) -> None:
        if leg in self._legs:
            self._legs.discard(leg)
            self.stats["legs_open"] -= 1


class DiscardingLeg:
    """The stream of a leg while transcription is off: same calls as LegStream, no words."""

    lag_seconds = 0.0

    def __init__(self) -> None:
        self.segments: list[Segment] = []

    def feed(self, pcm: bytes, sample_rate: int | None = None) -> None:
        pass

    async def drain(self) -> None:
        pass

    async def close(self) -> list[Segment]:
        return []


@dataclass
class _Decoded:
    """What one executor call produced; applied to stats and the sink back on the event loop."""
    segments: list[Segment] = field(default_factory=list)
    partial: str | None = None
    audio_time: float = 0.0
    decoded: float = 0.0  # seconds fed to Vosk
    skipped: float = 0.0  # seconds the gate withheld for good


class LegStream:
    """One call leg. feed() from the event loop; a single consumer task does the decoding."""

    def __init__(self, engine: SpeechEngine, sample_rate: int, sink: Sink) -> None:
        assert engine.model is not None and engine._executor is not None
        self.rate = sample_rate
        self.segments: list[Segment] = []
        self._engine = engine
        self._model = engine.model  # the shared model its recognizers decode with
        self._executor = engine._executor
        self._sink = sink
        self._queue: deque[tuple[bytes, float]] = deque()  # (pcm at leg rate, monotonic arrival)
        self._inflight_since: float | None = None  # arrival of the oldest audio in the executor
        self._wake = asyncio.Event()
        self._gathering = False  # the consumer waits for MIN_BATCH_SECONDS of audio: feed() leaves it be
        self._idle = asyncio.Event()  # set while everything fed so far has been decoded
        self._closing = False
        self._odd = b""  # a dangling byte of a split sample
        self._resamplers: dict[int, Resampler] = {}
        # Decoder state below is touched only inside executor calls, which never overlap for a leg.
        self._gate = SilenceGate(sample_rate) if engine.vad else None
        self._rec: vosk.KaldiRecognizer | None = None
        self._received_samples = 0  # stream position when there is no gate
        self._fed = 0.0  # seconds fed to Vosk: Vosk's own time axis
        self._next_stream = -1.0  # stream time the next fed sample has if there was no gap
        self._map_fed: list[float] = []  # fed time where a contiguous run starts ...
        self._map_stream: list[float] = []  # ... and its stream time
        self._open_utterance = False  # audio fed since the last result
        # Event state, on the event loop only.
        self._last_partial = ""
        self._last_partial_at = float("-inf")
        self._pending_partial: Partial | None = None  # held back by partial_interval
        self._behind = False
        self._last_lag_at = float("-inf")
        self._warned_closed = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"speech-leg-{id(self):x}")
        self._task.add_done_callback(lambda _: engine._leg_closed(self))

    # ----- event loop side -----

    @property
    def lag_seconds(self) -> float:
        oldest = self._inflight_since
        if oldest is None and self._queue:
            oldest = self._queue[0][1]
        return 0.0 if oldest is None else max(0.0, time.monotonic() - oldest)

    def feed(self, pcm: bytes, sample_rate: int | None = None) -> None:
        """Queue audio (s16le mono, any length); never blocks, never drops."""
        if self._closing or self._task.done():
            if not self._warned_closed:
                log.warning("audio fed to a closed speech leg is ignored")
                self._warned_closed = True
            return
        if self._odd or len(pcm) % 2:  # keep sample alignment if a frame ever splits a sample
            pcm = self._odd + pcm
            cut = len(pcm) - len(pcm) % 2
            pcm, self._odd = pcm[:cut], pcm[cut:]
        if sample_rate is not None and sample_rate != self.rate:
            resampler = self._resamplers.get(sample_rate)
            if resampler is None:
                resampler = self._resamplers[sample_rate] = Resampler(sample_rate, self.rate)
            pcm = resampler.push(pcm)
        self._enqueue(pcm)

    async def drain(self) -> None:
        """Wait until all audio fed so far is decoded (the utterance stays open: no FinalResult)."""
        waiter = asyncio.ensure_future(self._idle.wait())
        try:  # the task ending (closed, or failed) also ends the wait
            await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()

    async def close(self) -> list[Segment]:
        """Hang-up: decode what is queued, keep the last words (FinalResult), return all segments."""
        if not self._closing:
            for resampler in self._resamplers.values():
                self._enqueue(resampler.flush())
            self._closing = True
            self._wake.set()
        try:
            await asyncio.shield(self._task)  # a cancelled caller must not lose the last words
        except asyncio.CancelledError:
            raise
        except Exception:  # logged by the task; the segments so far are still returned
            pass
        return self.segments

    def _enqueue(self, pcm: bytes) -> None:
        if not pcm:
            return
        self._queue.append((pcm, time.monotonic()))
        self._idle.clear()
        self._engine.stats["seconds_received"] += len(pcm) / 2 / self.rate
        if not self._gathering:  # a consumer gathering a batch wakes on its own deadline, not per frame
            self._wake.set()

    def _take_batch(self) -> tuple[bytes, float]:
        """Up to BATCH_SECONDS from the queue (splitting a big item); returns (pcm, newest arrival)."""
        budget = int(BATCH_SECONDS * self.rate) * 2
        parts: list[bytes] = []
        newest = 0.0
        self._inflight_since = self._queue[0][1]
        while self._queue and budget > 0:
            pcm, arrived = self._queue.popleft()
            if len(pcm) > budget:
                self._queue.appendleft((pcm[budget:], arrived))
                pcm = pcm[:budget]
            parts.append(pcm)
            budget -= len(pcm)
            newest = arrived
        return b"".join(parts), newest

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                if not self._queue:
                    if self._closing:
                        break
                    self._idle.set()
                    self._wake.clear()
                    if self._pending_partial is None:
                        await self._wake.wait()
                    else:  # a held-back partial is due even if no more audio comes
                        due = self._last_partial_at + self._engine.partial_interval - time.monotonic()
                        try:
                            async with asyncio.timeout(max(due, 0.0)):
                                await self._wake.wait()
                        except TimeoutError:
                            pass
                        await self._flush_partial()
                    continue
                if await self._gather_more():
                    continue
                pcm, newest = self._take_batch()
                await self._check_lag()
                try:
                    result = await loop.run_in_executor(self._executor, self._decode, pcm)
                finally:
                    self._inflight_since = None
                await self._deliver(result, newest)
                await self._check_lag()
            result = await loop.run_in_executor(self._executor, self._finish)
            await self._deliver(result, time.monotonic())
            await self._check_lag()
        except Exception:
            log.exception("speech leg failed; its remaining audio is not decoded")
            raise

    async def _gather_more(self) -> bool:
        """While keeping up, wait until MIN_BATCH_SECONDS of audio is queued (or the oldest has
        waited that long): True if it waited and the loop should look again."""
        if self._closing:
            return False
        age = time.monotonic() - self._queue[0][1]
        if age >= MIN_BATCH_SECONDS or sum(len(p) for p, _ in self._queue) >= MIN_BATCH_SECONDS * self.rate * 2:
            return False
        # Sleep until the batch is due; only close() wakes it earlier. Waking on every 20 ms frame
        # cost a task switch per frame per leg on the event loop.
        self._wake.clear()
        self._gathering = True
        try:
            async with asyncio.timeout(MIN_BATCH_SECONDS - age):
                await self._wake.wait()
        except TimeoutError:
            pass
        finally:
            self._gathering = False
        return True

    async def _deliver(self, result: _Decoded, newest: float) -> None:
        stats = self._engine.stats
        stats["seconds_decoded"] += result.decoded
        stats["seconds_skipped"] += result.skipped
        for segment in result.segments:
            self.segments.append(segment)
            self._last_partial, self._pending_partial = "", None  # the Final supersedes them
            await self._emit(Final(segment))
        text = result.partial
        if text and text != self._last_partial:
            self._pending_partial = Partial(text, round(result.audio_time, 3), newest)
        elif text == self._last_partial:
            self._pending_partial = None  # changed back before it was shown
        await self._flush_partial()

    async def _flush_partial(self) -> None:
        """Emit the newest partial text unless one went out less than partial_interval ago."""
        partial, now = self._pending_partial, time.monotonic()
        if partial is not None and now - self._last_partial_at >= self._engine.partial_interval:
            self._pending_partial = None
            self._last_partial, self._last_partial_at = partial.text, now
            await self._emit(partial)

    async def _check_lag(self) -> None:
        lag, now = self.lag_seconds, time.monotonic()
        threshold = self._engine.lag_threshold
        if lag > threshold:
            if not self._behind or now - self._last_lag_at >= LAG_REPEAT_SECONDS:
                self._behind, self._last_lag_at = True, now
                await self._emit(Lag(lag, True))
        elif self._behind and lag < threshold / 2:
            self._behind = False
            await self._emit(Lag(lag, False))

    async def _emit(self, event: SpeechEvent) -> None:
        try:
            result = self._sink(event)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("speech sink failed on %s", type(event).__name__)

    # ----- executor side: one call at a time per leg -----

    def _recognizer(self) -> "vosk.KaldiRecognizer":
        if self._rec is None:
            # A reused recognizer's clock runs on from its last leg: Vosk's time axis (`_fed`)
            # starts there, and the first piece maps it to stream time 0 (_accept).
            self._rec, self._fed = self._engine.take_recognizer(self.rate)
        return self._rec

    def _decode(self, pcm: bytes) -> _Decoded:
        out = _Decoded()
        if self._gate is not None:
            skipped_before = self._gate.skipped_seconds
            pieces = self._gate.push(pcm)
            out.skipped = self._gate.skipped_seconds - skipped_before
        else:
            pieces = [(pcm, self._received_samples / self.rate)]
            self._received_samples += len(pcm) // 2
        self._accept(pieces, out)
        if self._gate is not None and self._gate.in_silence and self._open_utterance:
            # The pause outlasted the hangover without a Vosk endpoint: end the utterance now, so
            # its Final does not wait for the caller to speak again (and skipping stays between
            # utterances).
            self._add_segment(self._recognizer().FinalResult(), out)
        elif self._open_utterance and not self._behind and time.monotonic() - self._last_partial_at >= self._engine.partial_interval:
            # PartialResult searches the lattice: only when a partial may be shown anyway, and not
            # while catching up (words older than a second help nobody; finals still come).
            out.partial = join_words(json.loads(self._recognizer().PartialResult())["partial"].split())
        out.audio_time = self._stream_time(self._fed, end=True)
        return out

    def _finish(self) -> _Decoded:
        out = _Decoded()
        if self._gate is not None:
            skipped_before = self._gate.skipped_seconds
            self._accept(self._gate.flush(), out)
            out.skipped = self._gate.skipped_seconds - skipped_before
        if self._rec is not None:  # a leg that never got audio needs no recognizer
            self._add_segment(self._rec.FinalResult(), out)
            rec, self._rec = self._rec, None
            self._engine.return_recognizer(self.rate, rec, self._fed)
        out.audio_time = self._stream_time(self._fed, end=True)
        return out

    def _accept(self, pieces: list[tuple[bytes, float]], out: _Decoded) -> None:
        if not pieces:
            # Nothing passed the gate: a leg that has been silent so far (e.g. an agent listening)
            # takes no recognizer, so the warm ones go to legs that speak.
            return
        rec = self._recognizer()
        step = int(STEP_SECONDS * self.rate) * 2
        for pcm, stream_start in pieces:
            if abs(stream_start - self._next_stream) > 1e-6:  # the gate skipped audio before this
                self._map_fed.append(self._fed)
                self._map_stream.append(stream_start)
            seconds = len(pcm) / 2 / self.rate
            self._next_stream = stream_start + seconds
            out.decoded += seconds
            for i in range(0, len(pcm), step):
                chunk = pcm[i:i + step]
                self._fed += len(chunk) / 2 / self.rate
                if rec.AcceptWaveform(chunk):
                    self._add_segment(rec.Result(), out)
                else:
                    self._open_utterance = True

    def _add_segment(self, raw: str, out: _Decoded) -> None:
        self._open_utterance = False
        result = json.loads(raw)
        text = join_words(result.get("text", "").split())
        if not text:
            return
        words = [dict(w, start=round(self._stream_time(w["start"]), 3), end=round(self._stream_time(w["end"], end=True), 3))
                 for w in result.get("result", [])]
        if words:
            start, end = words[0]["start"], words[-1]["end"]
            confidence = sum(float(w.get("conf", 0.0)) for w in words) / len(words)
        else:
            start = end = self._stream_time(self._fed, end=True)
            confidence = 0.0
        out.segments.append(Segment(start, end, text, round(confidence, 4), words))

    def _stream_time(self, fed: float, end: bool = False) -> float:
        """Vosk's time (audio fed so far) -> stream time; an end on a run border stays in the earlier run."""
        if not self._map_fed:
            return fed
        i = (bisect_left if end else bisect_right)(self._map_fed, fed) - 1
        i = max(i, 0)
        return self._map_stream[i] + (fed - self._map_fed[i])
