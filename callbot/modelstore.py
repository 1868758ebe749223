"""Download, verify and install the production French speech models (`callbot models pull|install`).

Layout under `dest` (what config/defaults.yaml points at):
    dest/vosk-model-small-fr-0.22/            the Vosk model folder
    dest/fr_FR-siwis-medium.onnx(.json)       the Piper voice
    dest/.downloads/                          partial downloads (`*.part`), resumed with HTTP Range

Nothing half-written is ever visible under its final name: archives are unpacked into a temporary folder
beside the target, checked, then renamed into place.

Blocking (urllib): call it from a thread when inside an event loop.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TextIO

from asr.model import ModelLoadError, check_model_folder

_CHUNK = 64 * 1024
_USER_AGENT = "metropole-callbot-modelstore/1"
ASR = "asr"
TTS = "tts"
_KIND_ALIASES = {"asr": ASR, "vosk": ASR, "tts": TTS, "piper": TTS}


class ModelError(Exception):
    """Any failure of `callbot models`: the message says what to do."""


class DownloadError(ModelError):
    pass


class ChecksumError(ModelError):
    pass


class InstallError(ModelError):
    pass


@dataclass(frozen=True)
class RemoteFile:
    url: str
    size: int | None = None  # None: not known here
    sha256: str | None = None  # None: not pinned yet; the hash computed on download is printed

    @property
    def filename(self) -> str:
        return PurePosixPath(self.url.split("?", 1)[0]).name


@dataclass(frozen=True)
class ExpectedFile:
    path: str  # relative to the installed model folder
    size: int
    sha256: str


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str  # ASR: one archive holding the model folder; TTS: the .onnx and its .onnx.json
    downloads: tuple[RemoteFile, ...]
    contents: tuple[ExpectedFile, ...] = ()  # ASR: checked after unpacking

    def installed_path(self, dest: Path) -> Path:
        if self.kind == ASR:
            return dest / self.name
        return dest / f"{self.name}.onnx"


def _vosk_file(path: str, size: int, sha256: str) -> ExpectedFile:
    return ExpectedFile(path=path, size=size, sha256=sha256)


_PIPER_VOICES = "https://huggingface.co/rhasspy/piper-voices/resolve/v1.0.0"

MANIFEST: Mapping[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="vosk-model-small-fr-0.22",
            kind=ASR,
            # The zip's own hash is not known here; every file inside it is pinned below.
            downloads=(RemoteFile("https://alphacephei.com/vosk/models/vosk-model-small-fr-0.22.zip"),),
            contents=(
                _vosk_file("README", 354, "a036c27a5f30d95910f739ce9466539a5772cd13541e5fdddfbfae187993f8d8"),
                _vosk_file(
                    "am/final.mdl", 15978979, "580d99752e3f6f31fb4a03403b0b2a3a78b9665937e2823668b46d9c9ce1a1a1"
                ),
                _vosk_file("conf/mfcc.conf", 153, "6c326fea5741c2d78be12f76eb1b36ea2ace040da9e355e4cfe6bb80e5f7d5ab"),
                _vosk_file("conf/model.conf", 289, "d8d91d310a9659fed2d89f8ea4996af6163a43c3ab008cd278e4264120551712"),
                _vosk_file(
                    "graph/Gr.fst", 24029163, "4d5aefc6af664d1c47979ae3b9eb7e972c196e843ff4eee65e4c7b0c064723cf"
                ),
                _vosk_file(
                    "graph/HCLr.fst", 18331442, "6562aee2cffac5ad2e569584bc8ca22b1bae0ce9e6e03f0f9898d9d7c267eaa5"
                ),
                _vosk_file(
                    "graph/disambig_tid.int",
                    380,
                    "fd844580478d2c0dbb01e408f77fce92a343a9fe05c304fea57a0d8e3122d7b1",
                ),
                _vosk_file(
                    "graph/phones/word_boundary.int",
                    1626,
                    "262452069835201f18fd4de64c4816a2333a54c80b4114084d75e1c4eb273836",
                ),
                _vosk_file(
                    "ivector/final.dubm", 168048, "15c6736f097e9a1fbc3811a75a666da39cb9aa4526acea29d25f2a3003357acc"
                ),
                _vosk_file(
                    "ivector/final.ie", 9927287, "bd52bc5aeef1f35349c7a6fd3fb671a4a877ba04181da30d99f2cf01d4b75dd5"
                ),
                _vosk_file(
                    "ivector/final.mat", 44975, "61818a44ae3519708e9a31701da4ab351f3e19d7bd3e4ddfd820fd7f121cfad0"
                ),
                _vosk_file(
                    "ivector/global_cmvn.stats",
                    1076,
                    "9d94d076adc26cd578cc4cf702dc41e5ea6de202f4563d6f0d4b4d4fdbb46bc1",
                ),
                _vosk_file(
                    "ivector/splice.conf", 35, "9f0c5f7c82d18eaf25d8bce470efa9f7741f88411fe428774bc0a9bb69a24756"
                ),
                _vosk_file(
                    "ivector/online_cmvn.conf", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                ),
            ),
        ),
        ModelSpec(
            name="fr_FR-siwis-medium",
            kind=TTS,
            # Unknown here, to be pinned: `pull` prints the sha256 it computed for each file.
            downloads=(
                RemoteFile(f"{_PIPER_VOICES}/fr/fr_FR/siwis/medium/fr_FR-siwis-medium.onnx"),
                RemoteFile(f"{_PIPER_VOICES}/fr/fr_FR/siwis/medium/fr_FR-siwis-medium.onnx.json"),
            ),
        ),
    )
}


# ---------------------------------------------------------------------------------------------- progress


class Progress:
    """Bytes, percentage and rate on `stream`: one redrawn line on a terminal, plain lines otherwise."""

    def __init__(self, label: str, total: int | None, stream: TextIO, start: int = 0) -> None:
        self._label = label
        self._total = total
        self._stream = stream
        self._tty = stream.isatty()
        self._done = start
        self._start = start
        self._began = time.monotonic()
        self._last_draw = 0.0
        self._last_decile = -1

    def update(self, count: int) -> None:
        self._done += count
        now = time.monotonic()
        if self._tty:
            if now - self._last_draw >= 0.1:
                self._last_draw = now
                self._stream.write("\r" + self._line(now))
                self._stream.flush()
        elif self._total:
            decile = self._done * 10 // self._total
            if decile != self._last_decile:
                self._last_decile = decile
                self._stream.write(self._line(now) + "\n")
                self._stream.flush()

    def close(self) -> None:
        line = self._line(time.monotonic())
        self._stream.write(("\r" + line + "\n") if self._tty else (line + " done\n"))
        self._stream.flush()

    def _line(self, now: float) -> str:
        elapsed = max(now - self._began, 1e-6)
        rate = (self._done - self._start) / elapsed
        size = f"{self._done / 1e6:.1f}"
        if self._total:
            percent = min(100.0, 100.0 * self._done / self._total)
            bar = "#" * int(percent / 5)
            return f"{self._label} [{bar:<20}] {percent:5.1f}% {size}/{self._total / 1e6:.1f} MB {rate / 1e6:.2f} MB/s"
        return f"{self._label} {size} MB {rate / 1e6:.2f} MB/s"


# ---------------------------------------------------------------------------------------------- download


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


class _Interrupted(Exception):
    """The transfer stopped early; the .part file keeps what arrived."""


def _fetch_once(remote: RemoteFile, part: Path, stream: TextIO, timeout: float) -> None:
    offset = part.stat().st_size if part.exists() else 0
    if remote.size is not None and offset == remote.size:
        return
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(remote.url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:
            # The server has nothing past what we hold: the .part is complete (the checksum will tell).
            return
        raise DownloadError(f"{remote.url}: HTTP {error.code} {error.reason}") from error
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(f"cannot reach {remote.url}: {reason}") from error
    with response:
        resumed = offset > 0 and response.status == 206
        if not resumed:
            offset = 0  # the server sent the whole file
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else remote.size
        progress = Progress(remote.filename, total, stream, start=offset)
        if resumed:
            stream.write(f"{remote.filename}: resuming at {offset} bytes\n")
        received = offset
        try:
            with part.open("ab" if resumed else "wb") as file:
                while block := response.read(_CHUNK):
                    file.write(block)
                    received += len(block)
                    progress.update(len(block))
        except (http.client.IncompleteRead, ConnectionError, TimeoutError, OSError) as error:
            raise _Interrupted(f"{received} of {total or '?'} bytes ({error!r})") from error
        finally:
            progress.close()
        if total is not None and received < total:
            raise _Interrupted(f"{received} of {total} bytes")


def download(remote: RemoteFile, folder: Path, stream: TextIO, timeout: float = 30.0, retries: int = 3) -> Path:
    """Fetch `remote` into `folder` (resuming a `.part` left by an earlier attempt) and verify it."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / remote.filename
    part = folder / f"{remote.filename}.part"
    if target.exists():
        target.replace(part)  # a finished file from a run that failed later: re-verify it below
    for attempt in range(retries + 1):
        try:
            _fetch_once(remote, part, stream, timeout)
            break
        except _Interrupted as interruption:
            if attempt == retries:
                raise DownloadError(
                    f"download of {remote.url} was interrupted at {interruption}; "
                    f"run the command again to resume from {part}"
                ) from interruption
            stream.write(f"{remote.filename}: interrupted at {interruption}, resuming\n")
    _verify_download(remote, part, stream)
    part.replace(target)
    return target


