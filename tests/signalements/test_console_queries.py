"""The console's reads: the validation queue, calls, transcript search, dashboard figures and exports.

Also what the calls record for them: Store.close_call's CPU time and latencies, Store.add_turn's words.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from signalements import InvalidRecord, NotFound, ReportDraft, Store
from signalements.queries import CallFilter, ConsoleQueries, Figures, KeysetPage, QueueFilter, percentile
from tests.signalements.conftest import T0

DRAFT = ReportDraft(
    category="voirie",
    place="rue Paradis",
    description="un trou",
    danger=False,
    callback_consent=True,
    callback_number="0612345678",
)


def report(
    store: Store, call_id: str, created: datetime, channel: str = "sip", started: datetime | None = None, **fields: Any
) -> int:
    store.open_call(call_id, channel, None, started or created)
    return store.save_report(call_id, replace(DRAFT, **fields), created_at=created)


def walk(fetch: Any, limit: int) -> tuple[list[Any], list[int]]:
    """Every page from the first; the items and each page's size."""
    items: list[Any] = []
    sizes: list[int] = []
    cursor = None
    while True:
        page = fetch(cursor, limit)
        items += page.items
        sizes.append(len(page.items))
        if page.next_cursor is None:
            return items, sizes
        cursor = page.next_cursor
        assert len(sizes) < 100


# -- the validation queue ----------------------------------------------------------------------------------


@pytest.fixture
def queue_store(store: Store) -> dict[str, int]:
    minute = timedelta(minutes=1)
    ids = {
        "r1": report(store, "c1", T0 + 3 * minute, "sip", category="voirie", commune="Marseille", danger=True),
        "r2": report(store, "c2", T0 + 1 * minute, "text", category="eclairage", commune="Aubagne"),
        "r3": report(store, "c3", T0 + 2 * minute, "webrtc", category="voirie", commune="Aubagne"),
        "r4": report(store, "c4", T0 + 4 * minute, "sip", category="voirie"),
        "r5": report(store, "c5", T0, "sip", category="proprete", commune="Marseille", danger=True),
        "r6": report(store, "c6", T0 + 5 * minute, "sip", category="voirie", commune="Marseille"),
    }
    store.validate_report(ids["r4"], "m.durand", at=T0 + timedelta(hours=1))
    store.validate_report(ids["r6"], "m.durand", at=T0 + timedelta(hours=1))
    store.reject_report(ids["r5"], "m.durand", "doublon", at=T0 + timedelta(hours=1))
    return ids


QUEUE_CASES = [
    (QueueFilter(), ["r2", "r3", "r1"]),
    (QueueFilter(category="voirie"), ["r3", "r1"]),
    (QueueFilter(commune="Aubagne"), ["r2", "r3"]),
    (QueueFilter(danger=True), ["r1"]),
    (QueueFilter(danger=False), ["r2", "r3"]),
    (QueueFilter(channel="text"), ["r2"]),
    (QueueFilter(channel="sip"), ["r1"]),
    (QueueFilter(category="voirie", commune="Aubagne"), ["r3"]),
    (QueueFilter(category="voirie", channel="text"), []),
    (QueueFilter(status="validated"), ["r6", "r4"]),
    (QueueFilter(status="validated", commune="Marseille"), ["r6"]),
    (QueueFilter(status="rejected"), ["r5"]),
    (QueueFilter(status="rejected", danger=False), []),
]


def test_queue_filters_and_order(store: Store, queue_store: dict[str, int]) -> None:
    queries = ConsoleQueries(store)
    names = {report_id: name for name, report_id in queue_store.items()}
    for where, expected in QUEUE_CASES:
        page = queries.queue(where)
        assert [names[item.report.id] for item in page.items] == expected, where
        assert page.next_cursor is None


def test_queue_items_carry_the_report_and_channel(store: Store, queue_store: dict[str, int]) -> None:
    [item] = ConsoleQueries(store).queue(QueueFilter(channel="text")).items
    assert item.channel == "text"
    assert item.report == store.get_report(queue_store["r2"])
    assert (item.report.call_id, item.report.category, item.report.commune) == ("c2", "eclairage", "Aubagne")


