"""`callbot models pull|install` against a real HTTP server on 127.0.0.1 serving archives built here."""

from __future__ import annotations

import hashlib
import io
import re
import socket
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from callbot import modelstore
from callbot.modelstore import (
    ChecksumError,
    DownloadError,
    ExpectedFile,
    InstallError,
    ModelError,
    ModelSpec,
    RemoteFile,
    install_local,
    pull,
)

MODEL_FILES = {
    "README": b"Tiny stand-in for a Vosk model\n",
    "am/final.mdl": bytes(range(256)) * 400,  # 100 kB: big enough to cut a transfer in the middle
    "conf/mfcc.conf": b"--use-energy=false\n--sample-frequency=16000\n",
    "conf/model.conf": b"--min-active=200\n",
    "ivector/online_cmvn.conf": b"",
}
VOICE_JSON = b'{"audio": {"sample_rate": 22050}, "phoneme_id_map": {"a": [1]}, "num_symbols": 2}'
VOICE_ONNX = b"\x08\x07onnx-ish bytes" * 1000


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def vosk_zip(files: dict[str, bytes] = MODEL_FILES, top: str = "vosk-model-test") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data in files.items():
            bundle.writestr(f"{top}/{name}", data)
    return buffer.getvalue()


def expected_contents(files: dict[str, bytes] = MODEL_FILES) -> tuple[ExpectedFile, ...]:
    return tuple(ExpectedFile(name, len(data), sha(data)) for name, data in files.items())


@dataclass
class FileServer:
    """Serves `files` by path; honours Range unless told not to; can drop a transfer half-way."""

    files: dict[str, bytes] = field(default_factory=dict)
    cut_first_transfer_at: int | None = None
    ignore_range: bool = False
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"


@pytest.fixture
def server() -> Iterator[FileServer]:
    state = FileServer()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path.lstrip("/")
            range_header = self.headers.get("Range")
            state.requests.append((path, range_header))
            data = state.files.get(path)
            if data is None:
                self.send_error(404, "Not Found")
                return
            start = 0
            match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
            if match and not state.ignore_range:
                start = int(match.group(1))
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if state.cut_first_transfer_at is not None:
                cut, state.cut_first_transfer_at = state.cut_first_transfer_at, None
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def vosk_manifest(server: FileServer, archive: bytes | None = None, **remote: object) -> dict[str, ModelSpec]:
    server.files["models/vosk-model-test.zip"] = archive if archive is not None else vosk_zip()
    spec = ModelSpec(
        name="vosk-model-test",
        kind="asr",
        downloads=(RemoteFile(server.url("models/vosk-model-test.zip"), **remote),),  # type: ignore[arg-type]
        contents=expected_contents(),
    )
    return {spec.name: spec}


def voice_manifest(server: FileServer) -> dict[str, ModelSpec]:
    server.files["voices/fr_FR-test-medium.onnx"] = VOICE_ONNX
    server.files["voices/fr_FR-test-medium.onnx.json"] = VOICE_JSON
    spec = ModelSpec(
        name="fr_FR-test-medium",
        kind="tts",
        downloads=(
            RemoteFile(server.url("voices/fr_FR-test-medium.onnx")),
            RemoteFile(server.url("voices/fr_FR-test-medium.onnx.json")),
        ),
    )
    return {spec.name: spec}


def assert_model_installed(folder: Path) -> None:
    for name, data in MODEL_FILES.items():
        assert (folder / name).read_bytes() == data


def leftovers(dest: Path) -> list[str]:
    """Anything under dest that is not an installed model nor the downloads folder."""
    return sorted(p.name for p in dest.iterdir() if p.name.startswith(".") and p.name != ".downloads")


def test_pull_downloads_verifies_and_installs(server: FileServer, tmp_path: Path) -> None:
    manifest = vosk_manifest(server, size=len(vosk_zip()), sha256=sha(vosk_zip()))
    out = io.StringIO()
    paths = pull(None, tmp_path, manifest=manifest, progress=out)
    assert paths == [tmp_path / "vosk-model-test"]
    assert_model_installed(paths[0])
    assert "100.0%" in out.getvalue() and "MB/s" in out.getvalue()
    assert "\r" not in out.getvalue()  # not a terminal: plain lines
    assert leftovers(tmp_path) == []
    assert list((tmp_path / ".downloads").iterdir()) == []
    # Intact and installed: a second pull does not download again.
    requests = len(server.requests)
    assert pull(["vosk-model-test"], tmp_path, manifest=manifest, progress=out) == paths
    assert len(server.requests) == requests
    assert "already installed" in out.getvalue()


def test_interrupted_download_resumes_with_range(server: FileServer, tmp_path: Path) -> None:
    manifest = vosk_manifest(server)
    server.cut_first_transfer_at = 40_000
    out = io.StringIO()
    paths = pull(None, tmp_path, manifest=manifest, progress=out, retries=2)
    assert_model_installed(paths[0])
    assert server.requests == [
        ("models/vosk-model-test.zip", None),
        ("models/vosk-model-test.zip", "bytes=40000-"),
    ]
    assert "resuming at 40000 bytes" in out.getvalue()


