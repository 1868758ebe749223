"""Real SIP peers for tests: sipp (scenarios) and baresip (headless softphone with a WAV microphone).

Everything binds 127.0.0.1 on free ports so tests can run concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import wave
from dataclasses import dataclass, field
from pathlib import Path

SIPP = "sipp"
BARESIP = "baresip"
BARESIP_MODULES = "/usr/lib/baresip/modules"


def _below_ephemeral_ports() -> range:
    """Ports the kernel never hands out as the source port of an outgoing connection: a server restarted on its port
    (after a kill -9, as users do) must not find it taken meanwhile by some client's connection."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return range(10000, max(10001, low))


_PORT_DRAW = random.SystemRandom()  # not the global generator, which seeded tests set


def free_port(tcp_too: bool = True) -> int:
    """A port free for UDP (and TCP) on 127.0.0.1 right now (another process may still take it), chosen below the
    ephemeral range."""
    candidates = _below_ephemeral_ports()
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            port = _PORT_DRAW.choice(candidates)
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            if not tcp_too:
                return port
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise OSError("no free port")


def _make_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)


async def _outputs(process: asyncio.subprocess.Process, timeout_s: float) -> tuple[int, bytes, bytes]:
    """Exit code (-1 if none), stdout and stderr of `process`, killed if it runs past `timeout_s`."""
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout_s)
    except TimeoutError:
        process.kill()
        out, err = await process.communicate()
    return (process.returncode if process.returncode is not None else -1), out or b"", err or b""


@dataclass(frozen=True)
class SippResult:
    returncode: int  # 0: all calls succeeded, 1: some failed, 97/99: sipp error or timeout
    stdout: str
    stderr: str
    workdir: Path  # holds sipp's trace files (*_errors.log, *_messages.log)

    def errors(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.workdir.glob("*_errors.log"))

    def messages(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.workdir.glob("*_messages.log"))


def sipp_args(
    scenario: str | Path,
    *,
    remote: str | None,
    local_port: int,
    transport: str = "u1",
    calls: int = 1,
    concurrent: int = 1,
    rate: float | None = None,
    timeout_s: float = 30.0,
    extra: list[str] | None = None,
) -> list[str]:
    """`scenario` is a built-in name ("uac", "uas") or an XML file."""
    args = [SIPP]
    args += ["-sn", str(scenario)] if str(scenario) in ("uac", "uas", "uac_pcap") else ["-sf", str(scenario)]
    args += ["-i", "127.0.0.1", "-p", str(local_port), "-t", transport, "-m", str(calls), "-l", str(concurrent)]
    if rate is not None:
        args += ["-r", str(rate)]
    args += ["-timeout", f"{int(timeout_s)}s", "-timeout_error", "-nostdin", "-trace_err", "-trace_msg"]
    args += extra or []
    if remote is not None:
        args.append(remote)
    return args


async def run_sipp(
    scenario: str | Path,
    remote: str,
    workdir: Path,
    *,
    transport: str = "u1",
    calls: int = 1,
    concurrent: int = 1,
    rate: float | None = None,
    timeout_s: float = 30.0,
    extra: list[str] | None = None,
) -> SippResult:
    """Run sipp as a client against `remote` ("host:port") until its calls are done."""
    _make_dir(workdir)
    args = sipp_args(
        scenario,
        remote=remote,
        local_port=free_port(),
        transport=transport,
        calls=calls,
        concurrent=concurrent,
        rate=rate,
        timeout_s=timeout_s,
        extra=extra,
    )
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=workdir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    code, out, err = await _outputs(proc, timeout_s + 15)
    return SippResult(code, out.decode(errors="replace"), err.decode(errors="replace"), workdir)


@dataclass
class SippServer:
    """A sipp process in server mode (e.g. the human agent a call is transferred to)."""

    process: asyncio.subprocess.Process
    port: int
    workdir: Path

    @property
    def uri(self) -> str:
        return f"sip:agent@127.0.0.1:{self.port}"

    async def wait(self, timeout_s: float) -> SippResult:
        code, out, err = await _outputs(self.process, timeout_s)
        return SippResult(code, out.decode(errors="replace"), err.decode(errors="replace"), self.workdir)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


async def start_sipp_server(
    workdir: Path,
    scenario: str | Path = "uas",
    *,
    calls: int = 1,
    timeout_s: float = 30.0,
    transport: str = "u1",
    extra: list[str] | None = None,
    port: int | None = None,
) -> SippServer:
    _make_dir(workdir)
    port = port or free_port()
    args = sipp_args(
        scenario, remote=None, local_port=port, transport=transport, calls=calls, timeout_s=timeout_s, extra=extra
    )
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=workdir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    await asyncio.sleep(0.3)  # let it bind before someone calls it
    return SippServer(proc, port, workdir)


# --- baresip ------------------------------------------------------------------------------------------


