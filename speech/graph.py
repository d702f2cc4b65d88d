"""A static decoding graph for a Vosk "small" model, composed once ahead of time.

Small Vosk models ship a lookahead graph: `graph/HCLr.fst` (olabel_lookahead) and `graph/Gr.fst`
(an n-gram FST), which every KaldiRecognizer composes on the fly into a cache of its own. On
speech its cache has not met, a recognizer decodes 4-10 s of audio per CPU second, and each
one grows to about 150 MB on varied speech. Composed into one static `HCLG.fst` that all
recognizers share, the same model decodes 40 s per CPU second from the first word, a
recognizer needs about 2 MB, and the model takes about 275 MB more memory once per process
(`bench/speech_graph.py`). The transcripts are the same graph's: HCLr ∘ Gr with the
disambiguation symbols made epsilons, as the lookahead decoder does.

The composition uses OpenFst's command-line tools (Debian's `libfst-tools`; about 40 s and
1 GB of memory for vosk-model-small-cn-0.22). No Python package reads the lookahead and n-gram
FST types, and Kaldi's own tools are not packaged, so the product falls back to the model's
own graph where the tools are missing. The result is cached outside the model (which may be
read-only) under a fingerprint of the graph files:

    $HOTLINE_SPEECH_GRAPH_DIR/<model name>-<fingerprint>/   (default ~/.cache/hotline/graphs)
        graph/HCLG.fst   the composed graph (ConstFst)
        graph/words.txt  the word list (Gr.fst's symbols)
        graph/phones     -> the model's graph/phones
        am, conf, ivector, ...  -> the model's own

which Vosk loads as a model whose graph is `graph/HCLG.fst`.

Built by `hotline models graph [--model DIR] [--auto]` (speech/graph_cli.py).
"""
from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

GRAPH_DIR_ENV = "HOTLINE_SPEECH_GRAPH_DIR"
GRAPH_CHOICE_ENV = "HOTLINE_SPEECH_GRAPH"  # "auto" (default): the static graph when built; "model": the model's own
TOOLS = ("fstcompose", "fstrelabel", "fstconvert", "fstsymbols")
# OpenFst opens an FST type it does not know as the shared object "<type>-fst.so" on the library
# path; Debian packages the two extensions the small models use under these names.
PLUGINS = {"olabel_lookahead-fst.so": "libfstlookahead.so", "ngram-fst.so": "libfstngram.so"}
LIBRARY_DIRS = ("/usr/lib/*-linux-gnu", "/usr/lib", "/usr/local/lib")
BUILT_STAMP = "BUILT"  # written last: a directory without it is an interrupted build
INSTALL_HINT = "install OpenFst's tools (Debian/Ubuntu: apt-get install libfst-tools)"


class GraphBuildError(RuntimeError):
    """The static graph could not be built (tools missing, a tool failed)."""


def lookahead_files(model_dir: Path) -> tuple[Path, Path, Path] | None:
    """(HCLr.fst, Gr.fst, disambig_tid.int) of a model with a lookahead graph, else None."""
    graph = model_dir / "graph"
    parts = (graph / "HCLr.fst", graph / "Gr.fst", graph / "disambig_tid.int")
    return parts if all(p.is_file() for p in parts) and not (graph / "HCLG.fst").exists() else None


def fingerprint(files: tuple[Path, ...]) -> str:
    """sha256 of the graph files' contents (about 0.1 s for 42 MB): a changed model gets a new graph."""
    digest = hashlib.sha256()
    for path in files:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def graph_root() -> Path:
    env = os.environ.get(GRAPH_DIR_ENV)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "hotline" / "graphs"


def compiled_dir(model_dir: Path) -> Path | None:
    """Where the static graph of `model_dir` lives (built or not); None if the model has no
    lookahead graph to compose (it already has an HCLG.fst, or is incomplete)."""
    files = lookahead_files(model_dir)
    if files is None:
        return None
    return graph_root() / f"{model_dir.name}-{fingerprint(files)}"


def compiled_for(model_dir: Path) -> Path | None:
    """The built static-graph model for `model_dir`, or None if there is none to use."""
    target = compiled_dir(model_dir)
    return target if target is not None and _usable(target) else None