def test_queue_counts_and_choices(store: Store, queue_store: dict[str, int]) -> None:
    queries = ConsoleQueries(store)
    assert queries.awaiting_count() == 3
    assert queries.report_choices() == (["eclairage", "proprete", "voirie"], ["Aubagne", "Marseille"])


def test_queue_refuses_bad_filters(store: Store) -> None:
    for where in (QueueFilter(status="done"), QueueFilter(status=""), QueueFilter(channel="fax")):
        with pytest.raises(InvalidRecord):
            ConsoleQueries(store).queue(where)


# Seconds after T0 for each report, in the order they are written: many share a time.
SHARED_TIMES = [2, 0, 1, 0, 2, 0, 1, 3, 0, 2, 1, 0]


@pytest.fixture
def paged_store(store: Store) -> list[tuple[datetime, int]]:
    keys = []
    for i, seconds in enumerate(SHARED_TIMES):
        created = T0 + timedelta(seconds=seconds)
        keys.append((created, report(store, f"call-{i}", created, commune=f"commune {i % 2}")))
    return keys


def test_queue_pages_by_keyset_without_duplicates_or_gaps(
    store: Store, paged_store: list[tuple[datetime, int]]
) -> None:
    queries = ConsoleQueries(store)
    for limit in (1, 2, 3, 4, 5, 11, 12, 13, 500):
        items, sizes = walk(lambda cursor, n: queries.queue(QueueFilter(), after=cursor, limit=n), limit)
        ids = [item.report.id for item in items]
        assert ids == [report_id for _, report_id in sorted(paged_store)], limit
        pages = -(-len(SHARED_TIMES) // limit)
        assert sizes == [limit] * (pages - 1) + [len(SHARED_TIMES) - limit * (pages - 1)], limit


def test_decided_reports_page_newest_first(store: Store, paged_store: list[tuple[datetime, int]]) -> None:
    for _, report_id in paged_store:
        store.validate_report(report_id, "m.durand", at=T0 + timedelta(hours=1))
    queries = ConsoleQueries(store)
    expected = [report_id for _, report_id in sorted(paged_store, reverse=True)]
    for limit in (1, 3, 5):
        items, _ = walk(lambda cursor, n: queries.queue(QueueFilter(status="validated"), after=cursor, limit=n), limit)
        assert [item.report.id for item in items] == expected, limit


def test_queue_pages_with_a_filter(store: Store, paged_store: list[tuple[datetime, int]]) -> None:
    queries = ConsoleQueries(store)
    where = QueueFilter(commune="commune 1")
    items, _ = walk(lambda cursor, n: queries.queue(where, after=cursor, limit=n), 2)
    expected = [report_id for i, (_, report_id) in sorted(enumerate(paged_store), key=lambda p: p[1]) if i % 2]
    assert [item.report.id for item in items] == expected


def test_a_report_arriving_between_pages_shifts_nothing(store: Store, paged_store: list[tuple[datetime, int]]) -> None:
    queries = ConsoleQueries(store)
    first = queries.queue(QueueFilter(), limit=5)
    newest = report(store, "late", T0 + timedelta(seconds=10))
    report(store, "backdated", T0 - timedelta(seconds=10))  # before the cursor: belongs to page one
    rest, _ = walk(lambda cursor, n: queries.queue(QueueFilter(), after=cursor or first.next_cursor, limit=n), 5)
    expected = [report_id for _, report_id in sorted(paged_store)]
    assert [item.report.id for item in first.items + rest] == [*expected, newest]


BAD_CURSORS = [
    "nonsense",
    "~",
    "2026-11-23T09:30:00~3",  # naive
    "2026-11-23T09:30:00+00:00~x",
    "2026-11-23T09:30:00+00:00~3~4",
    "2026-13-01T09:30:00+00:00~3",
    "3~2026-11-23T09:30:00+00:00",
]


def test_a_bad_cursor_is_refused(store: Store, paged_store: list[tuple[datetime, int]]) -> None:
    queries = ConsoleQueries(store)
    for cursor in BAD_CURSORS:
        with pytest.raises(InvalidRecord, match="cursor"):
            queries.queue(QueueFilter(), after=cursor)
        with pytest.raises(InvalidRecord, match="cursor"):
            queries.calls(CallFilter(), before=cursor)


def test_an_empty_cursor_is_the_first_page(store: Store, paged_store: list[tuple[datetime, int]]) -> None:
    queries = ConsoleQueries(store)
    assert queries.queue(QueueFilter(), after="", limit=3) == queries.queue(QueueFilter(), limit=3)


def test_a_cursor_in_another_zone_means_the_same_instant(store: Store, paged_store: list[tuple[datetime, int]]) -> None:
    queries = ConsoleQueries(store)
    page = queries.queue(QueueFilter(), limit=4)
    assert page.next_cursor is not None
    at_text, _, id_text = page.next_cursor.partition("~")
    paris = datetime.fromisoformat(at_text).astimezone(timezone(timedelta(hours=1)))
    assert paris.isoformat() != at_text
    assert queries.queue(QueueFilter(), after=f"{paris.isoformat()}~{id_text}", limit=4) == queries.queue(
        QueueFilter(), after=page.next_cursor, limit=4
    )


def test_page_limits(store: Store) -> None:
    queries = ConsoleQueries(store)
    for limit in (0, -1, 501):
        with pytest.raises(InvalidRecord, match="limit"):
            queries.queue(QueueFilter(), limit=limit)
        with pytest.raises(InvalidRecord, match="limit"):
            queries.calls(CallFilter(), limit=limit)
        with pytest.raises(InvalidRecord, match="limit"):
            queries.search("trou", start=T0, end=T0 + timedelta(days=1), limit=limit)


# -- calls -------------------------------------------------------------------------------------------------


def caller_turns(store: Store, call_id: str, started: datetime, confidences: list[float | None]) -> None:
    for i, confidence in enumerate(confidences):
        at = started + timedelta(seconds=10 * i + 1)
        store.add_turn(call_id, "caller", f"tour {i}", at, at + timedelta(seconds=2), asr_confidence=confidence)


@pytest.fixture
def calls_store(store: Store) -> Store:
    hour = timedelta(hours=1)
    store.open_call("k1", "sip", None, T0)
    caller_turns(store, "k1", T0, [1.0, 0.5])
    store.save_report("k1", DRAFT, created_at=T0 + timedelta(minutes=1))
    store.save_report("k1", DRAFT, created_at=T0 + timedelta(minutes=2))
    store.add_handoff("k1", "caller_request", None, True, {}, T0 + timedelta(minutes=3))
    store.close_call("k1", "report_saved", T0 + timedelta(minutes=4))

    store.open_call("k2", "text", None, T0 + hour)
    caller_turns(store, "k2", T0 + hour, [None])
    store.close_call("k2", "abandoned", T0 + hour + timedelta(minutes=1))

    store.open_call("k3", "webrtc", None, T0 + 2 * hour)
    caller_turns(store, "k3", T0 + 2 * hour, [0.5])
    store.add_handoff("k3", "low_confidence", None, False, {}, T0 + 2 * hour + timedelta(minutes=1))
    store.add_handoff("k3", "caller_request", None, True, {}, T0 + 2 * hour + timedelta(minutes=2))
    store.close_call("k3", "transferred", T0 + 2 * hour + timedelta(minutes=3))

    store.open_call("k4", "sip", None, T0 + 3 * hour)  # still going

    store.open_call("k5", "sip", None, T0 + timedelta(days=1))
    caller_turns(store, "k5", T0 + timedelta(days=1), [0.25])
    store.close_call("k5", "report_saved", T0 + timedelta(days=1, minutes=2))
    return store


CALL_CASES = [
    (CallFilter(), ["k5", "k4", "k3", "k2", "k1"]),
    (CallFilter(start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=3)), ["k3", "k2"]),
    (CallFilter(start=T0 + timedelta(hours=3)), ["k5", "k4"]),
    (CallFilter(end=T0 + timedelta(hours=1)), ["k1"]),
    (CallFilter(outcome="report_saved"), ["k5", "k1"]),
    (CallFilter(outcome="interrupted"), []),
    (CallFilter(handoff_reason="caller_request"), ["k3", "k1"]),
    (CallFilter(handoff_reason="low_confidence"), ["k3"]),
    (CallFilter(channel="text"), ["k2"]),
    (CallFilter(channel="sip"), ["k5", "k4", "k1"]),
    (CallFilter(max_confidence=0.75), ["k5", "k3"]),
    (CallFilter(max_confidence=0.76), ["k5", "k3", "k1"]),
    (CallFilter(max_confidence=0.5), ["k5"]),
    (CallFilter(channel="sip", outcome="report_saved", end=T0 + timedelta(hours=5)), ["k1"]),
]


