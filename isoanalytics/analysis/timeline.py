"""Movements of credits binned by period: the timeline of a ledger.

A ledger is any frame with one row per movement of credits: when it happened (``at``, a
time-zone-aware instant), what happened (``event``, such as ``"delivered"`` or ``"retired"``)
and how much (``credit_kgs``, non-negative integer kilograms; the direction is in the event).
:func:`timeline` sums the kilograms of the chosen events per period and keeps a running total.

The rules, so that a figure can be checked by hand:

- Periods are in UTC: a retirement at 2025-12-31T23:30-05:00 is in 2026.
- A period holds the movements from its first instant up to, not including, the next
  period's first instant.
- Every period from the first to the last (or from ``start`` to ``end``) is a row, with 0
  where nothing moved, for every ``by`` value; no movement of the chosen events is left out,
  so the periods of any frequency add up to the same kilograms.
- Fiscal years: ``year_start=4`` makes years run from April to March. A fiscal year is named,
  as pandas names it, by the calendar year it ends in (April 2025 to March 2026 is ``2026``);
  ``period_start`` says where each period begins.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ..records.frames import KGS_PER_CREDIT, check_columns, check_sum_fits
from ..records.instants import utc_bound
from ..records.movements import EVENTS
from .durability import UNKNOWN

__all__ = ["FREQUENCIES", "pivot_timeline", "timeline"]

# pandas' spelling of each frequency, as a Period frequency
FREQUENCIES = ("Y", "Q", "M", "W", "D")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
# Weeks run Monday to Sunday (ISO 8601); 1970-01-01, the epoch, was a Thursday.
_EPOCH_WEEKDAY = 3
_WHAT = "a ledger frame with at, event and credit_kgs"


def timeline(
    ledger: pd.DataFrame,
    freq: str = "Y",
    *,
    event: str | Iterable[str] | None = "retired",
    by: str | None = None,
    year_start: int = 1,
    start: Any = None,
    end: Any = None,
) -> pd.DataFrame:
    """Kilograms moved per period (and per ``by`` value), with a running total.

    Parameters
    ----------
    ledger : DataFrame
        One row per movement, with at least ``at`` (time-zone-aware datetimes), ``event``
        and ``credit_kgs`` (integer kilograms), and the ``by`` column if one is given; the
        frame of :func:`isoanalytics.ledger`, or records of your own.
    freq : {"Y", "Q", "M", "W", "D"}
        Years, quarters, months, weeks (Monday to Sunday) or days, in UTC.
    event : str, list of str or None
        The events to count (default ``"retired"``); ``None`` counts every row.
    by : str, optional
        A column to split each period by (``supplier_id``, ``project_id``, ``vintage``...).
        Rows where it is missing form a group of their own (NaN), so nothing is lost.
    year_start : int
        The month (1 to 12) a year starts in, for fiscal years; applies to ``"Y"`` and
        ``"Q"``.
    start, end : date-like, optional
        Widen the range of periods to include these instants (``"2025-01-01"``, a
        ``Timestamp``; text without an offset is read as UTC), so that a reporting period
        with no movement still shows its zeros. Movements outside them are still counted.

    Returns
    -------
    DataFrame
        ``period`` (a pandas Period), ``period_start`` (UTC), the ``by`` column if given,
        ``credit_kgs`` (int64), ``credits`` (tCO2e, for display) and ``cumulative_kgs``
        (the running total, per ``by`` value). Rows run by ``by`` value, largest total
        first (ties in value order), then by period.

    Raises
    ------
    ValueError
        For an unknown frequency, ``year_start`` outside 1 to 12 (or given with ``"M"``,
        ``"W"``, ``"D"``), an event that the frame does not hold and the ledger does not
        know, a naive or missing ``at``, or ``credit_kgs`` that are not non-negative
        integers; each message names the option or row.
    TypeError
        When ``ledger`` is not a DataFrame.

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics import timeline
    >>> moves = pd.DataFrame({
    ...     "at": pd.to_datetime(["2024-03-01T10:00Z", "2024-11-30T09:00Z", "2026-02-01T00:00Z"]),
    ...     "event": ["retired", "retired", "retired"],
    ...     "credit_kgs": [1_500, 2_000, 500],
    ... })
    >>> timeline(moves, "Y")[["period", "credit_kgs", "cumulative_kgs"]]
      period  credit_kgs  cumulative_kgs
    0   2024        3500            3500
    1   2025           0            3500
    2   2026         500            4000
    >>> timeline(moves, "Y", year_start=4)["period"].astype(str).tolist()  # April to March
    ['2024', '2025', '2026']
    """
    check_columns(ledger, ["at", "event", "credit_kgs", *([by] if by is not None else [])],
                  "timeline", _WHAT)
    alias, months_per_period = _period_alias(freq, year_start)
    chosen = None if event is None else np.flatnonzero(_chosen(ledger["event"], event))

    def column(name: str) -> pd.Series:
        # Only the columns read are copied, not the whole frame; take() is several times
        # faster than a boolean mask on a Series (tests/benchmarks/bench_timeline.py).
        return ledger[name] if chosen is None else ledger[name].take(chosen)

    kgs = _kilograms(column("credit_kgs"))
    ordinals = _ordinals(_utc_instants(column("at")), freq, year_start, months_per_period)
    bounds = [_ordinals(_utc_instants(pd.Series([utc_bound(value, name)])), freq, year_start,
                        months_per_period)[0]
              for value, name in ((start, "start"), (end, "end")) if value is not None]
    if len(ordinals) == 0 and not bounds:
        return _empty(by, ledger, alias)
    everything = np.concatenate([ordinals, np.array(bounds, dtype=np.int64)])
    first, last = int(everything.min()), int(everything.max())
    if by is None:
        group_codes = np.zeros(len(kgs), dtype=np.int64)
        groups = None
    else:
        group_codes, groups = pd.factorize(column(by), use_na_sentinel=False)
    groups_count = 1 if groups is None else len(groups)
    check_sum_fits(kgs)
    # Exact int64 totals per (group, period): np.add.at never goes through float64.
    totals = np.zeros((groups_count, last - first + 1), dtype=np.int64)
    np.add.at(totals, (group_codes, ordinals - first), kgs)
    group_totals = totals.sum(axis=1)
    if groups is None:
        order = np.zeros(1, dtype=np.int64)
    else:  # largest total first; ties in value order (a missing value last)
        in_value_order = np.argsort(
            pd.Series(groups).rank(method="first", na_option="bottom").to_numpy(), kind="stable")
        order = in_value_order[np.argsort(-group_totals[in_value_order], kind="stable")]
    totals = totals[order]
    periods_count = totals.shape[1]
    starts = pd.DatetimeIndex(
        _period_starts(np.arange(first, last + 1), freq, year_start, months_per_period))
    each_group = np.tile(np.arange(periods_count), groups_count)
    frame: dict[str, Any] = {
        "period": starts.to_period(alias).take(each_group),
        "period_start": starts.tz_localize("UTC").take(each_group),
    }
    if by is not None and groups is not None:
        frame[by] = pd.Series(groups).take(np.repeat(order, periods_count)).reset_index(drop=True)
    frame["credit_kgs"] = totals.reshape(-1)
    frame["credits"] = frame["credit_kgs"] / KGS_PER_CREDIT
    frame["cumulative_kgs"] = np.cumsum(totals, axis=1).reshape(-1)
    return pd.DataFrame(frame)


def _period_alias(freq: Any, year_start: Any) -> tuple[str, int]:
    if freq not in FREQUENCIES:
        raise ValueError(f"freq must be one of {', '.join(map(repr, FREQUENCIES))} (years, "
                         f"quarters, months, weeks, days); got {freq!r}")
    if type(year_start) is not int or not 1 <= year_start <= 12:
        raise ValueError(f"year_start must be a month number from 1 to 12; got {year_start!r}")
    if freq in ("M", "W", "D") and year_start != 1:
        raise ValueError(f"year_start applies to years and quarters, not freq={freq!r}")
    year_end = _MONTHS[(year_start - 2) % 12]
    return {"Y": (f"Y-{year_end}", 12), "Q": (f"Q-{year_end}", 3), "M": ("M", 1),
            "W": ("W-SUN", 0), "D": ("D", 0)}[freq]


def _chosen(events: pd.Series, event: str | Iterable[str]) -> np.ndarray:
    """Which rows hold one of the events asked for; a name nobody knows is a typo."""
    wanted = [event] if isinstance(event, str) else list(event)
    categorical = isinstance(events.dtype, pd.CategoricalDtype)
    # Only a name outside the ledger's own events costs a look at the frame's values.
    unknown = [name for name in wanted if name not in EVENTS]
    if unknown:
        held = set(events.cat.categories) if categorical else set(events.dropna().unique())
        unknown = [name for name in unknown if name not in held]
    if unknown or not wanted:
        raise ValueError(
            f"event {', '.join(map(repr, unknown)) or '[]'} is not in this frame and is not a "
            f"ledger event; the ledger's events are {', '.join(EVENTS)}")
    if categorical:  # look the integer codes up, rather than compare a million strings
        chosen = np.zeros(len(events.cat.categories) + 1, dtype=bool)  # the last: code -1, NaN
        codes = events.cat.categories.get_indexer(pd.Index(wanted))
        chosen[codes[codes >= 0]] = True
        return chosen[events.cat.codes.to_numpy()]
    return events.isin(wanted).to_numpy()


def _kilograms(kgs: pd.Series) -> np.ndarray:
    if not pd.api.types.is_integer_dtype(kgs.dtype) or pd.api.types.is_bool_dtype(kgs.dtype):
        raise ValueError(f"timeline() takes credit_kgs as integer kilograms, got dtype "
                         f"{kgs.dtype}; keep the exact int64 column (credits is for display)")
    bad = kgs.isna() | (kgs < 0)
    if bad.any():
        row = kgs.index[bad.to_numpy()][0]
        raise ValueError(f"timeline(): credit_kgs at row {row!r} is {kgs.loc[row]!r}; a "
                         "movement is a non-negative number of kilograms (its event says "
                         "which way it goes)")
    return kgs.to_numpy(dtype=np.int64)


def _utc_instants(at: pd.Series) -> np.ndarray:
    if not isinstance(at.dtype, pd.DatetimeTZDtype):
        if len(at) and not pd.api.types.is_datetime64_dtype(at.dtype):
            raise ValueError(f"timeline() takes at as datetimes, got dtype {at.dtype}; "
                             "parse it with pandas.to_datetime(..., utc=True)")
        if len(at):
            raise ValueError("timeline() takes at as time-zone-aware datetimes, since the "
                             "period of a naive one depends on where it was written; use "
                             "at.dt.tz_localize('UTC') if the times are UTC")
        return np.zeros(0, dtype="datetime64[us]")
    missing = at.isna()
    if missing.any():
        row = at.index[missing.to_numpy()][0]
        raise ValueError(f"timeline(): at is missing at row {row!r}; every movement has an "
                         "instant, so this one cannot be placed in a period")
    return at.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()


def _ordinals(instants: np.ndarray, freq: str, year_start: int,
              months_per_period: int) -> np.ndarray:
    """Each instant's period, as a count of periods since the epoch's."""
    if freq == "D":
        return instants.astype("datetime64[D]").astype(np.int64)
    if freq == "W":
        return (instants.astype("datetime64[D]").astype(np.int64) + _EPOCH_WEEKDAY) // 7
    months = instants.astype("datetime64[M]").astype(np.int64)
    return (months - (year_start - 1)) // months_per_period


def _period_starts(ordinals: np.ndarray, freq: str, year_start: int,
                   months_per_period: int) -> np.ndarray:
    if freq == "D":
        return ordinals.astype("datetime64[D]").astype("datetime64[us]")
    if freq == "W":
        return (ordinals * 7 - _EPOCH_WEEKDAY).astype("datetime64[D]").astype("datetime64[us]")
    months = ordinals * months_per_period + (year_start - 1)
    return months.astype("datetime64[M]").astype("datetime64[us]")


def _empty(by: str | None, ledger: pd.DataFrame, alias: str) -> pd.DataFrame:
    frame: dict[str, Any] = {
        "period": pd.PeriodIndex([], freq=alias),
        "period_start": pd.DatetimeIndex([], dtype="datetime64[us, UTC]"),
    }
    if by is not None:
        frame[by] = pd.Series([], dtype=ledger[by].dtype)
    frame["credit_kgs"] = np.zeros(0, dtype=np.int64)
    frame["credits"] = np.zeros(0, dtype=np.float64)
    frame["cumulative_kgs"] = np.zeros(0, dtype=np.int64)
    return pd.DataFrame(frame)


#: The columns :func:`timeline` writes; any other column of its frame is the ``by`` column.
_OWN_COLUMNS = ("period", "period_start", "credit_kgs", "credits", "cumulative_kgs")


def pivot_timeline(timeline: pd.DataFrame, *, by: str | None = None,
                   top: int | None = None) -> pd.DataFrame:
    """A timeline as a table: one row per period, one column of kilograms per ``by`` value.

    Parameters
    ----------
    timeline : DataFrame
        From :func:`timeline`.
    by : str, optional
        Its ``by`` column; found by itself when the frame has one. Without one, the table
        has the single column ``credit_kgs``.
    top : int, optional
        Keep the ``top`` values with the most kilograms (ties in value order) and sum the
        rest, exactly, into a last column ``"Other (k)"``.

    Returns
    -------
    DataFrame
        Indexed by ``period`` (every period of the timeline, in order); int64 columns, the
        largest total first; a missing ``by`` value is the column ``"(unknown)"``. The rows
        add up to the timeline's ``credit_kgs``, to the kilogram.

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics.analysis.timeline import pivot_timeline, timeline
    >>> moves = pd.DataFrame({
    ...     "at": pd.to_datetime(["2024-03-01T10:00Z", "2024-11-30T09:00Z", "2025-02-01T00:00Z"]),
    ...     "event": "retired", "credit_kgs": [1_500, 2_000, 500],
    ...     "supplier_id": ["spl_A", "spl_B", "spl_C"]})
    >>> table = pivot_timeline(timeline(moves, "Y", by="supplier_id"), top=1)
    >>> table.index.astype(str).tolist(), table.to_dict("list")
    (['2024', '2025'], {'spl_B': [2000, 0], 'Other (2)': [1500, 500]})
    """
    check_columns(timeline, ("period", "credit_kgs"), "pivot_timeline",
                  "the frame of timeline(ledger, ...)")
    extra = [column for column in timeline.columns if column not in _OWN_COLUMNS]
    if by is None and len(extra) > 1:
        raise ValueError(f"pivot_timeline(): the frame has several columns to split by "
                         f"({', '.join(map(str, extra))}); say which with by=")
    if by is None and extra:
        by = str(extra[0])
    if by is not None:
        check_columns(timeline, (by,), "pivot_timeline", "the frame of timeline(ledger, ...)")
    if top is not None and (type(top) is not int or top < 1):
        raise ValueError(f"top must be a positive integer or None, got {top!r}")
    periods = pd.PeriodIndex(timeline["period"])
    shown = periods.unique().sort_values()
    kgs = timeline["credit_kgs"].to_numpy(dtype=np.int64)
    if by is None:
        codes, names = np.zeros(len(kgs), dtype=np.int64), ["credit_kgs"]
    else:
        codes, values = pd.factorize(timeline[by], use_na_sentinel=False)
        names = [UNKNOWN if pd.isna(value) else value for value in values]
    check_sum_fits(kgs)
    table = np.zeros((len(shown), len(names)), dtype=np.int64)
    np.add.at(table, (shown.get_indexer(periods), codes), kgs)
    totals = table.sum(axis=0)
    order = sorted(range(len(names)), key=lambda i: (-int(totals[i]), str(names[i])))
    kept = order if top is None else order[:top]
    frame = pd.DataFrame(table[:, kept], index=pd.PeriodIndex(shown, name="period"),
                         columns=pd.Index([names[i] for i in kept], dtype=object))
    rest = order[len(kept):]
    if rest:
        frame[f"Other ({len(rest)})"] = table[:, rest].sum(axis=1)
    return frame
