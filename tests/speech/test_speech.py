"""speech/: streaming recognition with the real Mandarin model and the real recorded clip (no mocks)."""
from __future__ import annotations

import asyncio
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from speech import (
    Final,
    Lag,
    ModelNotFound,
    Partial,
    SilenceGate,
    SpeechEngine,
    SpeechEvent,
    default_model_dir,
    frames,
    load_model,
    read_wav,
    resample,
)
from tests.support.paths import REPO

CLIP = REPO.parent / "shared" / "audio" / "BAC009S0764W0121.wav"
TEXT = "甚至出现交易几乎停滞的情况"
CUT_IN_LAST_WORD = 3.60  # inside 情况 (Vosk aligns it to 3.06-3.75 s); the file runs on to 4.20 s

def clip_at(rate: int) -> bytes:
    pcm = read_wav(CLIP)
    return resample(pcm.samples, pcm.rate, rate)


def silence(seconds: float, rate: int) -> bytes:
    return bytes(int(seconds * rate) * 2)


class Recorder:
    """A sink that keeps every event with the monotonic time it arrived."""

    def __init__(self) -> None:
        self.events: list[tuple[float, SpeechEvent]] = []
        self.final_seen = asyncio.Event()

    def __call__(self, event: SpeechEvent) -> None:
        self.events.append((time.monotonic(), event))
        if isinstance(event, Final):
            self.final_seen.set()

    def of(self, kind: type) -> list:
        return [e for _, e in self.events if isinstance(e, kind)]


@pytest.fixture
async def engine() -> AsyncIterator[SpeechEngine]:
    eng = SpeechEngine()
    await eng.start()
    yield eng
    await eng.close()


async def feed_all(engine: SpeechEngine, pcm: bytes, rate: int, sink=None, feed_rate: int | None = None):
    sink = sink or Recorder()
    leg = engine.open_leg(rate, sink)
    for frame in frames(pcm, feed_rate or rate):
        leg.feed(frame, feed_rate)
    segments = await leg.close()
    return leg, segments, sink


# ----- accuracy, at the rates phones and browsers send -----

@pytest.mark.parametrize("rate, feed_rate", [(16000, None), (8000, None), (8000, 16000)],
                         ids=["16k", "8k", "16k-fed-to-8k-leg"])
async def test_clip_transcribes_exactly(engine: SpeechEngine, rate: int, feed_rate: int | None) -> None:
    pcm = clip_at(feed_rate or rate)
    _, segments, sink = await feed_all(engine, pcm, rate, feed_rate=feed_rate)
    assert "".join(s.text for s in segments) == TEXT
    assert [f.segment for f in sink.of(Final)] == segments
    duration = len(pcm) / 2 / (feed_rate or rate)
    for s in segments:
        assert 0 < s.confidence <= 1
        assert 0 <= s.start < s.end <= duration + 0.1
        assert s.words and s.words[0]["start"] == s.start and s.words[-1]["end"] == s.end
    assert abs(engine.stats["seconds_received"] - duration) < 0.02


# ----- hang-up keeps the last words -----

async def test_close_flushes_the_last_words(engine: SpeechEngine) -> None:
    # The caller hangs up in the tail of 情况: no trailing silence, so no endpoint, and the decoder
    # still holds the last frames back (acoustic right context) until FinalResult() flushes them;
    # Result() here would give ...的去.
    pcm = clip_at(8000)[: int(CUT_IN_LAST_WORD * 8000) * 2]
    sink = Recorder()
    leg = engine.open_leg(8000, sink)
    for frame in frames(pcm, 8000):
        leg.feed(frame)
    await leg.drain()
    assert engine.stats["seconds_decoded"] > 3.3  # everything fed was decoded ...
    assert sink.of(Final) == [] and leg.segments == []  # ... and nothing is final yet
    segments = await leg.close()
    assert "".join(s.text for s in segments) == TEXT
    assert sink.of(Final)[-1].segment.words[-1]["word"] == "情况"
    assert await leg.close() == segments  # idempotent
    assert engine.stats["legs_open"] == 0


# ----- silence is not decoded, and times stay on the leg's clock -----

async def test_silence_is_skipped_and_times_are_stream_times(engine: SpeechEngine) -> None:
    rate = 8000
    sink = Recorder()
    leg = engine.open_leg(rate, sink)
    for frame in frames(silence(5, rate) + clip_at(rate) + silence(5, rate), rate):
        leg.feed(frame)
    # A long pause ends the utterance by itself, before any hang-up.
    await asyncio.wait_for(sink.final_seen.wait(), timeout=20)
    segments = await leg.close()
    assert "".join(s.text for s in segments) == TEXT
    assert segments[0].start >= 4.0  # speech starts at 5.4 s of the leg, not 0.4 s of decoded audio
    assert 5.2 <= segments[0].start <= 5.6 and 8.5 <= segments[-1].end <= 9.0
    stats = engine.stats
    assert stats["seconds_skipped"] > 3
    assert abs(stats["seconds_decoded"] + stats["seconds_skipped"] - stats["seconds_received"]) < 0.05


