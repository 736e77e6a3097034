"""Every tidy frame of the package as open files: a Parquet dataset (or CSV) and a manifest.

:func:`export` (and ``isoanalytics export``) reads the organisations' frames through one
:class:`~isoanalytics.RegistryClient` and writes each table of :data:`TABLES` into a folder:

- Parquet: ``<table>/organisation_id=<id>/part-0.parquet`` for a table of organisations' own
  data (hive partitions, one file per organisation, an empty one for an organisation with no
  rows, so every reader sees the schema), ``<table>/part-0.parquet`` for the registry's public
  lists. Kilograms stay exact int64, instants are UTC, categoricals are dictionary columns,
  and pandas' own metadata rides along, so ``pd.read_parquet(folder / table)`` gives the frame
  back dtype for dtype (the partition key comes back as the last column, a categorical).
- CSV: ``<table>.csv``, the same columns (the key included), for spreadsheets.

``manifest.json`` beside them says what was read and when: the environment, the time the reads
began, the package version, the schema version, and per table its files, row count and
kilogram totals, overall and per organisation (so a reader checks it got everything).

The folder is written under a hidden temporary name beside the target and put in its place in
one step at the end (:func:`~isoanalytics.present.datasets.publish_folder`): an export that
fails or is interrupted leaves the previous export, if any, as it was.

Each table is one entry of :data:`TABLES`: its name, how it is built from a client and the
organisations, and how it is partitioned. A new frame of the package is one more entry.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._options import check_choice
from .._version import version
from ..analysis.metrics import summarize
from ..ids import check_id
from ..records.balance import CreditBalance, stack_balances
from ..records.deliveries import DeliverySchedule
from ..records.frames import check_sum_fits
from ..registry.claims import claims
from ..registry.client import RegistryClient
from ..registry.deliveries import delivery_schedule
from ..registry.enrich import enrich
from ..registry.ledger import ledger
from .datasets import (
    check_folder,
    parquet_engine,
    publish_folder,
    temporary_folder,
    write_error,
    write_parquet,
)

__all__ = ["FORMATS", "MANIFEST", "ORGANISATION_KEY", "SCHEMA_VERSION", "TABLES", "Sources",
           "Table", "export", "export_frames", "kilogram_totals", "read_manifest",
           "write_export"]

FORMATS = ("parquet", "csv")
MANIFEST = "manifest.json"
# The layout and the meaning of the manifest's fields; a reader can refuse a version it does
# not know. Bump it when a table's columns change meaning or the layout changes.
SCHEMA_VERSION = 1
ORGANISATION_KEY = "organisation_id"

class Sources:
    """What every table is built from: one client, the organisations, their balances read once.

    Examples
    --------
    >>> from isoanalytics import RegistryClient, demo
    >>> from isoanalytics.present.export import Sources
    >>> with RegistryClient.demo() as client:
    ...     sources = Sources(client, [demo.DEFAULT_ORGANISATION_ID])
    ...     sources.balances[demo.DEFAULT_ORGANISATION_ID].total_kgs > 0
    True
    """

    def __init__(self, client: RegistryClient, organisation_ids: Sequence[str], *,
                 as_of: Any = None) -> None:
        self.client = client
        self.organisation_ids = tuple(organisation_ids)
        self.as_of = as_of  # when delivery schedules judge an order behind; None: now

    @functools.cached_property
    def balances(self) -> dict[str, CreditBalance]:
        """Each organisation's balance, read concurrently; the first failure is raised."""
        outcomes = self.client.credit_balances(self.organisation_ids)
        for outcome in outcomes.values():
            if not isinstance(outcome, CreditBalance):
                raise outcome  # an export is whole: no organisation is left out quietly
        return {organisation_id: outcome for organisation_id, outcome in outcomes.items()
                if isinstance(outcome, CreditBalance)}

    @functools.cached_property
    def schedules(self) -> dict[str, DeliverySchedule]:
        """Each organisation's delivery schedule, judged as of :attr:`as_of`."""
        return {organisation_id: delivery_schedule(self.client, organisation_id,
                                                   as_of=self.as_of)
                for organisation_id in self.organisation_ids}

    @functools.cached_property
    def ledgers(self) -> dict[str, pd.DataFrame]:
        """Each organisation's ledger (its findings in ``attrs["ledger"]["findings"]``)."""
        return {organisation_id: ledger(self.client, organisation_id, progress=False)
                for organisation_id in self.organisation_ids}

    def each(self, read: Callable[[str], pd.DataFrame]) -> pd.DataFrame:
        """``read(organisation_id)`` for every organisation, stacked, the key as first column."""
        parts = []
        for organisation_id in self.organisation_ids:
            part = read(organisation_id).copy(deep=False)
            part.attrs = {}  # a ledger's context: concat would compare its frames
            if ORGANISATION_KEY in part.columns:  # the account it was read for is the key
                part = part.drop(columns=ORGANISATION_KEY)
            parts.append(part.reset_index(drop=not _named_index(part)).assign(
                **{ORGANISATION_KEY: organisation_id}))
        stacked = pd.concat(parts, ignore_index=True)
        return stacked[[ORGANISATION_KEY, *(c for c in stacked.columns if c != ORGANISATION_KEY)]]


