"""Import of Base Adresse Nationale CSV files into the streets table, on SQLite and on a real PostgreSQL, and the
`callbot places import` command as an operator runs it."""

from __future__ import annotations

import gzip
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select

from dialogue.knowledge import default_gazetteer
from dialogue.streets import phonetic_key
from signalements import Store
from signalements.models import Street
from signalements.streets import BanFormatError, check_ban_csv, commune_name, import_ban_csv

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "ban"
SAMPLE = FIXTURES / "adresses-13-sample.csv"
BAD_ROWS = FIXTURES / "adresses-bad-rows.csv"
NOT_BAN = FIXTURES / "not-ban.csv"
SAMPLE_SUMMARY = "417 streets, 1675 addresses, 46 communes imported; 0 rows refused"
HEADER = SAMPLE.read_text(encoding="utf-8").splitlines()[0]

Row = tuple[str, str, str, str, str, str, str, float | None, float | None]


@pytest.fixture
def engine(store: Store) -> Iterator[Engine]:
    """A second look at the Store's database, to read the table as it is."""
    engine = create_engine(store.url)
    yield engine
    engine.dispose()


def streets(engine: Engine) -> list[Row]:
    query = select(
        Street.commune,
        Street.postcode,
        Street.insee_code,
        Street.name,
        Street.folded_name,
        Street.phonetic_key,
        Street.numbers,
        Street.lat,
        Street.lon,
    ).order_by(Street.insee_code, Street.name)
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]  # type: ignore[misc]


def street(engine: Engine, commune: str, name: str) -> Row:
    [row] = [row for row in streets(engine) if row[0] == commune and row[3] == name]
    return row


def ban_line(numero: str, rep: str, street: str, insee: str, commune: str, postcode: str = "13260") -> str:
    fields = [f"{insee}_0001_{numero:0>5}", f"{insee}_0001", numero, rep, street, postcode, insee, commune]
    fields += ["", "", "903931.45", "6237322.10", "5.536210", "43.214305", "entrée", "", "", commune.upper()]
    fields += [street.upper(), "commune", "commune", "1", ""]
    return ";".join(fields)


def test_the_sample_becomes_one_row_per_street_and_commune(store: Store, engine: Engine) -> None:
    summary = import_ban_csv(SAMPLE, store)

    assert str(summary) == SAMPLE_SUMMARY and summary.problems == []
    _, postcode, insee, _, folded, key, numbers, lat, lon = street(engine, "Marseille 1er", "Cours Belsunce")
    assert (postcode, insee, folded, numbers) == ("13001", "13201", "cours belsunce", "1 3 12 12bis 54")
    assert key == phonetic_key("Cours Belsunce") == phonetic_key("cours bel sunce")
    assert lat == pytest.approx(43.2937, abs=1e-3) and lon == pytest.approx(5.3767, abs=1e-3)
    # A street in three arrondissements is three rows, each with its own numbers.
    paradis = [(row[0], row[6]) for row in streets(engine) if row[3] == "Rue Paradis"]
    assert paradis == [
        ("Marseille 1er", "2 10 24 41"),
        ("Marseille 6e", "105 127 150 182bis"),
        ("Marseille 8e", "225 280 322 391"),
    ]


def test_communes_are_named_as_the_dialogue_names_them(store: Store, engine: Engine) -> None:
    import_ban_csv(SAMPLE, store)

    communes = {(row[2], row[0]) for row in streets(engine)}
    marseille = {name for insee, name in communes if insee.startswith("132")}
    assert marseille == {"Marseille 1er"} | {f"Marseille {n}e" for n in range(2, 17)}
    official = {name for name, _ in default_gazetteer().communes}
    others = {name for insee, name in communes if not insee.startswith("132")}
    assert len(others) == 30 and others <= official


def test_commune_names_follow_the_gazetteer_spelling() -> None:
    official = {"sausset les pins": "Sausset-les-Pins", "berre l etang": "Berre-l'Étang"}
    assert commune_name("13216", "Marseille 16e Arrondissement", official) == "Marseille 16e"
    assert commune_name("13201", "", official) == "Marseille 1er"
    assert commune_name("13104", "SAUSSET LES PINS", official) == "Sausset-les-Pins"
    assert commune_name("13014", "Berre-l'Étang", official) == "Berre-l'Étang"
    assert commune_name("13004", "Arles", official) == "Arles"  # outside the Métropole: the BAN's name


def test_importing_twice_gives_the_same_table(store: Store, engine: Engine) -> None:
    import_ban_csv(SAMPLE, store)
    first = streets(engine)
    assert str(import_ban_csv(SAMPLE, store, batch_size=7)) == SAMPLE_SUMMARY
    assert streets(engine) == first


def test_only_the_communes_in_the_file_are_replaced(store: Store, engine: Engine) -> None:
    import_ban_csv(SAMPLE, store)
    before = streets(engine)

    import_ban_csv(BAD_ROWS, store)  # Cassis only

    after = streets(engine)
    assert sorted(row[3] for row in after if row[0] == "Cassis") == ["Avenue Victor Hugo", "Rue Michel Arnaud"]
    assert [row for row in after if row[0] != "Cassis"] == [row for row in before if row[0] != "Cassis"]


