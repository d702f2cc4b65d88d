"""Training Rasa's model once per training data: the model file is named by a hash of every
file that shapes it, so `hotline rasa train`, CI and the test session share one cached model
and retrain only when the project changes."""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from bot.rasa import venv as rasa_venv
from bot.rasa.export import PROJECT

# What `rasa train` reads; jieba/ is the tokenizer's user dictionary.
_INPUTS = ("config.yml", "domain", "data", "jieba")


def training_hash(project: Path = PROJECT) -> str:
    digest = hashlib.sha256(rasa_venv.RASA_VERSION.encode())
    for name in _INPUTS:
        root = project / name
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            digest.update(str(path.relative_to(project)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def models_dir(home: Path | None = None) -> Path:
    return (home or rasa_venv.rasa_home()) / "models"


def model_path(project: Path = PROJECT, home: Path | None = None) -> Path:
    return models_dir(home) / f"hotline-{training_hash(project)}.tar.gz"


def rasa_env() -> dict[str, str]:
    env = dict(os.environ)
    env["RASA_TELEMETRY_ENABLED"] = "false"
    # Rasa's component cache defaults to .rasa/ in the working directory (the checkout).
    env.setdefault("RASA_CACHE_DIRECTORY", str(rasa_venv.rasa_home() / "train-cache"))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Two cores shared with others: TensorFlow must not spawn a thread per core per op.
    env.setdefault("TF_NUM_INTRAOP_THREADS", "2")
    env.setdefault("TF_NUM_INTEROP_THREADS", "1")
    return env


def train(project: Path = PROJECT, home: Path | None = None, force: bool = False) -> Path:
    """The model for the current training data, trained if it is not cached yet."""
    home = home or rasa_venv.rasa_home()
    if not rasa_venv.is_complete(home):
        raise RuntimeError(f"Rasa's virtualenv is missing or incomplete under {home}: run `hotline rasa setup`")
    target = model_path(project, home)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".train.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second trainer waits and then finds the model
        if target.exists() and not force:
            return target
        with tempfile.TemporaryDirectory(dir=target.parent) as out:
            subprocess.run(
                [str(rasa_venv.rasa_executable(home)), "train", "--config", "config.yml", "--domain", "domain",
                 "--data", "data", "--out", out, "--fixed-model-name", target.name.removesuffix(".tar.gz")],
                cwd=project, env=rasa_env(), check=True,
            )
            built = Path(out) / target.name
            os.replace(built, target)  # appears whole or not at all
        _prune(target)
        return target


def _prune(keep: Path, spare: int = 3) -> None:
    """Keep the newest few models: each is tens of MB."""
    models = sorted(keep.parent.glob("hotline-*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in models[spare:]:
        if old != keep:
            old.unlink(missing_ok=True)


def copy_to(target_dir: Path, project: Path = PROJECT, home: Path | None = None) -> Path:
    """Put the trained model where a Rasa container expects it (`models/` in the project)."""
    model = train(project, home)
    target_dir.mkdir(parents=True, exist_ok=True)
    dest = target_dir / model.name
    shutil.copy2(model, dest)
    return dest
