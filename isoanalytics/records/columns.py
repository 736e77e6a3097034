"""How a frame column is declared and built, a whole column at a time, from decoded structs.

A record kind (``kinds``) is a Struct and a tuple of :class:`Column`: each names the frame
column, the path it is read from (``owner.name``) and how its values become the column
(:data:`TEXT`, :data:`KGS`, :data:`INSTANT`...). A null or absent object on the way makes the
value null. Values are checked already (msgspec decoded them into the schema's types), so
building only converts: int64 straight from Python ints, categoricals with all the enum's
categories, date-times in UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from operator import attrgetter, is_
from typing import Any, Literal

import numpy as np
import pandas as pd
from msgspec import UNSET

from .fields import ENUMS
from .frames import STRING_DTYPE
from .quantities import kilograms

_IS_NONE, _IS_UNSET = partial(is_, None), partial(is_, UNSET)
_TIME_UNIT: Literal["us"] = "us"  # what the API writes; also spans years 1 to 9999, unlike ns


@dataclass(frozen=True)
class Build:
    """How stored values become a frame column; ``quantity`` marks a CreditQuantity."""

    convert: Callable[[list, bool], Any]
    quantity: bool = False


def _text(values: list, nullable: bool) -> Any:
    return pd.Series(values, dtype=STRING_DTYPE)


def _integers(values: list, nullable: bool) -> Any:
    # Straight from Python ints to int64: never through float, which loses kilograms past 2**53.
    if nullable:
        missing = np.array([value is None for value in values], dtype=bool)
        exact = np.array([0 if value is None else value for value in values], dtype=np.int64)
        return pd.arrays.IntegerArray(exact, missing)
    return np.array(values, dtype=np.int64)


def _kilograms(values: list, nullable: bool) -> Any:
    return kilograms(values)


def _numbers(values: list, nullable: bool) -> Any:
    return np.array(values, dtype=np.float64)  # None becomes NaN


def _flags(values: list, nullable: bool) -> Any:
    if nullable:
        return pd.array(values, dtype="boolean")
    return np.array(values, dtype=bool)


def _instants(values: list, nullable: bool) -> Any:
    # msgspec made each an aware datetime; pandas converts a list of them in C (measured:
    # 3 ms for 10,000, against 15 ms for numpy after per-value astimezone()). Its cache of
    # unique values only costs here: instants rarely repeat.
    return pd.DatetimeIndex(pd.to_datetime(values, utc=True, cache=False)).as_unit(_TIME_UNIT)


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _days(values: list, nullable: bool) -> Any:
    # Days since the epoch from each date's ordinal: numpy's own date conversion takes
    # about 2 us a value, this a tenth of that.
    missing = np.fromiter(map(_IS_NONE, values), dtype=bool, count=len(values))
    ordinals = np.fromiter((_EPOCH_ORDINAL if value is None else value.toordinal()
                            for value in values), dtype=np.int64, count=len(values))
    days = (ordinals - _EPOCH_ORDINAL).astype("datetime64[D]")
    days[missing] = np.datetime64("NaT", "D")
    return pd.DatetimeIndex(days.astype(f"datetime64[{_TIME_UNIT}]"))


def _joined(values: list, nullable: bool) -> Any:
    return pd.Series([None if value is None else ", ".join(value) for value in values],
                     dtype=STRING_DTYPE)


def enum(name: str) -> Build:
    """A categorical with every value of the spec's enum ``name`` as its categories."""
    categories = ENUMS[name]
    return Build(lambda values, nullable: pd.Categorical(values, categories=categories))


TEXT, INTEGER, NUMBER, BOOLEAN = Build(_text), Build(_integers), Build(_numbers), Build(_flags)
KGS = Build(_kilograms, quantity=True)
INSTANT, DAY, JOINED = Build(_instants), Build(_days), Build(_joined)


@dataclass(frozen=True)
class Column:
    """One frame column: its name, the path (within a record) it is read from, its build.

    A ``?`` after a key in ``path`` says the schema lets its value be null, so the column is
    nullable (its dtype the same with or without nulls in a page). ``path`` is ``None`` for
    a column ``derive`` computes from the columns before it.
    """

    name: str
    path: str | None
    build: Build = TEXT
    derive: Callable[[Mapping[str, Any]], Any] | None = None
    steps: tuple[str, ...] = field(init=False)
    nulls: tuple[bool, ...] = field(init=False)  # whether the value at each step may be null
    nullable: bool = field(init=False)

    def __post_init__(self) -> None:
        keys = self.path.split(".") if self.path else []
        object.__setattr__(self, "steps", tuple(key.rstrip("?") for key in keys))
        object.__setattr__(self, "nulls", tuple(key.endswith("?") for key in keys))
        object.__setattr__(self, "nullable", any(self.nulls))

    @property
    def where(self) -> str:
        """Its JSON path within a record, e.g. ``carbon_removal_data.losses_kg``."""
        return ".".join(self.steps)


def derived(name: str, derive: Callable[[Mapping[str, Any]], Any]) -> Column:
    """A column computed from the columns declared before it."""
    return Column(name, None, derive=derive)


def share(part: str, whole: str) -> Callable[[Mapping[str, Any]], Any]:
    """``part / whole``, NaN where ``whole`` is 0."""
    def compute(frame: Mapping[str, Any]) -> Any:
        numerator, denominator = frame[part], frame[whole]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(denominator == 0, np.nan, numerator / denominator)

    return compute


def values(records: Sequence[Any], steps: tuple[str, ...], nulls: tuple[bool, ...] | None = None,
           tolerated: Collection[str] = ()) -> tuple[list, bool]:
    """The values at ``steps`` in each record, None below a null or absent object, and
    whether any is None. ``nulls`` says which steps may be null (default: all); a first
    step in ``tolerated`` may be absent (``UNSET``), which reads as null."""
    current: list = list(records)
    gaps = False
    for depth, key in enumerate(steps):
        if gaps:
            current = [None if value is None else getattr(value, key) for value in current]
        else:
            current = list(map(attrgetter(key), current))
        # identity tests: ``x in list`` would call each value's __eq__ (10x slower)
        absent = depth == 0 and key in tolerated
        if absent and any(map(_IS_UNSET, current)):
            current = [None if value is UNSET else value for value in current]
        if nulls is None or nulls[depth] or absent:
            gaps = gaps or any(map(_IS_NONE, current))
    return current, gaps


def build_frame(records: Sequence[Any], columns: Sequence[Column],
                tolerated: Collection[str] = ()) -> pd.DataFrame:
    """The frame of ``records`` (decoded structs of one kind), a column per declaration;
    the fields in ``tolerated`` may be absent from a record (``UNSET``), and read as null."""
    data: dict[str, Any] = {}
    for column in columns:
        if column.derive is not None:
            data[column.name] = column.derive(data)
            continue
        read, gaps = values(records, column.steps, column.nulls, tolerated)
        data[column.name] = column.build.convert(read, column.nullable or gaps)
    return pd.DataFrame(data)