def test_interrupted_download_resumes_on_the_next_run(server: FileServer, tmp_path: Path) -> None:
    manifest = vosk_manifest(server)
    server.cut_first_transfer_at = 30_000
    with pytest.raises(DownloadError, match=r"interrupted at 30000 of \d+ bytes.*run the command again"):
        pull(None, tmp_path, manifest=manifest, progress=io.StringIO(), retries=0)
    part = tmp_path / ".downloads" / "vosk-model-test.zip.part"
    assert part.stat().st_size == 30_000
    assert not (tmp_path / "vosk-model-test").exists()
    paths = pull(None, tmp_path, manifest=manifest, progress=io.StringIO(), retries=0)
    assert_model_installed(paths[0])
    assert server.requests[-1] == ("models/vosk-model-test.zip", "bytes=30000-")


def test_server_ignoring_range_restarts_from_zero(server: FileServer, tmp_path: Path) -> None:
    manifest = vosk_manifest(server)
    server.cut_first_transfer_at = 25_000
    server.ignore_range = True
    paths = pull(None, tmp_path, manifest=manifest, progress=io.StringIO(), retries=1)
    assert_model_installed(paths[0])
    assert server.requests[-1][1] == "bytes=25000-"


def test_archive_checksum_mismatch(server: FileServer, tmp_path: Path) -> None:
    manifest = vosk_manifest(server, sha256="0" * 64)
    with pytest.raises(ChecksumError, match=r"vosk-model-test\.zip: sha256 [0-9a-f]{64} does not match"):
        pull(None, tmp_path, manifest=manifest, progress=io.StringIO())
    assert not (tmp_path / "vosk-model-test").exists()
    assert list((tmp_path / ".downloads").iterdir()) == []  # the bad bytes are not kept for a resume


def test_size_mismatch(server: FileServer, tmp_path: Path) -> None:
    manifest = vosk_manifest(server, size=len(vosk_zip()) + 1)
    with pytest.raises(ChecksumError, match="expects"):
        pull(None, tmp_path, manifest=manifest, progress=io.StringIO(), retries=0)


def test_model_file_mismatch_after_unzip_installs_nothing(server: FileServer, tmp_path: Path) -> None:
    tampered = dict(MODEL_FILES, **{"conf/model.conf": b"--max-active=9999\n"})
    manifest = vosk_manifest(server, archive=vosk_zip(tampered))
    with pytest.raises(ChecksumError, match=r"conf/model\.conf"):
        pull(None, tmp_path, manifest=manifest, progress=io.StringIO())
    assert not (tmp_path / "vosk-model-test").exists()
    assert leftovers(tmp_path) == []


def test_bad_reinstall_keeps_the_good_model(server: FileServer, tmp_path: Path) -> None:
    manifest = vosk_manifest(server)
    pull(None, tmp_path, manifest=manifest, progress=io.StringIO())
    server.files["models/vosk-model-test.zip"] = vosk_zip(dict(MODEL_FILES, README=b"other"))
    with pytest.raises(ChecksumError):
        pull(None, tmp_path, manifest=manifest, progress=io.StringIO(), force=True)
    assert_model_installed(tmp_path / "vosk-model-test")
    assert leftovers(tmp_path) == []


def test_unreachable_host_names_the_url(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    url = f"http://127.0.0.1:{port}/vosk-model-small-fr-0.22.zip"
    spec = ModelSpec(name="vosk-model-small-fr-0.22", kind="asr", downloads=(RemoteFile(url),))
    with pytest.raises(DownloadError, match=re.escape(f"cannot reach {url}")):
        pull(None, tmp_path, manifest={spec.name: spec}, progress=io.StringIO(), timeout=5)


def test_http_error_names_the_url(server: FileServer, tmp_path: Path) -> None:
    spec = ModelSpec(name="gone", kind="asr", downloads=(RemoteFile(server.url("missing.zip")),))
    with pytest.raises(DownloadError, match=re.escape(server.url("missing.zip")) + ": HTTP 404"):
        pull(None, tmp_path, manifest={spec.name: spec}, progress=io.StringIO())


def test_voice_with_unpinned_checksums_prints_them(server: FileServer, tmp_path: Path) -> None:
    out = io.StringIO()
    paths = pull(["tts"], tmp_path, manifest=voice_manifest(server), progress=out)
    assert paths == [tmp_path / "fr_FR-test-medium.onnx"]
    assert paths[0].read_bytes() == VOICE_ONNX
    assert (tmp_path / "fr_FR-test-medium.onnx.json").read_bytes() == VOICE_JSON
    assert f"sha256 {sha(VOICE_ONNX)}  fr_FR-test-medium.onnx" in out.getvalue()
    assert f"sha256 {sha(VOICE_JSON)}  fr_FR-test-medium.onnx.json" in out.getvalue()
    assert leftovers(tmp_path) == []


def test_terminal_progress_redraws_one_line(server: FileServer, tmp_path: Path) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    pull(None, tmp_path, manifest=voice_manifest(server), progress=out)
    assert "\r" in out.getvalue() and "100.0%" in out.getvalue()


def test_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"unknown model 'vosk-model-en'; known: vosk-model-small-fr-0\.22"):
        pull(["vosk-model-en"], tmp_path, progress=io.StringIO())