def _usable(target: Path) -> bool:
    """A finished build whose links to the model still resolve (a moved model: build again)."""
    return (target / BUILT_STAMP).is_file() and all((target / name).exists() for name in ("am", "conf", "graph/HCLG.fst", "graph/phones"))


def tools_problem() -> str | None:
    """None if the OpenFst tools and plugins are here, else what is missing (English)."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    missing += [name for name, lib in PLUGINS.items() if _library(lib) is None]
    return f"missing {', '.join(missing)}: {INSTALL_HINT}" if missing else None


def _library(stem: str) -> Path | None:
    dirs = [d for d in (os.environ.get("LD_LIBRARY_PATH") or "").split(":") if d] + list(LIBRARY_DIRS)
    found = next((hit for d in dirs for hit in sorted(glob.glob(f"{d}/{stem}*"))), None)
    return Path(found) if found else None


def build(model_dir: Path) -> Path:
    """Compose the static graph of `model_dir` (if not built yet) and return the model directory
    that uses it. Safe to run twice at once: each builds aside, the first rename wins."""
    model_dir = model_dir.expanduser().resolve()
    files = lookahead_files(model_dir)
    target = compiled_dir(model_dir)
    if files is None or target is None:
        raise GraphBuildError(f"{model_dir} has no lookahead graph (graph/HCLr.fst, Gr.fst, disambig_tid.int) to compose")
    if _usable(target):
        return target
    problem = tools_problem()
    if problem:
        raise GraphBuildError(problem)
    hclr, gr, disambig = files
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        plugins = work / "plugins"
        plugins.mkdir()
        for name, lib in PLUGINS.items():
            found = _library(lib)
            assert found is not None  # tools_problem() checked
            (plugins / name).symlink_to(found)
        env = {**os.environ, "LD_LIBRARY_PATH": ":".join(filter(None, [str(plugins), os.environ.get("LD_LIBRARY_PATH")]))}
        graph = work / "model" / "graph"
        graph.mkdir(parents=True)
        # Gr.fst's own symbol tables do not survive a round trip through these tools; Vosk reads
        # the words from graph/words.txt instead.
        _run(["fstsymbols", f"--save_osymbols={graph / 'words.txt'}", "--clear_isymbols", "--clear_osymbols", str(gr), str(work / "G.fst")], env)
        # The disambiguation symbols on HCLr's input side become epsilons, as the lookahead
        # decoder treats them (Vosk passes disambig_tid.int to its LookaheadComposeFst).
        pairs = work / "disambig.pairs"
        pairs.write_text("".join(f"{tid} 0\n" for tid in disambig.read_text().split()))
        _run(["fstcompose", str(hclr), str(work / "G.fst"), str(work / "HCLG.vector")], env)
        _run(["fstrelabel", f"--relabel_ipairs={pairs}", str(work / "HCLG.vector"), str(work / "HCLG.relabelled")], env)
        (work / "HCLG.vector").unlink()
        _run(["fstconvert", "--fst_type=const", str(work / "HCLG.relabelled"), str(graph / "HCLG.fst")], env)
        _link_model(model_dir, work / "model")
        (work / "model" / BUILT_STAMP).write_text(f"{model_dir}\n")
        try:
            (work / "model").rename(target)
        except OSError:
            if not _usable(target):  # not another build that finished first
                shutil.rmtree(target, ignore_errors=True)
                (work / "model").rename(target)
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _link_model(model_dir: Path, into: Path) -> None:
    """Everything but the graph is the model's own: links, so the acoustic model is not copied."""
    for entry in model_dir.iterdir():
        if entry.name != "graph":
            (into / entry.name).symlink_to(entry.resolve())
    (into / "graph" / "phones").symlink_to((model_dir / "graph" / "phones").resolve())


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, errors="replace")
    if done.returncode != 0:
        raise GraphBuildError(f"{command[0]} failed ({done.returncode}): {done.stderr.strip()[-500:]}")


def decoding_dir(model_dir: Path) -> tuple[Path, str]:
    """The directory Vosk should load for `model_dir`, and the graph it decodes with: "static"
    (built here), "model" (the model's own graph). HOTLINE_SPEECH_GRAPH=model always takes
    the model's own."""
    if os.environ.get(GRAPH_CHOICE_ENV, "auto") != "model":
        compiled = compiled_for(model_dir)
        if compiled is not None:
            return compiled, "static"
    return model_dir, "model"
