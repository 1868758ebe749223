"""Opening hours: weekdays, the edges of a range, public holidays, clock changes, a centre with no hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from callbot.config import ConfigError, load_settings
from callbot.hours import OpeningHours, parse_range, spoken_next_opening

PARIS = ZoneInfo("Europe/Paris")
WEEKDAYS = {day: ["08:30-12:00", "13:30-17:30"] for day in ("mon", "tue", "wed", "thu", "fri")}


def paris(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=PARIS)  # type: ignore[arg-type,misc]


@pytest.fixture(scope="module")
def hours() -> OpeningHours:
    return OpeningHours(WEEKDAYS, "Europe/Paris", "FR")


def test_weekdays_open_weekends_closed(hours: OpeningHours) -> None:
    assert hours.is_open(paris(2027, 1, 5, 10, 0))  # a Tuesday
    assert hours.is_open(paris(2027, 1, 8, 16, 0))  # a Friday afternoon
    assert not hours.is_open(paris(2027, 1, 5, 12, 30))  # lunch
    assert not hours.is_open(paris(2027, 1, 5, 20, 0))
    assert not hours.is_open(paris(2027, 1, 9, 10, 0))  # Saturday
    assert not hours.is_open(paris(2027, 1, 10, 10, 0))  # Sunday


def test_the_opening_minute_is_open_the_closing_minute_closed(hours: OpeningHours) -> None:
    assert not hours.is_open(paris(2027, 1, 5, 8, 29, 59))
    assert hours.is_open(paris(2027, 1, 5, 8, 30))
    assert hours.is_open(paris(2027, 1, 5, 17, 29, 59))
    assert not hours.is_open(paris(2027, 1, 5, 17, 30))
    assert not hours.is_open(paris(2027, 1, 5, 12, 0))
    assert hours.is_open(paris(2027, 1, 5, 13, 30))


def test_any_zone_is_read_as_paris_time(hours: OpeningHours) -> None:
    # 07:45 UTC is 08:45 in Paris in winter (open), 09:45 in summer; 16:45 UTC is 17:45 in Paris in winter (closed).
    assert hours.is_open(datetime(2027, 1, 5, 7, 45, tzinfo=UTC))
    assert not hours.is_open(datetime(2027, 1, 5, 16, 45, tzinfo=UTC))
    assert hours.is_open(datetime(2027, 7, 6, 15, 15, tzinfo=UTC))  # 17:15 summer time
    assert not hours.is_open(datetime(2027, 7, 6, 15, 45, tzinfo=UTC))  # 17:45 summer time
    with pytest.raises(ValueError, match="aware"):
        hours.is_open(datetime(2027, 1, 5, 10, 0))


def test_public_holidays_close_the_centre(hours: OpeningHours) -> None:
    assert not hours.is_open(paris(2027, 7, 14, 10, 0))  # a Wednesday, national day
    assert not hours.is_open(paris(2027, 3, 29, 10, 0))  # Easter Monday 2027 (Easter is 28 March)
    assert not hours.is_open(paris(2027, 5, 6, 10, 0))  # Ascension Thursday
    assert hours.is_open(paris(2027, 3, 30, 10, 0))  # the Tuesday after
    # The next opening skips the holiday: Tuesday 30 March, 08:30.
    assert hours.next_opening(paris(2027, 3, 26, 18, 0)) == paris(2027, 3, 30, 8, 30)
    without = OpeningHours(WEEKDAYS, "Europe/Paris", None)
    assert without.is_open(paris(2027, 7, 14, 10, 0))


def test_a_subdivision_adds_its_own_days() -> None:
    moselle = OpeningHours(WEEKDAYS, "Europe/Paris", "FR-57")
    assert not moselle.is_open(paris(2027, 3, 26, 10, 0))  # Good Friday is a holiday in Moselle only
    assert OpeningHours(WEEKDAYS, "Europe/Paris", "FR").is_open(paris(2027, 3, 26, 10, 0))


def test_next_opening(hours: OpeningHours) -> None:
    tuesday_morning = paris(2027, 1, 5, 10, 0)
    assert hours.next_opening(tuesday_morning) == tuesday_morning  # open: now
    assert hours.next_opening(paris(2027, 1, 5, 7, 0)) == paris(2027, 1, 5, 8, 30)
    assert hours.next_opening(paris(2027, 1, 5, 12, 0)) == paris(2027, 1, 5, 13, 30)
    assert hours.next_opening(paris(2027, 1, 5, 17, 30)) == paris(2027, 1, 6, 8, 30)
    friday_evening = paris(2027, 1, 8, 18, 0)
    monday = hours.next_opening(friday_evening)
    assert monday == paris(2027, 1, 11, 8, 30)
    assert monday is not None and monday.utcoffset() == timedelta(hours=1)


def test_clock_changes(hours: OpeningHours) -> None:
    # Spring forward (Sunday 28 March 2027, 02:00 -> 03:00): the next opening is 08:30 summer time, 06:30 UTC, on
    # Tuesday (29 March 2027 is Easter Monday).
    opening = hours.next_opening(paris(2027, 3, 27, 12, 0))
    assert opening is not None and opening.astimezone(UTC) == datetime(2027, 3, 30, 6, 30, tzinfo=UTC)
    # Fall back (Sunday 31 October 2027, 03:00 -> 02:00): 08:30 winter time is 07:30 UTC, on Tuesday 2 November
    opening = hours.next_opening(paris(2027, 10, 30, 12, 0))
    assert opening is not None and opening.astimezone(UTC) == datetime(2027, 11, 2, 7, 30, tzinfo=UTC)
    # (1 November is All Saints' Day). On a day of a clock change itself, wall-clock hours are kept.
    always = OpeningHours({"sun": ["01:00-04:00", "08:30-17:30"]}, "Europe/Paris")
    assert always.is_open(datetime(2027, 3, 28, 1, 30, tzinfo=UTC))  # 03:30 summer time
    assert not always.is_open(datetime(2027, 3, 28, 2, 30, tzinfo=UTC))  # 04:30 summer time
    assert always.is_open(datetime(2027, 10, 31, 0, 30, tzinfo=UTC))  # 02:30, first time round
    assert always.is_open(datetime(2027, 10, 31, 1, 30, tzinfo=UTC))  # 02:30, second time round
    assert always.is_open(datetime(2027, 3, 28, 6, 30, tzinfo=UTC))  # 08:30 summer time
    assert not always.is_open(datetime(2027, 3, 28, 6, 29, tzinfo=UTC))
    # A range starting in the skipped hour opens when the clock jumps past its start (03:00 summer time), as
    # is_open says.
    gap = OpeningHours({"sun": ["02:30-05:00"]}, "Europe/Paris")
    assert gap.next_opening(paris(2027, 3, 27, 23, 0)) == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)
    assert not gap.is_open(datetime(2027, 3, 28, 0, 59, tzinfo=UTC)) and gap.is_open(
        datetime(2027, 3, 28, 1, tzinfo=UTC)
    )


def test_no_hours_at_all_is_always_closed() -> None:
    closed = OpeningHours({}, "Europe/Paris", "FR")
    now = paris(2027, 1, 5, 10, 0)
    assert not closed.is_open(now)
    assert closed.next_opening(now) is None
    assert spoken_next_opening(closed, now) == "dès que possible"


def test_a_whole_day(hours: OpeningHours) -> None:
    always = OpeningHours({day: ["00:00-24:00"] for day in ("mon", "sat", "sun")}, "Europe/Paris")
    assert always.is_open(paris(2027, 1, 9, 0, 0)) and always.is_open(paris(2027, 1, 9, 23, 59, 59))
    assert not always.is_open(paris(2027, 1, 8, 23, 59))  # Friday


def test_what_the_caller_is_told(hours: OpeningHours) -> None:
    assert spoken_next_opening(hours, paris(2027, 1, 5, 10, 0)) == "dès que possible"
    assert spoken_next_opening(hours, paris(2027, 1, 5, 12, 15)) == "à partir de 13 heures 30"
    assert spoken_next_opening(hours, paris(2027, 1, 5, 19, 0)) == "à partir de demain 8 heures 30"
    assert spoken_next_opening(hours, paris(2027, 1, 8, 19, 0)) == "à partir de lundi 8 heures 30"
    # Christmas Eve evening 2027 (a Friday), Christmas on Saturday: Monday 27.
    assert spoken_next_opening(hours, paris(2027, 12, 24, 19, 0)) == "à partir de lundi 8 heures 30"
    noon = OpeningHours({"wed": ["12:00-14:00"]}, "Europe/Paris", "FR")
    assert spoken_next_opening(noon, paris(2027, 1, 5, 19, 0)) == "à partir de demain midi"
    # More than a week away (Wednesday 14 July is a holiday): the date is said.
    assert spoken_next_opening(noon, paris(2027, 7, 13, 19, 0)) == "à partir du mercredi 21 juillet midi"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("8h30-17h30", "not a range"),
        ("08:30", "not a range"),
        ("17:30-08:30", "ends before it starts"),
        ("08:30-08:30", "ends before it starts"),
        ("08:60-09:00", "not a time of day"),
        ("25:00-26:00", "not a time of day"),
        ("22:00-24:30", "not a time of day"),
    ],
)
def test_bad_ranges(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_range(text)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("hours", {"lun": ["08:30-17:30"]}, "transfer.hours.*'lun' is not a day"),
        ("hours", {"mon": ["17:30-08:30"]}, "transfer.hours.*mon: '17:30-08:30': ends before it starts"),
        ("hours", {"mon": ["8h-12h"]}, "transfer.hours.*not a range"),
        ("hours", {"mon": "08:30-17:30"}, "transfer.hours"),
        ("timezone", "Europe/Marseille", "transfer.timezone.*not a known time zone"),
        ("holidays", "XX", "transfer.holidays.*no public holidays known"),
        ("holidays", "FR-99", "transfer.holidays.*no public holidays known"),
    ],
)
def test_a_bad_configuration_names_the_key(tmp_path: Path, key: str, value: object, message: str) -> None:
    overlay = tmp_path / "bad.yaml"
    overlay.write_text(yaml.safe_dump({"transfer": {key: value}}), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_settings(overlay, environ={})


def test_the_default_configuration_is_valid() -> None:
    transfer = load_settings(environ={}).transfer
    hours = OpeningHours.from_settings(transfer)
    assert hours.is_open(paris(2027, 1, 5, 10, 0)) and not hours.is_open(paris(2027, 7, 14, 10, 0))


def test_a_configuration_file_replaces_the_whole_week(tmp_path: Path) -> None:
    overlay = tmp_path / "saturdays.yaml"
    overlay.write_text("transfer:\n  hours:\n    sat: ['09:00-12:00']\n  holidays: null\n", encoding="utf-8")
    hours = OpeningHours.from_settings(load_settings(overlay, environ={}).transfer)
    assert hours.is_open(paris(2027, 1, 9, 10, 0)) and not hours.is_open(paris(2027, 1, 5, 10, 0))
    overlay.write_text("transfer:\n  hours: null\n", encoding="utf-8")
    assert load_settings(overlay, environ={}).transfer.hours == {}