def _verify_download(remote: RemoteFile, part: Path, stream: TextIO) -> None:
    size = part.stat().st_size
    if remote.size is not None and size != remote.size:
        part.unlink()
        raise ChecksumError(f"{remote.url}: got {size} bytes, the manifest expects {remote.size}; deleted")
    digest = sha256_of(part)
    if remote.sha256 is None:
        stream.write(f"sha256 {digest}  {remote.filename} ({size} bytes; not pinned in the manifest yet)\n")
    elif digest != remote.sha256:
        part.unlink()
        raise ChecksumError(f"{remote.url}: sha256 {digest} does not match the manifest's {remote.sha256}; deleted")


# ---------------------------------------------------------------------------------------------- unpack


def _is_archive(path: Path) -> bool:
    return path.name.endswith((".zip", ".tar.gz", ".tgz", ".tar"))


def _unpack(archive: Path, into: Path) -> None:
    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as bundle:
                for member in bundle.namelist():
                    parts = PurePosixPath(member).parts
                    if member.startswith("/") or ".." in parts:
                        raise InstallError(f"{archive}: refusing the unsafe member path {member!r}")
                bundle.extractall(into)
        else:
            with tarfile.open(archive) as bundle:
                bundle.extractall(into, filter="data")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as error:
        raise InstallError(f"{archive} is not a readable archive: {error}") from error


