"""A real Kamailio SIP proxy (Debian package `kamailio`) in front of callbot instances, for scale-out tests.

The generated kamailio.cfg is what an integrator would run, trimmed: the dispatcher module spreads INVITEs over
the bots (round-robin), probes them with OPTIONS (a draining bot answers 503 and is taken out), and a
failure_route moves an INVITE that got 503 or no answer to the next bot. Record-Route keeps the proxy on the
dialog, so ACK and BYE go through it too. Kamailio runs in the foreground (-DD -E) with its own runtime folder
and pid file in the test's folder: parallel tests never share anything.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.sip_peers import free_port

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
MODULES = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")
BOTS_SET = 1  # the dispatcher set of the callbot instances


def config_text(port: int, list_file: Path, *, ping_interval_s: int = 1, invite_timeout_ms: int = 10000) -> str:
    """kamailio.cfg for one UDP port on 127.0.0.1 dispatching to the destinations of `list_file`."""
    return f"""#!KAMAILIO
debug=2
log_stderror=yes
log_prefix="{{$mt $ci}} "
# one UDP worker: messages are relayed in the order they came, and sipp (unlike a phone) fails a call when a
# bot's 180 Ringing, handled by another worker, overtakes its 200 OK
children=1
disable_tcp=yes
auto_aliases=no
listen=udp:127.0.0.1:{port}
alias="127.0.0.1:{port}"

mpath="{MODULES}/"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "dispatcher.so"

# no answer at all from a bot in this long: next bot (fr_timer); an INVITE answered 1xx may ring longer
modparam("tm", "fr_timer", {invite_timeout_ms})
modparam("tm", "fr_inv_timer", 60000)
modparam("rr", "enable_full_lr", 1)

modparam("dispatcher", "list_file", "{list_file}")
# flag 2: failover support, ds_select_dst keeps the other bots in an xavp for ds_next_dst
modparam("dispatcher", "flags", 2)
# OPTIONS to every bot each second; one answer other than 2xx (a draining bot's 503) or none takes it out,
# one 2xx puts it back
modparam("dispatcher", "ds_ping_interval", {ping_interval_s})
modparam("dispatcher", "ds_probing_mode", 1)
modparam("dispatcher", "ds_probing_threshold", 1)
modparam("dispatcher", "ds_inactive_threshold", 1)
modparam("dispatcher", "ds_ping_from", "sip:dispatcher@127.0.0.1:{port}")

request_route {{
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (is_method("OPTIONS") && uri == myself && !has_totag()) {{
        sl_send_reply("200", "OK");
        exit;
    }}
    # within a dialog (ACK, BYE): follow the Route that Record-Route put there
    if (has_totag()) {{
        if (loose_route()) {{
            route(RELAY);
        }}
        if (is_method("ACK") && t_check_trans()) {{
            route(RELAY);
        }}
        if (!is_method("ACK")) {{
            sl_send_reply("404", "Not here");
        }}
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            route(RELAY);
        }}
        exit;
    }}
    t_check_trans();
    if (!is_method("INVITE")) {{
        sl_send_reply("405", "Method Not Allowed");
        exit;
    }}
    record_route();
    # round-robin (algorithm 4) over the active bots; all of them as failover candidates
    if (!ds_select_dst("{BOTS_SET}", "4")) {{
        send_reply("503", "No callbot available");
        exit;
    }}
    xlog("L_INFO", "INVITE $ci to $du\\n");
    t_on_failure("BOT_FAILED");
    route(RELAY);
}}

route[RELAY] {{
    if (!t_relay()) {{
        sl_reply_error();
    }}
    exit;
}}

failure_route[BOT_FAILED] {{
    if (t_is_canceled()) {{
        exit;
    }}
    # 503 (draining, or at max_calls) or no answer: that bot is out until its OPTIONS get 200 again
    if (t_check_status("503") || (t_branch_timeout() && !t_branch_replied())) {{
        ds_mark_dst("ip");
        if (ds_next_dst()) {{
            xlog("L_INFO", "INVITE $ci failed over to $du\\n");
            t_on_failure("BOT_FAILED");
            route(RELAY);
        }}
    }}
}}
"""


@dataclass
class KamailioProxy:
    """Kamailio on a free 127.0.0.1 UDP port, dispatching to `destinations` ("host:port" of each callbot)."""

    workdir: Path
    destinations: list[str]
    port: int = field(default_factory=lambda: free_port(tcp_too=False))
    ping_interval_s: int = 1  # 0: no OPTIONS probing (a bot taken out by a failure stays out)
    invite_timeout_ms: int = 10000
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / "kamailio.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        list_file = self.workdir / "dispatcher.list"
        # set destination flags priority
        list_file.write_text("".join(f"{BOTS_SET} sip:{d} 0 0\n" for d in self.destinations))
        config = self.workdir / "kamailio.cfg"
        config.write_text(
            config_text(
                self.port, list_file, ping_interval_s=self.ping_interval_s, invite_timeout_ms=self.invite_timeout_ms
            )
        )
        return config

    def check_config(self) -> None:
        result = subprocess.run(
            [KAMAILIO, "-c", "-f", str(self.write_config())], capture_output=True, text=True, timeout=60
        )
        if result.returncode != 0:
            raise RuntimeError(f"kamailio.cfg refused:\n{result.stderr[-3000:]}")

    def start(self, timeout_s: float = 30) -> None:
        config = self.write_config()
        runtime = self.workdir / "run"
        runtime.mkdir(exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [KAMAILIO, "-f", str(config), "-DD", "-E", "-Y", str(runtime), "-P", str(runtime / "kamailio.pid")],
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"kamailio exited with {self.process.returncode}:\n{self.tail_log()}")
            if self.options() == 200:
                return
            time.sleep(0.2)
        raise RuntimeError(f"kamailio not answering after {timeout_s} s:\n{self.tail_log()}")

    def options(self, timeout_s: float = 1.0) -> int:
        """The status Kamailio answers an OPTIONS for itself (0: none)."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(timeout_s)
            local = sock.getsockname()[1]
            tag = uuid.uuid4().hex[:12]
            request = (
                f"OPTIONS sip:127.0.0.1:{self.port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK{tag};rport\r\n"
                f"From: <sip:probe@127.0.0.1:{local}>;tag={tag}\r\n"
                f"To: <sip:127.0.0.1:{self.port}>\r\n"
                f"Call-ID: probe-{tag}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            )
            sock.sendto(request.encode(), ("127.0.0.1", self.port))
            try:
                answer = sock.recv(65535)
            except OSError:
                return 0
        try:
            return int(answer.split(b" ", 2)[1])
        except (IndexError, ValueError):
            return 0

    def tail_log(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
