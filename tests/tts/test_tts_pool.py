"""The synthesis threads: earliest deadline first, cancelled jobs dropped, closing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import CancelledError

import pytest

from tts.pool import DeadlinePool


def test_earliest_deadline_first() -> None:
    pool = DeadlinePool(workers=1)
    try:
        hold = threading.Event()
        order: list[str] = []

        def job(name: str) -> Callable[[], str]:
            def run() -> str:
                order.append(name)
                return name

            return run

        busy = pool.submit(0.0, hold.wait)  # the only worker is taken: the others queue
        later = pool.submit(30.0, job("a later piece"))
        first = pool.submit(10.0, job("a first piece"))
        tied = pool.submit(10.0, job("a first piece, asked second"))
        hold.set()
        assert busy.result(timeout=5) is True
        assert later.result(timeout=5) == "a later piece"
        assert order == ["a first piece", "a first piece, asked second", "a later piece"]
        assert first.result() == "a first piece" and tied.done()
    finally:
        pool.close()


def test_cancelled_job_is_dropped_and_errors_reach_the_caller() -> None:
    pool = DeadlinePool(workers=1)
    try:
        hold = threading.Event()
        ran: list[str] = []
        pool.submit(0.0, hold.wait)
        dropped = pool.submit(1.0, lambda: ran.append("dropped"))
        assert dropped.cancel()

        def fails() -> None:
            raise RuntimeError("voice failed")

        failing = pool.submit(2.0, fails)
        hold.set()
        with pytest.raises(RuntimeError, match="voice failed"):
            failing.result(timeout=5)
        assert ran == []
    finally:
        pool.close()


def test_close_drops_the_queue_and_refuses_new_work() -> None:
    pool = DeadlinePool(workers=2)
    hold = threading.Event()
    both_running = threading.Barrier(3)

    def busy() -> bool:
        both_running.wait(timeout=5)
        return hold.wait(timeout=5)

    running = [pool.submit(0.0, busy) for _ in range(2)]
    both_running.wait(timeout=5)
    queued = pool.submit(1.0, lambda: "never")
    threading.Timer(0.1, hold.set).start()
    pool.close()  # waits for the running jobs
    assert all(future.result() is True for future in running)
    with pytest.raises(CancelledError):
        queued.result()
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(0.0, lambda: None)


def test_at_least_one_worker() -> None:
    with pytest.raises(ValueError):
        DeadlinePool(workers=0)
