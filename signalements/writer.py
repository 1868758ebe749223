"""StoreWriter: the event loop's way to write to the Store without ever waiting on the database.

`await writer.submit(store.add_turn, call_id, "caller", text, t0, t1, 0.91)` returns at once. One worker
thread runs the writes in submission order. The first time the database is unavailable, every queued write
moves to a JSON-lines spill file (fsync'd), and every later write is appended there until the file is replayed,
oldest first, with exponential backoff: a crash during an outage loses nothing, and order holds. The memory
queue also spills once it holds `max_queued` writes. A spill file left by a previous process is replayed first.
Writes the database refuses for good (bad data) are logged and kept in a `.rejected.jsonl` file next to it.

`await writer.durable()` returns once every write submitted so far is in the database or in the spill file:
the call session awaits it before the bot speaks, so what was said survives a crash of the process. When its
time-out runs out first, it moves what is still queued (the write in flight included) to the spill file itself
and returns once that is fsync'd: a database that hangs delays the bot by that time-out, never its durability.

A database that hangs (server stopped, stalled query, network partition: no error, no answer) is an outage
too: the worker hands each write to a database thread and waits for it at most `op_timeout_s`; a write that
misses that deadline sends everything queued to the spill file, as a refusal does. The late write is still
awaited, never abandoned: if it commits after all, its copy in the spill file is skipped; if the process
dies first, the replay meets a write the database already holds, and the Store's writes are idempotent (a
turn, hand-off or call-back identical to a stored one is not stored again; fields and outcomes are
last-writer-wins).

Text is made storable (signalements.text) when a write is queued, and the worker thread never dies of one
write: a write that fails for an unexpected reason is set aside, and a worker that stopped anyway is
started again on the next write (`alive` is false meanwhile, for the health page).

Only the Store's write methods can be submitted (so every write can be spilled). `open_call` is queued with
the caller's number already pseudonymised: the clear number never reaches the disk.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import queue
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec

from signalements.errors import StoreUnavailable
from signalements.spill import SpillFile, WriteOp
from signalements.store import Store
from signalements.text import storable_value

log = logging.getLogger(__name__)

P = ParamSpec("P")
WRITE_METHODS = frozenset(
    {
        "open_call",
        "open_call_pseudonymised",
        "add_turn",
        "update_fields",
        "close_call",
        "close_interrupted_calls",
        "add_handoff",
        "save_report",
        "request_callback",
    }
)


DEFAULT_OP_TIMEOUT_S = 1.5  # a write the database has not answered by then: an outage (it normally takes ms)


@dataclass
class _Waiter:
    target: int  # the number of writes submitted when the wait began
    durable_only: bool  # in the database or in the spill file is enough
    future: asyncio.Future[None]
    loop: asyncio.AbstractEventLoop


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _DatabaseThread:
    """Runs the writes one at a time in a daemon thread, so that the worker can stop waiting for one that hangs.

    A daemon thread of our own rather than a ThreadPoolExecutor: the interpreter joins an executor's threads on
    exit, and one stuck in a call to a stopped database would then keep the process from ending.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future[bool], Callable[[], bool]] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], bool]) -> Future[bool]:
        future: Future[bool] = Future()
        self._jobs.put((future, job))
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="store-writer-db", daemon=True)
                self._thread.start()
        return future

    def stop(self) -> None:
        """Let the thread end once the job it runs (if any) returns."""
        self._jobs.put(None)

    def _serve(self) -> None:
        while (item := self._jobs.get()) is not None:
            future, job = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job())
            except BaseException as exc:  # handed to the worker, which decides
                future.set_exception(exc)


