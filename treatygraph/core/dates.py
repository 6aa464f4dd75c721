"""Dates as the sources give them: to the day, the month or the year."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from rdflib.namespace import TIME

# English month names for dates shown to people (independent of the locale, unlike calendar.month_name).
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
DATE_FORMS = (
    (re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"), "day"),
    (re.compile(r"^(\d{4})-(\d{2})$"), "month"),
    (re.compile(r"^(\d{4})$"), "year"),
)


@dataclass(frozen=True)
class ParsedDate:
    """A date as written, with its precision; `start` is the first day of the period."""

    start: dt.date
    precision: str
    text: str

    @property
    def last_day(self) -> dt.date:
        if self.precision == "day":
            return self.start
        if self.precision == "month":
            days = calendar.monthrange(self.start.year, self.start.month)[1]
            return self.start.replace(day=days)
        return self.start.replace(month=12, day=31)


PRECISION_LEVELS = {"year": 1, "month": 2, "day": 3}


def is_before(earlier: ParsedDate, later: ParsedDate) -> bool:
    """Whether `earlier` is certainly before `later`, comparing at the coarser of their precisions
    as the shapes do (shapes/time.ttl): "1999" is neither before nor after "1999-04-02"."""
    level = min(PRECISION_LEVELS[earlier.precision], PRECISION_LEVELS[later.precision])

    def key(date: ParsedDate) -> tuple[int, ...]:
        return (date.start.year, date.start.month, date.start.day)[:level]

    return key(earlier) < key(later)


def parse_date(value: object) -> ParsedDate:
    """Parse YYYY, YYYY-MM or YYYY-MM-DD; raise ValueError naming what is wrong."""
    text = str(value)
    for pattern, precision in DATE_FORMS:
        match = pattern.match(text)
        if not match:
            continue
        parts = [int(p) for p in match.groups()] + [1] * (3 - len(match.groups()))
        try:
            return ParsedDate(dt.date(*parts), precision, text)
        except ValueError as err:
            raise ValueError(f"impossible date {text} ({err})") from None
    raise ValueError(f"{text!r} is not a date of the form YYYY, YYYY-MM or YYYY-MM-DD")


PRECISION_UNITS = {"day": TIME.unitDay, "month": TIME.unitMonth, "year": TIME.unitYear}


def format_date(lexical: str, precision: str | None) -> str:
    """`2002-05-14` at day precision -> `14 May 2002`; month -> `May 2002`; year -> `2002`."""
    try:
        day = dt.date.fromisoformat(lexical[:10])
    except ValueError:
        return lexical
    if precision and precision.endswith("unitYear"):
        return str(day.year)
    if precision and precision.endswith("unitMonth"):
        return f"{MONTHS[day.month - 1]} {day.year}"
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"
