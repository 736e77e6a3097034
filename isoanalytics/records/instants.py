"""Instants and periods: the one rule for a bound given as a date, text or datetime.

Every function that takes a moment (``claims``' ``start`` and ``end``, ``timeline``'s,
``holdings_as_of``'s ``when``, ``delivery_schedule``'s ``as_of``) reads it here, so the rule is
the same everywhere: a date (``"2025-01-01"``, ``datetime.date``) is its midnight UTC; an
instant must carry its zone and is converted to UTC; a date-time without a zone is refused,
since the instant it names depends on where it was written. Periods run from their start,
included, to their end, excluded.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["in_period", "utc_bound"]

_DATE_ONLY = re.compile(r"^\d{4}-\d\d-\d\d$")


def utc_bound(value: Any, name: str) -> pd.Timestamp | None:
    """A period bound as a UTC instant: a date is its midnight UTC; an instant needs a zone.

    Examples
    --------
    >>> from datetime import date
    >>> from isoanalytics.records.instants import utc_bound
    >>> utc_bound("2025-01-01", "start") == utc_bound(date(2025, 1, 1), "start")
    True
    >>> utc_bound("2025-01-01", "start")
    Timestamp('2025-01-01 00:00:00+0000', tz='UTC')
    >>> utc_bound("2025-06-30T20:00-05:00", "end")
    Timestamp('2025-07-01 01:00:00+0000', tz='UTC')
    >>> try:
    ...     utc_bound("2025-01-01T12:00", "end")
    ... except ValueError as error:
    ...     print(str(error).split("; ")[1])
    got '2025-01-01T12:00', which has a time but no zone
    """
    if value is None:
        return None
    is_date = isinstance(value, date) and not isinstance(value, datetime)
    if isinstance(value, str):
        is_date = bool(_DATE_ONLY.match(value.strip()))
    elif not (is_date or isinstance(value, datetime)):  # pd.Timestamp is a datetime
        raise TypeError(f"{name} must be a date or a time-zone-aware datetime, got "
                        f"{type(value).__name__} {value!r}")
    moment: Any
    try:
        moment = pd.Timestamp(value)
    except (TypeError, ValueError):
        moment = pd.NaT
    if moment is pd.NaT:
        raise ValueError(f"{name} must be a date ('2025-01-01') or a time-zone-aware instant "
                         f"('2025-01-01T00:00Z'); got {value!r}")
    if is_date:
        return pd.Timestamp(moment.date(), tz="UTC").as_unit("us")
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be a date ('2025-01-01') or a time-zone-aware instant "
                         f"('2025-01-01T00:00Z'); got {value!r}, which has a time but no zone")
    return moment.tz_convert("UTC").as_unit("us")


def in_period(instants: pd.Series, start: Any = None, end: Any = None) -> np.ndarray:
    """Which ``instants`` (time-zone-aware) fall in ``[start, end)``; missing ones never do
    when a bound is given, always when none is.

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics.records.instants import in_period
    >>> at = pd.Series(pd.to_datetime(["2024-12-31T23:59Z", "2025-01-01T00:00Z"]))
    >>> in_period(at, "2025-01-01").tolist(), in_period(at, end="2025-01-01").tolist()
    ([False, True], [True, False])
    """
    low, high = utc_bound(start, "start"), utc_bound(end, "end")
    if low is not None and high is not None and low > high:
        raise ValueError(f"start ({low}) is after end ({high}): a period runs from its start "
                         "to its end")
    if not isinstance(instants.dtype, pd.DatetimeTZDtype):
        if len(instants) and instants.notna().any():
            raise ValueError(f"instants must be time-zone-aware datetimes, got dtype "
                             f"{instants.dtype}")
        instants = pd.Series(pd.to_datetime(instants, utc=True), index=instants.index)
    kept = np.ones(len(instants), dtype=bool)
    if low is not None:
        kept &= (instants >= low).to_numpy(dtype=bool, na_value=False)
    if high is not None:
        kept &= (instants < high).to_numpy(dtype=bool, na_value=False)
    return kept
