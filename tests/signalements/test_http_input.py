"""The HTTP edge's validators: integers in the database's range, datetimes in UTC, bounded JSON bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from aiohttp.test_utils import make_mocked_request

from signalements.http_input import (
    BIGINT_MAX,
    INT4_MAX,
    MAX_JSON_BODY_BYTES,
    MAX_JSON_DEPTH,
    InputError,
    aware_datetime,
    bounded_int,
    json_nesting_depth,
    parse_json,
    path_id,
    path_text,
)


def refusal(error: pytest.ExceptionInfo[InputError]) -> tuple[int, str]:
    assert error.value.content_type == "application/json"
    return error.value.status, json.loads(error.value.text or "")["error"]


@pytest.mark.parametrize(("raw", "expected"), [(None, 7), ("", 7), ("0", 0), ("42", 42), (str(BIGINT_MAX), BIGINT_MAX)])
def test_integers_in_range(raw: str | None, expected: int) -> None:
    assert bounded_int(raw, "offset", default=7, minimum=0, maximum=BIGINT_MAX) == expected


@pytest.mark.parametrize(
    "raw", [str(BIGINT_MAX + 1), "9" * 20, "9" * 5000, "-1", "1_0", " 7", "+5", "١٢", "0x10", "1e3", "1.0", "\udce9"]
)
def test_integers_out_of_range_or_not_plain_digits_are_a_400(raw: str) -> None:
    with pytest.raises(InputError) as error:
        bounded_int(raw, "offset", default=0, minimum=0, maximum=BIGINT_MAX)
    status, message = refusal(error)
    assert status == 400 and "offset" in message and len(message) < 200


def test_an_id_is_within_its_int4_column() -> None:
    request = make_mocked_request("GET", f"/api/reports/{INT4_MAX + 1}", match_info={"report_id": str(INT4_MAX + 1)})
    with pytest.raises(InputError) as error:
        path_id(request, "report_id", "report id")
    assert refusal(error)[0] == 400
    request = make_mocked_request("GET", "/api/reports/12", match_info={"report_id": "12"})
    assert path_id(request, "report_id", "report id") == 12


@pytest.mark.parametrize("raw", ["a" * 129, "call\udce9", "call\x00", "\ud800"])
def test_a_textual_id_that_no_column_can_hold_is_unknown(raw: str) -> None:
    request = make_mocked_request("GET", "/api/calls/x", match_info={"call_id": raw})
    with pytest.raises(InputError) as error:
        path_text(request, "call_id", "call", max_chars=128)
    status, message = refusal(error)
    assert status == 404 and message.startswith("no call")


def test_datetimes_are_normalised_to_utc() -> None:
    assert aware_datetime(None, "since") is None and aware_datetime("", "since") is None
    assert aware_datetime("2026-11-23T09:00:00", "since") == datetime(2026, 11, 23, 9, tzinfo=UTC)
    # a "+" in a query string arrives as a space
    value = aware_datetime("2026-11-23T10:00:00 01:00", "since")
    assert value == datetime(2026, 11, 23, 9, tzinfo=UTC) and value.tzinfo is UTC
    value = aware_datetime("2026-11-23T00:00-23:59", "since")
    assert value is not None and value.tzinfo is UTC
    assert value == datetime(2026, 11, 23, tzinfo=timezone(-timedelta(hours=23, minutes=59)))


@pytest.mark.parametrize(
    "raw", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "yesterday", "2026-13-45", "\udce9"]
)
def test_datetimes_out_of_range_in_utc_or_malformed_are_a_400(raw: str) -> None:
    with pytest.raises(InputError) as error:
        aware_datetime(raw, "since")
    status, message = refusal(error)
    assert status == 400 and "since" in message


def test_nesting_is_counted_without_recursion_and_strings_are_skipped() -> None:
    assert json_nesting_depth('{"text": "[[[[{{{{"}') == 1
    assert json_nesting_depth(r'{"text": "a \" [[[[ \\", "b": [[1]]}') == 3
    assert json_nesting_depth("[" * 1_000_000) == 1_000_000  # a recursive count would blow the stack


def test_json_bodies_are_parsed_with_unstorable_text_replaced() -> None:
    body = b'{"text": "nid \\ud800 de poule\\u0000", "\\udfff": ["\\ud800"]}'
    assert parse_json(body, "{}") == {"text": "nid \ufffd de poule\ufffd", "\ufffd": ["\ufffd"]}
    nested = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert parse_json(nested, "{}") is not None


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"[" * 10_000, 400, "deeper"),
        (b'{"a":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1), 400, "deeper"),
        (b"[" * 60_000, 413, "limited"),
        (b'"' + b"x" * MAX_JSON_BODY_BYTES + b'"', 413, "limited"),
        (b'{"text": "\xe9"}', 400, "UTF-8"),
        (b"NaN", 400, "JSON"),
        (b'{"text": Infinity}', 400, "JSON"),
        (b"1" * 5000, 400, "JSON"),  # past Python's digit limit for int(): a ValueError, still a 400
        (b"", 400, "JSON"),
        (b"{oops", 400, '{"text": "..."}'),
    ],
)
def test_bad_json_bodies_are_a_4xx(body: bytes, status: int, words: str) -> None:
    with pytest.raises(InputError) as error:
        parse_json(body, '{"text": "..."}')
    got_status, message = refusal(error)
    assert got_status == status and words in message
