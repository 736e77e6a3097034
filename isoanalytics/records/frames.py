"""The tidy balance frame: its columns, how to build one, check one and total it by entity.

Shared by ``balance`` (which makes these frames) and ``metrics`` (which reads them), so the
format is defined in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SchemaError
from .fields import INT64_MAX

LEVELS = ("organisation", "project", "supplier", "order")
STATUSES = ("active", "retired")
COLUMNS = ("organisation_id", "level", "entity_id", "status", "credit_kgs", "credits")
KGS_PER_CREDIT = 1000

LEVEL_DTYPE = pd.CategoricalDtype(list(LEVELS))
STATUS_DTYPE = pd.CategoricalDtype(list(STATUSES))
STRING_DTYPE = pd.Series(["x"]).dtype  # pandas' default: ``str`` in pandas 3, object before


def tidy_frame(
    *,
    organisation_id: np.ndarray,
    level_codes: np.ndarray,
    entity_id: np.ndarray,
    status_codes: np.ndarray,
    credit_kgs: np.ndarray,
) -> pd.DataFrame:
    """Assemble a tidy frame from row-aligned arrays (levels and statuses as codes)."""
    credit_kgs = np.asarray(credit_kgs, dtype=np.int64)
    return pd.DataFrame(
        {
            "organisation_id": _strings(organisation_id),
            "level": pd.Categorical.from_codes(level_codes, dtype=LEVEL_DTYPE),
            "entity_id": _strings(entity_id),
            "status": pd.Categorical.from_codes(status_codes, dtype=STATUS_DTYPE),
            "credit_kgs": credit_kgs,
            "credits": credit_kgs / KGS_PER_CREDIT,
        }
    )


def _strings(values: np.ndarray) -> pd.Series:
    # An organisation_id nobody gave is missing on every row: keep it as None (object).
    if len(values) and values[0] is None:
        return pd.Series(values, dtype=object)
    return pd.Series(values, dtype=STRING_DTYPE)


def empty_frame() -> pd.DataFrame:
    """A tidy frame with no rows, and the columns and dtypes of a full one."""
    no_codes = np.zeros(0, dtype=np.int8)
    return tidy_frame(
        organisation_id=np.array([], dtype=object),
        level_codes=no_codes,
        entity_id=np.array([], dtype=object),
        status_codes=no_codes,
        credit_kgs=np.zeros(0, dtype=np.int64),
    )


def check_tidy(frame: Any) -> pd.DataFrame:
    """Refuse anything that is not a tidy balance frame, saying what is wrong.

    Returns the frame with ``level`` and ``status`` as the package's categoricals (a copy
    only when they were not already).
    """
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(
            "frame", "expected a DataFrame from CreditBalance.to_frame() or stack_balances()",
            value=frame,
        )
    missing = [column for column in COLUMNS[:-1] if column not in frame.columns]
    if missing:
        raise SchemaError(
            "frame",
            f"missing column(s) {', '.join(missing)}; a tidy balance frame has "
            f"{', '.join(COLUMNS)}",
            hint="build it with CreditBalance.to_frame() or isoanalytics.stack_balances()",
        )
    kgs = frame["credit_kgs"]
    if not pd.api.types.is_integer_dtype(kgs.dtype) or pd.api.types.is_bool_dtype(kgs.dtype):
        raise SchemaError(
            "frame.credit_kgs", f"expected integer kilograms, got dtype {kgs.dtype}",
            hint="credit_kgs is the exact quantity; keep it int64 and use credits for display",
        )
    bad = kgs.isna() | (kgs < 0)
    if bad.any():
        row = kgs.index[bad.to_numpy()][0]
        raise SchemaError(f"frame.credit_kgs[{row!r}]", "expected a non-negative integer",
                          value=kgs.loc[row])
    for column, allowed in (("level", LEVELS), ("status", STATUSES)):
        bad = ~frame[column].isin(allowed)
        if bad.any():
            row = frame.index[bad.to_numpy()][0]
            raise SchemaError(f"frame.{column}[{row!r}]", f"expected one of {', '.join(allowed)}",
                              value=frame[column].loc[row])
    if frame["level"].dtype != LEVEL_DTYPE or frame["status"].dtype != STATUS_DTYPE:
        frame = frame.assign(
            level=frame["level"].astype(LEVEL_DTYPE), status=frame["status"].astype(STATUS_DTYPE)
        )
    return frame


def check_sum_fits(kgs: np.ndarray) -> None:
    """Raise rather than let an int64 sum of non-negative kilograms wrap around."""
    if len(kgs) == 0 or int(kgs.max()) <= INT64_MAX // len(kgs):
        return  # the cheap bound: no sum of these can exceed int64
    total = sum(map(int, kgs))
    if total > INT64_MAX:
        raise OverflowError(
            f"these balances add up to {total} kg, beyond the 64-bit range of exact sums; "
            "no real holding is that large, so check the input"
        )


def entity_totals(frame: pd.DataFrame, level: str) -> pd.DataFrame:
    """Active and retired kilograms per entity at one level, summed over organisations.

    Entities come in order of first appearance; the index is ``entity_id``. ``frame`` must
    have passed :func:`check_tidy`.
    """
    rows = frame[(frame["level"] == level).to_numpy()]
    kgs = rows["credit_kgs"].to_numpy(dtype=np.int64)
    check_sum_fits(kgs)
    codes, ids = pd.factorize(rows["entity_id"], use_na_sentinel=False)
    retired = (rows["status"] == "retired").to_numpy()
    active_kgs = np.zeros(len(ids), dtype=np.int64)
    retired_kgs = np.zeros(len(ids), dtype=np.int64)
    # np.add.at keeps int64; bincount would go through float64 and lose kilograms past 2**53.
    np.add.at(active_kgs, codes[~retired], kgs[~retired])
    np.add.at(retired_kgs, codes[retired], kgs[retired])
    return pd.DataFrame(
        {"active_kgs": active_kgs, "retired_kgs": retired_kgs},
        index=pd.Index(ids, name="entity_id"),
    )


def check_columns(frame: Any, columns: Sequence[str], function: str, what: str) -> None:
    """Raise, naming ``function`` and ``what`` it takes, unless ``frame`` is a DataFrame
    with every one of ``columns``."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{function}() takes {what}, got {type(frame).__name__}")
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{function}() takes {what}; missing column(s) {', '.join(missing)}")


def strings(values: Iterable[Any]) -> pd.Series:
    """A text column of ``values`` (None stays missing) in pandas' default string dtype, on a
    fresh 0-based index; for frames built column by column."""
    return pd.Series(list(values), dtype=STRING_DTYPE)
