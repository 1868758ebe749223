"""Call recording (off by default, `recording.enabled`): the caller's and the bot's audio of one call, kept as one
stereo Ogg/Opus file, the caller on the left and the bot on the right, on one timeline, so a supervisor hears
the conversation as it happened, overlaps and barge-ins included.

`CallRecorder` wraps a call's AudioPort. Each caller frame read and each piece of bot audio queued is appended,
with its place on the timeline, to a temporary file (a few bytes per 20 ms: nothing else happens on the event
loop during the call). The caller's frames are one after the other, in order, from where the first one was read
(a reader that fell behind gets its backlog later: its place is kept); frames the line dropped leave their
gap, and silence the line added beyond real time (a late packet after the silence that stood in for it) is
left out, so the caller's side keeps to the clock. The bot's audio goes where the line will actually send it
(now, plus what is still queued before it), and a barge-in (`clear_playback`) cuts what had not been sent. A
line that fell behind (the media clock skips the slots of a stalled event loop: what was queued goes out that
much later) is seen at the next caller frame, from how much is still queued, and the bot's audio not yet sent
moves with it. `finish()` encodes the file in a thread at the end of the call, then removes the temporary one.

Files, in `recording.directory` (0700; each file 0600), named by our own call id (never the caller's SIP
Call-ID): `<call id>.ogg` the finished recording; `<call id>.raw` the call under way, locked by its recorder;
`<call id>.ogg.part` an encoding under way. A stop mid-call (kill -9, power cut) leaves a `.raw` that nobody
locks: `purge_recordings` (the server runs it at start, then with the retention purge) encodes it, with the
time of the crash as its date, or deletes it once it is older than the retention limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import re
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
import soundfile

from callbot.audio import AudioPort

log = logging.getLogger(__name__)

SUFFIX = ".ogg"  # a finished recording
MEDIA_TYPE = "audio/ogg"  # its Content-Type (Opus in Ogg: Chromium and Firefox play it in an <audio> element)
RAW_SUFFIX = ".raw"  # a call being recorded, or left by a crash
PART_SUFFIX = ".ogg.part"  # being encoded
# libsndfile's Opus quality, 0 (best) to 1 (smallest): 0.95 is about 30-40 kbit/s for two channels of 8 kHz
# speech (~250 KB a minute); below that the encoder starts mixing the two voices into each other.
OPUS_COMPRESSION_LEVEL = 0.95
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)  # what Opus takes

_CALL_ID = re.compile(r"[0-9a-f]{32}")  # CallSession.call_id: uuid4().hex
_MAGIC = b"CBREC1\n"
_HEADER = struct.Struct("<I")  # after the magic: the sample rate
_RECORD = struct.Struct("<cQI")  # kind, position on the timeline (samples), payload length (bytes)
_CALLER, _BOT = b"C", b"B"  # audio: its PCM follows
_CUT = b"X"  # the bot's audio queued so far stops at the position (barge-in, hang-up)
_SLIP = b"S"  # the bot's audio queued so far, from the position on, goes out `length` samples later
_WRITE_BUFFER = 16 * 1024  # about half a second of the call between writes to the disk
_CONTIGUOUS_SLACK_FRAMES = 2  # bot audio queued this close to the end of the previous piece follows it exactly
# The line sending this much later than the recorder placed the bot's audio: a stall it skipped (the media
# clock catches up on lateness below 0.2 s at once, and skips the slots of a longer one).
_SLIP_S = 0.15
_MAX_HOURS = 12  # a timeline position beyond this is damage in a leftover file, not audio
_BLOCK_S = 10  # the encoder renders the timeline this much at a time


def is_call_id(value: object) -> bool:
    """Whether `value` is one of our call ids (32 lowercase hex digits), safe in a file name."""
    return isinstance(value, str) and _CALL_ID.fullmatch(value) is not None


def recording_file(directory: Path, call_id: str) -> Path | None:
    """The finished recording of `call_id` in `directory`, or None (none kept, not finished yet, not a call id)."""
    if not is_call_id(call_id):
        return None
    path = directory / f"{call_id}{SUFFIX}"
    return path if path.is_file() and not path.is_symlink() else None


def private_directory(directory: Path) -> None:
    """Create `directory` if needed, readable by the owner only."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if directory.stat().st_mode & 0o077:
        directory.chmod(0o700)


