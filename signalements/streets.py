"""Import of the Base Adresse Nationale's addresses CSV into the `streets` table.

The BAN publishes one file per department (adresses-13.csv.gz, about 500,000 addresses): one row per address,
`;`-separated, UTF-8. Rows are grouped into streets by (code_insee, nom_voie); the streets of every commune found in
the file replace that commune's streets, so importing a file twice leaves the same table.

The file lists its addresses commune by commune: only one commune's streets are held in memory, and each commune
is written in its own short transaction (the callbot keeps writing calls meanwhile). A bad row is counted and
reported with its line number; a file that is not a BAN addresses CSV is refused before anything is written.
"""

from __future__ import annotations

import csv
import gzip
import math
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.engine import Connection

from dialogue.knowledge import default_gazetteer, fold
from dialogue.streets import fold_street_name, phonetic_key
from signalements.database import SQLITE_IMMEDIATE, build_engine, describe, normalise_url, translated_errors
from signalements.models import Street
from signalements.store import Store

BAN_COLUMNS = (
    "id",
    "id_fantoir",
    "numero",
    "rep",
    "nom_voie",
    "code_postal",
    "code_insee",
    "nom_commune",
    "code_insee_ancienne_commune",
    "nom_ancienne_commune",
    "x",
    "y",
    "lon",
    "lat",
    "type_position",
    "alias",
    "nom_ld",
    "libelle_acheminement",
    "nom_afnor",
    "source_position",
    "source_nom_voie",
    "certification_commune",
    "cad_parcelles",
)
# The columns read; the others may change without breaking the import.
REQUIRED_COLUMNS = ("numero", "rep", "nom_voie", "code_postal", "code_insee", "nom_commune", "lon", "lat")
# Marseille's arrondissements have their own INSEE codes, 13201 to 13216.
MARSEILLE_ARRONDISSEMENT_CODES = {f"132{n:02d}": n for n in range(1, 17)}
NO_HOUSE_NUMBER = 99999  # the BAN's number for a named place without house numbers
MAX_REPORTED_PROBLEMS = 50
DEFAULT_BATCH_SIZE = 1000

_INSEE = re.compile(r"\d[\dAB]\d{3}")  # 2A/2B: Corsica
_POSTCODE = re.compile(r"\d{5}")
_NUMBER = re.compile(r"\d{1,5}")
_REP = re.compile(r"[a-z]{0,12}")


class BanFormatError(ValueError):
    """The file is not a BAN addresses CSV (wrong header, separator or encoding): nothing was imported."""


@dataclass(frozen=True)
class RowProblem:
    line: int  # in the file, the header being line 1
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportSummary:
    streets: int = 0  # streets now in the table for the communes imported
    addresses: int = 0  # rows accepted
    communes: int = 0  # communes whose streets were replaced
    refused: int = 0  # rows refused
    problems: list[RowProblem] = field(default_factory=list)  # the first MAX_REPORTED_PROBLEMS refused rows

    def __str__(self) -> str:
        return (
            f"{self.streets} streets, {self.addresses} addresses, {self.communes} communes imported; "
            f"{self.refused} rows refused"
        )


class _BadRow(ValueError):
    pass


@dataclass(frozen=True)
class _Address:
    insee_code: str
    commune: str
    street: str
    postcode: str
    house_number: str | None  # "12", "12bis"
    lat: float | None
    lon: float | None


@dataclass
class _StreetTotals:
    numbers: set[str] = field(default_factory=set)
    postcodes: Counter[str] = field(default_factory=Counter)
    lat_sum: float = 0.0
    lon_sum: float = 0.0
    positioned: int = 0  # addresses with a position

    def add(self, address: _Address) -> None:
        if address.house_number is not None:
            self.numbers.add(address.house_number)
        self.postcodes[address.postcode] += 1
        if address.lat is not None and address.lon is not None:
            self.lat_sum += address.lat
            self.lon_sum += address.lon
            self.positioned += 1


@dataclass
class _CommuneStreets:
    insee_code: str
    commune: str
    streets: dict[str, _StreetTotals] = field(default_factory=dict)


def commune_name(insee_code: str, ban_name: str, official_names: dict[str, str]) -> str:
    """The commune as the dialogue names it: "Marseille 1er" for 13201, else the gazetteer's spelling."""
    arrondissement = MARSEILLE_ARRONDISSEMENT_CODES.get(insee_code)
    if arrondissement is not None:
        return f"Marseille {arrondissement}{'er' if arrondissement == 1 else 'e'}"
    return official_names.get(fold(ban_name), ban_name.strip())


