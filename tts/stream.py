"""What a call needs from a speech synthesiser, so the call session can run with a fake one in tests."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from typing import Protocol


class Synthesizer(Protocol):
    def stream(self, text: str, sample_rate: int) -> AsyncGenerator[bytes, None]:
        """PCM16 mono chunks of `text` at `sample_rate`, in order, each yielded as soon as it is synthesised.

        An async generator (an AsyncIterator with aclose): closing it, or cancelling its consumer, drops the
        chunks not yet started and returns at once. Close it with contextlib.aclosing on barge-in rather
        than leaving it to the garbage collector.
        """
        ...

    async def render(self, text: str, sample_rate: int) -> bytes:
        """The whole of `text` as one PCM16 block (the chunks of stream() joined), cached: fixed prompts."""
        ...

    async def warm(self, texts: Iterable[str], sample_rate: int) -> None:
        """Render `texts` into the cache ahead of the first call."""
        ...

    def cached(self, text: str, sample_rate: int) -> bool:
        """Whether render(text, sample_rate) would answer from memory."""
        ...