def test_calls_filters_newest_first(calls_store: Store) -> None:
    queries = ConsoleQueries(calls_store)
    for where, expected in CALL_CASES:
        page = queries.calls(where)
        assert [row.call_id for row in page.items] == expected, where
        assert page.next_cursor is None


def test_call_rows(calls_store: Store) -> None:
    rows = {row.call_id: row for row in ConsoleQueries(calls_store).calls(CallFilter()).items}
    k1, k3, k4 = rows["k1"], rows["k3"], rows["k4"]
    assert (k1.channel, k1.started_at, k1.ended_at, k1.outcome, k1.mean_asr_confidence) == (
        "sip",
        T0,
        T0 + timedelta(minutes=4),
        "report_saved",
        0.75,
    )
    assert (k1.report_count, k1.handoff_reasons) == (2, ["caller_request"])
    assert (k3.report_count, k3.handoff_reasons, k3.mean_asr_confidence) == (
        0,
        ["low_confidence", "caller_request"],
        0.5,
    )
    assert (k4.ended_at, k4.outcome, k4.mean_asr_confidence, k4.report_count, k4.handoff_reasons) == (
        None,
        None,
        None,
        0,
        [],
    )
    assert rows["k2"].mean_asr_confidence is None  # no recognised turn


def test_calls_refuse_a_bad_channel_and_naive_bounds(store: Store) -> None:
    queries = ConsoleQueries(store)
    with pytest.raises(InvalidRecord, match="channel"):
        queries.calls(CallFilter(channel="fax"))
    with pytest.raises(InvalidRecord, match="timezone-aware"):
        queries.calls(CallFilter(start=T0.replace(tzinfo=None)))


