"""Turns per second written through StoreWriter, on SQLite and on PostgreSQL.

    .venv/bin/python benchmarks/store_writes.py [--calls 50] [--turns 40] [--postgres-url URL]

Without --postgres-url a throwaway PostgreSQL 15 is started (tests/support/postgres.py). Prints, per engine,
the sustained turns/s (submit to flush) and how long `await submit` held the event loop (p99, max).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from signalements import Store, StoreWriter
from tests.support.postgres import PostgresServer, PostgresUnavailable

KEY = b"benchmark-pseudonym-key-0123456789"


async def run(store: Store, spill_dir: Path, calls: int, turns: int) -> tuple[float, float, float]:
    writer = StoreWriter(store, spill_path=spill_dir / "spill.jsonl")
    start_time = datetime.now(UTC)
    submit_times: list[float] = []

    async def one_call(index: int) -> None:
        call_id = f"bench-{index}"
        await writer.submit(store.open_call, call_id, "sip", f"+336{index:08d}", start_time)
        for turn in range(turns):
            at = start_time + timedelta(seconds=turn)
            before = time.perf_counter()
            await writer.submit(
                store.add_turn,
                call_id,
                "caller" if turn % 2 else "bot",
                "il y a un nid de poule devant chez moi",
                at,
                at + timedelta(seconds=2),
                0.9,
            )
            submit_times.append(time.perf_counter() - before)
            await asyncio.sleep(0)  # interleave the calls as a live server would
        await writer.submit(store.close_call, call_id, "completed", start_time + timedelta(minutes=1))

    began = time.perf_counter()
    await asyncio.gather(*(one_call(i) for i in range(calls)))
    await writer.flush()
    elapsed = time.perf_counter() - began
    await writer.close()
    assert sum(len(store.get_call(f"bench-{i}").turns) for i in range(calls)) == calls * turns
    submit_times.sort()
    return calls * turns / elapsed, submit_times[len(submit_times) * 99 // 100], submit_times[-1]


def report(engine: str, figures: tuple[float, float, float]) -> None:
    rate, p99, slowest = figures
    print(f"{engine:<11} {rate:8.0f} turns/s   await submit: p99 {p99 * 1e3:.3f} ms, max {slowest * 1e3:.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--postgres-url")
    args = parser.parse_args()
    print(f"{args.calls} concurrent calls x {args.turns} turns, one StoreWriter")
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        sqlite = Store(f"sqlite:///{work / 'bench.db'}", KEY)
        sqlite.migrate()
        report("sqlite", asyncio.run(run(sqlite, work, args.calls, args.turns)))
        sqlite.close()

        server: PostgresServer | None = None
        url = args.postgres_url
        if url is None:
            try:
                server = PostgresServer()
                server.start()
                url = server.create_database()
            except PostgresUnavailable as exc:
                print(f"postgresql  skipped: {exc}")
                return
        try:
            postgres = Store(url, KEY)
            postgres.migrate()
            report("postgresql", asyncio.run(run(postgres, work, args.calls, args.turns)))
            postgres.close()
        finally:
            if server is not None:
                server.destroy()


if __name__ == "__main__":
    main()
