"""`hotline models fetch`: download a Vosk model, check its sha256, unpack it safely.

    hotline models fetch [--name NAME] [--dest DIR] [--url URL] [--sha256 HEX]

The zip is streamed into a temporary file next to the destination and hashed on the way; a
checksum mismatch deletes it. Members are checked before anything is written (no absolute paths,
no `..`, no links: zip-slip), unpacked into a temporary directory and renamed into place in one
step, so `<dest>/<name>` is either absent or complete. A model that is already there is left alone.
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import logging
import os
import re
import shutil
import socket
import stat
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

log = logging.getLogger(__name__)

DEFAULT_MODEL = "vosk-model-small-cn-0.22"
ENV_VAR = "HOTLINE_VOSK_MODEL"
DEFAULT_DEST = Path("var/models")
# A directory holding this file is taken to be a complete, unpacked Vosk model.
MARKER = "am/final.mdl"
CHUNK = 1 << 16
DEFAULT_TIMEOUT = 60.0  # seconds without progress on the socket before giving up
CONNECT_TIMEOUT = 10.0  # seconds to resolve the host and open the connection (offline machines fail fast)
AUTO_CONNECT_TIMEOUT = 5.0  # the same for `models fetch --auto` (`make run`)
MAX_UNPACKED = 10 * 1024**3  # refuse archives claiming more than this (zip bombs)

Progress = Callable[[int, "int | None"], None]  # (bytes so far, total bytes if known)


@dataclass(frozen=True)
class ModelSource:
    url: str
    sha256: str  # of the zip, lowercase hex
    size: int | None = None  # of the zip, bytes


# Checksums and sizes as recorded in ../shared/models/PROVENANCE.md (the official Alpha Cephei zip).
OFFICIAL_MODELS: dict[str, ModelSource] = {
    "vosk-model-small-cn-0.22": ModelSource(
        url="https://alphacephei.com/vosk/models/vosk-model-small-cn-0.22.zip",
        sha256="3af8b0e7e0f835ae9d414ce5df580237a3cfb08d586c9fbbb0f7ff29ad5b14ba",
        size=43898754,
    ),
}


class FetchError(RuntimeError):
    """The model could not be fetched; nothing was left behind in the destination."""


class DownloadError(FetchError):
    """Network or HTTP failure."""


class ChecksumMismatch(FetchError):
    def __init__(self, url: str, expected: str, actual: str) -> None:
        super().__init__(f"sha256 mismatch for {url}: expected {expected}, got {actual}")
        self.url, self.expected, self.actual = url, expected, actual


class UnsafeArchive(FetchError):
    """A member would land outside the model directory, or is not a plain file/directory."""


class NotAModel(FetchError):
    """The archive unpacked fine but holds no Vosk model."""


def is_complete(model_dir: Path) -> bool:
    return (model_dir / MARKER).is_file()


def _resolve_source(name: str, url: str | None, sha256: str | None) -> ModelSource:
    official = OFFICIAL_MODELS.get(name)
    if sha256 is not None:
        sha256 = sha256.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise FetchError(f"--sha256 must be 64 hex digits, got {sha256!r}")
    if official is None:
        if not (url and sha256):
            known = ", ".join(sorted(OFFICIAL_MODELS))
            raise FetchError(f"unknown model {name!r} (known: {known}); give both a URL and its sha256")
        return ModelSource(url, sha256)
    expected = sha256 or official.sha256
    # A mirror of the official zip (same checksum) has the official size too.
    return ModelSource(url or official.url, expected, official.size if expected == official.sha256 else None)


def _probe(url: str, timeout: float) -> None:
    """Fail within `timeout` seconds when the server (or the configured proxy) cannot be reached:
    name resolution has no timeout of its own, so it runs in a thread we stop waiting for."""
    parsed = urllib.parse.urlsplit(url)
    proxy = urllib.request.getproxies().get(parsed.scheme)
    if proxy and not urllib.request.proxy_bypass(parsed.hostname or ""):
        parsed = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    host = parsed.hostname or ""
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    outcome: list[BaseException | None] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=connect, name="model-fetch-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        raise DownloadError(f"{url}: no connection to {host}:{port} within {timeout:g} s (offline?)")
    if outcome[0] is not None:
        raise DownloadError(f"{url}: cannot connect to {host}:{port}: {outcome[0]}")


def _download(source: ModelSource, into: Path, timeout: float, progress: Progress | None) -> str:
    """Stream source.url into the file `into`; returns the sha256 of what was received."""
    digest = hashlib.sha256()
    request = urllib.request.Request(source.url, headers={"User-Agent": "hotline-models-fetch/1"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, into.open("wb") as out:  # noqa: S310 (http/https only, checked below)
            header = response.headers.get("Content-Length")
            total = int(header) if header and header.isdigit() else source.size
            done = 0
            while chunk := response.read(CHUNK):
                done += len(chunk)
                if source.size is not None and done > source.size:
                    raise DownloadError(f"{source.url}: more than the expected {source.size} bytes")
                digest.update(chunk)
                out.write(chunk)
                if progress is not None:
                    progress(done, total)
            if header and header.isdigit() and done != int(header):
                raise DownloadError(f"{source.url}: connection closed after {done} of {header} bytes")
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{source.url}: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise DownloadError(f"{source.url}: {exc.reason}") from exc
    except (TimeoutError, socket.timeout) as exc:
        raise DownloadError(f"{source.url}: timed out after {timeout:g} s without data") from exc
    except (ConnectionError, http.client.HTTPException) as exc:
        raise DownloadError(f"{source.url}: {exc!r}") from exc
    return digest.hexdigest()


def _safe_parts(member: zipfile.ZipInfo) -> tuple[str, ...]:
    name = member.filename
    mode = member.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise UnsafeArchive(f"archive member is a symbolic link: {name!r}")
    if "\\" in name or name.startswith("/") or re.match(r"[A-Za-z]:", name) or "\0" in name:
        raise UnsafeArchive(f"archive member has an absolute or non-POSIX path: {name!r}")
    parts = tuple(p for p in PurePosixPath(name).parts if p not in ("", "."))
    if ".." in parts:
        raise UnsafeArchive(f"archive member escapes the model directory: {name!r}")
    return parts


def _unpack(archive: Path, into: Path) -> Path:
    """Unpack into the empty directory `into`; returns the model root (the archive's single
    top-level directory, as in the official zips, or `into` itself)."""
    with zipfile.ZipFile(archive) as zf:
        members = [(m, _safe_parts(m)) for m in zf.infolist()]  # check everything before writing
        if sum(m.file_size for m, _ in members) > MAX_UNPACKED:
            raise UnsafeArchive(f"archive unpacks to more than {MAX_UNPACKED} bytes")
        root = into.resolve()
        for member, parts in members:
            if not parts:
                continue
            target = Path(os.path.normpath(root.joinpath(*parts)))
            if root not in target.parents:  # second line of defence behind _safe_parts
                raise UnsafeArchive(f"archive member escapes the model directory: {member.filename!r}")
            if member.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(member) as src, target.open("xb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
            except (FileExistsError, IsADirectoryError, NotADirectoryError) as exc:
                raise UnsafeArchive(f"archive member clashes with another: {member.filename!r}") from exc
    tops = list(into.iterdir())
    if len(tops) == 1 and tops[0].is_dir():
        return tops[0]
    return into


def fetch_model(
    name: str,
    dest_dir: Path,
    url: str | None = None,
    sha256: str | None = None,
    *,
    progress: Progress | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    connect_timeout: float | None = CONNECT_TIMEOUT,
) -> Path:
    """Download, verify and unpack model `name` into `dest_dir/name`; returns that path.

    `url`/`sha256` default to OFFICIAL_MODELS[name]; a model not listed there needs both.
    Raises ChecksumMismatch, DownloadError, UnsafeArchive, NotAModel (all FetchError); on any
    error nothing is left in `dest_dir` but what was there before."""
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise FetchError(f"invalid model name {name!r}")
    source = _resolve_source(name, url, sha256)
    if not source.url.startswith(("https://", "http://")):
        raise FetchError(f"only http(s) URLs are supported: {source.url}")
    dest_dir = Path(dest_dir)
    target = dest_dir / name
    if is_complete(target):
        log.info("model %s already present at %s; nothing to do", name, target)
        return target
    if target.exists():
        raise FetchError(f"{target} exists but is not a complete model ({MARKER} missing); remove it and retry")
    dest_dir.mkdir(parents=True, exist_ok=True)

    fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=f".{name}.", suffix=".zip.part")
    os.close(fd)
    archive = Path(tmp_name)
    unpack_dir: Path | None = None
    try:
        log.info("downloading %s from %s", name, source.url)
        if connect_timeout is not None:
            _probe(source.url, connect_timeout)
        actual = _download(source, archive, timeout, progress)
        if actual != source.sha256:
            raise ChecksumMismatch(source.url, source.sha256, actual)
        unpack_dir = Path(tempfile.mkdtemp(dir=dest_dir, prefix=f".{name}.unpack-"))
        try:
            root = _unpack(archive, unpack_dir)
        except zipfile.BadZipFile as exc:
            raise FetchError(f"{source.url}: not a valid zip archive ({exc})") from exc
        if not is_complete(root):
            raise NotAModel(f"{source.url}: archive holds no Vosk model ({MARKER} missing)")
        try:
            os.rename(root, target)  # atomic: the model appears complete or not at all
        except OSError:
            if is_complete(target):  # another fetch finished first
                log.info("model %s appeared at %s meanwhile; keeping that copy", name, target)
                return target
            raise
        log.info("model %s unpacked to %s", name, target)
        return target
    finally:
        archive.unlink(missing_ok=True)
        if unpack_dir is not None:
            shutil.rmtree(unpack_dir, ignore_errors=True)


# --- CLI ------------------------------------------------------------------------------------------

def default_dest() -> Path:
    """The directory that holds $HOTLINE_VOSK_MODEL if that is set, else $HOTLINE_DATA_DIR/models
    (var/models), where the gateway looks by default."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser().parent
    data_dir = os.environ.get("HOTLINE_DATA_DIR")
    return Path(data_dir) / "models" if data_dir else DEFAULT_DEST


