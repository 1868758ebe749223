"""When the human agents take calls: opening hours by weekday, in one time zone, closed on public holidays.

    hours = OpeningHours({"mon": ["08:30-12:00", "13:30-17:30"]}, "Europe/Paris", "FR")
    hours.is_open(datetime.now(UTC))        # False on a Saturday, on 14 July, at 12:00 sharp
    hours.next_opening(datetime.now(UTC))   # the next 08:30 or 13:30 that is not a holiday, as an aware datetime

Times are wall-clock times of the zone: "08:30" is 08:30 in Paris in winter and in summer. A range opens at its
first minute and closes at its last ("08:30-17:30": 08:30 is open, 17:30 is closed); "24:00" ends a range at
midnight. Public holidays come from the `holidays` package (maintained, with the movable feasts: Easter Monday,
Ascension, Whit Monday), by country code and optional subdivision ("FR", "FR-57" for Moselle's extra days).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MONTH_NAMES = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
SEARCH_DAYS = 400  # a centre closed longer than a year (and a month of holidays) has no next opening
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")

Span = tuple[int, int]  # minutes since local midnight: [start, end)


def parse_range(text: str) -> Span:
    """ "08:30-17:30" -> (510, 1050); ValueError with what is wrong."""
    match = _RANGE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a range like 08:30-17:30")
    start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
    for hour, minute in ((start_h, start_m), (end_h, end_m)):
        if minute > 59 or hour > 24 or (hour == 24 and minute != 0):
            raise ValueError(f"{text!r}: {hour:02d}:{minute:02d} is not a time of day (00:00 to 24:00)")
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    if end <= start:
        raise ValueError(f"{text!r}: ends before it starts (a range cannot cross midnight: split it)")
    return start, end


def parse_hours(hours: Mapping[str, Sequence[str]]) -> dict[int, list[Span]]:
    """{"mon": ["08:30-17:30"]} -> {0: [(510, 1050)]} (weekday numbers as datetime.weekday()); ValueError naming
    the day."""
    parsed: dict[int, list[Span]] = {}
    for day, ranges in hours.items():
        if day not in DAYS:
            raise ValueError(f"{day!r} is not a day: use {', '.join(DAYS)}")
        if isinstance(ranges, str) or not isinstance(ranges, Sequence):
            raise ValueError(f"{day}: must be a list of ranges like [08:30-12:00, 13:30-17:30]")
        spans = []
        for text in ranges:
            try:
                spans.append(parse_range(text))
            except ValueError as error:
                raise ValueError(f"{day}: {error}") from None
        parsed[DAYS.index(day)] = sorted(spans)
    return parsed


def time_zone(name: str) -> ZoneInfo:
    """The zone named (IANA, "Europe/Paris"); ValueError if there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as error:
        raise ValueError(f"{name!r} is not a known time zone (IANA name, e.g. Europe/Paris)") from error


def holiday_calendar(spec: str | None) -> Any:
    """The public holidays of "CC" or "CC-SUBDIV" (holidays.HolidayBase, `date in calendar`), None for None;
    ValueError if the package does not know the country or the subdivision."""
    if spec is None:
        return None
    import holidays  # a second to import its calendars: only where hours are used

    country, _, subdivision = spec.strip().partition("-")
    try:
        return holidays.country_holidays(country.upper(), subdiv=subdivision or None)
    except (NotImplementedError, KeyError) as error:
        raise ValueError(f"{spec!r}: no public holidays known for it ({error})") from None


class OpeningHours:
    def __init__(self, hours: Mapping[str, Sequence[str]], timezone: str = "Europe/Paris", holidays: str | None = None):
        self.spans = parse_hours(hours)
        self.zone = time_zone(timezone)
        self.holidays = holiday_calendar(holidays)

    @classmethod
    def from_settings(cls, transfer: Any) -> OpeningHours:
        """From callbot.config's TransferSettings (hours, timezone, holidays)."""
        return cls(transfer.hours, transfer.timezone, transfer.holidays)

    def is_holiday(self, day: date) -> bool:
        return self.holidays is not None and day in self.holidays

    def _spans_on(self, day: date) -> list[Span]:
        return [] if self.is_holiday(day) else self.spans.get(day.weekday(), [])

    def is_open(self, at: datetime) -> bool:
        """Whether agents take calls at `at` (an aware datetime, any zone)."""
        local = self._local(at)
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self._spans_on(local.date()))

    def next_opening(self, at: datetime) -> datetime | None:
        """When agents can next be reached: `at` itself when open, else the start of the next open range, in the
        configured zone; None when no range opens within a year (no hours configured at all)."""
        if self.is_open(at):
            return at
        local = self._local(at)
        for offset in range(SEARCH_DAYS):
            day = local.date() + timedelta(days=offset)
            for start, _end in self._spans_on(day):
                opening = self._at(day, start)
                if opening > local:
                    return opening
        return None

    def _local(self, at: datetime) -> datetime:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("an aware datetime is needed (with its time zone)")
        return at.astimezone(self.zone)

    def _at(self, day: date, minute: int) -> datetime:
        """The instant the wall clock of the zone reaches `minute` on `day` (a range starts before 24:00); in the
        hour a clock change skips, the instant the clock jumps past it."""
        wall = datetime.combine(day, time(minute // 60, minute % 60))
        instant = wall.replace(tzinfo=self.zone).astimezone(UTC)  # a skipped minute is read in the old offset
        if instant.astimezone(self.zone).replace(tzinfo=None) != wall:
            # Skipped: the first instant after the jump, found between the two readings (an hour or two apart).
            instant = wall.replace(tzinfo=self.zone, fold=1).astimezone(UTC)
            while instant.astimezone(self.zone).replace(tzinfo=None) < wall:
                instant += timedelta(minutes=1)
        return instant.astimezone(self.zone)


def spoken_time(at: datetime) -> str:
    """ "8 heures 30", "9 heures", "midi", "13 heures 05": a time as said over the phone (and written in a chat)."""
    if at.hour == 12 and at.minute == 0:
        return "midi"
    if at.hour == 0 and at.minute == 0:
        return "minuit"
    hours = f"{at.hour} heure" + ("s" if at.hour > 1 else "")
    return hours if at.minute == 0 else f"{hours} {at.minute:02d}"


def spoken_next_opening(hours: OpeningHours, now: datetime) -> str:
    """When a call back can be expected, for the caller: "dès que possible" (open now, or no hours known),
    "à partir de 13 heures 30" (today), "à partir de demain 8 heures 30", "à partir de lundi 8 heures 30" (this
    week), "à partir du mardi 2 janvier 8 heures 30"."""
    opening = hours.next_opening(now)
    if opening is None or opening == now:
        return "dès que possible"
    today = now.astimezone(hours.zone).date()
    days = (opening.date() - today).days
    clock = spoken_time(opening)
    if days == 0:
        return f"à partir de {clock}"
    if days == 1:
        return f"à partir de demain {clock}"
    weekday = DAY_NAMES[opening.weekday()]
    if days < 7:
        return f"à partir de {weekday} {clock}"
    day_number = "1er" if opening.day == 1 else str(opening.day)
    return f"à partir du {weekday} {day_number} {MONTH_NAMES[opening.month - 1]} {clock}"
