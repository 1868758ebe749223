"""Log lines as text or JSON, each naming the call it belongs to, across the tasks a call starts."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from callbot.logs import CALL_ID, CallIdFilter, JsonFormatter, configure


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(CallIdFilter())
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("test.logs")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    yield stream
    log.removeHandler(handler)
    log.propagate = True


async def test_each_calls_lines_carry_its_id_even_in_the_tasks_it_starts(captured: io.StringIO) -> None:
    log = logging.getLogger("test.logs")

    async def call(call_id: str) -> None:
        CALL_ID.set(call_id)
        log.info("started")

        async def helper() -> None:
            await asyncio.sleep(0)
            log.info("helper speaks")

        await asyncio.gather(asyncio.create_task(helper()), asyncio.sleep(0))

    await asyncio.gather(asyncio.create_task(call("a" * 32)), asyncio.create_task(call("b" * 32)))
    log.info("outside any call")
    events = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert {(e["message"], e.get("call_id")) for e in events} == {
        ("started", "a" * 32),
        ("helper speaks", "a" * 32),
        ("started", "b" * 32),
        ("helper speaks", "b" * 32),
        ("outside any call", None),
    }
    assert all(e["level"] == "INFO" and e["logger"] == "test.logs" and e["time"].endswith("+00:00") for e in events)


def test_an_exception_stays_inside_its_one_line(captured: io.StringIO) -> None:
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        logging.getLogger("test.logs").exception("failed: %s", "ç'est ça")
    [line] = captured.getvalue().splitlines()
    event = json.loads(line)
    assert event["message"] == "failed: ç'est ça" and "ValueError: boom" in event["exception"]


def test_configure_installs_one_handler_in_the_chosen_style(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    try:
        configure("warning", "json")
        configure("info", "text")
        assert len(root.handlers) == 1 and root.level == logging.INFO
        token = CALL_ID.set("c" * 32)
        try:
            logging.getLogger("test.style").warning("text line")
        finally:
            CALL_ID.reset(token)
        assert f"WARNING test.style [{'c' * 32}]: text line" in capsys.readouterr().err
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in before[0]:
            root.addHandler(handler)
        root.setLevel(before[1])