class StoreWriter:
    def __init__(
        self,
        store: Store,
        *,
        spill_path: Path,
        max_queued: int = 10_000,
        retry_initial_s: float = 0.2,
        retry_max_s: float = 10.0,
        op_timeout_s: float = DEFAULT_OP_TIMEOUT_S,
    ) -> None:
        """`op_timeout_s`: how long one write may go unanswered before the database counts as unavailable."""
        if max_queued < 1:
            raise ValueError("max_queued must be at least 1")
        if op_timeout_s <= 0:
            raise ValueError("op_timeout_s must be positive")
        self._store = store
        self._op_timeout_s = op_timeout_s
        self._database = _DatabaseThread()
        self._max_queued = max_queued
        self._retry_initial_s, self._retry_max_s = retry_initial_s, retry_max_s
        self._spill = SpillFile(spill_path)
        self._rejected_path = spill_path.with_name(spill_path.stem + ".rejected.jsonl")
        self._cond = threading.Condition()
        self._memory: deque[tuple[int, WriteOp]] = deque()  # (submission number, write), oldest first
        self._waiters: list[_Waiter] = []
        # The worker is writing the oldest write of `_memory` (`_head_busy`), and that write was moved to the spill
        # file meanwhile (`_head_moved`): it is then the spill file's next entry, whatever becomes of the attempt.
        self._head_busy = False
        self._head_moved = False
        recovered = self._spill.pending_count()
        self.recovered = recovered  # writes found on disk at start (the worker replays them at once)
        if recovered:
            log.warning("replaying %d store writes left in %s", recovered, spill_path)
        self._spilling = recovered > 0
        self._submitted = recovered
        self._completed = 0
        self._stopping = threading.Event()
        self._closed = False
        self.unavailable = False  # true while the database refuses writes (for health pages)
        self._failing = False  # true while the worker meets errors of its own (disk full, a bug)
        self._thread = self._start_worker()

    def _start_worker(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        thread.start()
        return thread

    def ensure_running(self) -> None:
        """Start the worker again if it stopped (the health probe and every write call this)."""
        with self._cond:
            self._ensure_running()

    def _ensure_running(self) -> None:
        if not self._thread.is_alive() and not self._stopping.is_set():
            log.error("store writer thread had stopped: starting it again")
            self._thread = self._start_worker()

    @property
    def alive(self) -> bool:
        """The worker runs and meets no error of its own: false makes /healthz fail."""
        return self._thread.is_alive() and not self._failing

    @property
    def pending(self) -> int:
        """Writes submitted (or recovered) and not yet written."""
        with self._cond:
            return self._submitted - self._completed

    # -- event-loop side -----------------------------------------------------------------------------------

    async def submit(self, fn: Callable[P, object], *args: P.args, **kwargs: P.kwargs) -> None:
        """Queue `fn(*args, **kwargs)`, fn being a write method of this writer's Store. Never waits on the DB."""
        self._enqueue(self._to_op(fn, *args, **kwargs))

    def _enqueue(self, op: WriteOp) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("StoreWriter is closed")
            self._ensure_running()
            if not self._spilling and len(self._memory) >= self._max_queued:
                log.warning("store write queue full (%d): spilling to %s", self._max_queued, self._spill.path)
                self._spill_memory()
            self._submitted += 1
            if self._spilling:
                self._spill.append([op])
            else:
                self._memory.append((self._submitted, op))
            self._cond.notify_all()

    def _spill_memory(self) -> None:
        """Move every write queued in memory to the spill file (lock held): from now on they are on disk.

        The spill file has nothing left to replay whenever memory holds writes, so the oldest of them becomes
        its next entry (what `_settle` relies on for a write in flight)."""
        self._spill.append([op for _, op in self._memory])
        if self._memory and self._head_busy:
            self._head_moved = True
        self._memory.clear()
        self._spilling = True

    async def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until every write submitted so far is written; False if `timeout_s` ran out first."""
        return await self._wait(durable_only=False, timeout_s=timeout_s)

    async def durable(self, timeout_s: float | None = None) -> bool:
        """Wait until every write submitted so far is in the database or the spill file.

        When `timeout_s` runs out first (a database that hangs), what memory still holds, the write in flight
        included, goes to the spill file now: True once it is fsync'd there, False only if that failed too."""
        if await self._wait(durable_only=True, timeout_s=timeout_s):
            return True
        with self._cond:
            if self._memory:
                log.warning(
                    "store writes not in the database after %.1f s: %d moved to %s",
                    timeout_s,
                    len(self._memory),
                    self._spill.path,
                )
                try:
                    self._spill_memory()
                except OSError:
                    log.exception("store writes could not be moved to %s", self._spill.path)
                    return False
                self._wake()
            return True

    def _satisfied(self, waiter: _Waiter) -> bool:
        if self._completed >= waiter.target:
            return True
        return waiter.durable_only and (not self._memory or self._memory[0][0] > waiter.target)

    async def _wait(self, *, durable_only: bool, timeout_s: float | None) -> bool:
        loop = asyncio.get_running_loop()
        with self._cond:
            waiter = _Waiter(self._submitted, durable_only, loop.create_future(), loop)
            if self._satisfied(waiter):
                return True
            self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter.future), timeout_s)
            return True
        except TimeoutError:
            return False
        finally:
            with self._cond:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    async def close(self, deadline_s: float = 10.0) -> None:
        """Flush for at most `deadline_s`; what is still queued then goes to the spill file for next start."""
        with self._cond:
            self._closed = True
        flushed = await self.flush(deadline_s)
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        await asyncio.to_thread(self._thread.join)
        self._database.stop()
        if not flushed:
            with self._cond:
                left = [op for _, op in self._memory]
                self._memory.clear()
                self._spill.rewrite(left, self._spill.remaining_lines())
                log.warning(
                    "store unavailable at shutdown: %d writes kept in %s for the next start",
                    self._submitted - self._completed,
                    self._spill.path,
                )

    # -- building writes -----------------------------------------------------------------------------------

    def _to_op(self, fn: Callable[..., object], *args: Any, **kwargs: Any) -> WriteOp:
        name = getattr(fn, "__name__", "")
        if getattr(fn, "__self__", None) is not self._store or name not in WRITE_METHODS:
            allowed = ", ".join(sorted(WRITE_METHODS))
            raise TypeError(f"StoreWriter.submit takes a write method of its Store ({allowed}), got {fn!r}")
        try:
            bound = inspect.signature(fn).bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"bad arguments for Store.{name}: {exc}") from None
        arguments = storable_value(dict(bound.arguments))
        if name == "open_call":
            arguments["caller_pseudonym"] = self._store.pseudonymise(arguments.pop("caller_number"))
            name = "open_call_pseudonymised"
        return WriteOp(name, arguments)

    # -- worker thread -------------------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = self._retry_initial_s
        while True:
            try:
                item = self._next()
                if item is None:
                    return
                op, spill_end = item
                applied = True if op is None else self._attempt(op)  # a corrupt spill entry is skipped
                if self._failing:
                    log.warning("store writer working again")
                    self._failing = False
                if self._settle(spill_end, applied):
                    backoff = self._retry_initial_s
                    continue
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, self._retry_max_s)
            except Exception:  # the spill file cannot be written (disk full...) or a bug: never die of it
                with self._cond:
                    self._head_busy = False
                if not self._failing:
                    log.exception("store writer failed; retrying")
                    self._failing = True
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, self._retry_max_s)

    def _next(self) -> tuple[WriteOp | None, int | None] | None:
        """The oldest write (from memory, then from the spill file) without removing it; None to stop."""
        with self._cond:
            while not self._stopping.is_set():
                if self._memory:
                    self._head_busy, self._head_moved = True, False
                    return self._memory[0][1], None
                if self._spilling:
                    entry = self._spill.peek()
                    if entry is not None:
                        return entry
                    self._spill.clear()
                    self._spilling = False
                    log.info("store spill file replayed")
                    continue
                self._cond.wait()
            return None

    def _attempt(self, op: WriteOp) -> bool:
        """`_apply` in the database thread, under the deadline: a write that misses it makes an outage (what
        memory holds goes to disk), and is then awaited until it ends, so that writes never overtake it."""
        future = self._database.submit(lambda: self._apply(op))
        try:
            return future.result(timeout=self._op_timeout_s)
        except FutureTimeout:
            pass
        with self._cond:
            if not self.unavailable:
                log.warning(
                    "store unanswered for %.1f s, writes go to %s until it is back",
                    self._op_timeout_s,
                    self._spill.path,
                )
                self.unavailable = True
            self._spill_memory()
            self._wake()
        while not self._stopping.is_set():
            try:
                return future.result(timeout=0.2)
            except FutureTimeout:
                continue
        return False  # closing: the write stays queued (memory or spill file) for the next start

    def _settle(self, spill_end: int | None, applied: bool) -> bool:
        """Account for the attempt at the oldest write; False to retry it after a pause."""
        with self._cond:
            if spill_end is None:
                moved, self._head_busy, self._head_moved = self._head_moved, False, False
                if moved:  # durable() or the deadline put it in the spill file meanwhile: it is the next entry
                    entry = self._spill.peek()
                    if entry is None:
                        raise RuntimeError("a write moved to the spill file is not there")
                    spill_end = entry[1]
                elif not applied:  # first failure: what memory holds goes to disk before anything else
                    self._spill_memory()
                    self._wake()
                    return True
            if not applied:
                return False
            if spill_end is None:
                self._memory.popleft()
            else:
                self._spill.advance(spill_end)
                if self._spill.peek() is None:  # replayed to the end: gone before anyone is told it is done
                    self._spill.clear()
                    self._spilling = False
                    log.info("store spill file replayed")
            self._completed += 1
            self._wake()
            return True

    def _wake(self) -> None:
        """Resolve the waits now satisfied (lock held)."""
        ready = [w for w in self._waiters if self._satisfied(w)]
        self._waiters = [w for w in self._waiters if not self._satisfied(w)]
        for waiter in ready:
            try:
                waiter.loop.call_soon_threadsafe(_resolve, waiter.future)
            except RuntimeError:  # that event loop is closed: nobody is waiting any more
                pass

    def _apply(self, op: WriteOp) -> bool:
        """Write `op`: True once written (or set aside for good), False while the database is unavailable."""
        try:
            getattr(self._store, op.method)(**op.kwargs)
        except StoreUnavailable as exc:
            if not self.unavailable:
                log.warning("store unavailable, writes go to %s until it is back: %s", self._spill.path, exc)
                self.unavailable = True
            return False
        except Exception as exc:  # refused for good: keep it aside rather than block every later write
            log.error("store refused %s: %s (kept in %s)", op.method, exc, self._rejected_path)
            self._reject(op, exc)
        if self.unavailable:
            log.warning("store available again")
            self.unavailable = False
        return True

    def _reject(self, op: WriteOp, error: Exception) -> None:
        record = json.loads(op.to_line())
        record["error"] = f"{type(error).__name__}: {error}"
        fd = os.open(self._rejected_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8", "replace"))
        finally:
            os.close(fd)
