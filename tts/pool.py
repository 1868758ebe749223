"""Synthesis threads that take the piece whose audio is needed soonest, not the oldest one.

With one queue for every call, a call's first piece (the caller waits in silence for it) must not wait behind
the later pieces of other calls, which still have the audio queued before them to play: earliest deadline
first. Each stream has at most one piece queued, so no call can fill the queue.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_Job = tuple[float, int, "Future[Any]", Callable[[], Any]]


class DeadlinePool:
    def __init__(self, workers: int, name: str = "tts") -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self._queue: list[_Job] = []
        self._order = itertools.count()  # equal deadlines: first come, first served
        self._wake = threading.Condition()
        self._closed = False
        # Daemon threads: an engine that is never closed must not keep the process alive.
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{index}", daemon=True) for index in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, deadline: float, job: Callable[[], T]) -> Future[T]:
        """Run `job` on a worker; a smaller `deadline` (any clock, the same for all jobs) runs first.

        Cancelling the future before a worker takes it drops the job.
        """
        future: Future[T] = Future()
        with self._wake:
            if self._closed:
                raise RuntimeError("the synthesis pool is closed")
            heapq.heappush(self._queue, (deadline, next(self._order), future, job))
            self._wake.notify()
        return future

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if not self._queue:
                    return
                _, _, future, job = heapq.heappop(self._queue)
            self._run(future, job)
            del future, job  # not kept while the thread idles: the job holds its stream's resampler

    @staticmethod
    def _run(future: Future[Any], job: Callable[[], Any]) -> None:
        if not future.set_running_or_notify_cancel():
            return  # cancelled while queued
        try:
            result = job()
        except BaseException as error:  # handed to the waiting caller, as concurrent.futures does
            future.set_exception(error)
        else:
            future.set_result(result)

    def close(self) -> None:
        """Drop queued jobs and wait for the running ones (a piece: well under a second) to end.

        Waited for so that no thread still holds a job (its resampler) while the interpreter exits.
        """
        with self._wake:
            self._closed = True
            for _, _, future, _ in self._queue:
                future.cancel()
            self._queue.clear()
            self._wake.notify_all()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join()