def _named_index(frame: pd.DataFrame) -> bool:
    return frame.index.name is not None  # a summary's supplier_id, project_id: a column


def kilogram_totals(frame: pd.DataFrame) -> dict[str, int]:
    """Exact sums of the int64 kilogram columns (``*_kgs``), as Python ints.

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics.present.export import kilogram_totals
    >>> kilogram_totals(pd.DataFrame({"credit_kgs": [2, 3], "credits": [0.002, 0.003]}))
    {'credit_kgs': 5}
    """
    totals = {}
    for column in frame.columns:
        if str(column).endswith("_kgs") and frame[column].dtype == np.int64:
            kgs = frame[column].to_numpy(np.int64)
            check_sum_fits(np.abs(kgs))
            totals[str(column)] = int(kgs.sum())
    return totals


def _balance_totals(frame: pd.DataFrame) -> dict[str, int]:
    # The stacked balance lists each kilogram at four levels: its totals are the organisations'.
    rows = frame[(frame["level"] == "organisation").to_numpy()]
    kgs = rows["credit_kgs"].to_numpy(np.int64)
    retired = (rows["status"] == "retired").to_numpy()
    active_kgs, retired_kgs = int(kgs[~retired].sum()), int(kgs[retired].sum())
    return {"active_kgs": active_kgs, "retired_kgs": retired_kgs,
            "total_kgs": active_kgs + retired_kgs}


@dataclass(frozen=True)
class Table:
    """One exported table: its name, how to build it, and how it is partitioned.

    Attributes
    ----------
    name : str
        The folder (Parquet) or file stem (CSV) and the manifest's key.
    build : callable
        ``build(sources) -> DataFrame``; an organisation's table has ``organisation_id`` first.
    partition_by : str or None
        ``"organisation_id"`` for an organisation's own data; None for the registry's lists.
    description : str
        One line for the manifest.
    totals : callable
        ``totals(frame) -> {name: kg}`` for the manifest; by default :func:`kilogram_totals`.

    Examples
    --------
    >>> from isoanalytics.present.export import TABLES
    >>> [table.name for table in TABLES][:3]
    ['balances', 'supplier_summaries', 'project_summaries']
    """

    name: str
    build: Callable[[Sources], pd.DataFrame]
    partition_by: str | None
    description: str
    totals: Callable[[pd.DataFrame], dict[str, int]] = field(default=kilogram_totals)


def _summaries(by: Literal["supplier", "project"]) -> Callable[[Sources], pd.DataFrame]:
    def build(sources: Sources) -> pd.DataFrame:
        return sources.each(lambda organisation_id: enrich(
            summarize(sources.balances[organisation_id], by=by), sources.client))
    return build


def _balances(sources: Sources) -> pd.DataFrame:
    return stack_balances(list(sources.balances.items()))