def test_gate_accepts_any_chunk_size() -> None:
    rate = 8000
    audio = silence(2, rate) + clip_at(rate) + silence(2, rate)
    results = []
    for size in (320, 333, 4000, len(audio)):
        gate = SilenceGate(rate)
        pieces = [p for i in range(0, len(audio), size) for p in gate.push(audio[i:i + size])]
        pieces += gate.flush()
        fed = sum(len(p) for p, _ in pieces) / 2 / rate
        assert abs(fed + gate.skipped_seconds - len(audio) / 2 / rate) < 1e-9
        runs: list[list] = []  # contiguous runs of fed audio: [start, end, pcm]
        for pcm, start in pieces:
            if runs and abs(runs[-1][1] - start) < 1e-9:
                runs[-1][1:] = [start + len(pcm) / 2 / rate, runs[-1][2] + pcm]
            else:
                runs.append([start, start + len(pcm) / 2 / rate, pcm])
        results.append([(round(a, 6), round(b, 6), pcm) for a, b, pcm in runs])
    assert all(r == results[0] for r in results)  # same decisions, same audio, same times
    assert len(results[0]) == 1  # the clip is one utterance: one run of fed audio
    start, end, pcm = results[0][0]
    assert 1.9 < start < 2.3 and 6.2 < end < 6.9  # speech from 2.4 s: silences withheld, preroll and hangover kept
    assert pcm == audio[int(start * rate) * 2:int(end * rate) * 2]


# ----- a leg that falls behind catches up without losing anything -----

async def test_lag_is_reported_and_nothing_is_dropped() -> None:
    reps = 10  # 42 s of audio in one feed() call: the leg must cut it into batches itself
    engine = SpeechEngine(lag_threshold=1.0)
    await engine.start()
    sink = Recorder()
    try:
        leg = engine.open_leg(8000, sink)
        leg.feed(clip_at(8000) * reps)
        segments = await leg.close()
    finally:
        await engine.close()
    lags = sink.of(Lag)
    assert lags and lags[0].behind and lags[0].seconds > 1.0
    assert not lags[-1].behind and lags[-1].seconds < 0.5
    behind_times = [t for t, e in sink.events if isinstance(e, Lag) and e.behind]
    assert all(b - a >= 0.45 for a, b in zip(behind_times, behind_times[1:]))
    stats = engine.stats
    assert stats["seconds_received"] == pytest.approx(reps * 4.204, abs=0.01)
    assert abs(stats["seconds_decoded"] + stats["seconds_skipped"] - stats["seconds_received"]) < 0.05
    assert sum("停滞" in f.segment.text for f in sink.of(Final)) == reps
    assert [s.start for s in segments] == sorted(s.start for s in segments)


# ----- partials while the caller speaks -----

def check_partials(sink: Recorder, interval: float) -> list[str]:
    kinds = [type(e) for _, e in sink.events if not isinstance(e, Lag)]
    assert kinds.index(Final) > kinds.index(Partial) and kinds[-1] is Final
    partials = [(t, e) for t, e in sink.events if isinstance(e, Partial)]
    texts = [e.text for _, e in partials]
    assert all(a != b for a, b in zip(texts, texts[1:]))  # only on change
    for a, b in zip(texts, texts[1:]):  # revisions touch only the tail
        common = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        assert common >= len(a) - 2
    assert TEXT.startswith(texts[0]) and len(texts[-1]) > len(texts[0])
    times = [t for t, _ in partials]
    assert all(b - a >= interval - 0.01 for a, b in zip(times, times[1:]))
    # How fast partials come is measured in bench/speech.py (a busy machine must not fail this).
    assert all(received >= p.arrived_at for received, p in partials)
    assert [p.arrived_at for _, p in partials] == sorted(p.arrived_at for _, p in partials)
    assert [p.audio_time for _, p in partials] == sorted(p.audio_time for _, p in partials)
    return texts