def _find_vosk_root(folder: Path) -> Path:
    candidates = [folder, *sorted(p for p in folder.iterdir() if p.is_dir())]
    for candidate in candidates:
        try:
            check_model_folder(candidate)
        except ModelLoadError:
            continue
        return candidate
    raise InstallError(f"no Vosk model (am/final.mdl and conf/mfcc.conf) found in {folder}")


def _check_contents(root: Path, expected: Iterable[ExpectedFile], origin: str) -> None:
    problems = []
    for item in expected:
        path = root / item.path
        if not path.is_file():
            problems.append(f"{item.path}: missing")
        elif path.stat().st_size != item.size:
            problems.append(f"{item.path}: {path.stat().st_size} bytes, expected {item.size}")
        elif sha256_of(path) != item.sha256:
            problems.append(f"{item.path}: sha256 differs from the manifest")
    if problems:
        raise ChecksumError(f"{origin} does not hold the expected model files: " + "; ".join(problems))


def _move_into_place(staged: Path, target: Path) -> None:
    """Rename `staged` to `target`, swapping out an older copy without a moment where neither is whole."""
    if not target.exists():
        staged.rename(target)
        return
    retired = target.with_name(f".{target.name}.old-{os.getpid()}")
    target.rename(retired)
    try:
        staged.rename(target)
    except OSError:
        retired.rename(target)
        raise
    if retired.is_dir():
        shutil.rmtree(retired)
    else:
        retired.unlink()