TABLES: tuple[Table, ...] = (
    Table("balances", _balances, ORGANISATION_KEY,
          "credit_balance: one row per (organisation, level, entity, status)", _balance_totals),
    Table("supplier_summaries", _summaries("supplier"), ORGANISATION_KEY,
          "summarize(balance, by='supplier') per organisation, with names (enrich)"),
    Table("project_summaries", _summaries("project"), ORGANISATION_KEY,
          "summarize(balance, by='project') per organisation, with names (enrich)"),
    Table("credit_batches", lambda s: s.each(s.client.credit_batches), ORGANISATION_KEY,
          "client.credit_batches: every batch the organisation holds or retired"),
    Table("orders", lambda s: s.each(s.client.orders), ORGANISATION_KEY,
          "client.orders: ordered, delivered and remaining kilograms"),
    Table("deliveries", lambda s: s.each(
        lambda organisation_id: s.client.deliveries(to_organisation_id=organisation_id)),
        ORGANISATION_KEY, "client.deliveries: deliveries the organisation received"),
    Table("transfers", lambda s: s.each(
        lambda organisation_id: s.client.transfers(organisation_id=organisation_id)),
        ORGANISATION_KEY, "client.transfers: transfers into or out of the organisation"),
    Table("retirements", lambda s: s.each(
        lambda organisation_id: s.client.retirements(owner_organisation_id=organisation_id)),
        ORGANISATION_KEY, "client.retirements: retirements the organisation made"),
    Table("ledger", lambda s: s.each(s.ledgers.__getitem__), ORGANISATION_KEY,
          "ledger: one row per movement of credits into, within or out of the account"),
    Table("ledger_findings", lambda s: s.each(
        lambda organisation_id: s.ledgers[organisation_id].attrs["ledger"]["findings"]),
        ORGANISATION_KEY, "the ledger's findings: credits that came by a route nobody listed "
                          "(a buffer-pool refund the API does not list), a missing record"),
    Table("claims", lambda s: s.each(
        lambda organisation_id: claims(s.client, organisation_id, progress=False)),
        ORGANISATION_KEY, "claims: one row per credit batch the organisation's retirements "
                          "retired"),
    Table("delivery_schedule", lambda s: s.each(
        lambda organisation_id: s.schedules[organisation_id].orders), ORGANISATION_KEY,
        "delivery_schedule(...).orders: each order against its deliveries"),
    Table("delivery_progress", lambda s: s.each(
        lambda organisation_id: s.schedules[organisation_id].progress), ORGANISATION_KEY,
        "delivery_schedule(...).progress: monthly cumulative delivered against ordered"),
    Table("projects", lambda s: s.client.projects(), None, "client.projects: every project"),
    Table("suppliers", lambda s: s.client.suppliers(), None,
          "client.suppliers: every supplier"),
    Table("issuances", lambda s: s.client.issuances(), None,
          "client.issuances: every issuance"),
)


def _keyed(frame: pd.DataFrame, organisation_ids: Sequence[str]) -> pd.DataFrame:
    """Rows ordered by organisation (each one's own order kept), the key a categorical of
    them sorted: what a hive-partitioned dataset reads back as."""
    keys = frame[ORGANISATION_KEY]
    stray = keys[(~keys.isin(set(organisation_ids))).to_numpy()]
    if len(stray):  # a row no partition would hold: refused, never left out
        raise ValueError(f"{len(stray)} row(s) have an {ORGANISATION_KEY} outside the "
                         f"organisations exported (first: {stray.iloc[0]!r})")
    keys = keys.astype(str).astype(pd.CategoricalDtype(sorted(set(organisation_ids))))
    order = np.argsort(keys.cat.codes.to_numpy(), kind="stable")
    return frame.assign(**{ORGANISATION_KEY: keys}).iloc[order].reset_index(drop=True)


def export_frames(client: RegistryClient, organisation_ids: Sequence[str],
                  tables: Iterable[Table] | None = None, *,
                  as_of: Any = None) -> dict[str, pd.DataFrame]:
    """The frames :func:`export` writes, in memory: table name to frame.

    An organisation's table has ``organisation_id`` first, as a categorical of the ids sorted,
    and its rows ordered by it (each organisation's own order kept), as a reader of the
    dataset gets them.

    Examples
    --------
    >>> from isoanalytics import RegistryClient, demo
    >>> from isoanalytics.present.export import export_frames
    >>> with RegistryClient.demo() as client:
    ...     frames = export_frames(client, [demo.DEFAULT_ORGANISATION_ID])
    >>> frames["balances"]["credit_kgs"].dtype
    dtype('int64')
    """
    ids = [check_id(organisation_id, "organisation", argument="organisation_ids")
           for organisation_id in dict.fromkeys(organisation_ids)]
    if not ids:
        raise ValueError("organisation_ids is empty: name at least one organisation")
    sources = Sources(client, ids, as_of=as_of)
    frames = {}
    for table in TABLES if tables is None else tables:
        frame = table.build(sources)
        frames[table.name] = (_keyed(frame, ids) if table.partition_by == ORGANISATION_KEY
                              else frame.reset_index(drop=True))
    return frames


