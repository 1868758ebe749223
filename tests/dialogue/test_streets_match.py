"""The street matcher: bent street names snap to the official ones of the street base, others stay unverified.

The base is tests/fixtures/ban/adresses-13-sample.csv, imported into SQLite as the callbot does.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine

from dialogue.streets import MIN_SCORE, StreetIndex, StreetRecord, phonetic_key
from signalements import Store
from signalements.streets import import_ban_csv

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "ban" / "adresses-13-sample.csv"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> StreetIndex:
    url = f"sqlite:///{tmp_path_factory.mktemp('streets') / 'callbot.db'}"
    store = Store(url, b"streets-test-key-0123456789abcdef")
    store.migrate()
    import_ban_csv(SAMPLE, store)
    store.close()
    return StreetIndex.from_store(url)


def where(index: StreetIndex, heard: str, commune: str | None, number: str | None = None) -> tuple[str, str] | None:
    found = index.match(heard, commune, number)
    return (found.name, found.commune) if found else None


@pytest.mark.parametrize(
    ("heard", "official"),
    [
        ("cours bel sunce", "Cours Belsunce"),
        ("la cane bière", "La Canebière"),
        ("rue de la republique", "Rue de la République"),
        ("rue république", "Rue de la République"),
        ("boulevard saka kini", "Boulevard Sakakini"),
        ("rue saint fereol", "Rue Saint-Ferréol"),
        ("avenue jean jores", "Avenue Jean Jaurès"),
        ("rue beauvaux", "Rue Beauvau"),
        ("cour julien", "Cours Julien"),
        ("bd notre dame", "Boulevard Notre-Dame"),
        ("allee de craponne", "Allées de Craponne"),
        ("avenue des cayol", "Avenue des Caillols"),
    ],
)
def test_split_and_bent_spellings_sound_alike(heard: str, official: str) -> None:
    assert phonetic_key(heard) == phonetic_key(official)


@pytest.mark.parametrize(
    ("one", "other"),
    [("rue de rome", "rue de lodi"), ("rue paradis", "rue sainte"), ("cours julien", "cours lieutaud")],
)
def test_different_streets_sound_different(one: str, other: str) -> None:
    assert phonetic_key(one) != phonetic_key(other)


def test_the_key_ignores_the_street_type_articles_and_spaces() -> None:
    assert phonetic_key("avenue du Prado") == phonetic_key("prado") == phonetic_key("Rond-Point du Prado")
    assert phonetic_key("Rue d'Aubagne") == phonetic_key("aubagne")
    assert phonetic_key("la siotat") == phonetic_key("La Ciotat")  # communes too (dialogue.places)


@pytest.mark.parametrize(
    ("heard", "commune", "official", "official_commune"),
    [
        ("cours bel sunce", "Marseille", "Cours Belsunce", "Marseille 1er"),
        ("boulevard de la liberation", "Marseille", "Boulevard de la Libération Général de Monsabert", None),
        ("avenue du prado", "Marseille 8e", "Avenue du Prado", "Marseille 8e"),
        ("rue de la republique", "Aubagne", "Rue de la République", "Aubagne"),
        ("rue de la canebière", "Marseille 1er", "La Canebière", "Marseille 1er"),
        ("rue tubano", "Marseille", "Rue Thubaneau", "Marseille 1er"),
        ("rue edouard de langlade", "Marseille", "Rue Édouard Delanglade", "Marseille 6e"),
        ("corniche kennedy", "Marseille", "Corniche Président John Fitzgerald Kennedy", "Marseille 7e"),
        ("boulevard schlosing", "Marseille", "Boulevard Schloesing", "Marseille 10e"),
        ("avenue camille peltan", "Marseille 3e", "Avenue Camille Pelletan", "Marseille 3e"),
        ("cours mirabeau", "Aix-en-Provence", "Cours Mirabeau", "Aix-en-Provence"),
        ("rue bedarride", "Aix-en-Provence", "Rue Bédarrides", "Aix-en-Provence"),
        ("avenue des soeurs gastine", "Aubagne", "Avenue des Sœurs Gastine", "Aubagne"),
        ("rue jean roc", "Martigues", "Rue Jean Roque", "Martigues"),
        ("avenue louis samut", "Martigues", "Avenue Louis Sammut", "Martigues"),
        ("quai jean jacques barthelemy", "Cassis", "Quai Jean-Jacques Barthélemy", "Cassis"),
        ("boulevard pecou", "Pertuis", "Boulevard Pécout", "Pertuis"),
        ("avenue augustin isnar", "Cassis", "Avenue Augustin Isnard", "Cassis"),
        ("avenue du 8 mai 1945", "Marignane", "Avenue du 8 Mai 1945", "Marignane"),
    ],
)
def test_bent_names_snap_to_the_official_street(
    index: StreetIndex, heard: str, commune: str, official: str, official_commune: str | None
) -> None:
    found = index.match(heard, commune)
    assert found is not None, heard
    assert found.name == official
    assert found.commune == official_commune or (official_commune is None and found.commune.startswith("Marseille "))
    assert MIN_SCORE <= found.score <= 100
    assert found.postcode.startswith(("13", "84")) and found.lat is not None and found.lon is not None


@pytest.mark.parametrize(
    ("heard", "commune"),
    [
        ("rue des lilas", "Marseille"),
        ("rue de la paix", "Marseille"),
        ("rue pasteur", "Marseille"),
        ("rue sainte barbe", "Marseille"),
        ("avenue du marechal juin", "Marseille"),
        ("rue des bergers", "Marseille"),
        ("avenue jean moulin", "Vitrolles"),
        ("avenue de la mer", "Cassis"),
        ("chemin des vignes", "Allauch"),
        ("rue de rome", "Aix-en-Provence"),  # a Marseille street, said in another commune
        ("cours belsunce", "Arles"),  # a commune the base does not have
    ],
)
def test_unrelated_streets_do_not_snap(index: StreetIndex, heard: str, commune: str) -> None:
    assert index.match(heard, commune) is None


def test_the_street_type_said_is_preferred(index: StreetIndex) -> None:
    assert where(index, "avenue du prado", "Marseille 8e") == ("Avenue du Prado", "Marseille 8e")
    assert where(index, "rond point du prado", "Marseille 8e") == ("Rond-Point du Prado", "Marseille 8e")
    assert where(index, "rue de la joliette", "Marseille") == ("Rue de la Joliette", "Marseille 2e")
    second = "Marseille 2e"
    assert where(index, "place de la joliette", commune=second) == ("Place de la Joliette", second)
    assert where(index, "rue nationale", "Marseille") == ("Rue Nationale", "Marseille 1er")
    assert where(index, "boulevard national", "Marseille") == ("Boulevard National", "Marseille 3e")


def test_another_type_snaps_only_when_no_street_has_the_type_said() -> None:
    index = StreetIndex(
        [
            StreetRecord("Rue Victor Hugo", "Aubagne", "13400"),
            StreetRecord("Avenue Victor Hugo", "Aubagne", "13400"),
            StreetRecord("Avenue Jean Jaurès", "Aubagne", "13400"),
            StreetRecord("Boulevard Jean Jaurès", "Aubagne", "13400"),
        ]
    )
    assert where(index, "rue victor hugo", "Aubagne") == ("Rue Victor Hugo", "Aubagne")
    assert where(index, "avenue victor hugo", "Aubagne") == ("Avenue Victor Hugo", "Aubagne")
    only_avenue = index.match("impasse victor hugo", "Aubagne")
    assert only_avenue is None  # a rue and an avenue fit as badly: which one is not ours to guess
    found = index.match("rue jean jaures", "Aubagne")
    assert found is None  # avenue or boulevard: no way to tell
    single = StreetIndex([StreetRecord("Avenue Victor Hugo", "Cassis", "13260")]).match("rue victor hugo", "Cassis")
    assert single is not None and single.name == "Avenue Victor Hugo" and single.score < 100


def test_the_house_number_is_checked_against_the_street(index: StreetIndex) -> None:
    def number_known(number: str | None) -> bool | None:
        found = index.match("cours bel sunce", "Marseille 1er", number)
        assert found is not None
        return found.number_known

    assert number_known("12 bis") is True
    assert number_known("12") is True
    assert number_known("13") is False
    assert number_known(None) is None
    said_with_street = index.match("12 bis cours bel sunce", "Marseille")
    assert said_with_street is not None and said_with_street.number_known is True
    unnumbered = StreetIndex([StreetRecord("Chemin de la Nerthe", "Marseille 16e", "13016")])
    found = unnumbered.match("chemin de la nerthe", "Marseille", "12")
    assert found is not None and found.number_known is None


def test_marseille_gives_the_arrondissement(index: StreetIndex) -> None:
    # Avenue du Prado runs through the 6e and the 8e: the number tells which.
    assert where(index, "avenue du prado", "Marseille", "145") == ("Avenue du Prado", "Marseille 8e")
    assert where(index, "avenue du prado", "Marseille", "14") == ("Avenue du Prado", "Marseille 6e")
    assert where(index, "rue paradis", "Marseille", "182 bis") == ("Rue Paradis", "Marseille 6e")
    assert where(index, "rue paradis", "Marseille 8e") == ("Rue Paradis", "Marseille 8e")
    # The arrondissement said is tried first, then the whole city.
    found = index.match("rue de rome", "Marseille 8e")
    assert found is not None and found.name == "Rue de Rome" and found.commune in {"Marseille 1er", "Marseille 6e"}
    assert where(index, "chemin de morgiou", "Marseille 9e") == ("Chemin de Morgiou", "Marseille 9e")


def test_without_a_commune_only_a_clear_winner_snaps(index: StreetIndex) -> None:
    assert where(index, "cours bel sunce", None) == ("Cours Belsunce", "Marseille 1er")
    assert where(index, "avenue des chartreux", None) == ("Avenue des Chartreux", "Marseille 4e")
    assert index.match("rue de la republique", None) is None  # Marseille and Aubagne
    assert index.match("cours mirabeau", None) is None  # Aix-en-Provence, Marignane and Berre-l'Étang


def test_the_index_reads_the_store_from_an_engine_too(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'callbot.db'}"
    store = Store(url, b"streets-test-key-0123456789abcdef")
    store.migrate()
    import_ban_csv(SAMPLE, store)
    store.close()
    engine = create_engine(url)
    try:
        index = StreetIndex.from_store(engine)
    finally:
        engine.dispose()
    assert len(index) == 417
    assert where(index, "quai de rive neuve", "Marseille 7e") == ("Quai de Rive Neuve", "Marseille 7e")


def test_empty_or_type_only_names_find_nothing(index: StreetIndex) -> None:
    assert index.match("", "Marseille") is None
    assert index.match("   ", None) is None
    assert index.match("rue", "Marseille") is None
    assert index.match("avenue", None) is None
    assert StreetIndex([]).match("cours belsunce", "Marseille") is None
