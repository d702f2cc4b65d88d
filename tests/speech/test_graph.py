"""speech/graph.py: the static decoding graph, composed with OpenFst's real tools from the real
model, against the model's own lookahead graph on the real clip."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from speech import default_model_dir, read_wav, resample
from speech.graph import BUILT_STAMP, GraphBuildError, build, compiled_dir, compiled_for, graph_root
from tests.support.paths import REPO

CLIP = REPO.parent / "shared" / "audio" / "BAC009S0764W0121.wav"
TEXT = "甚至出现交易几乎停滞的情况"
HOTLINE = Path(sys.executable).with_name("hotline")


@pytest.fixture(scope="module")
def static_model() -> Path:
    """The static-graph model of the shared model: `make test` composed it (graph-auto) into the
    cache; composed here if it is not there."""
    model = default_model_dir().resolve()
    return compiled_for(model) or build(model)


def transcribe(model_dir: Path) -> list[dict]:
    import vosk

    clip = read_wav(CLIP)
    audio = resample(clip.samples, clip.rate, 8000)
    rec = vosk.KaldiRecognizer(vosk.Model(str(model_dir)), 8000)
    rec.SetWords(True)
    words: list[dict] = []
    for i in range(0, len(audio), 1600):
        if rec.AcceptWaveform(audio[i:i + 1600]):
            words += json.loads(rec.Result()).get("result", [])
    words += json.loads(rec.FinalResult()).get("result", [])
    return words


def test_the_static_graph_hears_the_real_clip_as_the_models_own_graph(static_model: Path) -> None:
    own, static = transcribe(default_model_dir()), transcribe(static_model)
    assert "".join(w["word"] for w in static) == TEXT
    assert [w["word"] for w in static] == [w["word"] for w in own]
    for a, b in zip(own, static):
        assert abs(a["start"] - b["start"]) <= 0.05 and abs(a["end"] - b["end"]) <= 0.05, (a, b)
        assert abs(a["conf"] - b["conf"]) <= 0.05, (a, b)


def _graph_in_use(env: dict[str, str]) -> str:
    code = "from speech.model import load_model, loaded_graph; load_model(); print(loaded_graph())"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_process_decodes_with_the_static_graph_once_composed_unless_told_otherwise(static_model: Path) -> None:
    root = str(static_model.parent)
    assert _graph_in_use({"HOTLINE_SPEECH_GRAPH_DIR": root}) == "static"
    assert _graph_in_use({"HOTLINE_SPEECH_GRAPH_DIR": root, "HOTLINE_SPEECH_GRAPH": "model"}) == "model"


def test_without_a_composed_graph_a_process_decodes_with_the_models_own(tmp_path: Path) -> None:
    assert _graph_in_use({"HOTLINE_SPEECH_GRAPH_DIR": str(tmp_path)}) == "model"


def fake_model(at: Path, grammar: bytes = b"grammar") -> Path:
    (at / "graph" / "phones").mkdir(parents=True)
    (at / "am").mkdir()
    (at / "conf").mkdir()
    (at / "graph" / "HCLr.fst").write_bytes(b"hcl")
    (at / "graph" / "Gr.fst").write_bytes(grammar)
    (at / "graph" / "disambig_tid.int").write_text("7\n8\n")
    return at


def test_a_changed_model_gets_its_own_graph_and_a_half_built_one_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_SPEECH_GRAPH_DIR", str(tmp_path / "graphs"))
    first = compiled_dir(fake_model(tmp_path / "a" / "m"))
    second = compiled_dir(fake_model(tmp_path / "b" / "m", grammar=b"another grammar"))
    assert first is not None and second is not None and first != second
    assert first.parent == graph_root() == tmp_path / "graphs"
    # A build that stopped before its stamp: not taken for a graph.
    (first / "graph").mkdir(parents=True)
    (first / "graph" / "HCLG.fst").write_bytes(b"partial")
    assert compiled_for(tmp_path / "a" / "m") is None
    (first / BUILT_STAMP).write_text("done\n")
    for name in ("am", "conf"):
        (first / name).symlink_to(tmp_path / "a" / "m" / name)
    (first / "graph" / "phones").symlink_to(tmp_path / "a" / "m" / "graph" / "phones")
    assert compiled_for(tmp_path / "a" / "m") == first
    shutil.rmtree(tmp_path / "a" / "m" / "am")  # the model it links to moved away
    assert compiled_for(tmp_path / "a" / "m") is None


def test_a_model_the_tools_cannot_read_fails_clearly_and_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    graphs = tmp_path / "graphs"
    monkeypatch.setenv("HOTLINE_SPEECH_GRAPH_DIR", str(graphs))
    model = fake_model(tmp_path / "broken-model", grammar=b"not an FST at all")
    with pytest.raises(GraphBuildError, match="failed"):
        build(model)
    assert list(graphs.iterdir()) == []  # no half-built graph, no work directory


def test_without_the_tools_the_command_names_the_package(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(HOTLINE.parent), "HOTLINE_SPEECH_GRAPH_DIR": str(tmp_path)}
    strict = subprocess.run([str(HOTLINE), "models", "graph"], env=env, capture_output=True, text=True, timeout=120)
    assert strict.returncode == 1
    assert "libfst-tools" in strict.stderr and "fstcompose" in strict.stderr
    auto = subprocess.run([str(HOTLINE), "models", "graph", "--auto"], env=env, capture_output=True, text=True, timeout=120)
    assert auto.returncode == 0 and "libfst-tools" in auto.stderr
    assert list(tmp_path.iterdir()) == []