def _manifest(frames: dict[str, pd.DataFrame], tables: Sequence[Table], *,
              organisation_ids: Sequence[str], environment: str, as_of: datetime,
              file_format: str, extra: dict[str, Any]) -> dict[str, Any]:
    entries = {}
    for table in tables:
        frame = frames[table.name]
        entry: dict[str, Any] = {
            "description": table.description,
            "path": table.name if file_format == "parquet" else f"{table.name}.csv",
            "partitioned_by": table.partition_by if file_format == "parquet" else None,
            "rows": len(frame),
            "kgs": table.totals(frame),
            "columns": {str(column): str(dtype) for column, dtype in frame.dtypes.items()},
        }
        if table.partition_by == ORGANISATION_KEY:
            # Rows are ordered by the key: each organisation's rows are one slice.
            keys = frame[ORGANISATION_KEY].cat
            bounds = np.searchsorted(keys.codes.to_numpy(), np.arange(len(keys.categories) + 1))
            entry["by_organisation"] = {
                organisation_id: {"rows": int(bounds[code + 1] - bounds[code]),
                                  "kgs": table.totals(frame.iloc[bounds[code]:bounds[code + 1]])}
                for code, organisation_id in enumerate(keys.categories)}
        entries[table.name] = entry
    return {"schema_version": SCHEMA_VERSION, "package": "isoanalytics",
            "package_version": version(), "environment": environment,
            "as_of": as_of.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "format": file_format, "organisation_ids": sorted(organisation_ids),
            **extra, "tables": entries}


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The manifest of an export folder, or None when the folder holds none (not an export).

    Examples
    --------
    >>> import tempfile
    >>> from isoanalytics.present.export import read_manifest
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     read_manifest(folder) is None
    True
    """
    try:
        manifest = json.loads(Path(folder, MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("package") == "isoanalytics" \
        else None


def _write_parquet(frame: pd.DataFrame, table: Table, folder: Path) -> None:
    write_parquet(frame, folder / table.name, partition_by=table.partition_by)


def _write_csv(frame: pd.DataFrame, table: Table, folder: Path) -> None:
    frame.to_csv(folder / f"{table.name}.csv", index=False, date_format="%Y-%m-%dT%H:%M:%S.%f%z")


def export(
    organisation_ids: str | Iterable[str] | None = None,
    output: str | os.PathLike[str] = "isoanalytics-export",
    *,
    format: Literal["parquet", "csv"] = "parquet",
    demo: bool = False,
    environment: str | None = None,
    client: RegistryClient | None = None,
    as_of: Any = None,
) -> Path:
    """Write every table of :data:`TABLES` for the organisations into ``output``; returns it.

    Parameters
    ----------
    organisation_ids : str, list of str or None
        None: the access token's own organisation (with ``demo=True``, the demo's default
        buyer). Each needs its access token (``ISOMETRIC_ACCESS_TOKENS``) on the live registry.
    output : path
        The folder to write. It is created, or replaced whole if it holds a previous export
        (a folder of other files is refused, never replaced); its parent must exist.
    format : {"parquet", "csv"}
        Parquet needs pyarrow (``pip install 'isoanalytics[export]'``); CSV needs nothing more.
    demo : bool
        Read the embedded demo registry (fictional data, offline).
    environment : {"sandbox", "production"} or None
        The live registry, as for :class:`~isoanalytics.RegistryClient`.
    client : RegistryClient or None
        A client of your own (several access tokens, a loopback server); then leave ``demo``
        and ``environment`` out. It is not closed.
    as_of : date or time-zone-aware datetime, optional
        When the delivery schedules judge which orders are behind; default: now (on the
        demo registry, ``demo.AS_OF``, the demo's own now, as ``isoanalytics export --demo``).

    Raises
    ------
    DatasetPathError
        Before any request: ``output`` is a file, a FIFO or a device, a folder of other
        files, or its parent is missing or cannot be written.
    MissingExtraError
        Before any request: Parquet without pyarrow; the message says what to install.
    RegistryError, SchemaError
        A read failed; nothing is written.
    DatasetWriteError
        Writing failed (a full disk); the previous export is left as it was.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> import pandas as pd
    >>> from isoanalytics import export
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = export(output=pathlib.Path(folder) / "out", demo=True)
    ...     manifest = json.loads((path / "manifest.json").read_text())
    ...     balances = pd.read_parquet(path / "balances")
    >>> manifest["tables"]["balances"]["kgs"]["total_kgs"] == int(
    ...     balances.query("level == 'organisation'")["credit_kgs"].sum())
    True
    """
    check_choice("format", format, FORMATS)
    if client is not None and (demo or environment):
        raise ValueError("client= is a client of your own: leave demo= and environment= out")
    ids = ([organisation_ids] if isinstance(organisation_ids, str)
           else list(organisation_ids or []))
    ids = [check_id(organisation_id, "organisation", argument="organisation_ids")
           for organisation_id in dict.fromkeys(ids)]
    target = check_folder(output, "export folder",
                          ours=lambda folder: read_manifest(folder) is not None)
    if format == "parquet":
        parquet_engine("Parquet exports")  # before any request: say what to install
    own = client is None
    if client is None:
        client = RegistryClient.demo() if demo else RegistryClient(environment)
    try:
        if not ids:  # the token's own (on the demo registry, its default buyer)
            ids = [client.current_organisation()["id"]]
        read_at = datetime.now(UTC)
        frames = export_frames(client, ids, as_of=as_of)
        environment_name = client.environment
    finally:
        if own:
            client.close()
    judged = pd.Timestamp(read_at if as_of is None else as_of)
    judged = judged.tz_localize("UTC") if judged.tzinfo is None else judged.tz_convert("UTC")
    extra = {"schedules_as_of": judged.isoformat().replace("+00:00", "Z")}
    return write_export(frames, target, file_format=format, organisation_ids=ids,
                        environment=environment_name, as_of=read_at, extra=extra)


def write_export(
    frames: dict[str, pd.DataFrame],
    output: str | os.PathLike[str],
    *,
    tables: Sequence[Table] | None = None,
    file_format: Literal["parquet", "csv"] = "parquet",
    organisation_ids: Sequence[str] = (),
    environment: str = "unknown",
    as_of: datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write frames already built (``export_frames``) as an export folder; returns it.

    What :func:`export` does after reading: each of ``tables`` from ``frames`` (an
    organisation's table with the key as a categorical, rows ordered by it), then the
    manifest, into a temporary folder that replaces ``output`` whole.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> from isoanalytics.present.export import Table, read_manifest, write_export
    >>> frame = pd.DataFrame({"organisation_id": pd.Categorical(["org_A", "org_B"]),
    ...                       "credit_kgs": [1000, 2000]})
    >>> table = Table("movements", lambda sources: frame, "organisation_id", "an example")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_export({"movements": frame}, pathlib.Path(folder, "out"),
    ...                         tables=[table], organisation_ids=["org_A", "org_B"])
    ...     read_manifest(path)["tables"]["movements"]["by_organisation"]["org_B"]["kgs"]
    {'credit_kgs': 2000}
    """
    check_choice("file_format", file_format, FORMATS)
    tables = TABLES if tables is None else tables
    target = check_folder(output, "export folder",
                          ours=lambda folder: read_manifest(folder) is not None)
    frames = dict(frames)
    for table in tables:
        if table.name not in frames:
            raise ValueError(f"frames has no {table.name!r} table; it has "
                             f"{', '.join(map(repr, frames)) or 'none'}")
        frame = frames[table.name]
        if table.partition_by == ORGANISATION_KEY and not (
                isinstance(frame[ORGANISATION_KEY].dtype, pd.CategoricalDtype)
                and frame[ORGANISATION_KEY].cat.codes.is_monotonic_increasing):
            frames[table.name] = _keyed(frame, organisation_ids
                                        or frame[ORGANISATION_KEY].dropna().unique().tolist())
    manifest = _manifest(frames, tables, organisation_ids=organisation_ids,
                         environment=environment, as_of=as_of or datetime.now(UTC),
                         file_format=file_format, extra=extra or {})
    folder = temporary_folder(target, "export")
    try:
        for table in tables:
            (_write_parquet if file_format == "parquet" else _write_csv)(
                frames[table.name], table, folder)
        # The manifest last: a folder with a manifest is a whole export.
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.chmod(folder, 0o755)  # mkdtemp's folders are private; an export is for reading
        publish_folder(folder, target)
    except OSError as error:
        raise write_error(error, target, "the previous export, if any, was left as it was") \
            from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return target
