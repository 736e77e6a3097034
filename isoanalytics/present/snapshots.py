"""Balance snapshots: the history of holdings the registry does not keep, a file per snapshot.

The registry answers with a balance as it is now; once credits move, the earlier picture is
gone. :func:`snapshot` (and ``isoanalytics snapshot``, run daily by cron or a CI job) reads
each organisation's balance and appends it to a store; :func:`history` stacks the store into
one tidy frame and :func:`changes` says what moved between two times.

The store is a Parquet dataset partitioned by the day of the snapshot (UTC)::

    store/_isoanalytics-store.json
    store/snapshot_date=2025-03-01/20250301T060000123456Z-<snapshot_id>.parquet

Each file is one snapshot (one run, every organisation it read), with the columns of
:data:`SNAPSHOT_COLUMNS`: the tidy balance columns with ``snapshot_at`` (the UTC instant the
balances were read) and ``snapshot_id``. A file is written under a hidden temporary name and
renamed when whole, so a run that is interrupted or killed leaves no partial file, and runs at
the same moment never write the same name. Nothing is merged: an identical balance read twice
is two snapshots, each with its own time.

DuckDB reads the store as it is::

    SELECT * FROM read_parquet('store/*/*.parquet', hive_partitioning = true)
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._version import version
from ..ids import check_id
from ..records.balance import COLUMNS, CreditBalance, stack_balances
from ..records.frames import (
    LEVEL_DTYPE,
    LEVELS,
    STATUS_DTYPE,
    STRING_DTYPE,
    check_columns,
    check_tidy,
)
from ..registry.client import RegistryClient
from .datasets import DatasetPathError, check_folder, parquet_engine, write_error, write_file

__all__ = ["PARTITION", "SNAPSHOT_COLUMNS", "STORE_MARKER", "append_snapshot", "changes",
           "check_store", "history", "snapshot"]

SNAPSHOT_COLUMNS = ("snapshot_at", "snapshot_id", *COLUMNS)
PARTITION = "snapshot_date"
# Marks a folder as a store (the command refuses to write snapshots into any other folder
# with files in it); the leading underscore keeps pyarrow, DuckDB's globs and Spark off it.
STORE_MARKER = "_isoanalytics-store.json"
STORE_VERSION = 1
_INSTANT = pd.DatetimeTZDtype("us", "UTC")


def _is_store(folder: Path) -> bool:
    return (folder / STORE_MARKER).is_file()


def check_store(store: str | os.PathLike[str], what: str = "snapshot store") -> Path:
    """The folder of an existing snapshot store, to read; refused before any work otherwise.

    Reading (a report's history) never makes a store: a path that does not exist, is not a
    folder or has no :data:`STORE_MARKER` raises :class:`DatasetPathError` naming ``what``
    (the option or argument that gave it) and how a store is made.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from isoanalytics.present.snapshots import check_store
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     try:
    ...         check_store(pathlib.Path(folder, "nowhere"), "--history")
    ...     except ValueError as error:
    ...         print("does not exist" in str(error), str(error).startswith("--history"))
    True True
    """
    given = os.fspath(store)
    folder = Path(store).expanduser()
    make = "the command isoanalytics snapshot --store DIR makes one"
    if not folder.exists():
        problem = "does not exist"
    elif not folder.is_dir():
        problem = "is not a folder"
    elif not _is_store(folder):
        problem = f"is a folder but not a snapshot store (it has no {STORE_MARKER})"
    else:
        return folder
    raise DatasetPathError(f"{what} {given!r} {problem}; name a snapshot store: {make}",
                           path=given)


def _store(store: str | os.PathLike[str]) -> Path:
    """The store's folder, made a store if it is new (or empty); refused if it is something else."""
    folder = check_folder(store, "snapshot store", ours=_is_store,
                          other=f"it is not a snapshot store (it has no {STORE_MARKER})")
    try:
        folder.mkdir(exist_ok=True)
        if not _is_store(folder):
            marker = {"package": "isoanalytics", "store_version": STORE_VERSION,
                      "layout": f"{PARTITION}=YYYY-MM-DD/<snapshot_at>-<snapshot_id>.parquet"}
            write_file(folder / STORE_MARKER,
                       lambda path: path.write_text(json.dumps(marker, indent=2) + "\n"))
    except OSError as error:
        raise write_error(error, folder, "no snapshot was written") from None
    return folder


def _utc(value: Any, name: str) -> pd.Timestamp:
    try:
        instant = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a date or an instant (e.g. '2025-03-01' or a "
                         f"timezone-aware datetime), got {value!r}") from None
    if instant is pd.NaT:
        raise ValueError(f"{name} must be a date or an instant, got {value!r}")
    # A date or a naive time is read as UTC, the store's own clock.
    return (instant.tz_localize("UTC") if instant.tzinfo is None
            else instant.tz_convert("UTC")).as_unit("us")


def append_snapshot(
    store: str | os.PathLike[str],
    balances: pd.DataFrame | Mapping[str, CreditBalance],
    *,
    at: datetime | str | None = None,
) -> Path:
    """Append one snapshot of balances to the store; returns the file written.

    Parameters
    ----------
    store : path
        The store's folder: created if it is missing (its parent must exist); a folder of
        other files is refused.
    balances : tidy frame or mapping of organisation id to CreditBalance
        A frame as :func:`~isoanalytics.stack_balances` gives (every row needs its
        ``organisation_id``).
    at : datetime, str or None
        When the balances were read (UTC; a naive time is taken as UTC); None: now.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from isoanalytics import demo, history, parse_balance
    >>> from isoanalytics.present.snapshots import append_snapshot
    >>> org = demo.DEFAULT_ORGANISATION_ID
    >>> held = {org: parse_balance(demo.registry().credit_balance(org), organisation_id=org)}
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     for day in ("2025-03-01", "2025-03-01", "2025-03-02"):  # the same balance thrice
    ...         _ = append_snapshot(pathlib.Path(folder, "store"), held, at=day)
    ...     kept = history(pathlib.Path(folder, "store"))
    >>> kept["snapshot_id"].nunique()  # none merged
    3
    """
    parquet = parquet_engine("Snapshot stores")
    import pyarrow as pa

    frame = (stack_balances(list(balances.items())) if isinstance(balances, Mapping)
             else check_tidy(balances))
    if frame["organisation_id"].isna().any():
        raise ValueError("balances: every row of a snapshot needs its organisation_id")
    instant = _utc(datetime.now(UTC) if at is None else at, "at")
    folder = _store(store)
    snapshot_id = uuid.uuid4().hex
    rows = frame.reset_index(drop=True)
    rows.insert(0, "snapshot_id", pd.Series([snapshot_id] * len(rows), dtype=STRING_DTYPE))
    rows.insert(0, "snapshot_at", pd.Series([instant] * len(rows), dtype=_INSTANT))
    table = pa.Table.from_pandas(rows[list(SNAPSHOT_COLUMNS)], preserve_index=False)
    table = table.replace_schema_metadata({
        **(table.schema.metadata or {}),
        b"isoanalytics": json.dumps({"store_version": STORE_VERSION,
                                     "package_version": version()}).encode()})
    day = folder / f"{PARTITION}={instant:%Y-%m-%d}"
    path = day / f"{instant:%Y%m%dT%H%M%S%fZ}-{snapshot_id}.parquet"
    try:
        day.mkdir(exist_ok=True)
        write_file(path, lambda temporary: parquet.write_table(table, temporary))
    except OSError as error:
        raise write_error(error, path, "the store was left as it was") from None
    return path


def snapshot(
    organisation_ids: str | Iterable[str] | None = None,
    store: str | os.PathLike[str] = "snapshots",
    *,
    demo: bool = False,
    environment: str | None = None,
    client: RegistryClient | None = None,
) -> Path:
    """Read each organisation's balance now and append it to the store as one snapshot.

    Parameters are those of :func:`~isoanalytics.export`; a read that fails writes nothing
    (the snapshot is whole or absent), and the store is checked before any request.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from isoanalytics import history
    >>> from isoanalytics.present.snapshots import snapshot
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = snapshot(store=pathlib.Path(folder, "store"), demo=True)
    ...     len(history(pathlib.Path(folder, "store"))) > 0
    True
    """
    if client is not None and (demo or environment):
        raise ValueError("client= is a client of your own: leave demo= and environment= out")
    ids = ([organisation_ids] if isinstance(organisation_ids, str)
           else list(organisation_ids or []))
    ids = [check_id(organisation_id, "organisation", argument="organisation_ids")
           for organisation_id in dict.fromkeys(ids)]
    parquet_engine("Snapshot stores")  # before any request: say what to install
    _store(store)
    own = client is None
    if client is None:
        client = RegistryClient.demo() if demo else RegistryClient(environment)
    try:
        if not ids:  # the token's own (on the demo registry, its default buyer)
            ids = [client.current_organisation()["id"]]
        outcomes = client.credit_balances(ids)
        at = datetime.now(UTC)
    finally:
        if own:
            client.close()
    for outcome in outcomes.values():
        if not isinstance(outcome, CreditBalance):
            raise outcome
    return append_snapshot(store, {organisation_id: outcome
                                   for organisation_id, outcome in outcomes.items()
                                   if isinstance(outcome, CreditBalance)}, at=at)


def _empty_history() -> pd.DataFrame:
    return pd.DataFrame({
        "snapshot_at": pd.Series([], dtype=_INSTANT),
        "snapshot_id": pd.Series([], dtype=STRING_DTYPE),
        "organisation_id": pd.Series([], dtype=STRING_DTYPE),
        "level": pd.Series([], dtype=LEVEL_DTYPE),
        "entity_id": pd.Series([], dtype=STRING_DTYPE),
        "status": pd.Series([], dtype=STATUS_DTYPE),
        "credit_kgs": pd.Series([], dtype=np.int64),
        "credits": pd.Series([], dtype=np.float64),
    })


def history(store: str | os.PathLike[str]) -> pd.DataFrame:
    """Every snapshot in the store, stacked: the tidy balance columns with ``snapshot_at``.

    Returns
    -------
    DataFrame
        ``snapshot_at`` (UTC), ``snapshot_id``, then the columns of
        :meth:`~isoanalytics.CreditBalance.to_frame`; ordered by time, then snapshot, each
        snapshot's rows as they were read. Empty (with these columns) for a new store.

    Examples
    --------
    >>> import tempfile
    >>> from isoanalytics import history
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     list(history(folder).columns[:3])
    ['snapshot_at', 'snapshot_id', 'organisation_id']
    """
    folder = Path(store).expanduser()
    if not folder.is_dir():
        raise DatasetPathError(f"snapshot store {os.fspath(store)!r} is not a folder; "
                               "isoanalytics snapshot --store DIR makes one", path=str(store))
    parquet_engine("Snapshot stores")
    import pyarrow as pa
    import pyarrow.dataset as ds

    files = sorted(folder.glob(f"{PARTITION}=*/*.parquet"))  # never a hidden temporary
    files = [path for path in files if not path.name.startswith((".", "_"))]
    if not files:
        return _empty_history()
    try:
        table = ds.dataset([str(path) for path in files], format="parquet").to_table(
            columns=list(SNAPSHOT_COLUMNS))
    except (pa.ArrowException, OSError) as error:
        raise ValueError(f"snapshot store {str(folder)!r} holds a file that is not a "
                         f"snapshot: {error}") from None
    frame = table.to_pandas()
    frame = frame.assign(level=frame["level"].astype(LEVEL_DTYPE),
                         status=frame["status"].astype(STATUS_DTYPE),
                         snapshot_at=frame["snapshot_at"].astype(_INSTANT))
    # Files are named by time, so this is mostly in order already; stable keeps each
    # snapshot's rows as read.
    frame = frame.sort_values(["snapshot_at", "snapshot_id"], kind="stable")
    return frame.reset_index(drop=True)


CHANGE_COLUMNS = ("from_snapshot_at", "to_snapshot_at", "active_kgs_from", "active_kgs_to",
                  "active_change_kgs", "retired_kgs_from", "retired_kgs_to",
                  "retired_change_kgs")


def _held(rows: pd.DataFrame) -> pd.DataFrame:
    """Active and retired kilograms per entity of one snapshot's rows."""
    kgs = rows.pivot_table(index="entity_id", columns="status", values="credit_kgs",
                           aggfunc="sum", fill_value=0, observed=False)
    return kgs.reindex(columns=["active", "retired"], fill_value=0).astype(np.int64)


def changes(
    store: str | os.PathLike[str] | pd.DataFrame,
    start: datetime | str,
    end: datetime | str,
    *,
    by: str = "supplier",
) -> pd.DataFrame:
    """The kilograms that moved per organisation and entity between two snapshots.

    For each organisation, the snapshot compared *from* is its latest at or before ``start``
    (its earliest, if it has none that old) and the one *to* is its latest at or before
    ``end``; the columns ``from_snapshot_at`` and ``to_snapshot_at`` say which. An
    organisation with no snapshot by ``end`` has no rows.

    Parameters
    ----------
    store : path or DataFrame
        The store, or a frame from :func:`history`.
    start, end : date, instant or str
        UTC; a naive time or a date is taken as UTC.
    by : {"supplier", "project", "order", "organisation"}

    Returns
    -------
    DataFrame
        ``organisation_id, <by>_id``, the two snapshot times, and per status (active,
        retired) the kilograms from, to, and their change (int64, exact; to minus from).
        Every entity held in either snapshot is a row; ordered by organisation, then id.

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics import changes
    >>> rows = pd.DataFrame({
    ...     "snapshot_at": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-02-01"], utc=True),
    ...     "snapshot_id": ["a", "a", "b"], "organisation_id": ["org_1"] * 3,
    ...     "level": "supplier", "entity_id": ["spl_1", "spl_1", "spl_1"],
    ...     "status": ["active", "retired", "active"], "credit_kgs": [900, 100, 400],
    ...     "credits": [0.9, 0.1, 0.4]})
    >>> moved = changes(rows, "2025-01-15", "2025-02-15")
    >>> moved[["active_change_kgs", "retired_change_kgs"]].iloc[0].tolist()
    [-500, -100]
    """
    if by not in LEVELS:
        raise ValueError(f"by must be one of {', '.join(map(repr, LEVELS))}; got {by!r}")
    frame = store if isinstance(store, pd.DataFrame) else history(store)
    check_columns(frame, SNAPSHOT_COLUMNS, "changes", "a snapshot store or a frame of history()")
    start_at, end_at = _utc(start, "start"), _utc(end, "end")
    if start_at > end_at:
        raise ValueError(f"start ({start_at}) is after end ({end_at}); swap them")
    at = frame["snapshot_at"]
    if not isinstance(at.dtype, pd.DatetimeTZDtype):
        raise ValueError("changes(): snapshot_at must be UTC instants, as history() gives")
    snapshots = (frame[["organisation_id", "snapshot_at", "snapshot_id"]]
                 .drop_duplicates().sort_values(["organisation_id", "snapshot_at", "snapshot_id"],
                                                kind="stable"))
    level_rows = frame[(frame["level"] == by).to_numpy()]
    parts = []
    for organisation_id, taken in snapshots.groupby("organisation_id", sort=True):
        by_end = taken[taken["snapshot_at"] <= end_at]
        if by_end.empty:
            continue
        by_start = by_end[by_end["snapshot_at"] <= start_at]
        first = by_start.iloc[-1] if len(by_start) else by_end.iloc[0]
        last = by_end.iloc[-1]
        mine = level_rows[(level_rows["organisation_id"] == organisation_id).to_numpy()]
        held_from = _held(mine[(mine["snapshot_id"] == first["snapshot_id"]).to_numpy()])
        held_to = _held(mine[(mine["snapshot_id"] == last["snapshot_id"]).to_numpy()])
        # Reindexed with 0, never an outer join: its NaN would make the kilograms floats.
        index = held_from.index.union(held_to.index).sort_values()
        both = pd.concat([held_from.reindex(index, fill_value=0).add_suffix("_from"),
                          held_to.reindex(index, fill_value=0).add_suffix("_to")], axis=1)
        parts.append(pd.DataFrame({
            "organisation_id": pd.Series(organisation_id, index=both.index, dtype=STRING_DTYPE),
            f"{by}_id": both.index.astype(STRING_DTYPE),
            "from_snapshot_at": pd.Series(first["snapshot_at"], index=both.index, dtype=_INSTANT),
            "to_snapshot_at": pd.Series(last["snapshot_at"], index=both.index, dtype=_INSTANT),
            "active_kgs_from": both["active_from"], "active_kgs_to": both["active_to"],
            "active_change_kgs": both["active_to"] - both["active_from"],
            "retired_kgs_from": both["retired_from"], "retired_kgs_to": both["retired_to"],
            "retired_change_kgs": both["retired_to"] - both["retired_from"],
        }).reset_index(drop=True))
    if not parts:
        return pd.DataFrame({
            "organisation_id": pd.Series([], dtype=STRING_DTYPE),
            f"{by}_id": pd.Series([], dtype=STRING_DTYPE),
            **{column: pd.Series([], dtype=_INSTANT if column.endswith("_at") else np.int64)
               for column in CHANGE_COLUMNS}})
    return pd.concat(parts, ignore_index=True)
