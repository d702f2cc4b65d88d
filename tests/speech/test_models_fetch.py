"""`hotline models fetch`: real zips served over a real socket on 127.0.0.1 (no network mocking)."""
from __future__ import annotations

import argparse
import hashlib
import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from speech.fetch import (
    OFFICIAL_MODELS,
    ChecksumMismatch,
    DownloadError,
    FetchError,
    NotAModel,
    UnsafeArchive,
    add_cli,
    default_dest,
    fetch_model,
)
from tests.support.paths import REPO

MODEL_FILES = {
    "am/final.mdl": b"\x00\x01fake acoustic model" * 500,
    "conf/model.conf": b"--min-active=200\n",
    "conf/mfcc.conf": b"--sample-frequency=16000\n",
    "graph/HCLr.fst": b"fake graph" * 300,
    "graph/Gr.fst": b"fake grammar" * 300,
    "ivector/final.ie": b"fake ivector" * 100,
}


def make_zip(members: dict[str, bytes], top: str | None = "tiny-model") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        if top:
            zf.writestr(top + "/", b"")
        for name, data in members.items():
            zf.writestr(f"{top}/{name}" if top else name, data)
    return buf.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Server:
    """A static file server on 127.0.0.1 that counts the requests it answers."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs) -> None:
                super().__init__(*args, directory=str(root), **kwargs)

            def do_GET(self) -> None:
                server.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def put(self, name: str, data: bytes) -> str:
        (self.root / name).write_bytes(data)
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "www"
    root.mkdir()
    srv = Server(root)
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "models"


def test_correct_checksum_unpacks_and_second_run_does_nothing(server: Server, dest: Path) -> None:
    data = make_zip(MODEL_FILES)
    url = server.put("tiny-model.zip", data)
    seen: list[tuple[int, int | None]] = []

    path = fetch_model("tiny-model", dest, url, sha(data), progress=lambda done, total: seen.append((done, total)))

    assert path == dest / "tiny-model"
    for name, content in MODEL_FILES.items():
        assert (path / name).read_bytes() == content
    assert sorted(p.name for p in dest.iterdir()) == ["tiny-model"], "no temporary files left behind"
    assert seen and seen[-1] == (len(data), len(data))
    assert len(server.requests) == 1

    again = fetch_model("tiny-model", dest, url, sha(data))
    assert again == path and len(server.requests) == 1, "a complete model is not downloaded again"


def test_archive_without_top_directory_is_unpacked_under_the_name(server: Server, dest: Path) -> None:
    data = make_zip(MODEL_FILES, top=None)
    path = fetch_model("flat-model", dest, server.put("flat.zip", data), sha(data))
    assert path == dest / "flat-model" and (path / "am" / "final.mdl").read_bytes() == MODEL_FILES["am/final.mdl"]
    assert sorted(p.name for p in dest.iterdir()) == ["flat-model"]


def test_wrong_checksum_raises_and_leaves_nothing(server: Server, dest: Path) -> None:
    data = make_zip(MODEL_FILES)
    url = server.put("tiny-model.zip", data)
    wrong = "0" * 64

    with pytest.raises(ChecksumMismatch) as info:
        fetch_model("tiny-model", dest, url, wrong)

    assert info.value.expected == wrong and info.value.actual == sha(data)
    assert list(dest.iterdir()) == [], "no partial model directory and no temporary file"


@pytest.mark.parametrize("evil", ["../escaped.txt", "tiny-model/../../escaped.txt", "/tmp/escaped-abs.txt", "..\\escaped.txt"])
def test_zip_slip_member_is_rejected(server: Server, tmp_path: Path, evil: str) -> None:
    dest = tmp_path / "deep" / "models"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in MODEL_FILES.items():
            zf.writestr(f"tiny-model/{name}", content)
        info = zipfile.ZipInfo("placeholder")
        info.filename = evil  # ZipInfo() would normalise it; an attacker's zip is not normalised
        zf.writestr(info, b"pwned")
    data = buf.getvalue()

    with pytest.raises(UnsafeArchive):
        fetch_model("tiny-model", dest, server.put("evil.zip", data), sha(data))

    assert list(dest.iterdir()) == []
    assert not any(p.name.startswith("escaped") for p in tmp_path.rglob("*"))
    assert not Path("/tmp/escaped-abs.txt").exists()


def test_symlink_member_is_rejected(server: Server, dest: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("tiny-model/am/final.mdl", b"model")
        link = zipfile.ZipInfo("tiny-model/conf")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, "/etc")
    data = buf.getvalue()
    with pytest.raises(UnsafeArchive):
        fetch_model("tiny-model", dest, server.put("link.zip", data), sha(data))
    assert list(dest.iterdir()) == []


def test_archive_without_a_model_is_refused(server: Server, dest: Path) -> None:
    data = make_zip({"README": b"not a model"})
    with pytest.raises(NotAModel):
        fetch_model("tiny-model", dest, server.put("empty.zip", data), sha(data))
    assert list(dest.iterdir()) == []


def test_http_error_and_refused_connection_are_download_errors(server: Server, dest: Path) -> None:
    with pytest.raises(DownloadError, match="404"):
        fetch_model("tiny-model", dest, server.put("x", b"") + "-missing.zip", "0" * 64)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError):
        fetch_model("tiny-model", dest, f"http://127.0.0.1:{port}/m.zip", "0" * 64, timeout=5)
    assert list(dest.iterdir()) == []


def test_unknown_model_needs_url_and_checksum(dest: Path) -> None:
    with pytest.raises(FetchError, match="unknown model"):
        fetch_model("no-such-model", dest)
    with pytest.raises(FetchError, match="64 hex"):
        fetch_model("no-such-model", dest, "http://127.0.0.1:9/x.zip", "abc")


def test_incomplete_existing_directory_is_not_overwritten(server: Server, dest: Path) -> None:
    (dest / "tiny-model").mkdir(parents=True)
    (dest / "tiny-model" / "notes.txt").write_text("mine")
    data = make_zip(MODEL_FILES)
    with pytest.raises(FetchError, match="not a complete model"):
        fetch_model("tiny-model", dest, server.put("tiny-model.zip", data), sha(data))
    assert (dest / "tiny-model" / "notes.txt").read_text() == "mine"
    assert server.requests == []


def test_official_model_matches_provenance() -> None:
    source = OFFICIAL_MODELS["vosk-model-small-cn-0.22"]
    assert source.url == "https://alphacephei.com/vosk/models/vosk-model-small-cn-0.22.zip"
    assert source.sha256 == "3af8b0e7e0f835ae9d414ce5df580237a3cfb08d586c9fbbb0f7ff29ad5b14ba"
    assert source.size == 43_898_754
    provenance = REPO.parent / "shared" / "models" / "PROVENANCE.md"
    if provenance.is_file():
        text = provenance.read_text(encoding="utf-8")
        assert source.sha256 in text and f"{source.size:,}" in text


# --- CLI, wired the way server/cli.py builds its parser and dispatches ---------------------------

def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="hotline")
    sub = parser.add_subparsers(dest="cmd", required=True)
    add_cli(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_cli_fetches_and_prints_the_setting(server: Server, dest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = make_zip(MODEL_FILES)
    url = server.put("tiny-model.zip", data)
    argv = ["models", "fetch", "--name", "tiny-model", "--dest", str(dest), "--url", url, "--sha256", sha(data).upper()]

    assert run_cli(argv) == 0
    out = capsys.readouterr().out
    assert f"HOTLINE_VOSK_MODEL={(dest / 'tiny-model').resolve()}" in out.splitlines()
    assert "model ready" in out

    assert run_cli(argv) == 0
    assert "already present" in capsys.readouterr().out
    assert len(server.requests) == 1


def test_cli_fails_on_checksum_mismatch(server: Server, dest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = server.put("tiny-model.zip", make_zip(MODEL_FILES))
    rc = run_cli(["models", "fetch", "--name", "tiny-model", "--dest", str(dest), "--url", url, "--sha256", "1" * 64])
    err = capsys.readouterr().err
    assert rc != 0
    assert "checksum mismatch" in err and "1" * 64 in err and "校验失败" in err
    assert list(dest.iterdir()) == []


def test_cli_fails_on_network_error(dest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc = run_cli(["models", "fetch", "--name", "tiny-model", "--dest", str(dest),
                  "--url", f"http://127.0.0.1:{port}/m.zip", "--sha256", "2" * 64])
    assert rc != 0
    assert "error:" in capsys.readouterr().err


def test_cli_default_destination(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HOTLINE_VOSK_MODEL", raising=False)
    monkeypatch.delenv("HOTLINE_DATA_DIR", raising=False)
    assert default_dest() == Path("var/models")
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "data"))
    assert default_dest() == tmp_path / "data" / "models"  # where the gateway looks by default
    monkeypatch.setenv("HOTLINE_VOSK_MODEL", str(tmp_path / "models" / "vosk-model-small-cn-0.22"))
    assert default_dest() == tmp_path / "models"
    parser = argparse.ArgumentParser(prog="hotline")
    add_cli(parser.add_subparsers(dest="cmd", required=True))
    args = parser.parse_args(["models", "fetch"])
    assert args.name == "vosk-model-small-cn-0.22" and args.dest is None and args.url is None


def test_auto_fetch_offline_gives_up_fast_and_waits_before_trying_again(server: Server, dest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`make run` runs `models fetch --auto`: offline it must not hold the start up, must not fail,
    and must not try again at every start; `make model` (plain fetch) still tries and clears that."""
    import time

    data = make_zip(MODEL_FILES)
    url = server.put("tiny-model.zip", data)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/tiny-model.zip"
    auto = ["models", "fetch", "--auto", "--name", "tiny-model", "--dest", str(dest), "--sha256", sha(data)]
    started = time.monotonic()
    assert run_cli([*auto, "--url", dead]) == 0
    assert time.monotonic() - started < 10
    assert "runs without live transcription" in capsys.readouterr().err
    assert (dest / ".tiny-model.fetch-failed").is_file() and not (dest / "tiny-model").exists()

    assert run_cli([*auto, "--url", url]) == 0  # the next start: no new attempt
    assert "make model" in capsys.readouterr().err and server.requests == []

    assert run_cli(["models", "fetch", "--name", "tiny-model", "--dest", str(dest), "--url", url, "--sha256", sha(data)]) == 0
    assert (dest / "tiny-model" / "am" / "final.mdl").is_file() and not (dest / ".tiny-model.fetch-failed").exists()
    capsys.readouterr()
    assert run_cli([*auto, "--url", url]) == 0
    assert "speech model" in capsys.readouterr().err and len(server.requests) == 1