def write_silence_padded_wav(source_pcm: bytes, path: Path, *, lead_s: float = 0.5, tail_s: float = 2.0) -> Path:
    """8 kHz mono s16 WAV for baresip's aufile source (the call ends when the file ends)."""
    rate = 8000
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * int(lead_s * rate) + source_pcm + b"\x00\x00" * int(tail_s * rate))
    return path


@dataclass
class BaresipResult:
    returncode: int
    output: str
    heard_wavs: list[Path] = field(default_factory=list)  # what baresip received (dump-*-dec.wav)
    sent_wavs: list[Path] = field(default_factory=list)  # what it sent (dump-*-enc.wav)


def _baresip_config(
    workdir: Path,
    sip_port: int,
    ctrl_port: int,
    microphone: Path,
    record_dir: Path,
    user: str = "caller",
    tls_ca_file: Path | None = None,
    mediaenc: str | None = None,
) -> None:
    _make_dir(record_dir)
    microphone = microphone.resolve()
    modules = ["g711", "aufile", "alsa", "aubridge", "sndfile", "account", "menu", "ctrl_tcp"]
    if mediaenc is not None:  # "srtp-mand" needs the srtp module, loaded before the accounts that name it
        modules.insert(modules.index("account"), mediaenc.split("-")[0])
    lines = [
        f"sip_listen 127.0.0.1:{sip_port}",
        "net_interface 127.0.0.1",
        f"audio_source aufile,{microphone}",
        # What the caller hears goes to an audio bridge nobody reads: paced, idle. ALSA's null device took every
        # write at once, so each baresip's player thread spun at half a core (four callers: two cores, the callbot
        # starved and its recognition seconds behind). The recording (sndfile) is on the receive path either way.
        "audio_player aubridge,listen",
        "audio_alert alsa,null",
        f"module_path {BARESIP_MODULES}",
        *[f"module {m}.so" for m in modules],
        f"ctrl_tcp_listen 127.0.0.1:{ctrl_port}",
        f"snd_path {record_dir}",
        "rtp_ports 10000-60000",
    ]
    if tls_ca_file is not None:  # SIP over TLS: the CA the callbot's certificate is checked against
        lines.append(f"sip_cafile {tls_ca_file.resolve()}")
    (workdir / "config").write_text("\n".join(lines) + "\n")
    media = f";mediaenc={mediaenc}" if mediaenc else ""  # e.g. srtp-mand: RTP/SAVP with SDES keys only
    (workdir / "accounts").write_text(f"<sip:{user}@127.0.0.1:{sip_port}>;regint=0;audio_codecs=pcmu,pcma{media}\n")
    (workdir / "contacts").write_text("")


async def _send_ctrl(port: int, command: str, params: str, attempts: int = 20) -> None:
    payload = json.dumps({"command": command, "params": params, "token": "t"}).encode()
    for _ in range(attempts):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        writer.write(str(len(payload)).encode() + b":" + payload + b",")  # netstring
        await writer.drain()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reader.read(4096), 2.0)
        writer.close()
        return
    raise OSError(f"baresip ctrl_tcp on port {port} unreachable")


async def run_baresip_call(
    target_uri: str,
    microphone: Path,
    workdir: Path,
    *,
    duration_s: int = 15,
    dtmf: str | None = None,
    dtmf_after_s: float = 2.0,
    user: str = "caller",
    tls_ca_file: Path | None = None,
    mediaenc: str | None = None,
) -> BaresipResult:
    """Dial `target_uri` with `microphone` (8 kHz mono s16 WAV) as input; hang up after `duration_s`.

    With `dtmf`, sends those digits (RFC 4733) `dtmf_after_s` seconds after starting. `user` is the From's user
    part (a phone number there makes the call's caller_pseudonym in the store). `tls_ca_file` (PEM) lets baresip
    check the certificate of a `;transport=tls` target. `mediaenc` is the account's media encryption (its module
    loaded): "srtp-mand" offers RTP/SAVP with SDES keys only.
    """
    record_dir = workdir / "recordings"
    ctrl_port = free_port(tcp_too=True)
    _baresip_config(workdir, free_port(), ctrl_port, microphone, record_dir, user, tls_ca_file, mediaenc)
    proc = await asyncio.create_subprocess_exec(
        BARESIP,
        "-f",
        str(workdir),
        "-e",
        f"/dial {target_uri}",
        "-t",
        str(duration_s),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=workdir,
    )
    if dtmf:
        await asyncio.sleep(dtmf_after_s)
        with contextlib.suppress(OSError):
            await _send_ctrl(ctrl_port, "sndcode", dtmf)
    code, out, _ = await _outputs(proc, duration_s + 15)
    return BaresipResult(
        code,
        out.decode(errors="replace"),
        sorted(record_dir.glob("*-dec.wav")),
        sorted(record_dir.glob("*-enc.wav")),
    )
