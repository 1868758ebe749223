"""A scripted recogniser for tests of the stages around recognition (the call session, turn taking)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable

from asr.stream import Hypothesis
from asr.transcript import Transcript, Word, make_transcript
from audio import SAMPLE_WIDTH


class FakeRecognizer:
    """Hands out `transcripts` in order, one per finish() of any of its streams; empty ones when they run out.

    A text becomes a transcript of `confidence` over the utterance's audio. Utterances shorter than
    `min_audio_s` give an empty transcript and leave the script alone (a cough, a click). Decoding happens
    in partial() and finish(), after `decode_delay` seconds, so backlog_seconds grows in between.
    """

    def __init__(
        self,
        transcripts: Iterable[str | Transcript] = (),
        *,
        confidence: float = 0.9,
        min_audio_s: float = 0.0,
        decode_delay: float = 0.0,
        sound_only: bool = False,
    ) -> None:
        """`sound_only`: only audio with sound in it (not digital silence) counts toward `min_audio_s`, as
        a recogniser hears no words in silence; pieces of an utterance closed at a pause then behave."""
        self.script: deque[str | Transcript] = deque(transcripts)
        self.confidence = confidence
        self.min_audio_s = min_audio_s
        self.decode_delay = decode_delay
        self.sound_only = sound_only
        self.streams: list[FakeRecognizerStream] = []

    def open_stream(self, input_rate: int) -> FakeRecognizerStream:
        stream = FakeRecognizerStream(self, input_rate)
        self.streams.append(stream)
        return stream

    def next_text(self) -> str:
        if not self.script:
            return ""
        upcoming = self.script[0]
        return upcoming.text if isinstance(upcoming, Transcript) else upcoming

    def take(self, audio_seconds: float) -> Transcript:
        if audio_seconds < self.min_audio_s or not self.script:
            return make_transcript((), audio_seconds)
        item = self.script.popleft()
        if isinstance(item, Transcript):
            return item
        texts = item.split()
        step = audio_seconds / max(1, len(texts))
        words = tuple(Word(w, i * step, (i + 1) * step, self.confidence) for i, w in enumerate(texts))
        return make_transcript(words, audio_seconds)


class FakeRecognizerStream:
    def __init__(self, owner: FakeRecognizer, input_rate: int) -> None:
        if input_rate <= 0:
            raise ValueError(f"input_rate must be positive, got {input_rate}")
        self.input_rate = input_rate
        self.pushed_bytes = 0
        self.decoded_bytes = 0
        self.pushes = 0
        self.transcripts: list[Transcript] = []  # what finish() returned, in order
        self.closed = False
        self._owner = owner
        self._utterance_bytes = 0
        self._sound_bytes = 0  # of the utterance, in 20 ms frames that are not digital silence

    @property
    def backlog_seconds(self) -> float:
        return (self.pushed_bytes - self.decoded_bytes) / SAMPLE_WIDTH / self.input_rate

    def push(self, pcm: bytes) -> None:
        if len(pcm) % SAMPLE_WIDTH:
            raise ValueError(f"PCM16 needs an even number of bytes, got {len(pcm)}")
        if self.closed:
            raise RuntimeError("stream is closed")
        self.pushes += 1
        self.pushed_bytes += len(pcm)
        self._utterance_bytes += len(pcm)
        if any(pcm):
            self._sound_bytes += len(pcm)

    async def partial(self) -> Hypothesis:
        heard = (self._sound_bytes if self._owner.sound_only else self._utterance_bytes) > 0
        await self._decode(self.pushed_bytes)
        return Hypothesis(text=self._owner.next_text()) if heard else Hypothesis()

    async def finish(self) -> Transcript:
        if self.closed:
            raise RuntimeError("stream is closed")
        size, self._utterance_bytes = self._utterance_bytes, 0  # later pushes are the next utterance
        sound, self._sound_bytes = self._sound_bytes, 0
        await self._decode(self.pushed_bytes)
        seconds = size / SAMPLE_WIDTH / self.input_rate
        if self._owner.sound_only and sound / SAMPLE_WIDTH / self.input_rate < self._owner.min_audio_s:
            transcript = make_transcript((), seconds)  # silence only: no words, the script waits
        else:
            transcript = self._owner.take(seconds)
        self.transcripts.append(transcript)
        return transcript

    def close(self) -> None:
        self.closed = True

    async def _decode(self, upto: int) -> None:
        if self._owner.decode_delay:
            await asyncio.sleep(self._owner.decode_delay)
        self.decoded_bytes = max(self.decoded_bytes, upto)