async def test_partials_at_real_time_pace() -> None:
    # Two legs hear the same call: one with a 0.6 s limit (longer than most gaps between word
    # changes, so it must hold some back) and one with none (it must still skip unchanged texts).
    limited, unlimited = SpeechEngine(partial_interval=0.6), SpeechEngine(partial_interval=0.0)
    sinks = [Recorder(), Recorder()]
    try:
        for eng in (limited, unlimited):
            await eng.start()
        legs = [limited.open_leg(8000, sinks[0]), unlimited.open_leg(8000, sinks[1])]
        for frame in frames(clip_at(8000) + silence(1.0, 8000), 8000):  # the text stays put in the pause
            for leg in legs:
                leg.feed(frame)
            await asyncio.sleep(0.02)  # paces the producer like a phone, not a wait for a result
        results = [await leg.close() for leg in legs]
    finally:
        await limited.close()
        await unlimited.close()
    for segments in results:
        assert "".join(s.text for s in segments) == TEXT
    few = check_partials(sinks[0], 0.6)
    many = check_partials(sinks[1], 0.0)
    assert 3 <= len(few) <= 5.2 / 0.6 + 1 and len(many) > len(few)


# ----- one model for every leg, legs decoded in parallel -----

async def test_two_legs_share_one_model(engine: SpeechEngine) -> None:
    assert load_model() is engine.model and load_model(default_model_dir()) is engine.model
    reps = 2
    calls: list[SpeechEvent] = []

    async def async_sink(event: SpeechEvent) -> None:
        await asyncio.sleep(0)
        calls.append(event)

    def broken_sink(event: SpeechEvent) -> None:
        raise RuntimeError("a sink bug must not kill the leg")

    legs = [engine.open_leg(16000, async_sink), engine.open_leg(8000, broken_sink)]
    for leg, rate in zip(legs, (16000, 8000)):
        for frame in frames(clip_at(rate) * reps, rate):
            leg.feed(frame)
    assert all(leg._model is engine.model for leg in legs)
    results = await asyncio.gather(*(leg.close() for leg in legs))
    for segments in results:
        assert [s.text for s in segments] == [TEXT] * reps
    assert [e.segment for e in calls if isinstance(e, Final)] == results[0]


# ----- model location and audio helpers -----

def test_missing_model_says_how_to_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_VOSK_MODEL", str(tmp_path / "nowhere"))
    assert default_model_dir() == tmp_path / "nowhere"
    with pytest.raises(ModelNotFound) as err:
        load_model()
    message = str(err.value)
    assert str(tmp_path / "nowhere") in message and "HOTLINE_VOSK_MODEL" in message
    assert "hotline models fetch" in message and "模型" in message
    (tmp_path / "empty" / "am").mkdir(parents=True)
    with pytest.raises(ModelNotFound, match="am/final.mdl"):
        load_model(tmp_path / "empty")


def test_read_wav_rejects_8_bit_and_downmixes_stereo(tmp_path: Path) -> None:
    eight = tmp_path / "u8.wav"
    with wave.open(str(eight), "wb") as w:
        w.setnchannels(1), w.setsampwidth(1), w.setframerate(8000)
        w.writeframes(bytes([128]) * 800)
    with pytest.raises(ValueError, match="8-bit"):
        read_wav(eight)
    stereo = tmp_path / "stereo.wav"
    with wave.open(str(stereo), "wb") as w:
        w.setnchannels(2), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes((1000).to_bytes(2, "little", signed=True) + (-3000).to_bytes(2, "little", signed=True))
    pcm = read_wav(stereo)
    assert pcm.rate == 8000 and pcm.samples == (-1000).to_bytes(2, "little", signed=True)
    clip = read_wav(CLIP)
    assert clip.rate == 16000 and clip.duration == pytest.approx(4.204, abs=0.001)


def test_resample_and_frames() -> None:
    clip = read_wav(CLIP).samples
    down = resample(clip, 16000, 8000)
    assert len(down) / len(clip) == pytest.approx(0.5, abs=0.001)
    assert len(resample(down, 8000, 16000)) / len(down) == pytest.approx(2.0, abs=0.001)
    assert resample(clip, 16000, 16000) == clip
    parts = list(frames(bytes(1000), 8000))  # 320-byte frames of 20 ms at 8 kHz
    assert [len(p) for p in parts] == [320, 320, 320, 40]


async def test_a_later_leg_reuses_the_warm_recognizer_of_an_ended_one_and_still_hears_right(engine: SpeechEngine) -> None:
    pcm = clip_at(8000)
    _, first, _ = await feed_all(engine, pcm, 8000)
    _, second, _ = await feed_all(engine, pcm, 8000)
    # The second leg starts from a reset decoder: nothing of the first utterance leaks into it.
    assert "".join(s.text for s in second) == TEXT
    assert [s.start for s in second] == pytest.approx([s.start for s in first], abs=0.05)
    assert engine.stats["recognizers_created"] == 1 and engine.stats["recognizers_reused"] == 1
    assert engine.idle_recognizers == 1