def _house_number_sort_key(number: str) -> tuple[int, str]:
    digits = re.match(r"\d+", number)
    return (int(digits.group()) if digits else 0, number)


def _coordinate(text: str, name: str, limit: float) -> float | None:
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise _BadRow(f"{name} is not a number: {text!r}") from None
    if not math.isfinite(value) or abs(value) > limit:
        raise _BadRow(f"{name} out of range: {text!r}")
    return value


def _parse(row: list[str], columns: dict[str, int], width: int, official_names: dict[str, str]) -> _Address:
    if len(row) != width:
        raise _BadRow(f"{len(row)} fields where the header has {width}")
    if any("\ufffd" in value for value in row):
        raise _BadRow("not valid UTF-8")
    value = {name: row[index].strip() for name, index in columns.items()}
    insee_code = value["code_insee"].upper()
    if not _INSEE.fullmatch(insee_code):
        raise _BadRow(f"bad code_insee {value['code_insee']!r}")
    street = " ".join(value["nom_voie"].split())
    if not street:
        raise _BadRow("empty nom_voie")
    if len(street) > 255:
        raise _BadRow("nom_voie longer than 255 characters")
    if not _POSTCODE.fullmatch(value["code_postal"]):
        raise _BadRow(f"bad code_postal {value['code_postal']!r}")
    if not value["nom_commune"] and insee_code not in MARSEILLE_ARRONDISSEMENT_CODES:
        raise _BadRow("empty nom_commune")
    if not _NUMBER.fullmatch(value["numero"]):
        raise _BadRow(f"bad numero {value['numero']!r}")
    rep = fold(value["rep"]).replace(" ", "")
    if not _REP.fullmatch(rep):
        raise _BadRow(f"bad rep {value['rep']!r}")
    number = int(value["numero"])
    house_number = None if number == NO_HOUSE_NUMBER else f"{number}{rep}"
    lat = _coordinate(value["lat"], "lat", 90.0)
    lon = _coordinate(value["lon"], "lon", 180.0)
    if (lat is None) != (lon is None):
        raise _BadRow("lat and lon must be given together")
    commune = commune_name(insee_code, value["nom_commune"], official_names)
    return _Address(insee_code, commune, street, value["code_postal"], house_number, lat, lon)


@contextmanager
def _open_text(path: Path) -> Iterator[TextIO]:
    # Bytes that are not UTF-8 become U+FFFD and their row is refused, rather than stopping the import midway.
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as compressed:
            yield compressed
    else:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as plain:
            yield plain


def _columns(header: list[str] | None, path: Path) -> dict[str, int]:
    if not header:
        raise BanFormatError(f"{path}: empty file, not a BAN addresses CSV")
    names = [name.strip() for name in header]
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        separator = " (it is not ';'-separated)" if len(names) == 1 and "," in names[0] else ""
        raise BanFormatError(
            f"{path}: not a BAN addresses CSV{separator}: no column {', '.join(missing)} "
            f"(expected the header {';'.join(BAN_COLUMNS[:8])};...)"
        )
    return {name: names.index(name) for name in REQUIRED_COLUMNS}


def _engine(database: Store | Engine | str) -> tuple[Engine, bool]:
    """The engine to write with, and whether it is ours to dispose of."""
    if isinstance(database, Engine):
        return database, False
    url = database.url if isinstance(database, Store) else normalise_url(database)
    # Our own engine, even for a Store: the import's long run of transactions must not hold the Store's pool.
    engine = build_engine(url, busy_timeout_s=30.0, connect_timeout_s=10.0)
    return engine.execution_options(**{SQLITE_IMMEDIATE: True}), True


def _previously_written(connection: Connection, insee_code: str, commune: str) -> _CommuneStreets:
    """A commune met again further down the file: its streets written earlier in this import, to add to."""
    written = _CommuneStreets(insee_code, commune)
    rows = connection.execute(
        select(Street.name, Street.postcode, Street.numbers, Street.lat, Street.lon).where(
            Street.insee_code == insee_code
        )
    )
    for name, postcode, numbers, lat, lon in rows:
        totals = _StreetTotals(numbers=set(numbers.split()))
        weight = max(1, len(totals.numbers))
        totals.postcodes[postcode] = weight
        if lat is not None and lon is not None:
            totals.lat_sum, totals.lon_sum, totals.positioned = lat * weight, lon * weight, weight
        written.streets[name] = totals
    return written