# ---------------------------------------------------------------------------------------------- install


def _install_vosk_folder(source: Path, dest: Path, name: str, spec: ModelSpec | None) -> Path:
    """Copy/unpack `source` (archive or folder) into a staging folder in `dest`, check, rename to dest/name."""
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=dest))
    try:
        if source.is_dir():
            root = _find_vosk_root(source)
            staged = staging / root.name
            shutil.copytree(root, staged, symlinks=False)
        else:
            _unpack(source, staging / "unpacked")
            staged = _find_vosk_root(staging / "unpacked")
        check_model_folder(staged)
        if spec is not None:
            _check_contents(staged, spec.contents, str(source))
        target = dest / name
        _move_into_place(staged, target)
        return target
    except ModelLoadError as error:
        raise InstallError(str(error)) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_piper_config(config: Path) -> None:
    try:
        document = json.loads(config.read_text(encoding="utf-8"))
        rate = document["audio"]["sample_rate"]
        if "phoneme_id_map" not in document:
            raise KeyError("phoneme_id_map")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InstallError(f"{config} is not a Piper voice config: {error!r}") from error
    if not isinstance(rate, int) or rate <= 0:
        raise InstallError(f"{config}: bad audio.sample_rate {rate!r}")


def _install_piper_files(model: Path, config: Path, dest: Path) -> Path:
    """Place `<name>.onnx` and `<name>.onnx.json` in dest; the model goes last, so its presence means whole."""
    if not model.is_file():
        raise InstallError(f"Piper voice model not found: {model}")
    if not config.is_file():
        raise InstallError(f"Piper voice config not found: {config} (expected beside the .onnx)")
    _check_piper_config(config)
    dest.mkdir(parents=True, exist_ok=True)
    target_model = dest / model.name
    target_config = dest / f"{model.name}.json"
    staging = Path(tempfile.mkdtemp(prefix=f".{model.stem}.", dir=dest))
    try:
        shutil.copyfile(config, staging / target_config.name)
        shutil.copyfile(model, staging / target_model.name)
        _move_into_place(staging / target_config.name, target_config)
        _move_into_place(staging / target_model.name, target_model)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target_model


def _find_piper_model(folder: Path) -> Path:
    models = sorted(folder.rglob("*.onnx"))
    if len(models) != 1:
        raise InstallError(f"expected exactly one .onnx voice in {folder}, found {len(models)}")
    return models[0]


def _normalise_kind(kind: str) -> str:
    try:
        return _KIND_ALIASES[kind.lower()]
    except KeyError:
        raise ModelError(f"unknown model kind {kind!r}: use 'asr' (Vosk) or 'tts' (Piper)") from None


def install_local(source: Path, kind: str, dest: Path) -> Path:
    """Install a model the operator already has: an archive (.zip, .tar.gz, .tgz), a folder or, for a
    Piper voice, the .onnx file (its .onnx.json beside it). Returns the path to put in the config."""
    source = Path(source).expanduser()
    dest = Path(dest).expanduser()
    kind = _normalise_kind(kind)
    if not source.exists():
        raise InstallError(f"{source} not found")
    if kind == ASR:
        if not source.is_dir() and not _is_archive(source):
            raise InstallError(f"{source}: expected a Vosk model folder or a .zip/.tar.gz archive")
        name = _vosk_model_name(source)
        return _install_vosk_folder(source, dest, name, _known_spec(name, ASR))
    if source.is_file() and source.name.endswith(".onnx"):
        return _install_piper_files(source, Path(f"{source}.json"), dest)
    if source.is_dir():
        model = _find_piper_model(source)
        return _install_piper_files(model, Path(f"{model}.json"), dest)
    if _is_archive(source):
        with tempfile.TemporaryDirectory(prefix=".unpack.", dir=_ensure(dest)) as scratch:
            _unpack(source, Path(scratch))
            model = _find_piper_model(Path(scratch))
            return _install_piper_files(model, Path(f"{model}.json"), dest)
    raise InstallError(f"{source}: expected a .onnx voice, a folder holding one, or an archive")


