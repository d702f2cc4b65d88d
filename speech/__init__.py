"""Streaming speech recognition for live phone legs (Vosk, one shared model, decoding in threads).

Names are imported on first use, so `from speech import fetch` (the CLI) does not load numpy,
soxr and webrtcvad.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from speech.audio import Pcm, frames, read_wav, resample
    from speech.model import ModelNotFound, default_model_dir, load_model
    from speech.recognizer import Final, Lag, LegStream, Partial, Segment, SpeechEngine, SpeechEvent
    from speech.vad import SilenceGate

_WHERE = {
    "Pcm": "audio", "frames": "audio", "read_wav": "audio", "resample": "audio",
    "ModelNotFound": "model", "default_model_dir": "model", "load_model": "model",
    "Final": "recognizer", "Lag": "recognizer", "LegStream": "recognizer", "Partial": "recognizer",
    "Segment": "recognizer", "SpeechEngine": "recognizer", "SpeechEvent": "recognizer",
    "SilenceGate": "vad",
}

__all__ = [
    "Final", "Lag", "LegStream", "ModelNotFound", "Partial", "Pcm", "Segment", "SilenceGate",
    "SpeechEngine", "SpeechEvent", "default_model_dir", "frames", "load_model", "read_wav", "resample",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'speech' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"speech.{module}"), name)
    globals()[name] = value
    return value