FAILED_STAMP_MAX_AGE = 86400.0  # `--auto` tries again a day after a failed attempt


def _failed_stamp(dest: Path, name: str) -> Path:
    return dest / f".{name}.fetch-failed"


def cmd_models_auto(args: argparse.Namespace) -> int:
    """`models fetch --auto` (what `make run` does first): get the model unless the gateway already
    finds one; never fails. A failed attempt (offline: it gives up after a few seconds) is noted
    in <dest>/.<name>.fetch-failed and not repeated for a day; `make model` retries at once."""
    from speech.model import default_model_dir, model_problem

    if args.name == DEFAULT_MODEL and args.dest is None and model_problem(default_model_dir()) is None:
        print(f"语音模型 / speech model: {default_model_dir().resolve()}", file=sys.stderr)
        return 0
    dest = (args.dest if args.dest is not None else default_dest()).expanduser()
    target = dest / args.name
    if is_complete(target):
        print(f"语音模型 / speech model: {target.resolve()}", file=sys.stderr)
        return 0
    stamp = _failed_stamp(dest, args.name)
    try:
        age = time.time() - stamp.stat().st_mtime
    except OSError:
        age = None
    if age is not None and age < FAILED_STAMP_MAX_AGE:
        reason = stamp.read_text(errors="replace").strip()
        print(f"语音模型未安装（上次下载失败），通话实时转写将关闭；联网后运行 make model 重试\n"
              f"  (speech model not installed: the last download failed ({reason}); live transcription stays off; "
              f"`make model` retries)", file=sys.stderr)
        return 0
    print(f"正在下载语音模型 {args.name} / downloading speech model {args.name} -> {dest}", file=sys.stderr, flush=True)
    progress = _terminal_progress if sys.stderr.isatty() else None
    try:
        target = fetch_model(args.name, dest, args.url, args.sha256, progress=progress, connect_timeout=AUTO_CONNECT_TIMEOUT)
    except (FetchError, OSError) as exc:
        if progress:
            print(file=sys.stderr)
        try:
            dest.mkdir(parents=True, exist_ok=True)
            stamp.write_text(f"{exc}\n")
        except OSError:
            pass
        print(f"语音模型下载失败，网关将在没有通话实时转写的情况下运行；联网后运行 make model\n"
              f"  (could not download the speech model: {exc}; the gateway runs without live transcription; "
              f"run `make model` when online)", file=sys.stderr)
        return 0
    if progress:
        print(file=sys.stderr)
    stamp.unlink(missing_ok=True)
    print(f"语音模型已就绪 / speech model ready: {target.resolve()}", file=sys.stderr)
    return 0