def _ensure(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _vosk_model_name(source: Path) -> str:
    if source.is_dir():
        return _find_vosk_root(source).name if source.name in ("", ".") else source.name
    for suffix in (".tar.gz", ".tgz", ".zip", ".tar"):
        if source.name.endswith(suffix):
            return source.name[: -len(suffix)]
    return source.stem


def _known_spec(name: str, kind: str) -> ModelSpec | None:
    spec = MANIFEST.get(name)
    return spec if spec is not None and spec.kind == kind else None


# ---------------------------------------------------------------------------------------------- pull


def _select(names: Iterable[str] | None, manifest: Mapping[str, ModelSpec]) -> list[ModelSpec]:
    if not names:
        return list(manifest.values())
    chosen: list[ModelSpec] = []
    for name in names:
        by_kind = [s for s in manifest.values() if _KIND_ALIASES.get(name.lower()) == s.kind]
        if name in manifest:
            matches = [manifest[name]]
        elif by_kind:
            matches = by_kind
        else:
            raise ModelError(f"unknown model {name!r}; known: {', '.join(manifest)} (or 'asr', 'tts')")
        chosen.extend(spec for spec in matches if spec not in chosen)
    return chosen


def _already_installed(spec: ModelSpec, dest: Path) -> bool:
    target = spec.installed_path(dest)
    if spec.kind == ASR:
        if not target.is_dir():
            return False
        try:
            _check_contents(target, spec.contents, str(target))
        except ChecksumError:
            return False
        return True
    files = [dest / remote.filename for remote in spec.downloads]
    if not all(path.is_file() for path in files):
        return False
    return all(remote.sha256 is None or sha256_of(dest / remote.filename) == remote.sha256 for remote in spec.downloads)


def pull(
    names: list[str] | None,
    dest: Path,
    *,
    manifest: Mapping[str, ModelSpec] = MANIFEST,
    progress: TextIO | None = None,
    timeout: float = 30.0,
    retries: int = 3,
    force: bool = False,
) -> list[Path]:
    """Download, verify and install the named models (None or []: all of the manifest) under `dest`.

    `names` are manifest names or the kinds 'asr' / 'tts'. Models already installed and intact are left
    alone unless `force`. Returns the installed paths (Vosk folder, Piper .onnx), in manifest order.
    """
    stream = progress if progress is not None else sys.stderr
    dest = Path(dest).expanduser()
    downloads = dest / ".downloads"
    installed: list[Path] = []
    for spec in _select(names, manifest):
        target = spec.installed_path(dest)
        if not force and _already_installed(spec, dest):
            stream.write(f"{spec.name}: already installed in {target}\n")
            installed.append(target)
            continue
        fetched = [download(remote, downloads, stream, timeout, retries) for remote in spec.downloads]
        if spec.kind == ASR:
            if len(fetched) != 1:
                raise ModelError(f"{spec.name}: a Vosk model comes as one archive")
            path = _install_vosk_folder(fetched[0], dest, spec.name, spec)
        else:
            model = next((p for p in fetched if p.name.endswith(".onnx")), None)
            if model is None:
                raise ModelError(f"{spec.name}: the manifest lists no .onnx file")
            path = _install_piper_files(model, Path(f"{model}.json"), dest)
        for file in fetched:
            file.unlink(missing_ok=True)
        stream.write(f"{spec.name}: installed in {path}\n")
        installed.append(path)
    return installed
