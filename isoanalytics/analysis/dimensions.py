"""Holdings along a dimension (supplier, project, pathway, country) and the top N of them.

A balance lists suppliers and projects; pathway and country are properties of a project,
so :func:`breakdown` takes them from a project table (``client.projects()``) and sums the
projects' exact kilograms per pathway or country. :func:`top_n` keeps the largest rows and
folds the rest into one "Other" row, so charts and tables never drop a kilogram.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import pandas as pd

from .._format import name_or_id
from .._options import check_choice, check_integer
from ..records.frames import check_columns
from .metrics import Level, Source, Status, ratio, summarize, summary_frame, totals

__all__ = ["DIMENSIONS", "breakdown", "check_summary", "entity_noun", "label", "top_n"]

Dimension = Literal["supplier", "project", "pathway", "country"]
DIMENSIONS: tuple[str, ...] = ("supplier", "project", "pathway", "country")

# What a breakdown's rows are keyed by, and the column that names them.
_INDEX = {"supplier": "supplier_id", "project": "project_id", "pathway": "pathway",
          "country": "country", "organisation": "organisation_id", "order": "order_id"}
_NAME = {"supplier_id": "supplier_name", "project_id": "project_name",
         "organisation_id": "organisation_name", "country": "country_name"}
_PROJECT_COLUMNS = ("id", "name", "supplier_id", "supplier_name", "pathway", "country_code",
                    "country_name")
UNKNOWN = "(unknown)"


def _check_projects(projects: pd.DataFrame | None, by: str) -> pd.DataFrame | None:
    if projects is None:
        if by in ("pathway", "country"):
            raise ValueError(
                f"breakdown by {by!r} needs the project table: pass "
                f"projects=client.projects() (pathway and country belong to projects)"
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


def breakdown(source: Source, by: Dimension = "supplier", *,
              projects: pd.DataFrame | None = None) -> pd.DataFrame:
    """A :func:`~isoanalytics.summarize`-shaped summary along ``by``, with names when known.

    Parameters
    ----------
    source : CreditBalance or tidy frame
        One organisation or a stacked portfolio (summed over its organisations).
    by : {"supplier", "project", "pathway", "country"}
    projects : DataFrame, optional
        ``client.projects()``. Required for ``pathway`` and ``country``; for ``supplier``
        and ``project`` it adds names (``supplier_name``; ``project_name, pathway,
        project_country, supplier_name``).

    Returns
    -------
    DataFrame
        Indexed by ``supplier_id``, ``project_id``, ``pathway`` or ``country`` (ISO 3166
        alpha-3, with ``country_name``), with the columns of ``summarize``. A project missing
        from ``projects`` is counted under ``"(unknown)"`` with a warning naming it.

    Examples
    --------
    >>> from isoanalytics import RegistryClient, demo
    >>> from isoanalytics.analysis.dimensions import breakdown
    >>> with RegistryClient.demo() as client:
    ...     balance = client.credit_balance(demo.DEFAULT_ORGANISATION_ID)
    ...     by_country = breakdown(balance, "country", projects=client.projects())
    >>> by_country.index.name, int(by_country["total_kgs"].sum()) == balance.total_kgs
    ('country', True)
    """
    check_choice("by", by, DIMENSIONS)
    table = _check_projects(projects, by)
    level: Level = "supplier" if by == "supplier" else "project"
    summary = summarize(source, by=level)
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
    ids = pd.Series(frame.index.astype(str), index=frame.index)
    index_name = frame.index.name
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