def test_outcomes_and_reasons(calls_store: Store) -> None:
    assert ConsoleQueries(calls_store).outcomes_and_reasons() == (
        ["abandoned", "report_saved", "transferred"],
        ["caller_request", "low_confidence"],
    )


def test_calls_page_by_keyset_when_calls_share_a_start(store: Store) -> None:
    keys = []
    for i, seconds in enumerate([1, 0, 1, 2, 0, 1, 0, 2, 1]):
        store.open_call(f"call-{i}", "text" if i % 3 else "sip", None, T0 + timedelta(seconds=seconds))
        keys.append((seconds, i))
    queries = ConsoleQueries(store)
    for limit in (1, 2, 4, 9, 10):
        rows, _ = walk(lambda cursor, n: queries.calls(CallFilter(), before=cursor, limit=n), limit)
        assert [row.call_id for row in rows] == [f"call-{i}" for _, i in sorted(keys, reverse=True)], limit
        texts, _ = walk(lambda cursor, n: queries.calls(CallFilter(channel="text"), before=cursor, limit=n), limit)
        assert [row.call_id for row in texts] == [f"call-{i}" for _, i in sorted(keys, reverse=True) if i % 3], limit


# -- transcript search -------------------------------------------------------------------------------------

SEARCH_TURNS = [
    ("caller", "Il y a un TROU énorme rue Paradis"),
    ("bot", "D'accord, un trou."),
    ("caller", "je suis sûr à 100% du numéro"),
    ("caller", "à 100 mètres de l'école"),
    ("caller", "le mot_clé"),
    ("caller", "le motXclé"),
    ("caller", "dossier a\\b"),
    ("caller", "dossier ab"),
]


@pytest.fixture
def search_store(store: Store) -> Store:
    store.open_call("s1", "sip", None, T0)
    for i, (speaker, text) in enumerate(SEARCH_TURNS, start=1):
        at = T0 + timedelta(seconds=i)
        store.add_turn("s1", speaker, text, at, at)
    later = T0 + timedelta(days=1)
    store.open_call("s2", "text", None, later)
    store.add_turn("s2", "caller", "le trou est rebouché", later + timedelta(seconds=1), later + timedelta(seconds=1))
    return store