class CallRecorder:
    """An AudioPort that records what passes through `inner` (see the module's docstring); `finish()` at the end.

    `clock` gives seconds (monotonic): the bot's audio is placed by it, and the caller's first frame."""

    def __init__(
        self, inner: AudioPort, directory: Path, call_id: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not is_call_id(call_id):
            raise ValueError(f"not a call id: {call_id!r}")
        if inner.sample_rate not in OPUS_RATES:
            raise ValueError(f"cannot record at {inner.sample_rate} Hz (Opus takes {OPUS_RATES})")
        self.sample_rate = inner.sample_rate
        self.call_id = call_id
        self.directory = directory
        self._inner = inner
        self._clock = clock
        private_directory(directory)
        self.raw_path = directory / f"{call_id}{RAW_SUFFIX}"
        fd = os.open(self.raw_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ours while it lives: not a crash's leftover
            self._file: BinaryIO = os.fdopen(fd, "wb", buffering=_WRITE_BUFFER)
        except BaseException:
            os.close(fd)
            self.raw_path.unlink(missing_ok=True)
            raise
        self._origin = clock()
        self._caller_next: int | None = None  # where the next caller frame goes
        self._caller_dropped = inner.frames_dropped
        self._bot_end = 0  # where the bot audio queued so far ends
        self._slack = _CONTIGUOUS_SLACK_FRAMES * self.sample_rate // 50
        self._slip = round(_SLIP_S * self.sample_rate)
        self._recording = True  # until finish(), or a write failed
        self._finishing: asyncio.Task[Path | None] | None = None
        self._write(_MAGIC + _HEADER.pack(self.sample_rate))

    # ---- AudioPort -----------------------------------------------------------------------------------------

    async def read_frame(self) -> bytes | None:
        frame = await self._inner.read_frame()
        if frame is not None and self._recording:
            now = self._now()
            self._place_caller(frame, now)
            self._follow_the_line(now)
        return frame

    def _place_caller(self, frame: bytes, now: int) -> None:
        samples = len(frame) // 2
        latest = now - samples  # a frame read now came in by now
        if self._caller_next is None:
            self._caller_next = max(0, latest)
        dropped = self._inner.frames_dropped
        if dropped > self._caller_dropped:  # lost before this one was read: their time went by all the same
            self._caller_next += (dropped - self._caller_dropped) * samples
            self._caller_dropped = dropped
        if self._caller_next > latest + self._slack and not any(frame):
            return  # silence beyond real time: the line's filler, not the caller
        self._record(_CALLER, self._caller_next, frame)
        self._caller_next += samples

    @property
    def frames_dropped(self) -> int:
        return self._inner.frames_dropped

    def play(self, pcm: bytes) -> None:
        if self._recording and pcm:
            start = self._now() + round(self._inner.playback_pending() * self.sample_rate)
            if abs(start - self._bot_end) <= self._slack:  # right after the audio already queued, as sent
                start = self._bot_end
            self._record(_BOT, start, pcm)
            self._bot_end = start + len(pcm) // 2
        self._inner.play(pcm)

    def _follow_the_line(self, now: int) -> None:
        """If the line sends the bot's queued audio later than placed (it skipped a stall), move it."""
        if self._bot_end <= now:
            return  # nothing queued, as far as the recorder knows
        queued = round(self._inner.playback_pending() * self.sample_rate)
        late = now + queued - self._bot_end
        if queued > 0 and late >= self._slip:
            self._write(_RECORD.pack(_SLIP, self._bot_end - queued, late))
            self._bot_end += late

    def clear_playback(self) -> None:
        if self._recording:
            cut = self._now()
            self._record(_CUT, cut, b"")
            self._bot_end = cut
        self._inner.clear_playback()

    def playback_pending(self) -> float:
        return self._inner.playback_pending()

    async def wait_played(self) -> None:
        await self._inner.wait_played()

    # ---- the end of the call -------------------------------------------------------------------------------

    async def finish(self) -> Path | None:
        """Stop recording and encode the recording (in a thread); its path, or None if there is none. Never
        raises for a recording that failed: the call is over whatever happens to its audio."""
        if self._finishing is None:
            if self._recording:
                self._record(_CUT, self._now(), b"")  # the line is closed: nothing still queued was heard
                self._recording = False
            self._finishing = asyncio.ensure_future(asyncio.to_thread(self._encode_and_release))
        # Shielded: a cancelled session (the server stopping) still gets its recording, and the lock is held
        # until the encoding is over (a purge must not take the file for a crash's leftover).
        return await asyncio.shield(self._finishing)

    def _encode_and_release(self) -> Path | None:
        try:
            with contextlib.suppress(OSError):
                self._file.flush()
            return encode_recording(self.raw_path, self.directory / f"{self.call_id}{SUFFIX}")
        except Exception:
            log.exception("call %s: the recording could not be encoded (kept in %s)", self.call_id, self.raw_path)
            return None
        finally:
            with contextlib.suppress(OSError):
                self._file.close()  # releases the lock

    # ---- the temporary file --------------------------------------------------------------------------------

    def _now(self) -> int:
        return max(0, round((self._clock() - self._origin) * self.sample_rate))

    def _record(self, kind: bytes, position: int, pcm: bytes) -> None:
        self._write(_RECORD.pack(kind, position, len(pcm)) + pcm)

    def _write(self, data: bytes) -> None:
        try:
            self._file.write(data)
        except (OSError, ValueError) as error:
            # The call goes on; what was written so far is encoded at the end.
            self._recording = False
            log.error("call %s: recording stopped, cannot write %s: %s", self.call_id, self.raw_path, error)


# ---- encoding ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Piece:
    channel: int  # 0: caller (left), 1: bot (right)
    start: int  # samples
    end: int
    offset: int  # of its first sample in the temporary file
    order: int  # later pieces win where they overlap


def encode_recording(raw_path: Path, final_path: Path, mtime: float | None = None) -> Path | None:
    """Encode a temporary recording to `final_path` (Ogg/Opus, stereo), then delete the temporary file; None if
    it held no audio. `mtime`: the finished file's date (a crash's leftover keeps the time of the crash)."""
    part = final_path.with_name(final_path.name.removesuffix(SUFFIX) + PART_SUFFIX)
    with raw_path.open("rb") as raw:
        rate, pieces, length = _read_timeline(raw)
        if length == 0:
            raw_path.unlink()
            return None
        part.unlink(missing_ok=True)
        os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
        try:
            with soundfile.SoundFile(
                str(part),
                "w",
                samplerate=rate,
                channels=2,
                format="OGG",
                subtype="OPUS",
                compression_level=OPUS_COMPRESSION_LEVEL,
            ) as out:
                for block in _render(raw.fileno(), pieces, length, rate * _BLOCK_S):
                    out.write(block)
            if mtime is not None:
                os.utime(part, (mtime, mtime))
            os.replace(part, final_path)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    raw_path.unlink()
    return final_path


def _read_timeline(raw: BinaryIO) -> tuple[int, list[_Piece], int]:
    """(sample rate, the audio pieces where they were heard, length in samples) of a temporary recording; a
    record cut short by a crash (or damage) ends it."""
    head = raw.read(len(_MAGIC) + _HEADER.size)
    if len(head) < len(_MAGIC) + _HEADER.size or not head.startswith(_MAGIC):
        raise ValueError(f"{raw.name}: not a call recording")
    (rate,) = _HEADER.unpack_from(head, len(_MAGIC))
    if rate not in OPUS_RATES:
        raise ValueError(f"{raw.name}: unexpected sample rate {rate}")
    limit = rate * 3600 * _MAX_HOURS
    size = os.fstat(raw.fileno()).st_size
    caller: list[_Piece] = []
    bot: list[_Piece] = []
    length = 0
    offset = raw.tell()
    order = 0
    while offset + _RECORD.size <= size:
        kind, position, value = _RECORD.unpack(raw.read(_RECORD.size))
        offset += _RECORD.size
        payload = value if kind in (_CALLER, _BOT) else 0
        if kind not in (_CALLER, _BOT, _CUT, _SLIP) or payload % 2 or offset + payload > size or position > limit:
            break
        order += 1
        if kind == _CALLER:
            caller.append(_Piece(0, position, position + payload // 2, offset, order))
        elif kind == _BOT:
            bot.append(_Piece(1, position, position + payload // 2, offset, order))
        elif kind == _CUT:  # what a barge-in (or the hang-up) stopped was never sent
            bot = [replace(p, end=min(p.end, position)) for p in bot if p.start < position]
            length = max(length, position)
        else:
            bot = _slipped(bot, position, min(value, limit))
        offset += payload
        raw.seek(offset)
    pieces = sorted(caller + bot, key=lambda piece: piece.start)
    length = max([length, *(piece.end for piece in pieces)])
    return rate, pieces, min(length, limit)


def _slipped(pieces: list[_Piece], position: int, delay: int) -> list[_Piece]:
    """`pieces` with what lies from `position` on moved `delay` samples later."""
    moved: list[_Piece] = []
    for piece in pieces:
        if piece.end <= position:
            moved.append(piece)
            continue
        if piece.start < position:  # sent partly before the line fell behind
            moved.append(replace(piece, end=position))
            piece = replace(piece, start=position, offset=piece.offset + (position - piece.start) * 2)
        moved.append(replace(piece, start=piece.start + delay, end=piece.end + delay))
    return moved


def _render(fd: int, pieces: list[_Piece], length: int, block: int) -> Iterator[npt.NDArray[np.int16]]:
    """The timeline as stereo int16 blocks of `block` samples (silence where nobody spoke)."""
    active: list[_Piece] = []
    following = 0
    for block_start in range(0, length, block):
        block_end = min(block_start + block, length)
        out = np.zeros((block_end - block_start, 2), dtype=np.int16)
        while following < len(pieces) and pieces[following].start < block_end:
            active.append(pieces[following])
            following += 1
        for piece in sorted(active, key=lambda piece: piece.order):
            start, end = max(piece.start, block_start), min(piece.end, block_end)
            if end > start:
                pcm = os.pread(fd, (end - start) * 2, piece.offset + (start - piece.start) * 2)
                out[start - block_start : end - block_start, piece.channel] = np.frombuffer(pcm, dtype="<i2")
        active = [piece for piece in active if piece.end > block_end]
        yield out


# ---- retention and leftovers -------------------------------------------------------------------------------


def purge_recordings(directory: Path, retention_days: int, now: datetime) -> int:
    """Delete the recordings older than `retention_days` (by their file's date); the number deleted.

    First the leftovers of calls cut by a stop (a `.raw` no recorder holds): each is encoded, dated from the
    crash, or deleted (and counted) if already too old; an interrupted encoding's `.ogg.part` is deleted. Runs
    beside live calls: a call being recorded holds its file's lock and is left alone."""
    if isinstance(retention_days, bool) or not isinstance(retention_days, int) or retention_days < 0:
        raise ValueError("retention_days must be a non-negative number of days")
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if not directory.is_dir():
        return 0
    cutoff = now.timestamp() - retention_days * 86400
    deleted = 0
    for name in sorted(os.listdir(directory)):
        call_id = name.removesuffix(RAW_SUFFIX)
        if name.endswith(RAW_SUFFIX) and is_call_id(call_id):
            deleted += _finish_leftover(directory, call_id, cutoff)
    for name in sorted(os.listdir(directory)):
        path = directory / name
        if name.endswith(PART_SUFFIX) and is_call_id(name.removesuffix(PART_SUFFIX)):
            if not (directory / f"{name.removesuffix(PART_SUFFIX)}{RAW_SUFFIX}").exists():
                path.unlink(missing_ok=True)  # its encoding was stopped; the recording's .raw is gone
        elif name.endswith(SUFFIX) and is_call_id(name.removesuffix(SUFFIX)):
            try:
                status = path.lstat()
            except FileNotFoundError:
                continue
            if status.st_mtime < cutoff:
                path.unlink(missing_ok=True)
                deleted += 1
    return deleted


def _finish_leftover(directory: Path, call_id: str, cutoff: float) -> int:
    """Encode or delete (1) the temporary recording of `call_id` if no recorder holds it."""
    raw_path = directory / f"{call_id}{RAW_SUFFIX}"
    try:
        fd = os.open(raw_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return 0
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # a call being recorded (or finished right now)
        status = os.fstat(fd)
        if status.st_nlink == 0:
            return 0  # its recorder finished it meanwhile
        if status.st_mtime < cutoff:
            raw_path.unlink(missing_ok=True)
            log.info("deleted the unfinished recording of call %s (past the retention limit)", call_id)
            return 1
        try:
            encode_recording(raw_path, directory / f"{call_id}{SUFFIX}", mtime=status.st_mtime)
            log.info("encoded the recording of call %s, left unfinished by a stop", call_id)
        except Exception:
            log.exception("call %s: the unfinished recording %s could not be encoded", call_id, raw_path)
        return 0
    finally:
        os.close(fd)