def _terminal_progress(done: int, total: int | None) -> None:
    if total:
        print(f"\r  {done / 1e6:6.1f} / {total / 1e6:.1f} MB ({100 * done // total:3d}%)", end="", file=sys.stderr, flush=True)
    else:
        print(f"\r  {done / 1e6:6.1f} MB", end="", file=sys.stderr, flush=True)


def cmd_models_fetch(args: argparse.Namespace) -> int:
    if args.auto:
        return cmd_models_auto(args)
    dest = (args.dest if args.dest is not None else default_dest()).expanduser()
    target = dest / args.name
    if is_complete(target):
        print(f"模型已存在，无需下载 / model already present: {target.resolve()}")
    else:
        print(f"正在下载模型 {args.name} / downloading {args.name} -> {dest}", file=sys.stderr, flush=True)
        progress = _terminal_progress if sys.stderr.isatty() else None
        try:
            target = fetch_model(args.name, dest, args.url, args.sha256, progress=progress)
        except ChecksumMismatch as exc:
            if progress:
                print(file=sys.stderr)
            print(f"错误：模型文件校验失败，已删除下载内容 / error: checksum mismatch, download deleted\n"
                  f"  url:      {exc.url}\n  expected: {exc.expected}\n  actual:   {exc.actual}", file=sys.stderr)
            return 1
        except FetchError as exc:
            if progress:
                print(file=sys.stderr)
            print(f"错误：模型下载失败 / error: {exc}", file=sys.stderr)
            return 1
        if progress:
            print(file=sys.stderr)
        _failed_stamp(dest, args.name).unlink(missing_ok=True)
        print(f"模型已就绪 / model ready: {target.resolve()}")
    print("在环境中设置 / set in the environment:")
    print(f"{ENV_VAR}={target.resolve()}")
    return 0


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register `models fetch` and `models graph` on the `hotline` parser's subparsers; dispatch is `args.func(args)`."""
    models = subparsers.add_parser("models", help="speech recognition models (Vosk)")
    msub = models.add_subparsers(dest="models_cmd", required=True)
    fetch = msub.add_parser("fetch", help="download, verify (sha256) and unpack a Vosk model")
    fetch.add_argument("--name", default=DEFAULT_MODEL, help=f"model name (default {DEFAULT_MODEL}; known: {', '.join(OFFICIAL_MODELS)})")
    fetch.add_argument("--dest", type=Path, help=f"directory to unpack into (default: parent of ${ENV_VAR} if set, else $HOTLINE_DATA_DIR/models, i.e. {DEFAULT_DEST})")
    fetch.add_argument("--url", help="download from this URL instead (a mirror)")
    fetch.add_argument("--sha256", help="expected sha256 of the zip (required for models not built in)")
    fetch.add_argument("--auto", action="store_true",
                       help="what `make run` does: skip if the gateway finds a model, give up fast when offline, "
                            "do not retry for a day after a failure, always exit 0")
    fetch.set_defaults(func=cmd_models_fetch)
    from speech.graph_cli import add_cli as add_graph_cli

    add_graph_cli(msub)
    return models
