"""The caller's number is pseudonymised with HMAC-SHA256 and never stored in clear."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest
from sqlalchemy import String, cast, create_engine, select

from signalements import Store
from signalements.database import normalise_url
from signalements.models import Base
from signalements.pseudonym import pseudonymise
from tests.signalements.conftest import PSEUDONYM_KEY, T0

NUMBER = "+33612345678"


def test_same_number_same_pseudonym_and_formatting_does_not_matter() -> None:
    assert pseudonymise(PSEUDONYM_KEY, NUMBER) == pseudonymise(PSEUDONYM_KEY, "+33 6 12 34 56 78")
    expected = hmac.new(PSEUDONYM_KEY, NUMBER.encode(), hashlib.sha256).hexdigest()
    assert pseudonymise(PSEUDONYM_KEY, NUMBER) == expected


def test_other_key_or_other_number_gives_another_pseudonym() -> None:
    assert pseudonymise(PSEUDONYM_KEY, NUMBER) != pseudonymise(b"another-key-of-enough-length!!", NUMBER)
    assert pseudonymise(PSEUDONYM_KEY, NUMBER) != pseudonymise(PSEUDONYM_KEY, "+33612345679")
    assert pseudonymise(PSEUDONYM_KEY, "anonymous") is None


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="pseudonym_key"):
        Store("sqlite://", b"short")


def _all_stored_text(db_url: str) -> str:
    engine = create_engine(normalise_url(db_url))
    chunks: list[str] = []
    try:
        with engine.connect() as connection:
            for table in Base.metadata.sorted_tables:
                columns = [cast(column, String) for column in table.columns]
                for row in connection.execute(select(*columns)):
                    chunks.extend(str(value) for value in row)
    finally:
        engine.dispose()
    return "\n".join(chunks)


def test_no_clear_caller_number_anywhere_in_the_database(store: Store, db_url: str, tmp_path: Path) -> None:
    store.open_call("a", "sip", NUMBER, T0)
    store.open_call("b", "sip", "+33 6 12 34 56 78", T0)
    store.open_call("c", "sip", "0491000000", T0)
    store.add_turn("a", "caller", "un lampadaire est cassé", T0, T0)
    pseudonyms = [summary.caller_pseudonym for summary in store.list_calls().items]
    assert pseudonyms.count(pseudonymise(PSEUDONYM_KEY, NUMBER)) == 2
    assert len(set(pseudonyms)) == 2
    stored = _all_stored_text(db_url)
    assert str(pseudonymise(PSEUDONYM_KEY, NUMBER)) in stored  # the dump does see the call rows
    for digits in ("612345678", "491000000"):
        assert digits not in stored
    if db_url.startswith("sqlite"):
        store.close()  # the raw bytes too, WAL included
        for path in tmp_path.glob("callbot.db*"):
            assert b"612345678" not in path.read_bytes(), path
