import json
from collections.abc import Callable
from pathlib import Path

import pytest

from asr import ModelLoadError, SearchLimits, SpeechModel
from asr.model import linked_copy
from tests.asr.conftest import to_rate


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
    linked_copy(ko_model_path, tmp_path)
    with (tmp_path / "conf" / "mfcc.conf").open("a") as mfcc:
        mfcc.write("--sample-frequency=8000\n")
    assert SpeechModel.load(tmp_path).sample_rate == 8000


def test_search_limits_replace_the_models_own_in_its_decoder_options() -> None:
    own = "--min-active=200\n--max-active=3000\n--beam=10.0\n--lattice-beam=2.0\n--frame-subsampling-factor=3\n"
    narrowed = SearchLimits(max_active=1500, beam=9.0).applied_to(own).splitlines()
    assert narrowed == [
        "--min-active=200",
        "--lattice-beam=2.0",
        "--frame-subsampling-factor=3",
        "--max-active=1500",
        "--beam=9.0",
    ]
    # One limit given: the other stays the model's; a ceiling below the model's floor lowers the floor too.
    assert SearchLimits(max_active=100).applied_to(own).splitlines()[:3] == [
        "--min-active=100",
        "--beam=10.0",
        "--lattice-beam=2.0",
    ]
    assert SearchLimits(beam=8.0).applied_to("") == "--beam=8.0\n"
    assert not SearchLimits().narrowed


@pytest.mark.parametrize(("max_active", "beam"), [(0, None), (None, 0.0), (None, -3.0)])
def test_search_limits_out_of_range_are_refused(max_active: int | None, beam: float | None) -> None:
    with pytest.raises(ValueError, match="must be"):
        SearchLimits(max_active=max_active, beam=beam)


def _decoded(model: SpeechModel, pcm: bytes) -> str:
    recognizer = model.new_recognizer()
    for start in range(0, len(pcm), 3200):
        recognizer.AcceptWaveform(pcm[start : start + 3200])
    return str(json.loads(recognizer.FinalResult())["text"])


def test_a_narrower_search_reaches_the_decoder(
    repeatable_model: SpeechModel, clip_native: Callable[[str], tuple[int, bytes]]
) -> None:
    # Vosk reads its search options only from the model folder: the narrowed model is loaded from a copy of it
    # that is gone once loaded. Both models decode without Kaldi's dither, so the words are the search's alone.
    narrow = SpeechModel.load(repeatable_model.path, search=SearchLimits(max_active=200, beam=2.0))
    assert narrow is not repeatable_model and narrow.search.max_active == 200
    assert SpeechModel.load(repeatable_model.path, search=SearchLimits(max_active=200, beam=2.0)) is narrow
    rate, pcm = clip_native("stp_fr_07.wav")
    speech = to_rate(pcm, rate, repeatable_model.sample_rate)
    own_words = _decoded(repeatable_model, speech)
    assert _decoded(repeatable_model, speech) == own_words
    assert _decoded(narrow, speech) != own_words