def test_bad_rows_are_counted_with_their_line_and_the_good_ones_kept(store: Store, engine: Engine) -> None:
    summary = import_ban_csv(BAD_ROWS, store)

    assert (summary.streets, summary.addresses, summary.communes, summary.refused) == (2, 3, 1, 6)
    assert [str(problem) for problem in summary.problems] == [
        "line 4: empty nom_voie",
        "line 5: bad code_postal '1326'",
        "line 6: lat is not a number: 'quarante-trois'",
        "line 7: 8 fields where the header has 23",
        "line 8: bad numero 'douze'",
        "line 9: lon out of range: '500.0'",
    ]
    assert street(engine, "Cassis", "Avenue Victor Hugo")[6] == "3 7bis"
    assert street(engine, "Cassis", "Rue Michel Arnaud")[6] == "16"


def test_a_row_that_is_not_utf8_is_refused_alone(store: Store, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    good = ban_line("3", "", "Avenue Victor Hugo", "13022", "Cassis")
    latin1 = ban_line("5", "", "Rue Michel Arnaud", "13022", "Cassis").replace("Michel", "Mich\xe8l")
    path.write_bytes(f"{HEADER}\n{good}\n".encode() + f"{latin1}\n".encode("latin-1"))

    summary = import_ban_csv(path, store)

    assert (summary.addresses, summary.refused) == (1, 1)
    assert [str(p) for p in summary.problems] == ["line 3: not valid UTF-8"]


def test_a_commune_met_again_further_down_is_added_to_not_replaced(
    store: Store, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "unsorted.csv"
    lines = [
        ban_line("3", "", "Avenue Victor Hugo", "13022", "Cassis"),
        ban_line("2", "", "Cours Foch", "13005", "Aubagne", "13400"),
        ban_line("9", "ter", "Avenue Victor Hugo", "13022", "Cassis"),
        ban_line("4", "", "Rue Michel Arnaud", "13022", "Cassis"),
    ]
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")

    summary = import_ban_csv(path, store)

    assert (summary.streets, summary.addresses, summary.communes) == (3, 4, 2)
    assert street(engine, "Cassis", "Avenue Victor Hugo")[6] == "3 9ter"
    assert len(streets(engine)) == 3


def test_a_compressed_file_imports_like_the_plain_one(store: Store, engine: Engine, tmp_path: Path) -> None:
    compressed = tmp_path / "adresses-13.csv.gz"
    compressed.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    assert str(import_ban_csv(compressed, store)) == SAMPLE_SUMMARY
    assert len(streets(engine)) == 417


def test_a_file_that_is_not_a_ban_csv_is_refused_before_anything_is_written(store: Store, engine: Engine) -> None:
    import_ban_csv(SAMPLE, store)
    before = streets(engine)

    with pytest.raises(BanFormatError, match=r"not a BAN addresses CSV.*not ';'-separated.*no column numero"):
        import_ban_csv(NOT_BAN, store)
    with pytest.raises(BanFormatError, match="not a BAN addresses CSV"):
        check_ban_csv(NOT_BAN)

    assert streets(engine) == before


def test_an_empty_or_damaged_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(BanFormatError, match="empty file"):
        check_ban_csv(empty)
    damaged = tmp_path / "adresses-13.csv.gz"
    damaged.write_bytes(gzip.compress(SAMPLE.read_bytes())[:5000])
    with pytest.raises(BanFormatError, match="damaged compressed file"):
        import_ban_csv(damaged, f"sqlite:///{tmp_path / 'never-used.db'}")


# -- the command ---------------------------------------------------------------------------------------------------


def places_import(path: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callbot", "places", "import", str(path)],
        cwd=REPO,
        env={
            "PATH": "/usr/bin:/bin",
            "CALLBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'callbot.db'}",
            "CALLBOT_DATABASE_PSEUDONYM_KEY_FILE": str(tmp_path / "key"),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_imports_and_prints_a_one_line_summary(tmp_path: Path) -> None:
    result = places_import(SAMPLE, tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout == SAMPLE_SUMMARY + "\n"
    engine = create_engine(f"sqlite:///{tmp_path / 'callbot.db'}")
    try:
        assert len(streets(engine)) == 417
    finally:
        engine.dispose()


def test_the_command_reports_refused_rows_with_their_line(tmp_path: Path) -> None:
    result = places_import(BAD_ROWS, tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "2 streets, 3 addresses, 1 communes imported; 6 rows refused\n"
    assert f"{BAD_ROWS}: line 5: bad code_postal '1326'" in result.stderr


@pytest.mark.parametrize(
    ("name", "message"),
    [("not-ban.csv", "not a BAN addresses CSV"), ("missing.csv", "no such file"), (".", "not a file")],
)
def test_the_command_refuses_a_wrong_file_in_one_line(name: str, message: str, tmp_path: Path) -> None:
    path = NOT_BAN if name == "not-ban.csv" else tmp_path / name

    result = places_import(path, tmp_path)

    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("callbot places: ") and message in line
    assert not (tmp_path / "callbot.db").exists(), "a wrong file must not even open the database"
