"""Locating and loading the Vosk model: one loaded model per directory for the whole process."""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from speech.graph import decoding_dir

if TYPE_CHECKING:
    import vosk

MODEL_NAME = "vosk-model-small-cn-0.22"
ENV_VAR = "HOTLINE_VOSK_MODEL"
# Files without which Kaldi fails deep inside the C++ code with an unhelpful message.
REQUIRED = ("am/final.mdl", "conf/model.conf", "conf/mfcc.conf")

# model directory -> its loaded model and the graph that decodes with ("static" or "model")
_cache: dict[Path, "tuple[vosk.Model, str]"] = {}
_lock = threading.Lock()


class ModelNotFound(RuntimeError):
    """The Vosk model directory is missing, incomplete or unreadable."""


def shared_model_dir() -> Path:
    """The model beside the checkout (`../shared/models/...`), where developers keep it."""
    repo_root = Path(__file__).resolve().parents[1]
    return repo_root.parent / "shared" / "models" / MODEL_NAME


def fetched_model_dir() -> Path:
    """Where `hotline models fetch` (and `make model`) put the model: `$HOTLINE_DATA_DIR/models/`."""
    return Path(os.environ.get("HOTLINE_DATA_DIR") or "var") / "models" / MODEL_NAME


def default_model_dir() -> Path:
    """$HOTLINE_VOSK_MODEL if set; else ../shared/models/<name> if it is there; else
    $HOTLINE_DATA_DIR/models/<name> (var/models/..., what `make model` downloads), present or not."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    shared = shared_model_dir()
    if shared.is_dir():
        return shared
    return fetched_model_dir()


def model_problem(path: Path | None = None) -> str | None:
    """None if `path` (default: default_model_dir()) looks like a loadable model, else a short
    English reason such as "model not found" (cheap: only checks files, loads nothing)."""
    resolved = Path(path if path is not None else default_model_dir()).expanduser()
    try:
        _check(resolved)
    except ModelNotFound as exc:
        return "model incomplete" if "incomplete" in str(exc).splitlines()[0] else "model not found"
    return None


def _not_found(path: Path, problem: str) -> ModelNotFound:
    return ModelNotFound(
        f"Vosk model {problem}: {path}\n"
        f"Set {ENV_VAR} to an unpacked Vosk model directory (e.g. {MODEL_NAME}), or run "
        f"`make model` (`hotline models fetch`): it downloads {MODEL_NAME} into var/models/, checks its sha256 and prints the {ENV_VAR}=... line to use.\n"
        f"未找到可用的语音识别模型（{path}）：请设置环境变量 {ENV_VAR}，或运行 `make model`（`hotline models fetch`）下载模型。"
    )


def _check(path: Path) -> None:
    if not path.is_dir():
        raise _not_found(path, "directory not found")
    missing = [name for name in REQUIRED if not (path / name).is_file()]
    graph = path / "graph"
    if not ((graph / "HCLG.fst").is_file() or (graph / "HCLr.fst").is_file() or (path / "HCLG.fst").is_file()):
        missing.append("graph/HCLG.fst (or graph/HCLr.fst + Gr.fst)")
    if missing:
        raise _not_found(path, f"directory is incomplete (missing {', '.join(missing)})")


def load_model(path: Path | None = None) -> "vosk.Model":
    """The loaded model for `path` (default: default_model_dir()); loads it only once per process.
    Decodes with the model's static graph where `hotline models graph` built one (speech/graph.py)."""
    resolved = Path(path if path is not None else default_model_dir()).expanduser().resolve()
    with _lock:  # held during the load, so two legs starting together do not load it twice
        loaded = _cache.get(resolved)
        if loaded is not None:
            return loaded[0]
        _check(resolved)
        decoding, graph = decoding_dir(resolved)
        import vosk  # late: importing vosk loads libvosk, which modules that never decode do not need

        vosk.SetLogLevel(-1)  # Kaldi logs every utterance to stderr otherwise
        try:
            model = vosk.Model(str(decoding))
        except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
            raise _not_found(decoding, f"could not be loaded ({exc})") from exc
        _cache[resolved] = (model, graph)
        return model


def loaded_graph(path: Path | None = None) -> str | None:
    """The graph the model loaded for `path` decodes with: "static" (composed ahead by
    `hotline models graph`) or "model" (the model's own); None if it is not loaded."""
    resolved = Path(path if path is not None else default_model_dir()).expanduser().resolve()
    with _lock:
        loaded = _cache.get(resolved)
    return loaded[1] if loaded is not None else None
