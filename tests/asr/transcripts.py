"""Comparing transcripts of the same audio."""

from __future__ import annotations

import pytest

from asr import Transcript


def assert_same_transcript(got: Transcript, expected: Transcript) -> None:
    """Equal, but for word times within a microsecond.

    Vosk prints word times with 6 decimals on a timeline that runs on over all the utterances a recogniser
    decoded; made relative to the utterance again, a reused recogniser's times can differ by 1 us from a new one's.
    """
    assert (got.text, got.confidence, got.audio_seconds) == (expected.text, expected.confidence, expected.audio_seconds)
    assert [(w.word, w.confidence) for w in got.words] == [(w.word, w.confidence) for w in expected.words]
    times = [t for w in got.words for t in (w.start, w.end)]
    assert times == pytest.approx([t for w in expected.words for t in (w.start, w.end)], abs=2e-6)