def found(store: Store, words: str, start: datetime = T0, end: datetime = T0 + timedelta(days=2)) -> list[Any]:
    return [(hit.call_id, hit.seq) for hit in ConsoleQueries(store).search(words, start=start, end=end)]


def test_search_ignores_case_newest_first(search_store: Store) -> None:
    for words in ("trou", "TROU", "Trou", "  trou  "):
        assert found(search_store, words) == [("s2", 1), ("s1", 2), ("s1", 1)], words


def test_search_hits_carry_the_turn(search_store: Store) -> None:
    [hit] = ConsoleQueries(search_store).search("paradis", start=T0, end=T0 + timedelta(days=2))
    assert (hit.call_id, hit.seq, hit.speaker, hit.text, hit.started_at) == (
        "s1",
        1,
        "caller",
        "Il y a un TROU énorme rue Paradis",
        T0 + timedelta(seconds=1),
    )


WILDCARD_CASES = [
    ("100%", [("s1", 3)]),
    ("0% du", [("s1", 3)]),
    ("100", [("s1", 4), ("s1", 3)]),
    ("mot_cl", [("s1", 5)]),
    ("_c", [("s1", 5)]),
    ("a\\b", [("s1", 7)]),
    ("%%", []),
    ("__", []),
    ("énorme", [("s1", 1)]),
    ("l'école", [("s1", 4)]),
]


def test_search_takes_wildcards_literally(search_store: Store) -> None:
    for words, expected in WILDCARD_CASES:
        assert found(search_store, words) == expected, words


def test_search_date_bounds_start_inclusive_end_exclusive(search_store: Store) -> None:
    start, end = T0 + timedelta(seconds=2), T0 + timedelta(days=1, seconds=1)
    assert found(search_store, "trou", start, end) == [("s1", 2)]
    assert found(search_store, "trou", start, end + timedelta(microseconds=1)) == [("s2", 1), ("s1", 2)]
    assert found(search_store, "trou", T0 + timedelta(days=3), T0 + timedelta(days=4)) == []


def test_search_limit(search_store: Store) -> None:
    hits = ConsoleQueries(search_store).search("trou", start=T0, end=T0 + timedelta(days=2), limit=2)
    assert [(hit.call_id, hit.seq) for hit in hits] == [("s2", 1), ("s1", 2)]


def test_search_refuses_too_short_or_long_words(store: Store) -> None:
    for words in ("", "a", "  a  ", "x" * 201):
        with pytest.raises(InvalidRecord, match="2 to 200"):
            ConsoleQueries(store).search(words, start=T0, end=T0 + timedelta(days=2))
    with pytest.raises(InvalidRecord, match="timezone-aware"):
        ConsoleQueries(store).search("trou", start=T0.replace(tzinfo=None), end=T0 + timedelta(days=2))


# -- what calls record for the dashboard -------------------------------------------------------------------


def test_close_call_keeps_cpu_latencies_and_the_callers_mean_confidence(store: Store) -> None:
    store.open_call("call", "sip", None, T0)
    store.add_turn("call", "bot", "Bonjour", T0, T0, asr_confidence=None)
    store.add_turn("call", "system", "note", T0, T0, asr_confidence=0.1)  # not the caller's
    caller_turns(store, "call", T0, [0.5, None, 1.0, 0.25])
    store.close_call("call", "report_saved", T0 + timedelta(minutes=2), cpu_seconds=3, reply_latencies_ms=[640, 0, 9])

    summary = store.get_call("call").summary
    assert summary.mean_asr_confidence == pytest.approx(0.5833333333333334)
    assert (summary.cpu_seconds, summary.reply_latencies_ms) == (3.0, [640, 0, 9])
    assert isinstance(summary.cpu_seconds, float)


