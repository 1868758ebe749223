"""Audio shared by the transports, the recogniser and the synthesiser."""

from audio.pcm import FRAME_MS, SAMPLE_WIDTH, Resampler, frame_bytes

__all__ = ["FRAME_MS", "SAMPLE_WIDTH", "Resampler", "frame_bytes"]
