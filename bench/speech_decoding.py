"""Vosk decoding throughput of N concurrent streams: threads sharing one model vs one model per process.

    .venv/bin/python bench/speech_decoding.py [--seconds 30] [--streams 1,2,4] [--rate 8000]

Audio: the real Mandarin clip in ../shared/audio, resampled to the phone rate (8 kHz by default)
and repeated to --seconds per stream, decoded without the silence gate (raw decoder cost), in
0.1 s AcceptWaveform steps as speech/recognizer.py does. Each configuration runs N streams at
once on N workers:
  (a) ThreadPoolExecutor, all recognizers on one shared vosk.Model (what SpeechEngine does);
  (b) ProcessPoolExecutor (spawn), each process loading its own model.
Prints the real-time factor per stream (decode time / audio time, lower is better), aggregate
seconds of audio decoded per wall second, resident memory (VmRSS; pages shared between worker
processes are counted in each), and the ratio threads/processes.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from speech.audio import read_wav, resample  # noqa: E402
from speech.model import default_model_dir, load_model  # noqa: E402

CLIP = ROOT.parent / "shared" / "audio" / "BAC009S0764W0121.wav"
STEP_SECONDS = 0.1

_worker: dict = {}  # per process: the model and the audio, set once by the initializer


def rss_mb(pid: int | str = "self") -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def decode(model, pcm: bytes, rate: int) -> tuple[float, int]:
    """Decode one stream; returns (seconds of wall time, number of final results)."""
    import vosk

    rec = vosk.KaldiRecognizer(model, rate)
    rec.SetWords(True)
    step = int(STEP_SECONDS * rate) * 2
    finals = 0
    t0 = time.perf_counter()
    for i in range(0, len(pcm), step):
        if rec.AcceptWaveform(pcm[i:i + step]):
            finals += bool(json.loads(rec.Result())["text"])
    finals += bool(json.loads(rec.FinalResult())["text"])
    return time.perf_counter() - t0, finals


def _init_process(model_dir: str, pcm: bytes, rate: int) -> None:
    _worker.update(model=load_model(Path(model_dir)), pcm=pcm, rate=rate)


def _process_ready(delay: float) -> tuple[int, float]:
    time.sleep(delay)  # long enough that the N warm-up calls land on N different processes
    return os.getpid(), rss_mb()


def _process_decode() -> tuple[float, int]:
    return decode(_worker["model"], _worker["pcm"], _worker["rate"])


def _thread_decode(model, pcm: bytes, rate: int) -> tuple[float, int]:
    return decode(model, pcm, rate)


def run(executor: Executor, n: int, submit) -> dict:
    t0 = time.perf_counter()
    results = [f.result() for f in [submit(executor) for _ in range(n)]]
    wall = time.perf_counter() - t0
    return {"wall": wall, "per_stream": [r[0] for r in results], "finals": [r[1] for r in results]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="audio per stream")
    parser.add_argument("--streams", default="1,2,4")
    parser.add_argument("--rate", type=int, default=8000)
    args = parser.parse_args()
    counts = [int(x) for x in args.streams.split(",")]

    clip = read_wav(CLIP)
    one = resample(clip.samples, clip.rate, args.rate)
    reps = max(1, round(args.seconds / clip.duration))
    pcm = one * reps
    audio_s = len(pcm) / 2 / args.rate
    model_dir = default_model_dir()
    print(f"machine: {os.cpu_count()} CPUs; model {model_dir.name}; {audio_s:.1f} s of audio per stream "
          f"({reps} x the clip) at {args.rate} Hz\n")

    rss0 = rss_mb()
    t0 = time.perf_counter()
    model = load_model(model_dir)
    print(f"model load: {time.perf_counter() - t0:.2f} s, +{rss_mb() - rss0:.0f} MB RSS in this process\n")
    decode(model, one, args.rate)  # warm-up: first decode pays lazy allocations

    rows = []
    for n in counts:
        with ThreadPoolExecutor(n) as ex:
            threads = run(ex, n, lambda e: e.submit(_thread_decode, model, pcm, args.rate))
            threads["rss"] = rss_mb()
        ctx = multiprocessing.get_context("spawn")
        t0 = time.perf_counter()
        with ProcessPoolExecutor(n, mp_context=ctx, initializer=_init_process,
                                 initargs=(str(model_dir), pcm, args.rate)) as ex:
            ready = [f.result() for f in [ex.submit(_process_ready, 1.0) for _ in range(n)]]
            startup = time.perf_counter() - t0 - 1.0
            processes = run(ex, n, lambda e: e.submit(_process_decode))
            pids = {pid for pid, _ in ready}
            processes["rss"] = sum(rss_mb(pid) for pid in pids)  # the parent needs no model in this mode
            processes["startup"] = startup
            processes["procs"] = len(pids)
        rows.append((n, threads, processes))
        for name, r in (("threads", threads), ("processes", processes)):
            assert all(f == reps for f in r["finals"]), f"{name}: wrong number of finals {r['finals']}"

    print(f"{'streams':>7} {'mode':<10} {'RTF/stream':>10} {'agg s/s':>8} {'wall s':>7} {'RSS MB':>7}  notes")
    for n, threads, processes in rows:
        for name, r in (("threads", threads), ("processes", processes)):
            rtf = statistics.mean(r["per_stream"]) / audio_s
            agg = n * audio_s / r["wall"]
            r["agg"] = agg
            note = ""
            if name == "processes":
                note = f"{r['procs']} workers, start+load {r['startup']:.2f} s; RSS = sum of workers"
            else:
                note = "RSS = this process (model + N recognizers)"
            print(f"{n:>7} {name:<10} {rtf:>10.3f} {agg:>8.1f} {r['wall']:>7.2f} {r['rss']:>7.0f}  {note}")
    print()
    base = rows[0][1]["agg"]
    for n, threads, processes in rows:
        print(f"N={n}: threads/processes throughput ratio {threads['agg'] / processes['agg']:.2f}; "
              f"threads scale x{threads['agg'] / base:.2f} over 1 stream; "
              f"memory threads {threads['rss']:.0f} MB vs processes {processes['rss']:.0f} MB")
    ratios = [t["agg"] / p["agg"] for _, t, p in rows]
    mean_ratio = statistics.mean(ratios)
    if mean_ratio >= 0.95:
        verdict = ("threads: same throughput as processes (Vosk releases the GIL while decoding), "
                   "one model in memory, no start-up cost per worker")
    else:
        verdict = "processes: threads lose throughput here (GIL contention?)"
    print(f"\nbetter here: {verdict} (mean ratio {mean_ratio:.2f})")


if __name__ == "__main__":
    main()