def test_close_call_without_measures(store: Store) -> None:
    store.open_call("call", "text", None, T0)
    store.add_turn("call", "caller", "bonjour", T0, T0)
    store.close_call("call", "abandoned", T0 + timedelta(minutes=1))
    summary = store.get_call("call").summary
    assert (summary.outcome, summary.cpu_seconds, summary.reply_latencies_ms, summary.mean_asr_confidence) == (
        "abandoned",
        None,
        None,
        None,
    )


BAD_MEASURES: list[tuple[dict[str, Any], str]] = [
    ({"cpu_seconds": -0.1}, "cpu_seconds"),
    ({"cpu_seconds": float("nan")}, "cpu_seconds"),
    ({"cpu_seconds": float("inf")}, "cpu_seconds"),
    ({"cpu_seconds": "2"}, "cpu_seconds"),
    ({"cpu_seconds": True}, "cpu_seconds"),
    ({"reply_latencies_ms": [1.5]}, "reply_latencies_ms"),
    ({"reply_latencies_ms": [-1]}, "reply_latencies_ms"),
    ({"reply_latencies_ms": [3_600_000]}, "reply_latencies_ms"),
    ({"reply_latencies_ms": [True]}, "reply_latencies_ms"),
    ({"reply_latencies_ms": [100, "200"]}, "reply_latencies_ms"),
]


def test_close_call_refuses_bad_measures(store: Store) -> None:
    store.open_call("call", "sip", None, T0)
    for measures, message in BAD_MEASURES:
        with pytest.raises(InvalidRecord, match=message):
            store.close_call("call", "report_saved", T0 + timedelta(minutes=1), **measures)
    summary = store.get_call("call").summary
    assert (summary.ended_at, summary.cpu_seconds, summary.reply_latencies_ms) == (None, None, None)


def test_close_call_unknown_call(store: Store) -> None:
    with pytest.raises(NotFound):
        store.close_call("nobody", "report_saved", T0, cpu_seconds=1.0)


def test_add_turn_keeps_the_words_and_their_confidences(store: Store) -> None:
    store.open_call("call", "sip", None, T0)
    store.add_turn("call", "caller", "il y a", T0, T0, 0.7, words=[("il", 0.98), ["y", 1], ("a", 0.25)])  # type: ignore[list-item]
    store.add_turn("call", "caller", "sans mots", T0, T0, 0.7)
    store.add_turn("call", "caller", "long", T0, T0, words=[("m" * 250, 0.5)] + [("x", 0.5)] * 2100)

    first, second, third = store.get_call("call").turns
    assert first.words == [("il", 0.98), ("y", 1.0), ("a", 0.25)]
    assert first.to_json()["words"] == [["il", 0.98], ["y", 1.0], ["a", 0.25]]
    assert second.words is None and second.to_json()["words"] is None
    assert third.words is not None and len(third.words) == 2000 and third.words[0] == ("m" * 200, 0.5)


BAD_WORDS: list[Any] = [
    [("il",)],
    [("il", 0.5, 0.2)],
    [("il", 1.5)],
    [("il", -0.1)],
    [("il", float("nan"))],
    [("il", "0.5")],
    [("il", None)],
    [(3, 0.5)],
    "il y a",
    [("il", True)],
]


def test_add_turn_refuses_bad_words(store: Store) -> None:
    store.open_call("call", "sip", None, T0)
    for words in BAD_WORDS:
        with pytest.raises(InvalidRecord, match="word"):
            store.add_turn("call", "caller", "il y a", T0, T0, words=words)
    assert store.get_call("call").turns == []


# -- the dashboard -----------------------------------------------------------------------------------------

DAY = timedelta(days=1)