def test_production_manifest_is_pinned() -> None:
    vosk = modelstore.MANIFEST["vosk-model-small-fr-0.22"]
    assert vosk.downloads[0].url == "https://alphacephei.com/vosk/models/vosk-model-small-fr-0.22.zip"
    assert len(vosk.contents) == 14 and all(len(f.sha256) == 64 for f in vosk.contents)
    assert sum(f.size for f in vosk.contents) == 68_483_807  # the sizes listed in notes/models.md
    voice = modelstore.MANIFEST["fr_FR-siwis-medium"]
    assert [r.filename for r in voice.downloads] == ["fr_FR-siwis-medium.onnx", "fr_FR-siwis-medium.onnx.json"]
    assert all(
        r.url.startswith("https://huggingface.co/rhasspy/piper-voices/resolve/v1.0.0/fr/fr_FR/siwis/")
        for r in voice.downloads
    )


# --------------------------------------------------------------------------------------- install_local


def test_install_local_zip_tar_and_folder(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    archive = source / "vosk-model-test.zip"
    archive.write_bytes(vosk_zip())
    assert install_local(archive, "asr", tmp_path / "a") == tmp_path / "a" / "vosk-model-test"
    assert_model_installed(tmp_path / "a" / "vosk-model-test")

    tarball = source / "vosk-model-test.tar.gz"
    with tarfile.open(tarball, "w:gz") as bundle:
        for name, data in MODEL_FILES.items():
            info = tarfile.TarInfo(f"vosk-model-test/{name}")
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
    assert_model_installed(install_local(tarball, "vosk", tmp_path / "b"))

    folder = install_local(tmp_path / "a" / "vosk-model-test", "asr", tmp_path / "c")
    assert folder == tmp_path / "c" / "vosk-model-test"
    assert_model_installed(folder)
    for dest in ("a", "b", "c"):
        assert leftovers(tmp_path / dest) == []


def test_install_local_voice(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "fr_FR-test-medium.onnx").write_bytes(VOICE_ONNX)
    (source / "fr_FR-test-medium.onnx.json").write_bytes(VOICE_JSON)
    installed = install_local(source / "fr_FR-test-medium.onnx", "tts", tmp_path / "models")
    assert installed.read_bytes() == VOICE_ONNX
    assert Path(f"{installed}.json").read_bytes() == VOICE_JSON
    assert install_local(source, "piper", tmp_path / "other") == tmp_path / "other" / "fr_FR-test-medium.onnx"


def test_install_local_refusals(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match="not found"):
        install_local(tmp_path / "nothing.zip", "asr", tmp_path / "models")
    with pytest.raises(ModelError, match="unknown model kind 'stt'"):
        install_local(tmp_path, "stt", tmp_path / "models")

    not_a_model = tmp_path / "notes"
    not_a_model.mkdir()
    (not_a_model / "README").write_text("hello")
    with pytest.raises(InstallError, match="no Vosk model"):
        install_local(not_a_model, "asr", tmp_path / "models")

    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(InstallError, match="not a readable archive"):
        install_local(corrupt, "asr", tmp_path / "models")

    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as bundle:
        bundle.writestr("../escape.txt", b"x")
    with pytest.raises(InstallError, match="unsafe member path"):
        install_local(evil, "asr", tmp_path / "models")
    assert not (tmp_path / "escape.txt").exists()

    voice = tmp_path / "voice.onnx"
    voice.write_bytes(VOICE_ONNX)
    with pytest.raises(InstallError, match="config not found"):
        install_local(voice, "tts", tmp_path / "models")
    Path(f"{voice}.json").write_text('{"audio": {}}')
    with pytest.raises(InstallError, match="not a Piper voice config"):
        install_local(voice, "tts", tmp_path / "models")
    assert leftovers(tmp_path / "models") == []


def test_install_local_checks_a_known_model_against_the_manifest(tmp_path: Path) -> None:
    # Named like the production model but not its files: the pinned checksums reject it.
    archive = tmp_path / "vosk-model-small-fr-0.22.zip"
    archive.write_bytes(vosk_zip(top="vosk-model-small-fr-0.22"))
    with pytest.raises(ChecksumError, match=r"am/final\.mdl"):
        install_local(archive, "asr", tmp_path / "models")
    assert not (tmp_path / "models" / "vosk-model-small-fr-0.22").exists()