def _write(connection: Connection, commune: _CommuneStreets, batch_size: int) -> int:
    connection.execute(delete(Street).where(Street.insee_code == commune.insee_code))
    batch: list[dict[str, object]] = []
    for name, totals in commune.streets.items():
        positioned = totals.positioned
        batch.append(
            {
                "commune": commune.commune,
                "postcode": totals.postcodes.most_common(1)[0][0],
                "insee_code": commune.insee_code,
                "name": name,
                "folded_name": fold_street_name(name)[:255],
                "phonetic_key": phonetic_key(name)[:255],
                "numbers": " ".join(sorted(totals.numbers, key=_house_number_sort_key)),
                "lat": round(totals.lat_sum / positioned, 6) if positioned else None,
                "lon": round(totals.lon_sum / positioned, 6) if positioned else None,
            }
        )
        if len(batch) >= batch_size:
            connection.execute(insert(Street), batch)
            batch = []
    if batch:
        connection.execute(insert(Street), batch)
    return len(commune.streets)


class _Importer:
    """One import: the commune being read, the communes written, the counts."""

    def __init__(self, engine: Engine, batch_size: int) -> None:
        self.engine = engine
        self.where = describe(engine.url)
        self.batch_size = batch_size
        self.summary = ImportSummary()
        self.current: _CommuneStreets | None = None
        self.written: dict[str, int] = {}  # streets written, by INSEE code

    def refuse(self, line: int, reason: str) -> None:
        self.summary.refused += 1
        if len(self.summary.problems) < MAX_REPORTED_PROBLEMS:
            self.summary.problems.append(RowProblem(line, reason))

    def add(self, address: _Address) -> None:
        current = self.current
        if current is None or address.insee_code != current.insee_code:
            self.flush()
            current = self._start(address)
            self.current = current
        current.streets.setdefault(address.street, _StreetTotals()).add(address)
        self.summary.addresses += 1

    def _start(self, address: _Address) -> _CommuneStreets:
        if address.insee_code not in self.written:
            return _CommuneStreets(address.insee_code, address.commune)
        with translated_errors(self.where), self.engine.connect() as connection:
            return _previously_written(connection, address.insee_code, address.commune)

    def flush(self) -> None:
        if self.current is None:
            return
        with translated_errors(self.where), self.engine.begin() as connection:
            self.written[self.current.insee_code] = _write(connection, self.current, self.batch_size)
        self.summary.streets = sum(self.written.values())
        self.summary.communes = len(self.written)
        self.current = None


def check_ban_csv(path: Path) -> None:
    """Raise BanFormatError when the file is not a BAN addresses CSV, OSError when it cannot be read."""
    with _reading(path) as text:
        _columns(_header(csv.reader(text, delimiter=";"), path), path)


@contextmanager
def _reading(path: Path) -> Iterator[TextIO]:
    """The file as text; a damaged compressed file is a format error, wherever the damage is found."""
    try:
        with _open_text(path) as text:
            yield text
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise BanFormatError(f"{path}: damaged compressed file ({error})") from None


def _header(reader: Iterator[list[str]], path: Path) -> list[str] | None:
    try:
        return next(reader, None)
    except csv.Error as error:
        raise BanFormatError(f"{path}: not a BAN addresses CSV: {error}") from None


def import_ban_csv(
    path: Path, database: Store | Engine | str, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> ImportSummary:
    """Import a BAN addresses CSV (or .csv.gz) into the migrated `streets` table of a Store, engine or URL.

    Raises BanFormatError when the file is not a BAN CSV, OSError when it cannot be read, StoreError when the
    database fails (the communes written before stay replaced, the others untouched).
    """
    official_names = {fold(name): name for name, _ in default_gazetteer().communes}
    with _reading(path) as text:
        reader = csv.reader(text, delimiter=";")
        header = _header(reader, path)
        columns = _columns(header, path)
        width = len(header or ())
        engine, own_engine = _engine(database)
        importer = _Importer(engine, batch_size)
        try:
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as error:  # e.g. a NUL byte: that row only
                    importer.refuse(reader.line_num, str(error))
                    continue
                if not any(value.strip() for value in row):
                    continue  # blank line
                try:
                    address = _parse(row, columns, width, official_names)
                except _BadRow as problem:
                    importer.refuse(reader.line_num, str(problem))
                    continue
                importer.add(address)
            importer.flush()
        finally:
            if own_engine:
                engine.dispose()
    return importer.summary