@pytest.fixture
def dashboard_store(store: Store) -> dict[str, int]:
    """Four calls in [T0, T0 + 1 day) and two outside it, with known figures."""
    hour = timedelta(hours=1)

    store.open_call("c1", "sip", None, T0 + hour)
    store.add_turn("c1", "bot", "Bonjour", T0 + hour, T0 + hour)
    caller_turns(store, "c1", T0 + hour, [0.5, 1.0, None])
    store.add_handoff("c1", "caller_request", None, True, {}, T0 + hour + timedelta(minutes=1))
    store.close_call("c1", "report_saved", T0 + hour + timedelta(minutes=3), 2.0, [100, 300])

    store.open_call("c2", "sip", None, T0 + 2 * hour)
    caller_turns(store, "c2", T0 + 2 * hour, [0.25])
    store.add_handoff("c2", "caller_request", None, False, {}, T0 + 2 * hour + timedelta(minutes=1))
    store.close_call("c2", "abandoned", T0 + 2 * hour + timedelta(minutes=1), 4.5, [200, 400, 1000])

    store.open_call("c3", "text", None, T0 + 3 * hour)
    caller_turns(store, "c3", T0 + 3 * hour, [None])
    store.add_handoff("c3", "low_confidence", None, True, {}, T0 + 3 * hour + timedelta(minutes=1))
    store.close_call("c3", "transferred", T0 + 3 * hour + timedelta(minutes=2))

    store.open_call("c4", "webrtc", None, T0 + 4 * hour)  # still going
    caller_turns(store, "c4", T0 + 4 * hour, [0.9])

    store.open_call("before", "sip", None, T0 - hour)
    caller_turns(store, "before", T0 - hour, [0.1])
    store.add_handoff("before", "caller_request", None, True, {}, T0 - hour)
    store.close_call("before", "completed", T0 - hour + timedelta(minutes=1), 100.0, [5000])

    store.open_call("after", "sip", None, T0 + DAY)
    store.close_call("after", "completed", T0 + DAY + timedelta(minutes=1), 50.0, [7000])

    minute = timedelta(minutes=1)
    ids = {
        "a": store.save_report("c1", DRAFT, created_at=T0 + hour + minute),
        "b": store.save_report("c2", DRAFT, created_at=T0 + 2 * hour + minute),
        "c": store.save_report("before", DRAFT, created_at=T0 - hour + minute),
        "d": store.save_report("c3", replace(DRAFT, callback_consent=False), created_at=T0 + 3 * hour + minute),
        "e": store.save_report("c4", DRAFT, created_at=T0 + 4 * hour + minute),
    }
    store.validate_report(ids["a"], "m.durand", at=T0 + 5 * hour)
    store.reject_report(ids["b"], "m.durand", "doublon", at=T0 + DAY + hour)  # decided the next day
    store.validate_report(ids["c"], "m.durand", at=T0 + 30 * minute)  # made the day before, decided today
    store.reject_report(ids["e"], "a.martin", "hors périmètre", at=T0 + 6 * hour)
    return ids


def test_figures_of_a_day(store: Store, dashboard_store: dict[str, int]) -> None:
    figures = ConsoleQueries(store).figures(T0, T0 + DAY)
    assert figures == Figures(
        calls=4,
        reports=4,
        validated=2,
        rejected=1,
        handoffs={"caller_request": 2, "low_confidence": 1},
        completed_share=2 / 3,
        median_asr_confidence=0.5,  # of the calls' means 0.75 and 0.25
        latency_p50_ms=300,  # of 100, 200, 300, 400, 1000
        latency_p95_ms=1000,
        cpu_seconds_per_call=3.25,
        calls_measured=2,
    )
    assert list(figures.handoffs) == ["caller_request", "low_confidence"]  # most frequent first


def test_figures_of_another_period(store: Store, dashboard_store: dict[str, int]) -> None:
    figures = ConsoleQueries(store).figures(T0 - DAY, T0 + 2 * DAY)
    assert (figures.calls, figures.reports, figures.validated, figures.rejected) == (6, 5, 2, 2)
    assert figures.handoffs == {"caller_request": 3, "low_confidence": 1}
    assert figures.completed_share == pytest.approx(4 / 5)
    assert figures.median_asr_confidence == pytest.approx(0.25)  # of 0.75, 0.25, 0.1
    assert (figures.latency_p50_ms, figures.latency_p95_ms) == (400, 7000)
    assert figures.cpu_seconds_per_call == pytest.approx(156.5 / 4)
    assert figures.calls_measured == 4


def test_figures_of_an_empty_period(store: Store, dashboard_store: dict[str, int]) -> None:
    assert ConsoleQueries(store).figures(T0 + 10 * DAY, T0 + 11 * DAY) == Figures()


