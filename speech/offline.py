"""Whole-message recognition of voice media (WeChat voice messages: AMR-NB files, 8 kHz).

decode_audio() turns a media file into 16 kHz mono s16le PCM with PyAV (FFmpeg), refusing what it
cannot or must not decode with UndecodableAudio; transcribe() runs a fresh recognizer over the whole
utterance on the shared Vosk model; transcribe_media() does both in an executor; encode_amr() makes
AMR-NB files (tests, the developer WeChat peer).

Measured on the reference clip (BAC009S0764W0121.wav, 4.2 s; see tests/speech/test_speech_offline.py):
encoded with encode_amr (AMR-NB 12.2 kbit/s, 8 kHz) and decoded here, Vosk still gives exactly
甚至出现交易几乎停滞的情况; the mean word confidence drops from 0.99 (16 kHz original) and 0.985 (plain
8 kHz) to about 0.96, all of it on 停滞 (0.95 -> ~0.73). Upsampling the decoded 8 kHz to 16 kHz here
scores a little better than handing Vosk 8 kHz (0.94) or resampling with soxr afterwards (0.93).
Level does not matter over a wide range: scaled by 0.25x to 16x before encoding (peak -38 to -2 dBFS
after codec) the text stays exact; at 0.1x and below (peak -46 dBFS or less) the codec's noise floor
eats words, and normalising the gain after decoding brings words back but not the right ones, so no
gain is applied. At lower AMR modes 7.95 kbit/s is still exact, 4.75 kbit/s turns 停滞 into 强制.

AMR-NB is decoded with libopencore_amrnb when FFmpeg has it: FFmpeg's native amrnb decoder refuses
the comfort-noise frames (SID, NO_DATA) an encoder with DTX writes in pauses, which would shorten or
refuse such files.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import io
import json
from pathlib import Path
from typing import cast

import av
import av.error
import numpy as np
from av.audio.codeccontext import AudioCodecContext

from speech.model import load_model
from speech.recognizer import join_words

MAX_SECONDS = 120  # WeChat voice messages are at most 60 s; refuse more than this (decompression bombs)
MAX_BYTES = 5 * 1024 * 1024
RATE = 16000  # what decode_audio returns: the model's own rate
STEP_SECONDS = 0.5  # AcceptWaveform granularity, so a long message is cut at its pauses (Vosk endpoints)

AMR_MAGIC = b"#!AMR\n"
AMR_RATE = 8000
AMR_FRAME_SAMPLES = 160  # 20 ms
AMR_BIT_RATE = 12200  # mode MR122, the best AMR-NB has

# Demuxers tried on incoming media. FFmpeg can read far more (playlists, image sequences, concat
# scripts, ...), some of which open further URLs or files named in the data; a voice message is one
# of these. A format that is not listed fails at open, before its header is read.
FORMATS = (
    "amr", "ogg", "mp3", "wav", "w64", "flac", "aac", "aiff", "au", "caf", "wv",
    "mov", "mp4", "m4a", "3gp", "matroska", "webm",
)
# Decoders preferred over FFmpeg's default for a codec (used when this FFmpeg build has them).
PREFERRED_DECODERS = {"amrnb": "libopencore_amrnb", "amrwb": "libopencore_amrwb"}

_AV_ERRORS = (av.error.FFmpegError, EOFError, OSError, ValueError, TypeError)


class UndecodableAudio(ValueError):
    """The media is empty, too big, too long, corrupt, or has no audio FFmpeg can decode."""


def decode_audio(data: bytes, *, max_bytes: int = MAX_BYTES, max_seconds: float = MAX_SECONDS) -> tuple[bytes, int]:
    """A media file (AMR-NB above all; also speex or opus in ogg, mp3, wav, ...) as mono s16le PCM
    at 16 kHz: (pcm, 16000).

    Raises UndecodableAudio for empty or over-size data, an unknown or unlisted format, a file without
    an audio stream or without any audio in it, a frame that does not decode (corrupt, or truncated
    mid-frame), and audio longer than max_seconds: decoding stops at the first frame past it, so a
    small file that expands to hours of audio costs no more than max_seconds of decoding.
    """
    size = len(data)
    if size == 0:
        raise UndecodableAudio("empty audio file (0 bytes)")
    if size > max_bytes:
        raise UndecodableAudio(f"audio file too large: {size} bytes, the limit is {max_bytes}")
    try:
        container = av.open(io.BytesIO(data), "r", container_options={"format_whitelist": ",".join(FORMATS)})
    except av.error.ArgumentError as exc:  # what FFmpeg says of a format not in FORMATS
        raise UndecodableAudio(f"not an accepted audio format ({_reason(exc)})") from exc
    except _AV_ERRORS as exc:
        raise UndecodableAudio(f"not a readable audio file ({_reason(exc)})") from exc
    with container:
        kind = container.format.name
        if not container.streams.audio:
            kinds: list[str] = sorted({s.type for s in container.streams}) or ["none"]
            raise UndecodableAudio(f"no audio stream in the {kind} file (streams: {', '.join(kinds)})")
        stream = container.streams.audio[0]
        decoder = _decoder(stream)
        out = _Resampled(RATE)
        seconds = 0.0
        frame_no = 0
        try:
            for packet in container.demux(stream):  # ends with an empty packet, which flushes the decoder
                if packet.size:
                    frame_no += 1
                    if packet.is_corrupt:
                        raise UndecodableAudio(f"corrupt or truncated audio (frame {frame_no} is incomplete)")
                try:
                    frames = decoder.decode(packet)
                except _AV_ERRORS as exc:
                    raise UndecodableAudio(f"corrupt or truncated audio (frame {frame_no} does not decode: {_reason(exc)})") from exc
                for frame in frames:
                    if not frame.sample_rate:
                        raise UndecodableAudio("audio frame without a sample rate")
                    seconds += frame.samples / frame.sample_rate
                    if seconds > max_seconds:
                        raise UndecodableAudio(f"audio longer than {max_seconds:g} s (stopped decoding there)")
                    out.push(frame)
            pcm = out.finish()
        except UndecodableAudio:
            raise
        except _AV_ERRORS as exc:  # a demuxer error mid-file, or a resampler that cannot convert
            raise UndecodableAudio(f"corrupt audio after {seconds:.2f} s ({_reason(exc)})") from exc
    if not pcm:
        raise UndecodableAudio(f"no audio in the {kind} file")
    return pcm, RATE


def transcribe(pcm: bytes, rate: int, model_dir: Path | None = None) -> tuple[str, float]:
    """Blocking: the text of a whole message (s16le mono at `rate`) and its mean word confidence.

    A fresh KaldiRecognizer on the shared model (load_model); the audio goes in STEP_SECONDS steps,
    so a long message with pauses is decoded as several utterances (Vosk's endpoints), whose texts
    are joined. Chinese comes without the spaces Vosk puts between words. ("", 0.0) if nothing was
    recognised.
    """
    if rate <= 0:
        raise ValueError(f"sample rate must be positive, not {rate}")
    import vosk

    pcm = pcm[:len(pcm) - len(pcm) % 2]
    rec = vosk.KaldiRecognizer(load_model(model_dir), rate)
    rec.SetWords(True)
    results: list[dict] = []
    step = max(int(STEP_SECONDS * rate), 1) * 2
    for i in range(0, len(pcm), step):
        if rec.AcceptWaveform(pcm[i:i + step]):
            results.append(json.loads(rec.Result()))
    results.append(json.loads(rec.FinalResult()))
    tokens = [token for result in results for token in result.get("text", "").split()]
    words = [word for result in results for word in result.get("result", [])]
    confidence = sum(float(w.get("conf", 0.0)) for w in words) / len(words) if words else 0.0
    return join_words(tokens), round(confidence, 4)


async def transcribe_media(data: bytes, executor: concurrent.futures.Executor | None = None,
                           model_dir: Path | None = None) -> tuple[str, float]:
    """decode_audio + transcribe in `executor` (default: the loop's), never on the event loop.
    Raises UndecodableAudio; the first call also loads the model (about 0.4 s) in the executor."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, _decode_and_transcribe, bytes(data), model_dir)


def _decode_and_transcribe(data: bytes, model_dir: Path | None) -> tuple[str, float]:
    pcm, rate = decode_audio(data)
    return transcribe(pcm, rate, model_dir)


def encode_amr(pcm: bytes, rate: int, *, dtx: bool = False) -> bytes:
    """s16le mono PCM at `rate` -> an AMR-NB file (`#!AMR\\n`, 12.2 kbit/s, 8 kHz mono), resampled as
    needed, with FFmpeg's libopencore_amrnb encoder. dtx=True writes comfort-noise frames in pauses,
    as some phone encoders do."""
    if rate <= 0:
        raise ValueError(f"sample rate must be positive, not {rate}")
    samples = np.frombuffer(pcm, dtype="<i2", count=len(pcm) // 2)
    if not len(samples):  # PyAV writes the header with the first packet; an encoder flushed empty writes one
        return AMR_MAGIC
    buf = io.BytesIO()
    with av.open(buf, "w", format="amr") as out:
        stream = out.add_stream("libopencore_amrnb", rate=AMR_RATE, layout="mono", options={"dtx": "1" if dtx else "0"})
        stream.codec_context.bit_rate = AMR_BIT_RATE
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts = rate, 0
        resampler = av.AudioResampler("s16", "mono", AMR_RATE, frame_size=AMR_FRAME_SAMPLES)
        for piece in resampler.resample(frame) + resampler.resample(None) + [None]:
            out.mux(stream.encode(piece))
    return buf.getvalue()


class _Resampled:
    """Frames of any format, layout and rate -> s16 mono at `rate`; a new resampler when they change
    mid-stream (chained ogg, mp3 with a rate switch)."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._parts: list[bytes] = []
        self._resampler: av.AudioResampler | None = None
        self._source: tuple | None = None

    def push(self, frame: av.AudioFrame) -> None:
        source = (frame.format.name, frame.layout.name, frame.sample_rate)
        if source != self._source:
            self._drain()
            self._resampler = av.AudioResampler("s16", "mono", self.rate)
            self._source = source
        assert self._resampler is not None
        self._keep(self._resampler.resample(frame))

    def finish(self) -> bytes:
        self._drain()
        return b"".join(self._parts)

    def _drain(self) -> None:
        if self._resampler is not None:
            self._keep(self._resampler.resample(None))
            self._resampler = None

    def _keep(self, frames: list[av.AudioFrame]) -> None:
        for frame in frames:
            self._parts.append(frame.to_ndarray().tobytes())


def _decoder(stream: av.audio.stream.AudioStream) -> AudioCodecContext:
    """The stream's decoder, or the preferred one for its codec if this FFmpeg has it."""
    ctx = stream.codec_context
    preferred = PREFERRED_DECODERS.get(ctx.name)
    if preferred is None:
        return ctx
    try:
        # an audio decoder by name: PREFERRED_DECODERS holds only those
        better = cast(AudioCodecContext, av.CodecContext.create(preferred, "r"))
    except (av.error.FFmpegError, ValueError):  # not in this FFmpeg build
        return ctx
    better.sample_rate = ctx.sample_rate
    better.layout = ctx.layout
    return better


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text)