def test_connection_that_never_opens_fails_within_the_connect_timeout(dest: Path) -> None:
    """A server that never completes the handshake (a full accept queue; offline networks that drop
    packets look the same) fails the fetch after connect_timeout, not the 60 s read timeout."""
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):  # fill the accept queue: later handshakes are not answered
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            fillers.append(c)
        time.sleep(0.2)
        started = time.monotonic()
        with pytest.raises(DownloadError):
            fetch_model("tiny-model", dest, f"http://127.0.0.1:{port}/m.zip", "3" * 64, connect_timeout=0.5)
        assert time.monotonic() - started < 5
    finally:
        for c in fillers:
            c.close()
        listener.close()


def test_default_model_is_found_beside_the_checkout_else_under_the_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from speech import model

    monkeypatch.delenv("HOTLINE_VOSK_MODEL", raising=False)
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "var"))
    shared = tmp_path / "shared" / "models" / model.MODEL_NAME
    monkeypatch.setattr(model, "shared_model_dir", lambda: shared)
    assert model.default_model_dir() == tmp_path / "var" / "models" / model.MODEL_NAME  # a fresh clone: what `make model` fills
    assert model.model_problem() == "model not found"
    shared.mkdir(parents=True)
    assert model.default_model_dir() == shared
    monkeypatch.setenv("HOTLINE_VOSK_MODEL", str(tmp_path / "elsewhere"))
    assert model.default_model_dir() == tmp_path / "elsewhere"
