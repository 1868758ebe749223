"""The Speaker: messages back to back without holes, interrupted at once, its queue dropped on barge-in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from callbot.speaker import PreparedSpeech, Speaker
from tts.fake import FakeSynthesizer

RATE = 8000


class PacedAudio:
    """An audio port that plays queued PCM in real time (scaled), like the RTP sender."""

    sample_rate = RATE
    frames_dropped = 0

    def __init__(self, speed: float = 10.0) -> None:
        self.speed = speed
        self.queued: list[bytes] = []
        self.pending_bytes = 0
        self.cleared = 0
        self._drained = asyncio.Event()
        self._drained.set()
        self._player = asyncio.create_task(self._play())

    async def read_frame(self) -> bytes | None:
        return None

    def play(self, pcm: bytes) -> None:
        self.queued.append(pcm)
        self.pending_bytes += len(pcm)
        self._drained.clear()

    def clear_playback(self) -> None:
        self.cleared += 1
        self.pending_bytes = 0
        self._drained.set()

    def playback_pending(self) -> float:
        return self.pending_bytes / 2 / RATE

    async def wait_played(self) -> None:
        await self._drained.wait()

    async def _play(self) -> None:
        while True:
            await asyncio.sleep(0.002)
            self.pending_bytes = max(0, self.pending_bytes - int(2 * RATE * 0.002 * self.speed))
            if not self.pending_bytes:
                self._drained.set()


async def test_the_next_message_is_synthesised_while_the_current_one_plays() -> None:
    audio, tts = PacedAudio(), FakeSynthesizer(seconds_per_char=0.02)
    recorded: list[str] = []

    async def record(text: str) -> None:
        recorded.append(text)

    speaker = Speaker(audio, tts, record, lambda error: None)
    speaker.start()
    speaker.say("Premier message, assez long pour durer un moment à l'écoute.")
    speaker.say("Second message.")
    await asyncio.sleep(0.05)
    # The first lasts ~1.2 s of audio (0.12 s at 10x): the second is already queued behind it.
    assert audio.playback_pending() > 0 and tts.texts == recorded and len(recorded) == 2
    await asyncio.wait_for(speaker.wait_done(), 5)
    assert not speaker.speaking
    await speaker.close()


async def test_an_interrupt_stops_the_audio_and_drops_every_queued_message() -> None:
    audio, tts = PacedAudio(speed=1.0), FakeSynthesizer(seconds_per_char=0.02, chunk_delay=0.05)
    speaker = Speaker(audio, tts, lambda text: asyncio.sleep(0), lambda error: None)
    speaker.start()
    for text in ("Un. Deux. Trois. Quatre.", "Cinq.", "Six."):
        speaker.say(text)
    await asyncio.sleep(0.08)  # the first piece of the first message is playing
    assert speaker.speaking and speaker.interrupt()
    await asyncio.wait_for(speaker.wait_done(), 1)
    assert audio.cleared == 1 and not speaker.speaking
    assert tts.texts == ["Un. Deux. Trois. Quatre."] and tts.requests[0].closed_early
    await speaker.close()


async def test_an_uninterruptible_message_resists_the_voice_but_not_a_forced_interrupt() -> None:
    audio, tts = PacedAudio(speed=1.0), FakeSynthesizer(seconds_per_char=0.02)
    speaker = Speaker(audio, tts, lambda text: asyncio.sleep(0), lambda error: None)
    speaker.start()
    speaker.say("Vous parlez à un assistant automatique.", interruptible=False)
    await asyncio.sleep(0.02)
    assert not speaker.interrupt()
    assert speaker.interrupt(force=True)
    await asyncio.wait_for(speaker.wait_done(), 1)
    await speaker.close()


async def test_a_synthesis_failure_is_reported_not_swallowed() -> None:
    class Broken(FakeSynthesizer):
        def stream(self, text: str, sample_rate: int):  # type: ignore[no-untyped-def]
            raise RuntimeError("voice gone")

    errors: list[BaseException] = []
    speaker = Speaker(PacedAudio(), Broken(), lambda text: asyncio.sleep(0), errors.append)
    speaker.start()
    speaker.say("Bonjour.")
    await asyncio.wait_for(speaker.wait_done(), 1)
    assert [str(e) for e in errors] == ["voice gone"]
    await speaker.close()


async def test_speech_prepared_ahead_plays_its_first_chunk_before_the_rest_is_synthesised() -> None:
    release = asyncio.Event()

    async def synthesis() -> AsyncGenerator[bytes]:
        yield b"first"
        await release.wait()  # the rest of the sentence takes a while
        yield b"second"

    prepared = PreparedSpeech(synthesis())
    chunks = prepared.chunks()
    assert await asyncio.wait_for(anext(chunks), 1) == b"first"
    release.set()
    assert [chunk async for chunk in chunks] == [b"second"]


async def test_speech_prepared_ahead_gives_its_failure_and_stops_when_cancelled() -> None:
    async def failing() -> AsyncGenerator[bytes]:
        yield b"first"
        raise RuntimeError("voice gone")

    with pytest.raises(RuntimeError, match="voice gone"):
        _ = [chunk async for chunk in PreparedSpeech(failing()).chunks()]

    closed = asyncio.Event()

    async def endless() -> AsyncGenerator[bytes]:
        try:
            while True:
                yield b"more"
                await asyncio.sleep(0.01)
        finally:
            closed.set()

    prepared = PreparedSpeech(endless())
    await asyncio.sleep(0.05)
    prepared.cancel()
    await prepared.closed()
    assert closed.is_set()
