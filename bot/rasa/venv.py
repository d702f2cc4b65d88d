"""Rasa's own virtualenv: where it lives, whether it is complete, how to build it.

Rasa 3.6 pins old numpy/scipy/tensorflow that cannot share the gateway's
environment, so it gets a virtualenv of its own in a cache directory outside
the checkout (about 2.4 GB, built once). The recipe is the one in
``../shared/DESIGN.md`` ("Rasa on Python 3.11"). A marker file holds a hash of
the recipe: a rebuild happens only when the recipe changes or the venv is
incomplete. Standard library only, so it runs before anything is installed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

RASA_VERSION = "3.6.21"
# Rasa 3.6 declares Python < 3.11; these pins are what made it work on 3.11.
CONSTRAINTS = (
    "numpy==1.23.5",
    "scipy==1.10.1",
    "jax==0.4.13",
    "jaxlib==0.4.13",
    "ml-dtypes==0.2.0",
    "scikit-learn==1.1.3",
)
REQUIREMENTS = (f"rasa=={RASA_VERSION}", "dask==2022.10.2", "jieba")
# matplotlib 3.5 has no 3.11 wheel; build it against Debian's freetype/qhull
# (apt: libfreetype-dev libqhull-dev pkg-config) instead of downloading them.
MPLSETUP_CFG = "[libs]\nsystem_freetype = true\nsystem_qhull = true\n"
APT_PACKAGES = ("libfreetype-dev", "libqhull-dev", "pkg-config")
MARKER = ".hotline-complete"


def rasa_home() -> Path:
    """The cache root: ``$HOTLINE_RASA_HOME`` or ``~/.cache/hotline/rasa``."""
    env = os.environ.get("HOTLINE_RASA_HOME")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "hotline" / "rasa"


def venv_dir(home: Path | None = None) -> Path:
    return (home or rasa_home()) / "venv"


def rasa_executable(home: Path | None = None) -> Path:
    return venv_dir(home) / "bin" / "rasa"


def base_python() -> str:
    """The interpreter the venv is made from (``HOTLINE_RASA_PYTHON`` overrides)."""
    env = os.environ.get("HOTLINE_RASA_PYTHON")
    if env:
        return env
    # From inside the gateway's venv, build from the real interpreter.
    return getattr(sys, "_base_executable", None) or sys.executable


def recipe_hash(python: str) -> str:
    """Hash of everything that shapes the venv; a change means a rebuild."""
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version)"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    recipe = {
        "constraints": CONSTRAINTS,
        "requirements": REQUIREMENTS,
        "mplsetup": MPLSETUP_CFG,
        "python": version,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


def is_complete(home: Path | None = None, python: str | None = None) -> bool:
    """True when the venv was fully built from the current recipe."""
    marker = venv_dir(home) / MARKER
    if not marker.is_file() or not rasa_executable(home).exists():
        return False
    if python is None:
        # Cheap check for tests and the server: the marker exists and names
        # a recipe; `setup` does the full hash comparison.
        return bool(marker.read_text().strip())
    return marker.read_text().strip() == recipe_hash(python)


def missing_apt_packages() -> list[str]:
    missing = []
    for name in APT_PACKAGES:
        probe = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", name],
            capture_output=True, text=True,
        )
        if "install ok installed" not in probe.stdout:
            missing.append(name)
    return missing


def _run(cmd: list[str], env: dict[str, str]) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=env)


def setup(home: Path | None = None, python: str | None = None, force: bool = False) -> Path:
    """Build the venv unless it is already complete for this recipe."""
    home = home or rasa_home()
    python = python or base_python()
    home.mkdir(parents=True, exist_ok=True)
    # One builder at a time (CI and a developer, or two test sessions).
    with open(home / ".setup.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        want = recipe_hash(python)
        venv = venv_dir(home)
        if not force and is_complete(home, python):
            print(f"rasa venv up to date: {venv}", flush=True)
            return venv
        if shutil.which("dpkg-query"):
            missing = missing_apt_packages()
            if missing:
                raise SystemExit(
                    "missing apt packages for building matplotlib: "
                    + " ".join(missing)
                    + f"\n  install them with: apt-get install -y {' '.join(missing)}"
                )
        if venv.exists():
            # Half-built or from another recipe: start clean, pip's cache
            # makes the reinstall cheap.
            shutil.rmtree(venv)
        _run([python, "-m", "venv", str(venv)], dict(os.environ))
        (home / "mplsetup.cfg").write_text(MPLSETUP_CFG)
        (home / "constraints.txt").write_text("\n".join(CONSTRAINTS) + "\n")
        env = dict(os.environ)
        env["MPLSETUPCFG"] = str(home / "mplsetup.cfg")
        env["RASA_TELEMETRY_ENABLED"] = "false"
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        pip = [str(venv / "bin" / "python"), "-m", "pip"]
        _run(pip + ["install", "-q", "--upgrade", "pip", "setuptools<70", "wheel"], env)
        _run(
            pip + ["install", "--ignore-requires-python",
                   "-c", str(home / "constraints.txt"), *REQUIREMENTS],
            env,
        )
        # Prove it imports before calling it complete.
        _run([str(venv / "bin" / "python"), "-c",
              "import rasa, jieba, rasa.nlu.tokenizers.jieba_tokenizer; print('rasa', rasa.__version__)"],
             env)
        (venv / MARKER).write_text(want + "\n")
        print(f"rasa venv ready: {venv}", flush=True)
        return venv


if __name__ == "__main__":
    setup(force="--force" in sys.argv[1:])
