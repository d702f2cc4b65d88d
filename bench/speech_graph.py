"""Decoding graphs compared: the model's own lookahead graph (HCLr.fst + Gr.fst, composed on the
fly by every recognizer) against the static graph `hotline models graph` composes once.

    .venv/bin/python bench/speech_graph.py

Inputs, all from the real clip at 8 kHz (no other real Mandarin recording is at hand): the clip
itself; the clip 10 % faster and 10 % slower; through a G.711 μ-law round trip; band-limited to
300-3400 Hz (a phone line); with white noise at 20 dB and 10 dB SNR (fixed seed). Each graph:

  1. seconds of audio one core decodes per CPU second, a new recognizer per input (a new call)
     and one recognizer reused across all of them (Reset between: a warm node);
  2. the same on the clip repeated for 30 s (what bench/speech.py streams);
  3. memory: RSS of a process with the model loaded, and per recognizer after decoding every
     input (16 recognizers, in a subprocess per graph; RSS from /proc, Linux);
  4. whether the words are the same on each input.

The baseline is the model's own graph in the same run; ratios are static / own. CPU time of the
decoding thread (time.thread_time), so other load on the machine does not count.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from speech.audio import read_wav, resample  # noqa: E402
from speech.graph import compiled_for  # noqa: E402
from speech.model import default_model_dir  # noqa: E402

CLIP = ROOT.parent / "shared" / "audio" / "BAC009S0764W0121.wav"
RATE = 8000


def _pcm(samples: np.ndarray) -> bytes:
    return np.clip(samples, -32768, 32767).astype("<i2").tobytes()


def _mulaw_round_trip(x: np.ndarray) -> np.ndarray:
    mu = 255.0
    y = np.sign(x) * np.log1p(mu * np.abs(x) / 32768.0) / np.log1p(mu)
    y = np.round(y * 127.0) / 127.0  # 8 bits
    return np.sign(y) * (np.expm1(np.abs(y) * np.log1p(mu)) / mu) * 32768.0


def _band_limit(x: np.ndarray, low: float = 300.0, high: float = 3400.0) -> np.ndarray:
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    spectrum[(freqs < low) | (freqs > high)] = 0
    return np.fft.irfft(spectrum, len(x))


def _with_noise(x: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    power = float(np.mean(x ** 2))
    noise = np.random.default_rng(seed).normal(0.0, (power / 10 ** (snr_db / 10)) ** 0.5, len(x))
    return x + noise


def inputs() -> dict[str, bytes]:
    clip = read_wav(CLIP)
    base = resample(clip.samples, clip.rate, RATE)
    x = np.frombuffer(base, dtype="<i2").astype(np.float64)
    return {
        "clip": base,
        "10% faster": resample(clip.samples, int(clip.rate * 1.1), RATE),
        "10% slower": resample(clip.samples, int(clip.rate * 0.9), RATE),
        "mu-law": _pcm(_mulaw_round_trip(x)),
        "phone band": _pcm(_band_limit(x)),
        "noise 20 dB": _pcm(_with_noise(x, 20, 1)),
        "noise 10 dB": _pcm(_with_noise(x, 10, 2)),
    }


def decode(rec: Any, audio: bytes) -> str:
    words = []
    for i in range(0, len(audio), RATE):  # 0.5 s batches, as the legs catch up
        if rec.AcceptWaveform(audio[i:i + RATE]):
            words.append(json.loads(rec.Result())["text"])
    words.append(json.loads(rec.FinalResult())["text"])
    return "".join(w.replace(" ", "") for w in words)


def throughput(model_dir: Path, audio: dict[str, bytes]) -> dict[str, Any]:
    import vosk

    vosk.SetLogLevel(-1)
    model = vosk.Model(str(model_dir))
    seconds = sum(len(a) for a in audio.values()) / 2 / RATE
    texts, new_cpu = {}, 0.0
    for name, pcm in audio.items():
        rec = vosk.KaldiRecognizer(model, RATE)
        rec.SetWords(True)
        t0 = time.thread_time()
        texts[name] = decode(rec, pcm)
        new_cpu += time.thread_time() - t0
    warm = vosk.KaldiRecognizer(model, RATE)
    warm.SetWords(True)
    t0 = time.thread_time()
    for pcm in audio.values():
        decode(warm, pcm)
        warm.Reset()
    warm_cpu = time.thread_time() - t0
    repeated = audio["clip"] * int(30 / (len(audio["clip"]) / 2 / RATE) + 1)
    rec = vosk.KaldiRecognizer(model, RATE)
    rec.SetWords(True)
    t0 = time.thread_time()
    decode(rec, repeated)
    clip_cpu = time.thread_time() - t0
    return {"new": seconds / new_cpu, "warm": seconds / warm_cpu, "clip": len(repeated) / 2 / RATE / clip_cpu, "texts": texts}


# Current RSS from /proc (Linux): ru_maxrss would carry this parent's peak into the child.
MEMORY_PROBE = """
import json, sys
sys.path.insert(0, {root!r})
import vosk
from bench.speech_graph import decode, inputs
def rss_kb():
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
vosk.SetLogLevel(-1)
model = vosk.Model({model!r})
loaded = rss_kb()
audio = list(inputs().values())
recognizers = []
for _ in range(16):
    rec = vosk.KaldiRecognizer(model, 8000)
    rec.SetWords(True)
    for pcm in audio:
        decode(rec, pcm)
    recognizers.append(rec)
after = rss_kb()
print(json.dumps({{"loaded_mb": loaded / 1024, "per_recognizer_mb": (after - loaded) / 1024 / 16}}))
"""


def memory(model_dir: Path) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", MEMORY_PROBE.format(root=str(ROOT), model=str(model_dir))],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    own_dir = default_model_dir().resolve()
    static_dir = compiled_for(own_dir)
    if static_dir is None:
        sys.exit(f"no static graph for {own_dir}: run `.venv/bin/hotline models graph` first")
    audio = inputs()
    print(f"{len(audio)} inputs from the real clip, {sum(len(a) for a in audio.values()) / 2 / RATE:.0f} s in all; "
          f"one core, CPU seconds of the decoding thread", flush=True)
    own, static = throughput(own_dir, audio), throughput(static_dir, audio)
    for label, key in (("a new recognizer per input", "new"), ("one recognizer reused", "warm"), ("the clip repeated, 30 s", "clip")):
        print(f"  {label:<28} static {static[key]:5.1f} s/s, model's own {own[key]:5.1f} s/s, ratio {static[key] / own[key]:.2f}×")
    own_mem, static_mem = memory(own_dir), memory(static_dir)
    print(f"  memory, model loaded          static {static_mem['loaded_mb']:.0f} MB, model's own {own_mem['loaded_mb']:.0f} MB")
    print(f"  memory per recognizer (16)    static {static_mem['per_recognizer_mb']:.1f} MB, model's own "
          f"{own_mem['per_recognizer_mb']:.1f} MB, ratio {static_mem['per_recognizer_mb'] / max(own_mem['per_recognizer_mb'], 0.01):.3f}")
    same = [name for name in audio if own["texts"][name] == static["texts"][name]]
    print(f"  same words on {len(same)} of {len(audio)} inputs")
    for name in audio:
        if name not in same:
            print(f"    {name}: static {static['texts'][name]!r}, model's own {own['texts'][name]!r}")


if __name__ == "__main__":
    main()
