"""Reporting periods: a year, a fiscal year, a quarter, a month, or dates, as ``[start, end)``.

:func:`reporting_period` reads what a user gives (``isoanalytics report --period 2025``,
``--from 2025-01-01 --to 2025-12-31``, ``report.build(period="2025-Q3")``) into one
:class:`Period`, checked before any work, with messages that name the option. The rules:

- ``period`` is a calendar year (``2025`` or ``"2025"``), a quarter (``"2025-Q3"``) or a
  month (``"2025-06"``); in UTC, from its first instant, included, to the next period's,
  excluded.
- ``year_start=M`` makes years (and their quarters) fiscal, starting in month ``M``. A fiscal
  year is named, as :func:`isoanalytics.timeline` and pandas name it, by the calendar year it
  **ends** in: ``period=2026, year_start=4`` is 2025-04-01 to 2026-04-01 (April 2025 to
  March 2026), and its ``"2026-Q1"`` is April to June 2025. A month is a month: it takes no
  ``year_start``.
- ``start`` and ``end`` (Python) are :func:`~isoanalytics.records.instants.utc_bound`'s
  bounds: a date is its midnight UTC, an instant needs its zone, and ``end`` is **excluded**,
  as everywhere in the package (``claims(start=, end=)``). ``last_day`` (the command line's
  ``--to``) is a date, **included**: ``--from 2025-01-01 --to 2025-12-31`` is the year 2025.
- Nothing given: all time (``start`` and ``end`` None).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .instants import utc_bound

__all__ = ["Period", "reporting_period"]

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
_QUARTER_END = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV",
                "DEC")
_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})-?[Qq]([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(\d\d)$")
_FIRST_YEAR, _LAST_YEAR = 1900, 2999
_FORMS = "a year (2025), a quarter ('2025-Q3') or a month ('2025-06')"


@dataclass(frozen=True)
class Period:
    """A reporting period ``[start, end)`` in UTC, with the label a report shows.

    Attributes
    ----------
    start, end : Timestamp or None
        UTC instants; the start is included, the end excluded. None: unbounded (all time
        when both are).
    label : str
        What the period is called: ``"2025"``, ``"fiscal year 2026 (2025-04-01 to
        2026-03-31)"``, ``"2025-01-01 to 2025-06-30"``, ``"all time"``.

    Examples
    --------
    >>> from isoanalytics.records.periods import reporting_period
    >>> year = reporting_period(2025)
    >>> year.start
    Timestamp('2025-01-01 00:00:00+0000', tz='UTC')
    >>> year.end
    Timestamp('2026-01-01 00:00:00+0000', tz='UTC')
    >>> year.label, year.all_time, reporting_period().label
    ('2025', False, 'all time')
    """

    start: pd.Timestamp | None
    end: pd.Timestamp | None
    label: str

    @property
    def all_time(self) -> bool:
        """True when the period has neither a start nor an end."""
        return self.start is None and self.end is None

    def iso(self) -> tuple[str | None, str | None]:
        """The bounds as ISO 8601 text with their zone (None for an open bound).

        Examples
        --------
        >>> from isoanalytics.records.periods import reporting_period
        >>> reporting_period("2025-06").iso()
        ('2025-06-01T00:00:00+00:00', '2025-07-01T00:00:00+00:00')
        """
        return (None if self.start is None else self.start.isoformat(),
                None if self.end is None else self.end.isoformat())


def reporting_period(
    period: int | str | Period | None = None,
    *,
    start: Any = None,
    end: Any = None,
    last_day: Any = None,
    year_start: int = 1,
    names: Mapping[str, str] | None = None,
) -> Period:
    """The reporting period a user asked for, checked: a year, quarter or month, or bounds.

    Parameters
    ----------
    period : int, str or Period, optional
        ``2025``/``"2025"`` (a year; fiscal with ``year_start``), ``"2025-Q3"`` (a quarter of
        it) or ``"2025-06"`` (a month); a :class:`Period` already read is returned as it is.
    start : date, date-like text or time-zone-aware datetime, optional
        The first instant included (a date: its midnight UTC).
    end : same, optional
        The first instant **excluded**, as in :func:`isoanalytics.claims`.
    last_day : date or ``"YYYY-MM-DD"``, optional
        The last day **included** (the command line's ``--to``); instead of ``end``.
    year_start : int
        The month (1 to 12) a year starts in; a fiscal year is named by the calendar year it
        ends in (see the module's rules).
    names : mapping, optional
        What to call each argument in messages (the command line passes
        ``{"start": "--from", "last_day": "--to", ...}``); default: the argument's own name.

    Returns
    -------
    Period

    Raises
    ------
    ValueError
        A period that is none of the forms above, a year outside 1900 to 2999, a period
        together with bounds, ``end`` together with ``last_day``, a start after the end, a
        date-time without a zone, or ``year_start`` outside 1 to 12 (or with a month, with
        bounds, or alone); the message names the option.
    TypeError
        A period or bound of another type (a float, a bool).

    Examples
    --------
    >>> from isoanalytics.records.periods import reporting_period
    >>> fiscal = reporting_period(2026, year_start=4)
    >>> fiscal.start.date().isoformat(), fiscal.end.date().isoformat(), fiscal.label
    ('2025-04-01', '2026-04-01', 'fiscal year 2026 (2025-04-01 to 2026-03-31)')
    >>> reporting_period("2025-Q3").label, reporting_period("2025-06").label
    ('2025-Q3 (2025-07-01 to 2025-09-30)', 'June 2025')
    >>> days = reporting_period(start="2025-01-01", last_day="2025-12-31")
    >>> days.end, days.label
    (Timestamp('2026-01-01 00:00:00+0000', tz='UTC'), '2025-01-01 to 2025-12-31')
    >>> try:
    ...     reporting_period(2025, start="2025-01-01", names={"period": "--period",
    ...                                                       "start": "--from"})
    ... except ValueError as error:
    ...     print(error)
    --period is a whole period: leave out --from
    """
    called = {"period": "period", "start": "start", "end": "end", "last_day": "last_day",
              "year_start": "year_start", **(names or {})}
    if type(year_start) is not int or not 1 <= year_start <= 12:
        raise ValueError(f"{called['year_start']} must be a month number from 1 (January) to "
                         f"12 (December); got {year_start!r}")
    bounds = {name: value for name, value in
              (("start", start), ("end", end), ("last_day", last_day)) if value is not None}
    if period is not None:
        if isinstance(period, Period) and year_start != 1:
            raise ValueError(f"{called['period']} is a Period already: its year_start was "
                             f"applied when it was read; leave out {called['year_start']}")
        if bounds:
            left_out = " and ".join(called[name] for name in bounds)
            raise ValueError(f"{called['period']} is a whole period: leave out {left_out}")
        return period if isinstance(period, Period) else _named_period(period, year_start,
                                                                       called)
    if year_start != 1:
        raise ValueError(f"{called['year_start']} names the month a year starts in: it goes "
                         f"with {called['period']} (a year or a quarter), not with dates or "
                         "alone")
    if end is not None and last_day is not None:
        raise ValueError(f"give {called['end']} (the first instant excluded) or "
                         f"{called['last_day']} (the last day included), not both")
    low = utc_bound(start, called["start"])
    high = utc_bound(end, called["end"])
    if last_day is not None:
        day = utc_bound(last_day, called["last_day"])
        if not _is_midnight(day) or (isinstance(last_day, str) and "T" in last_day.upper()):
            raise ValueError(f"{called['last_day']} is the last day included: give a date "
                             f"('2025-12-31'); got {last_day!r}")
        high = day + pd.Timedelta(days=1) if day is not None else None
    if low is not None and high is not None and low >= high:
        last = called["last_day"] if last_day is not None else called["end"]
        raise ValueError(f"{called['start']} ({_when(low)}) must come before {last} "
                         f"({last_day if last_day is not None else _when(high)}): a period "
                         "runs from its start to its end")
    return Period(low, high, _bounds_label(low, high))


def _named_period(period: Any, year_start: int, called: Mapping[str, str]) -> Period:
    name = called["period"]
    if isinstance(period, bool) or not isinstance(period, int | str):
        raise TypeError(f"{name} must be a year (2025) or text ('2025', '2025-Q3', "
                        f"'2025-06'); got {type(period).__name__} {period!r}")
    text = str(period).strip()
    matched = _YEAR.match(text) or _QUARTER.match(text) or _MONTH.match(text)
    if matched is None:
        raise ValueError(f"{name} must be {_FORMS}; got {period!r}")
    year = int(matched.group(1))
    if not _FIRST_YEAR <= year <= _LAST_YEAR:
        raise ValueError(f"{name}: {year} is not a year from {_FIRST_YEAR} to {_LAST_YEAR}; "
                         f"got {period!r}")
    fiscal = year_start != 1
    if matched.re is _MONTH:
        month = int(matched.group(2))
        if not 1 <= month <= 12:
            raise ValueError(f"{name}: {month:02d} is not a month (01 to 12); got {period!r}")
        if fiscal:
            raise ValueError(f"{called['year_start']} applies to years and quarters; a month "
                             f"({period!r}) is the same in any year: leave it out")
        begins = pd.Period(year=year, month=month, freq="M")
        return _period(begins, f"{_MONTHS[month - 1]} {year}")
    year_end = _QUARTER_END[(year_start - 2) % 12]
    if matched.re is _QUARTER:
        quarter = int(matched.group(2))
        span = pd.Period(f"{year}Q{quarter}", freq=f"Q-{year_end}")
        prefix = "fiscal " if fiscal else ""
        return _period(span, f"{prefix}{year}-Q{quarter} ({_days(span)})")
    span = pd.Period(str(year), freq=f"Y-{year_end}")
    return _period(span, f"fiscal year {year} ({_days(span)})" if fiscal else str(year))


def _period(span: pd.Period, label: str) -> Period:
    start = pd.Timestamp(span.start_time.date(), tz="UTC").as_unit("us")
    end = pd.Timestamp((span + 1).start_time.date(), tz="UTC").as_unit("us")
    return Period(start, end, label)


def _days(span: pd.Period) -> str:
    return f"{span.start_time:%Y-%m-%d} to {span.end_time:%Y-%m-%d}"


def _is_midnight(moment: pd.Timestamp | None) -> bool:
    return moment is None or moment == moment.normalize()


def _when(moment: pd.Timestamp) -> str:
    return f"{moment:%Y-%m-%d}" if _is_midnight(moment) else f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def _bounds_label(low: pd.Timestamp | None, high: pd.Timestamp | None) -> str:
    # Dates read inclusively: [2025-01-01, 2026-01-01) is "2025-01-01 to 2025-12-31".
    if high is None:
        return "all time" if low is None else f"from {_when(low)}"
    if _is_midnight(high):
        last = f"to {high - pd.Timedelta(days=1):%Y-%m-%d}"
    else:
        last = f"up to {_when(high)} (excluded)"
    return f"{_when(low)} {last}" if low is not None else f"up {last}" if _is_midnight(
        high) else last
