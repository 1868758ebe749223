"""The evaluation's street base (dialogue.eval.streets): the test sample plus the streets the scripted callers name,
written as a BAN file that the real importer loads and the real street matcher snaps bent names to."""

from __future__ import annotations

from pathlib import Path

from dialogue.eval.dataset import Conversation, Expectation, ExpectedReport, Turn
from dialogue.eval.streets import SAMPLE_STREETS, expected_streets, write_complete_base
from dialogue.streets import StreetIndex
from signalements import Store

KEY = bytes(32)


def scripted(street: str | None, commune: str, number: str | None = None) -> Conversation:
    fields: dict[str, str | bool | None] = {"category": "eclairage_public", "commune": commune}
    if street:
        fields["street_name"] = street
    if number:
        fields["street_number"] = number
    return Conversation(
        id=f"t-{street}",
        turns=(Turn(say="allô"),),
        expect=Expectation(outcomes=frozenset({"report_saved"}), report=ExpectedReport(fields)),
    )


def test_only_reports_with_a_street_and_a_commune_add_a_street() -> None:
    conversations = [
        scripted("boulevard des Platanes", "Rognac", "212"),
        scripted(None, "Cassis"),
        scripted("rue de la Glacière", "Marseille"),
    ]
    assert expected_streets(conversations) == {
        ("boulevard des Platanes", "Rognac", "212"),
        ("rue de la Glacière", "Marseille", None),
    }


def test_the_written_base_imports_and_a_bent_name_snaps_to_the_expected_street(tmp_path: Path) -> None:
    conversations = [scripted("boulevard des Platanes", "Rognac", "212"), scripted("rue de la Glacière", "Marseille")]
    base = tmp_path / "streets.csv"
    assert write_complete_base(conversations, SAMPLE_STREETS, base) == 2
    database = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    Store(database, KEY).migrate()
    from signalements.streets import import_ban_csv

    summary = import_ban_csv(base, database)
    assert summary.refused == 0, summary
    index = StreetIndex.from_store(database)
    found = index.match("boulevard des plata nes", "Rognac", "212")
    assert found is not None and found.name == "boulevard des Platanes" and found.number_known is True
    in_marseille = index.match("rue de la glassière", "Marseille")
    assert in_marseille is not None and in_marseille.name == "rue de la Glacière"
    # The sample's own streets are still there to be confused with.
    assert len(index) > 400
