"""Fitted scikit-learn models cached on disk, keyed by a digest of everything they were fitted
from (training data, recipe, library version): a start after the first loads them in a moment
instead of training again. Nothing is downloaded; a missing or unreadable file is rebuilt."""
from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import sklearn

log = logging.getLogger(__name__)
_lock = threading.Lock()


def cache_dir() -> Path:
    """HOTLINE_CACHE_DIR, else $XDG_CACHE_HOME/hotline or ~/.cache/hotline."""
    if explicit := os.environ.get("HOTLINE_CACHE_DIR"):
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hotline"


def version_of(recipe: str, *sources: bytes) -> str:
    digest = hashlib.sha256(recipe.encode() + sklearn.__version__.encode() + b"".join(sources)).hexdigest()[:16]
    return f"{recipe}-{digest}"


def load_or_fit(version: str, fit: Callable[[], Any]) -> Any:
    """The models saved under `version`, or `fit()`'s result, saved for next time."""
    with _lock:
        cached = cache_dir() / f"triage-{version}.joblib"
        if cached.exists():
            try:
                return joblib.load(cached)
            except Exception:  # a half-written or foreign file: fit again
                log.warning("model cache unreadable, fitting again", extra={"path": str(cached)})
        models = fit()
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_suffix(f".{os.getpid()}.tmp")
            joblib.dump(models, partial)
            partial.replace(cached)
        except OSError as exc:  # a read-only home: fit on every start instead
            log.warning("model cache not written", extra={"reason": str(exc)})
        return models
