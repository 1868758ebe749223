from pathlib import Path

import pytest

from asr import ModelLoadError, SpeechModel


def test_loads_once_per_process(speech_model: SpeechModel, ko_model_path: Path) -> None:
    assert SpeechModel.load(ko_model_path) is speech_model
    assert speech_model.sample_rate == 16000


def test_missing_folder_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "vosk-model-small-fr-0.22"
    with pytest.raises(ModelLoadError, match="not found") as caught:
        SpeechModel.load(missing)
    assert str(missing) in str(caught.value)


def test_folder_without_model_files(tmp_path: Path) -> None:
    (tmp_path / "README").write_text("not a model")
    with pytest.raises(ModelLoadError, match=r"not a Vosk model folder \(missing am/final.mdl, conf/mfcc.conf\)"):
        SpeechModel.load(tmp_path)


def test_file_instead_of_folder(tmp_path: Path) -> None:
    archive = tmp_path / "model.zip"
    archive.write_bytes(b"PK")
    with pytest.raises(ModelLoadError, match="not a folder"):
        SpeechModel.load(archive)


def test_corrupt_model_files(tmp_path: Path) -> None:
    (tmp_path / "am").mkdir()
    (tmp_path / "conf").mkdir()
    (tmp_path / "am" / "final.mdl").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "conf" / "mfcc.conf").write_text("--use-energy=false\n")
    with pytest.raises(ModelLoadError, match="Vosk could not load"):
        SpeechModel.load(tmp_path)


def test_sample_rate_read_from_feature_config(tmp_path: Path, ko_model_path: Path) -> None:
    # Same model, conf declaring 8 kHz: the rate the streams resample to must follow the model.
    for entry in ko_model_path.iterdir():
        if entry.name != "conf":
            (tmp_path / entry.name).symlink_to(entry)
    (tmp_path / "conf").mkdir()
    for conf in (ko_model_path / "conf").iterdir():
        (tmp_path / "conf" / conf.name).write_bytes(conf.read_bytes())
    with (tmp_path / "conf" / "mfcc.conf").open("a") as mfcc:
        mfcc.write("--sample-frequency=8000\n")
    assert SpeechModel.load(tmp_path).sample_rate == 8000
