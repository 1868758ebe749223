"""A street base for the evaluation, as production has one.

In production `callbot places import` loads the Base Adresse Nationale, and a street the recogniser bent snaps to
its official name. The BAN cannot be downloaded here, so an evaluation can run with `--streets FILE` (any BAN-format
CSV, e.g. the ~420-street sample under tests/fixtures/ban/) and, with `--complete-street-base`, with that file plus
every street the scripted callers name (with house numbers 1-150 and the expected number): what the full BAN would
hold for them. Figures measured that way say so; the dialogue's code never sees the expected values, only the
street table of its throw-away database.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from dialogue.eval.dataset import Conversation
from dialogue.knowledge import fold

SAMPLE_STREETS = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "ban" / "adresses-13-sample.csv"
HEADER = ("id", "numero", "rep", "nom_voie", "code_postal", "code_insee", "nom_commune", "lon", "lat")
HOUSE_NUMBERS = range(1, 151)
MARSEILLE_CODES = ("13201", "13001")  # the city scope of the street matcher covers every arrondissement
FIRST_MADE_UP_CODE = 13300  # above the department's real INSEE codes: a commune the base file lacks


def _commune_codes(base: Path) -> dict[str, tuple[str, str]]:
    """Folded commune name -> (INSEE code, postcode), from a BAN-format file."""
    codes: dict[str, tuple[str, str]] = {}
    with base.open(encoding="utf-8", newline="") as text:
        for row in csv.DictReader(text, delimiter=";"):
            name = fold(row.get("nom_commune") or "")
            if name and not name.startswith("marseille"):
                codes.setdefault(name, (row["code_insee"], row["code_postal"]))
    return codes


def expected_streets(conversations: Iterable[Conversation]) -> set[tuple[str, str, str | None]]:
    """(street, commune, house number) of every report the scripted callers should leave."""
    streets: set[tuple[str, str, str | None]] = set()
    for conversation in conversations:
        report = conversation.expect.report
        if report is None:
            continue
        street, commune = report.fields.get("street_name"), report.fields.get("commune")
        if isinstance(street, str) and street.strip() and isinstance(commune, str) and commune.strip():
            number = report.fields.get("street_number")
            streets.add((street.strip(), commune.strip(), str(number) if number else None))
    return streets


def write_complete_base(conversations: Iterable[Conversation], base: Path, destination: Path) -> int:
    """`base` plus the expected streets, as one BAN-format CSV at `destination`; returns the streets added."""
    codes = _commune_codes(base)
    made_up = FIRST_MADE_UP_CODE
    added = expected_streets(conversations)
    with base.open(encoding="utf-8", newline="") as source, destination.open("w", encoding="utf-8", newline="") as out:
        reader = csv.DictReader(source, delimiter=";")
        writer = csv.writer(out, delimiter=";")
        writer.writerow(HEADER)
        for row in reader:
            writer.writerow([row.get(column, "") for column in HEADER])
        for index, (street, commune, number) in enumerate(sorted(added, key=lambda s: (s[1], s[0], s[2] or ""))):
            if fold(commune).startswith("marseille"):
                insee, postcode = MARSEILLE_CODES
            else:
                if fold(commune) not in codes:
                    codes[fold(commune)] = (str(made_up), str(made_up))
                    made_up += 1
                insee, postcode = codes[fold(commune)]
            numbers = {str(n) for n in HOUSE_NUMBERS}
            digits = "".join(ch for ch in (number or "") if ch.isdigit())
            if digits:
                numbers.add(digits)
            for house in sorted(numbers, key=int):
                writer.writerow([f"eval{index}_{house}", house, "", street, postcode, insee, commune, "", ""])
    return len(added)
