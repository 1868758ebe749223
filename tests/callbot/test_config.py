from pathlib import Path

import pytest

from callbot.config import ConfigError, load_settings, resolve_path


def test_embedded_defaults_are_valid() -> None:
    settings = load_settings(environ={})
    assert settings.sip.port == 5060
    assert settings.http.port == 8080
    assert settings.database.url.startswith("sqlite:///")
    assert settings.api.token is None
    assert "assistant automatique" in settings.prompts.greeting


def test_environment_overrides_typed_values() -> None:
    settings = load_settings(
        environ={
            "CALLBOT_SIP_PORT": "5070",
            "CALLBOT_SIP_TCP": "false",
            "CALLBOT_DATABASE_URL": "postgresql://u:p@db/callbot",
            "CALLBOT_TRANSFER_URI": "sip:agents@pbx.example.org",
            "CALLBOT_API_TOKEN": "0123456789abcdef0123",
            "CALLBOT_DIALOGUE_MODE": "external",
            "CALLBOT_ASR_MAX_ACTIVE": "1500",
            "CALLBOT_ASR_BEAM": "9",
        }
    )
    assert (settings.asr.max_active, settings.asr.beam) == (1500, 9.0)
    assert settings.sip.port == 5070
    assert settings.sip.tcp is False
    assert settings.database.url == "postgresql://u:p@db/callbot"
    assert settings.transfer.uri == "sip:agents@pbx.example.org"
    assert settings.dialogue.mode == "external"


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("CALLBOT_SIP_PORT", "70000", "sip.port"),
        ("CALLBOT_SIP_PORT", "five", "sip.port"),
        ("CALLBOT_HTTP_PORT", "-1", "http.port"),
        ("CALLBOT_DATABASE_URL", "mysql://x", "database.url"),
        ("CALLBOT_TRANSFER_URI", "tel:+33491000000", "transfer.uri"),
        ("CALLBOT_API_TOKEN", "short", "api.token"),
        ("CALLBOT_DIALOGUE_MODE", "embedded", "dialogue.mode"),
        ("CALLBOT_SIP_RTP_PORT_MIN", "30000", "sip"),
        ("CALLBOT_ASR_MAX_ACTIVE", "50", "asr.max_active"),
        ("CALLBOT_ASR_BEAM", "0", "asr.beam"),
    ],
)
def test_a_bad_value_names_its_key(variable: str, value: str, named: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(environ={variable: value})
    assert named in str(error.value)
    if "." in named:
        assert variable in str(error.value)


def test_overlay_changes_only_what_it_names(tmp_path: Path) -> None:
    overlay = tmp_path / "site.yaml"
    overlay.write_text("sip:\n  port: 5090\n")
    settings = load_settings(overlay, environ={})
    assert settings.sip.port == 5090
    assert settings.sip.host == "127.0.0.1"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("sip: [1, 2\n", "not valid YAML"),
        ("sip:\n  prot: 5090\n", "sip.prot: unknown key"),
        ("- a list\n", "mapping"),
        ("sip: 5\n", "sip: must be a mapping"),
    ],
)
def test_a_broken_overlay_file_is_reported(tmp_path: Path, content: str, message: str) -> None:
    overlay = tmp_path / "broken.yaml"
    overlay.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_settings(overlay, environ={})


def test_a_missing_overlay_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "absent.yaml", environ={})


def test_package_paths_resolve_to_the_installed_demo_models() -> None:
    settings = load_settings(Path("config/demo-models.yaml"), environ={})
    assert (resolve_path(settings.models.asr) / "am" / "final.mdl").is_file()
    assert resolve_path(settings.models.tts).is_file()


def test_unknown_package_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="not installed"):
        resolve_path("package:no_such_model_package/model")


def test_max_calls_defaults_to_cores_times_calls_per_core(monkeypatch: pytest.MonkeyPatch) -> None:
    sip = load_settings(environ={}).sip
    assert sip.max_calls == "auto"
    assert sip.calls_per_core >= 1
    monkeypatch.setattr("callbot.config.os.cpu_count", lambda: 2)
    assert sip.call_limit() == 2 * sip.calls_per_core
    assert "2 cores" in sip.describe_call_limit()
    monkeypatch.setattr("callbot.config.os.cpu_count", lambda: 8)
    assert sip.call_limit() == 8 * sip.calls_per_core
    monkeypatch.setattr("callbot.config.os.cpu_count", lambda: None)  # unknown: one core
    assert sip.call_limit() == sip.calls_per_core


@pytest.mark.parametrize(
    ("environ", "cores", "limit"),
    [
        ({"CALLBOT_SIP_MAX_CALLS": "7"}, 2, 7),  # an explicit number overrides auto
        ({"CALLBOT_SIP_MAX_CALLS": "7", "CALLBOT_SIP_CALLS_PER_CORE": "5"}, 2, 7),
        ({"CALLBOT_SIP_MAX_CALLS": "auto", "CALLBOT_SIP_CALLS_PER_CORE": "3"}, 4, 12),
        ({"CALLBOT_SIP_MAX_CALLS": "AUTO", "CALLBOT_SIP_CALLS_PER_CORE": "1"}, 1, 1),
        ({"CALLBOT_SIP_CALLS_PER_CORE": "400"}, 64, 1000),  # never above what the key itself accepts
    ],
)
def test_max_calls_explicit_or_auto(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], cores: int, limit: int
) -> None:
    monkeypatch.setattr("callbot.config.os.cpu_count", lambda: cores)
    sip = load_settings(environ=environ).sip
    assert sip.call_limit() == limit
    assert str(limit) in sip.describe_call_limit()


def test_max_calls_in_an_overlay(tmp_path: Path) -> None:
    overlay = tmp_path / "site.yaml"
    overlay.write_text("sip:\n  max_calls: 12\n")
    assert load_settings(overlay, environ={}).sip.call_limit() == 12
    overlay.write_text("sip:\n  max_calls: auto\n  calls_per_core: 1\n")
    assert load_settings(overlay, environ={}).sip.max_calls == "auto"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CALLBOT_SIP_MAX_CALLS", "many", "must be auto"),
        ("CALLBOT_SIP_MAX_CALLS", "0", "must be auto"),
        ("CALLBOT_SIP_MAX_CALLS", "1001", "from 1 to 1000"),
        ("CALLBOT_SIP_MAX_CALLS", "-3", "must be auto"),
        ("CALLBOT_SIP_MAX_CALLS", "2.5", "whole number"),
        ("CALLBOT_SIP_MAX_CALLS", "true", "must be auto"),
        ("CALLBOT_SIP_MAX_CALLS", "", "must be auto"),
        ("CALLBOT_SIP_CALLS_PER_CORE", "0", "greater than or equal to 1"),
        ("CALLBOT_SIP_CALLS_PER_CORE", "auto", "valid integer"),
    ],
)
def test_bad_call_limits_are_clear(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(environ={variable: value})
    key = variable.removeprefix("CALLBOT_").lower().replace("sip_", "sip.", 1)
    assert f"{key} (or {variable})" in str(error.value)
    assert message in str(error.value)
    assert str(error.value).count("\n") == 1  # one line for the key, not one per type it could have been
