"""Holdings along a dimension (supplier, project, pathway, country, durability, vintage), top N.

A balance lists suppliers and projects; pathway, country and durability are properties of a
project, so :func:`breakdown` takes them from a project table (``client.projects()``) and sums
the projects' exact kilograms per pathway, country or durability class. A vintage (the year a
batch's carbon was sequestered) belongs to a credit batch, which a balance does not list: a
breakdown by vintage reads a credit-batch frame (``client.credit_batches(org)``) or a ledger
(:func:`isoanalytics.ledger`), which :func:`breakdown` takes for every dimension.
:func:`top_n` keeps the largest rows and folds the rest into one "Other" row, so charts and
tables never drop a kilogram.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd

from .._format import name_or_id
from .._options import check_choice, check_integer
from ..records.balance import CreditBalance
from ..records.frames import check_columns, check_sum_fits
from ..records.movements import EVENTS, INBOUND
from .durability import UNKNOWN, project_durability
from .metrics import Level, Source, Status, ratio, summarize, summary_frame, totals

__all__ = ["BREAKDOWNS", "DIMENSIONS", "breakdown", "check_summary", "entity_noun", "label",
           "top_n"]

Dimension = Literal["supplier", "project", "pathway", "country", "durability", "vintage"]
#: What a balance (with the project table) breaks down by.
DIMENSIONS: tuple[str, ...] = ("supplier", "project", "pathway", "country")
#: Everything :func:`breakdown` takes as ``by``: the dimensions, the durability class of a
#: project, and the vintage of a batch (from a credit-batch frame or a ledger only).
BREAKDOWNS: tuple[str, ...] = (*DIMENSIONS, "durability", "vintage")

# What a breakdown's rows are keyed by, and the column that names them.
_INDEX = {"supplier": "supplier_id", "project": "project_id", "pathway": "pathway",
          "country": "country", "durability": "durability", "vintage": "vintage",
          "organisation": "organisation_id", "order": "order_id"}
_NAME = {"supplier_id": "supplier_name", "project_id": "project_name",
         "organisation_id": "organisation_name", "country": "country_name"}
_PROJECT_COLUMNS = ("id", "name", "supplier_id", "supplier_name", "pathway", "country_code",
                    "country_name")
_BATCH_STATUSES = ("active", "retired", "split")
_BATCHES = "a credit-batch frame (client.credit_batches(organisation_id))"
_LEDGER = "a ledger frame (isoanalytics.ledger(client, organisation_id))"
_PASS = (f"pass {_BATCHES} or {_LEDGER}: a balance lists projects, suppliers and orders, and "
         "a vintage belongs to a batch")


def _check_projects(projects: pd.DataFrame | None, by: str) -> pd.DataFrame | None:
    if projects is None:
        if by in ("pathway", "country", "durability"):
            raise ValueError(
                f"breakdown by {by!r} needs the project table: pass "
                f"projects=client.projects() ({by} belongs to projects)"
            )
        return None
    if not isinstance(projects, pd.DataFrame):
        raise TypeError(f"projects must be the DataFrame from client.projects(), "
                        f"got {type(projects).__name__}")
    missing = [column for column in _PROJECT_COLUMNS if column not in projects.columns]
    if missing:
        raise ValueError(f"projects lacks the column(s) {', '.join(missing)}: pass the frame "
                         f"from client.projects()")
    return projects.drop_duplicates("id").set_index("id")


def _kind(source: object) -> str:
    """What ``source`` is: a balance, a credit-batch frame or a ledger."""
    if isinstance(source, CreditBalance):
        return "balance"
    if isinstance(source, pd.DataFrame):
        columns = set(source.columns)
        if {"level", "entity_id"} <= columns:
            return "balance"
        if {"event", "credit_kgs"} <= columns:
            return "ledger"
        if {"status", "credit_kgs"} <= columns:
            return "batches"
        raise ValueError(
            "breakdown() takes a CreditBalance or its tidy frame, " + _BATCHES + " or "
            + _LEDGER + "; this frame has none of their columns (level and entity_id; event "
            f"and credit_kgs; status and credit_kgs): {', '.join(map(str, source.columns[:8]))}")
    raise TypeError(f"breakdown() takes a CreditBalance, its tidy frame, {_BATCHES} or "
                    f"{_LEDGER}; got {type(source).__name__}")


def _exact_kgs(kgs: pd.Series, what: str) -> np.ndarray:
    if not pd.api.types.is_integer_dtype(kgs.dtype) or pd.api.types.is_bool_dtype(kgs.dtype):
        raise ValueError(f"breakdown() takes credit_kgs of {what} as integer kilograms, got "
                         f"dtype {kgs.dtype}; keep the exact int64 column (credits is for "
                         "display)")
    bad = kgs.isna() | (kgs < 0)
    if bad.any():
        row = kgs.index[bad.to_numpy()][0]
        raise ValueError(f"breakdown(): credit_kgs of {what} at row {row!r} is "
                         f"{kgs.loc[row]!r}; expected a non-negative integer")
    values = kgs.to_numpy(dtype=np.int64)
    check_sum_fits(values)
    return values


def _vintages(frame: pd.DataFrame, kind: str) -> pd.Series:
    """The vintage year of each row, as nullable integers (missing when not known)."""
    if kind == "ledger":
        return frame["vintage"].astype("Int64")
    days = frame["sequestered_on"]
    if not pd.api.types.is_datetime64_any_dtype(days.dtype):
        days = pd.to_datetime(days, errors="raise")
    return days.dt.year.astype("Int64")


def _held(source: pd.DataFrame, kind: str, key: str) -> pd.DataFrame:
    """Active and retired kilograms per ``key`` value of a credit-batch frame or a ledger."""
    wanted = "sequestered_on" if key == "vintage" and kind == "batches" else key
    what = _BATCHES if kind == "batches" else _LEDGER
    check_columns(source, ["credit_kgs", "status" if kind == "batches" else "event", wanted],
                  "breakdown", what)
    kgs = _exact_kgs(source["credit_kgs"], what)
    if kind == "batches":
        status = source["status"].astype(object)
        unknown = ~status.isin(_BATCH_STATUSES)
        if unknown.any():
            row = source.index[unknown.to_numpy()][0]
            raise ValueError(f"breakdown(): status at row {row!r} is {status.loc[row]!r}; a "
                             f"credit batch is one of {', '.join(_BATCH_STATUSES)}")
        # A split batch's credits are in its two children, which the frame lists: counting it
        # too would count them twice.
        retired = (status == "retired").to_numpy()
        active = np.where((status == "active").to_numpy(), kgs, 0)
        retired_kgs = np.where(retired, kgs, 0)
        kept = (status != "split").to_numpy()
    else:
        events = source["event"].astype(object)
        unknown = ~events.isin(EVENTS)
        if unknown.any():
            row = source.index[unknown.to_numpy()][0]
            raise ValueError(f"breakdown(): event at row {row!r} is {events.loc[row]!r}, whose "
                             f"direction is not known; a ledger's events are {', '.join(EVENTS)}")
        inbound = events.isin(INBOUND).to_numpy()
        retired = (events == "retired").to_numpy()
        # In adds to the active balance; out (transferred out or retired) takes from it, and
        # a retirement adds to the retired balance.
        active = np.where(inbound, kgs, -kgs)
        retired_kgs = np.where(retired, kgs, 0)
        kept = np.ones(len(source), dtype=bool)
    values = _vintages(source, kind) if key == "vintage" else source[key].astype(object)
    rows = pd.DataFrame({"key": values.to_numpy(), "active_kgs": active,
                         "retired_kgs": retired_kgs})
    if kind == "ledger":
        _check_ledger_whole(source, rows, key)
    rows = rows[kept]  # no row for a split batch: its key has its children's kilograms
    held = rows.groupby("key", sort=True, dropna=False)[["active_kgs", "retired_kgs"]].sum()
    return held


def _check_ledger_whole(source: pd.DataFrame, rows: pd.DataFrame, key: str) -> None:
    """Refuse a ledger that takes out of an account more than it brought in."""
    account = (source["organisation_id"].astype(object).to_numpy()
               if "organisation_id" in source.columns else np.zeros(len(rows), dtype=object))
    net = (rows.assign(account=account)
           .groupby(["account", "key"], sort=True, dropna=False)["active_kgs"].sum())
    short = net[net < 0]
    if len(short):
        (organisation, value), kgs = next(iter(short.items())), int(short.iloc[0])
        raise ValueError(
            f"breakdown(): the ledger takes {-kgs:,} kg more out of {key} {value!r} than it "
            f"brings in (organisation {organisation!r}), so it is not a whole history: pass "
            "the ledger as isoanalytics.ledger() returns it, not a part filtered by time or "
            "event")


def _movement_summary(source: pd.DataFrame, kind: str, key: str, name: str) -> pd.DataFrame:
    held = _held(source, kind, key)
    index = held.index
    if key == "vintage":
        index = pd.Index(index.astype("Int64"), name=name)
    else:
        index = pd.Index(index.astype(object), name=name)
    return summary_frame(held["active_kgs"].to_numpy(np.int64),
                         held["retired_kgs"].to_numpy(np.int64), index)


def breakdown(source: Source, by: Dimension = "supplier", *,
              projects: pd.DataFrame | None = None,
              durability: Mapping[str, str] | None = None) -> pd.DataFrame:
    """A :func:`~isoanalytics.summarize`-shaped summary along ``by``, with names when known.

    Parameters
    ----------
    source : CreditBalance, tidy frame, credit-batch frame or ledger
        One organisation or a stacked portfolio (summed over its organisations); or the
        batches of ``client.credit_batches(organisation_id)`` (active and retired batches are
        held; a split batch is left out, since its credits are in its children); or a ledger
        (:func:`isoanalytics.ledger`), whose movements in and out add up to what is held.
    by : {"supplier", "project", "pathway", "country", "durability", "vintage"}
        ``vintage`` (the year of a batch's ``sequestered_on``) needs a credit-batch frame or
        a ledger: a balance has no vintage.
    projects : DataFrame, optional
        ``client.projects()``. Required for ``pathway``, ``country`` and ``durability``; for
        ``supplier`` and ``project`` it adds names (``supplier_name``; ``project_name,
        pathway, project_country, supplier_name``).
    durability : mapping, optional
        Protocol slug or pathway to durability class, for ``by="durability"``;
        :data:`~isoanalytics.analysis.durability.DURABILITY` by default.

    Returns
    -------
    DataFrame
        Indexed by ``supplier_id``, ``project_id``, ``pathway``, ``country`` (ISO 3166
        alpha-3, with ``country_name``), ``durability`` or ``vintage`` (nullable integer
        years; missing where a batch has no ``sequestered_on``), with the columns of
        ``summarize``. A project missing from ``projects``, or a pathway the durability
        mapping does not list, is counted under ``"(unknown)"`` with a warning naming it.

    Raises
    ------
    ValueError
        For ``vintage`` from a balance, a missing column, a status or event that is not the
        registry's, or a ledger that takes out more than it brings in (a filtered part).

    Examples
    --------
    >>> from isoanalytics import RegistryClient, demo
    >>> from isoanalytics.analysis.dimensions import breakdown
    >>> with RegistryClient.demo() as client:
    ...     balance = client.credit_balance(demo.DEFAULT_ORGANISATION_ID)
    ...     projects = client.projects()
    ...     by_country = breakdown(balance, "country", projects=projects)
    ...     batches = client.credit_batches(demo.DEFAULT_ORGANISATION_ID)
    >>> by_country.index.name, int(by_country["total_kgs"].sum()) == balance.total_kgs
    ('country', True)
    >>> by_vintage = breakdown(batches, "vintage")
    >>> int(by_vintage["total_kgs"].sum()) == balance.total_kgs
    True
    >>> breakdown(balance, "durability", projects=projects).index.tolist()
    ['1000+ years', '100-1000 years']
    """
    check_choice("by", by, BREAKDOWNS)
    kind = _kind(source)
    if by == "vintage":
        if kind == "balance":
            raise ValueError(f"breakdown by 'vintage' needs batch-level data: {_PASS}")
        assert isinstance(source, pd.DataFrame)
        return _movement_summary(source, kind, "vintage", "vintage")
    table = _check_projects(projects, by)
    level: Level = "supplier" if by == "supplier" else "project"
    if kind == "balance":
        summary = summarize(source, by=level)
    else:
        assert isinstance(source, pd.DataFrame)
        summary = _movement_summary(source, kind, f"{level}_id", f"{level}_id")
    if table is None:
        return summary
    if by == "supplier":
        names = table.drop_duplicates("supplier_id").set_index("supplier_id")["supplier_name"]
        return summary.assign(supplier_name=summary.index.map(names.to_dict()).astype(object))
    known = summary.index.isin(table.index)
    if not known.all():
        unknown = summary.index[~known].tolist()
        warnings.warn(f"{len(unknown)} project(s) are not in the project table and are counted "
                      f"as {UNKNOWN!r}: {', '.join(unknown[:5])}"
                      + (" ..." if len(unknown) > 5 else ""), stacklevel=2)
    attributes = table.reindex(summary.index)
    if by == "project":
        return summary.assign(
            project_name=attributes["name"].astype(object).to_numpy(),
            pathway=attributes["pathway"].astype(object).to_numpy(),
            project_country=attributes["country_code"].astype(object).to_numpy(),
            supplier_name=attributes["supplier_name"].astype(object).to_numpy(),
        )
    if by == "durability":
        assert projects is not None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            classes = project_durability(projects[projects["id"].isin(summary.index)],
                                         durability)
        for warning in caught:  # raised again here, so that it points at the caller
            warnings.warn(str(warning.message), stacklevel=2)
        groups = classes.reindex(summary.index).astype(object).fillna(UNKNOWN).to_numpy()
    else:
        key = "pathway" if by == "pathway" else "country_code"
        groups = attributes[key].astype(object).fillna(UNKNOWN).to_numpy()
    grouped = (summary[["active_kgs", "retired_kgs"]]
               .groupby(pd.Index(groups, name=by), sort=True).sum())
    result = summary_frame(grouped["active_kgs"].to_numpy(np.int64),
                      grouped["retired_kgs"].to_numpy(np.int64), grouped.index)
    if by == "country":
        names = (table.dropna(subset=["country_code"])
                 .drop_duplicates("country_code").set_index("country_code")["country_name"])
        result = result.assign(country_name=result.index.map(names.to_dict()).astype(object))
    return result


def check_summary(summary: pd.DataFrame, function: str) -> None:
    """Raise, naming ``function``, unless ``summary`` has the kilogram columns of a summary."""
    check_columns(summary, ("active_kgs", "retired_kgs", "total_kgs"), function,
                  "a summary DataFrame from summarize() or breakdown()")


def top_n(summary: pd.DataFrame, n: int = 10, *, status: Status = "total") -> pd.DataFrame:
    """The ``n`` largest rows by ``<status>_kgs``, the rest summed into one "Other (k)" row.

    Every kilogram of ``summary`` is in the result: the other row holds the exact sums of the
    rows it replaces, and ``share`` stays relative to the whole summary. The boolean column
    ``other`` marks that row, which comes last and exists only when rows were folded.

    Examples
    --------
    >>> from isoanalytics import demo, parse_balance, summarize
    >>> from isoanalytics.analysis.dimensions import top_n
    >>> balance = parse_balance(demo.registry().credit_balance(demo.DEFAULT_ORGANISATION_ID))
    >>> folded = top_n(summarize(balance, by="supplier"), 2)
    >>> folded.index[-1], int(folded["total_kgs"].sum()) == balance.total_kgs
    ('Other (3)', True)
    """
    check_choice("status", status, ("total", "active", "retired"))
    check_integer("n", n)
    check_summary(summary, "top_n")
    ordered = summary.sort_values(f"{status}_kgs", ascending=False, kind="stable")
    kept = ordered.iloc[:n].assign(other=False)
    rest = ordered.iloc[n:]
    if rest.empty:
        return kept
    folded = totals(rest)
    label = f"Other ({len(rest)})"
    row = summary_frame(np.array([folded.active_kgs], dtype=np.int64),
                        np.array([folded.retired_kgs], dtype=np.int64),
                        pd.Index([label], name=summary.index.name))
    # share stays relative to the whole summary, not to the folded rows
    row["share"] = ratio(folded.total_kgs, int(summary["total_kgs"].sum()))
    # The other row has no name of its own (name columns are missing): its index is its label.
    return pd.concat([kept, row.assign(other=True).reindex(columns=kept.columns)])


def entity_noun(frame: pd.DataFrame) -> str:
    """What a summary's rows are, from its index: "supplier", "pathway", "organisation"..."""
    nouns = {index: dimension for dimension, index in _INDEX.items()}
    index_name = str(frame.index.name) if frame.index.name is not None else None
    return nouns.get(index_name, index_name) if index_name else "entity"


def label(frame: pd.DataFrame) -> pd.Series:
    """Display labels for a summary's rows: names where the summary has them, ids otherwise.

    Pathways read as words ("biomass_carbon_removal_and_storage" becomes "Biomass carbon
    removal and storage"); an "Other" row keeps its label.

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics.analysis.dimensions import label
    >>> frame = pd.DataFrame({"supplier_name": ["Deepwell Carbon", None]},
    ...                      index=pd.Index(["spl_1", "spl_2"], name="supplier_id"))
    >>> label(frame).tolist()
    ['Deepwell Carbon', 'spl_2']
    """
    index_name = frame.index.name
    # A missing vintage (a batch without sequestered_on) reads as the other unknowns do.
    ids = pd.Series([UNKNOWN if pd.isna(value) else str(value)
                     for value in frame.index], index=frame.index, dtype=object)
    if index_name == "pathway":
        named = ids.where(ids == UNKNOWN, ids.str.replace("_", " ").str.capitalize())
    else:
        column = _NAME.get(str(index_name))
        if column is None or column not in frame.columns:
            return ids
        names = frame[column].astype(object)
        named = pd.Series([name_or_id(name, entity_id)
                           for name, entity_id in zip(names, ids, strict=True)],
                          index=frame.index, dtype=object)
    if "other" in frame.columns:
        named = named.where(~frame["other"].astype(bool), ids)
    return named.astype(str)
