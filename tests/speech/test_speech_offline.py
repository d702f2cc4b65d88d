"""speech/offline.py: WeChat voice messages (AMR-NB files) decoded and transcribed whole, with the real
Mandarin model and the real recorded clip (no mocks)."""
from __future__ import annotations

import asyncio
import io
import math
import random
import time
from concurrent.futures import ThreadPoolExecutor

import av
import numpy as np
import pytest

from speech.audio import read_wav, resample
from speech.model import load_model
from speech.offline import (
    AMR_MAGIC,
    MAX_SECONDS,
    UndecodableAudio,
    decode_audio,
    encode_amr,
    transcribe,
    transcribe_media,
)
from tests.support.paths import REPO

CLIP = REPO.parent / "shared" / "audio" / "BAC009S0764W0121.wav"
TEXT = "甚至出现交易几乎停滞的情况"
CLIP_SECONDS = 67263 / 16000  # 4.204 s
AMR_122_FRAME = 32  # bytes of one 20 ms frame at 12.2 kbit/s, its header byte included
NO_DATA = b"\x7c"  # an AMR-NB frame of type 15 (no data): one byte that decodes to 20 ms of audio


@pytest.fixture(scope="module")
def clip() -> tuple[bytes, int]:
    load_model()  # once, so no test times the model load
    pcm = read_wav(CLIP)
    return pcm.samples, pcm.rate


@pytest.fixture(scope="module")
def clip_amr(clip: tuple[bytes, int]) -> bytes:
    return encode_amr(*clip)


def seconds(pcm: bytes, rate: int) -> float:
    return len(pcm) / 2 / rate


def amr_frame_types(amr: bytes) -> list[int]:
    """Walk an AMR-NB file frame by frame (RFC 4867 section 5): the frame types, in order."""
    sizes = [12, 13, 15, 17, 19, 20, 26, 31, 5, 0, 0, 0, 0, 0, 0, 0]  # speech bytes per frame type
    types, i = [], len(AMR_MAGIC)
    while i < len(amr):
        ft = amr[i] >> 3 & 0x0F
        types.append(ft)
        i += 1 + sizes[ft]
    assert i == len(amr), "the last frame is cut"
    return types