def test_figures_refuse_naive_bounds(store: Store) -> None:
    with pytest.raises(InvalidRecord, match="timezone-aware"):
        ConsoleQueries(store).figures(T0.replace(tzinfo=None), T0 + DAY)


def test_calls_by_hour(store: Store, dashboard_store: dict[str, int]) -> None:
    assert ConsoleQueries(store).calls_by_hour(T0) == [0, 1, 1, 1, 1] + [0] * 19
    assert ConsoleQueries(store).calls_by_hour(T0 - timedelta(hours=1), hours=3) == [1, 0, 1]


@pytest.mark.parametrize(
    ("values", "quantile", "expected"),
    [
        ([], 0.5, None),
        ([7], 0.95, 7),
        ([4, 1, 3, 2], 0.5, 2),
        ([5, 1, 4, 2, 3], 0.5, 3),
        (list(range(1, 21)), 0.95, 19),
        (list(range(1, 101)), 0.95, 95),
        (list(range(100, 0, -1)), 0.5, 50),
    ],
)
def test_percentile_is_nearest_rank(values: list[int], quantile: float, expected: int | None) -> None:
    assert percentile(values, quantile) == expected


# -- exports -----------------------------------------------------------------------------------------------

REPORTS_HEADER = [
    "id", "appel", "canal", "cree_le", "statut", "categorie", "lieu", "numero", "voie", "voie_verifiee", "commune",
    "repere", "description", "danger", "rappel_accepte", "numero_rappel", "decide_par", "decide_le", "note",
]  # fmt: skip
CALLS_HEADER = [
    "appel", "canal", "debut", "fin", "duree_s", "issue", "tours", "signalements", "transferts",
    "confiance_moyenne", "cpu_s", "latence_p50_ms",
]  # fmt: skip


@pytest.mark.parametrize("with_numbers", [False, True])
def test_export_reports(store: Store, dashboard_store: dict[str, int], with_numbers: bool) -> None:
    ids = dashboard_store
    rows = list(ConsoleQueries(store).export_reports(T0, T0 + DAY, with_numbers=with_numbers))
    assert rows[0] == REPORTS_HEADER
    assert [row[0] for row in rows[1:]] == [ids["a"], ids["b"], ids["d"], ids["e"]]
    assert all(len(row) == len(REPORTS_HEADER) for row in rows)
    number = "0612345678" if with_numbers else None
    assert rows[1] == [
        ids["a"], "c1", "sip", (T0 + timedelta(hours=1, minutes=1)).isoformat(), "validated", "voirie",
        "rue Paradis", None, None, None, None, None, "un trou", False, True, number, "m.durand",
        (T0 + timedelta(hours=5)).isoformat(), None,
    ]  # fmt: skip
    assert rows[3][13:16] == [False, False, None]  # no consent, no number either way
    assert rows[4][2] == "webrtc" and rows[4][4] == "rejected" and rows[4][18] == "hors périmètre"


def test_export_reports_of_an_empty_period_is_the_header(store: Store, dashboard_store: dict[str, int]) -> None:
    rows = list(ConsoleQueries(store).export_reports(T0 + 10 * DAY, T0 + 11 * DAY, with_numbers=True))
    assert rows == [REPORTS_HEADER]


def test_export_calls(store: Store, dashboard_store: dict[str, int]) -> None:
    rows = list(ConsoleQueries(store).export_calls(T0, T0 + DAY))
    assert rows[0] == CALLS_HEADER
    assert [row[0] for row in rows[1:]] == ["c1", "c2", "c3", "c4"]
    hour = timedelta(hours=1)
    assert rows[1] == [
        "c1", "sip", (T0 + hour).isoformat(), (T0 + hour + timedelta(minutes=3)).isoformat(), 180.0,
        "report_saved", 4, 1, 1, 0.75, 2.0, 100,
    ]  # fmt: skip
    assert rows[2][4:] == [60.0, "abandoned", 1, 1, 1, 0.25, 4.5, 400]
    assert rows[3][4:] == [120.0, "transferred", 1, 1, 1, None, None, None]
    assert rows[4][3:] == [None, None, None, 1, 1, 0, None, None, None]


def test_keyset_page_is_generic() -> None:
    assert KeysetPage([1, 2], None).items == [1, 2]