def encode_with(clip: tuple[bytes, int], fmt: str, codec: str, rate: int, layout: str) -> bytes:
    """The clip in another container/codec, written by FFmpeg (PyAV)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        ctx = stream.codec_context
        resampler = av.AudioResampler(ctx.format.name, layout, rate, frame_size=ctx.frame_size or 1024)
        frame = av.AudioFrame.from_ndarray(np.frombuffer(clip[0], "<i2").reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts = clip[1], 0
        for f in resampler.resample(frame) + resampler.resample(None) + [None]:
            out.mux(stream.encode(f))
    return buf.getvalue()


# ----- AMR-NB, as WeChat sends voice messages -----

async def test_amr_clip_transcribes_exactly(clip: tuple[bytes, int], clip_amr: bytes) -> None:
    assert clip_amr.startswith(b"#!AMR\n")
    types = amr_frame_types(clip_amr)
    assert set(types) == {7}  # every frame is mode 7: 12.2 kbit/s
    assert len(types) == math.ceil(CLIP_SECONDS / 0.02)
    assert len(clip_amr) == len(AMR_MAGIC) + AMR_122_FRAME * len(types)

    pcm, rate = decode_audio(clip_amr)
    assert rate == 16000
    assert abs(seconds(pcm, rate) - CLIP_SECONDS) < 0.03
    assert np.abs(np.frombuffer(pcm, "<i2")).max() > 500  # the speech survived at its level

    text, confidence = await transcribe_media(clip_amr)
    assert text == TEXT
    assert 0.8 < confidence <= 1.0  # measured ~0.96 (0.99 for the 16 kHz original)


async def test_amr_with_comfort_noise_frames_keeps_its_length(clip: tuple[bytes, int]) -> None:
    """A DTX encoder writes SID / NO_DATA frames in pauses; FFmpeg's own amrnb decoder refuses them,
    which would drop the pauses (or the file). They must decode to their 20 ms each."""
    pcm, rate = clip
    padded = bytes(rate * 2) + pcm + bytes(rate * 2)  # 1 s of silence either side
    amr = encode_amr(padded, rate, dtx=True)
    types = amr_frame_types(amr)
    assert {8, 15} <= set(types)  # SID and NO_DATA frames are there
    decoded, out_rate = decode_audio(amr)
    assert abs(seconds(decoded, out_rate) - len(types) * 0.02) < 0.001
    assert transcribe(decoded, out_rate)[0] == TEXT


def test_encode_amr_resamples_any_rate(clip: tuple[bytes, int]) -> None:
    pcm, rate = clip
    for to_rate in (8000, 44100):
        other = av.AudioResampler("s16", "mono", to_rate)
        frame = av.AudioFrame.from_ndarray(np.frombuffer(pcm, "<i2").reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        resampled = b"".join(f.to_ndarray().tobytes() for f in other.resample(frame) + other.resample(None))
        amr = encode_amr(resampled, to_rate)
        assert amr.startswith(AMR_MAGIC) and abs(len(amr_frame_types(amr)) * 0.02 - CLIP_SECONDS) < 0.03
        assert transcribe(*decode_audio(amr))[0] == TEXT
    assert encode_amr(b"", 16000) == AMR_MAGIC


# ----- what is refused -----

def undecodable_inputs(clip_amr: bytes) -> dict[str, bytes]:
    return {
        "garbage": random.Random(12345).randbytes(20_000),
        "empty": b"",
        "truncated-amr": clip_amr[:100],  # two whole frames, then 30 bytes of the third
        "text-file": "市民来电反映：小区门口道路积水严重，请尽快处理。\n".encode() * 50,
        "readme": (REPO / "README.md").read_bytes(),
        "amr-magic-only": AMR_MAGIC,
        "amr-cut-mid-file": clip_amr[:len(AMR_MAGIC) + 100 * AMR_122_FRAME + 7],
        "png": b"\x89PNG\r\n\x1a\n" + bytes(200),
    }


@pytest.mark.parametrize("name", list(undecodable_inputs(b"#!AMR\n" + bytes(4000))))
async def test_undecodable_media_is_refused(clip_amr: bytes, name: str) -> None:
    data = undecodable_inputs(clip_amr)[name]
    with pytest.raises(UndecodableAudio) as caught:
        decode_audio(data)
    assert str(caught.value)  # a message callers can log
    assert isinstance(caught.value, ValueError)
    with pytest.raises(UndecodableAudio):
        await transcribe_media(data)


def test_a_format_that_is_not_accepted_is_refused(clip: tuple[bytes, int]) -> None:
    """MPEG-TS with an MP2 track: FFmpeg reads it, but it is not a voice message format."""
    ts = encode_with(clip, "mpegts", "mp2", 16000, "mono")
    assert av.open(io.BytesIO(ts)).streams.audio  # FFmpeg itself can read it
    with pytest.raises(UndecodableAudio, match="not an accepted audio format"):
        decode_audio(ts)


def test_no_audio_stream_is_refused() -> None:
    buf = io.BytesIO()
    with av.open(buf, "w", format="matroska") as out:
        stream = out.add_stream("ffv1", rate=1)
        stream.width = stream.height = 16
        stream.pix_fmt = "yuv420p"
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((16, 16, 3), i * 80, np.uint8), format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame.reformat(format="yuv420p")))
        out.mux(stream.encode(None))
    with pytest.raises(UndecodableAudio, match="no audio stream"):
        decode_audio(buf.getvalue())


def test_oversize_is_refused_before_decoding(clip_amr: bytes) -> None:
    with pytest.raises(UndecodableAudio, match="too large"):
        decode_audio(clip_amr, max_bytes=len(clip_amr) - 1)
    assert decode_audio(clip_amr, max_bytes=len(clip_amr))[1] == 16000
    with pytest.raises(UndecodableAudio, match="too large"):
        decode_audio(AMR_MAGIC + NO_DATA * (5 * 1024 * 1024))  # the default limit is 5 MiB


def test_max_seconds_on_the_clip(clip_amr: bytes) -> None:
    pcm, rate = decode_audio(clip_amr, max_seconds=5)
    assert abs(seconds(pcm, rate) - CLIP_SECONDS) < 0.03
    with pytest.raises(UndecodableAudio, match="longer than 2 s"):
        decode_audio(clip_amr, max_seconds=2)


def test_a_150_second_amr_is_refused(clip_amr: bytes) -> None:
    frames = clip_amr[len(AMR_MAGIC):]
    long_amr = AMR_MAGIC + frames * 36  # 151.9 s of real speech frames
    with pytest.raises(UndecodableAudio, match=f"longer than {MAX_SECONDS} s"):
        decode_audio(long_amr)
    pcm, rate = decode_audio(long_amr, max_seconds=200)  # a valid file: only its length is refused
    assert abs(seconds(pcm, rate) - 36 * len(frames) / AMR_122_FRAME * 0.02) < 0.01


def test_a_decompression_bomb_stops_decoding_at_max_seconds() -> None:
    """NO_DATA frames cost one byte per 20 ms: 5 MiB of them would be 29 hours (3.4 GB of 16 kHz
    PCM). Refusing it must cost what decoding MAX_SECONDS costs, far less than even 600 s."""
    bomb = AMR_MAGIC + NO_DATA * (5 * 1024 * 1024 - len(AMR_MAGIC))
    ten_minutes = AMR_MAGIC + NO_DATA * 30_000

    started = time.perf_counter()
    pcm, rate = decode_audio(ten_minutes, max_seconds=1000)
    full_600 = time.perf_counter() - started
    assert seconds(pcm, rate) == pytest.approx(600.0, abs=0.01)

    started = time.perf_counter()
    with pytest.raises(UndecodableAudio, match=f"longer than {MAX_SECONDS} s"):
        decode_audio(bomb)
    refused = time.perf_counter() - started
    # Decoding the whole bomb would take ~175x full_600; stopping at 120 s takes ~full_600 / 5.
    assert refused < full_600, (refused, full_600)


# ----- other containers and codecs -----

def test_the_wav_file_decodes_and_transcribes(clip: tuple[bytes, int]) -> None:
    pcm, rate = decode_audio(CLIP.read_bytes())
    assert rate == 16000
    assert pcm == clip[0]  # 16 kHz mono s16 in, the same samples out
    assert transcribe(pcm, rate)[0] == TEXT


@pytest.mark.parametrize("fmt, codec, rate, layout, exact", [
    ("wav", "pcm_s16le", 44100, "stereo", True),
    ("wav", "pcm_s16le", 8000, "mono", True),
    ("flac", "flac", 16000, "mono", True),
    ("ogg", "libopus", 48000, "stereo", True),
    ("mp3", "libmp3lame", 16000, "mono", False),  # measured: 停滞的 -> 停滞了 (of 13 characters)
], ids=["wav-44k-stereo", "wav-8k", "flac", "ogg-opus", "mp3"])
def test_other_formats_decode(clip: tuple[bytes, int], fmt: str, codec: str, rate: int, layout: str, exact: bool) -> None:
    data = encode_with(clip, fmt, codec, rate, layout)
    pcm, out_rate = decode_audio(data)
    assert out_rate == 16000
    assert abs(seconds(pcm, out_rate) - CLIP_SECONDS) < 0.03
    text, _ = transcribe(pcm, out_rate)
    if exact:
        assert text == TEXT
    else:
        assert text.startswith("甚至出现交易几乎")


# ----- transcribe -----

def test_transcribe_silence_and_odd_input(clip: tuple[bytes, int]) -> None:
    assert transcribe(bytes(16000 * 2), 16000) == ("", 0.0)
    assert transcribe(b"", 16000) == ("", 0.0)
    pcm, rate = clip
    assert transcribe(pcm + b"\x01", rate)[0] == TEXT  # a dangling byte is ignored
    assert transcribe(resample(pcm, rate, 8000), 8000)[0] == TEXT  # any rate: Kaldi resamples
    with pytest.raises(ValueError):
        transcribe(pcm, 0)


def test_a_long_message_with_pauses_is_transcribed_whole(clip: tuple[bytes, int]) -> None:
    pcm, rate = clip
    pause = bytes(rate * 2 * 2)  # 2 s: Vosk ends an utterance there
    text, confidence = transcribe(pcm + pause + pcm + pause + pcm, rate)
    assert text == TEXT * 3
    assert 0.8 < confidence <= 1.0


async def test_transcribe_media_keeps_the_event_loop_free(clip_amr: bytes) -> None:
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    with ThreadPoolExecutor(1, thread_name_prefix="offline-test") as executor:
        text, _ = await transcribe_media(clip_amr + b"", executor)
    done.set()
    await tick
    assert text == TEXT  # a real decode ran meanwhile
    # The loop kept running while the message was decoded (how smoothly is for bench/, not a test):
    # a decode on the loop would have let the ticker wake once, after it.
    assert len(gaps) >= 3, "the loop never ran while the message was decoded"
