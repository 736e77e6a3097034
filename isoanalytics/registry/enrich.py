"""Names, pathway and country next to the ids in a summary: :func:`enrich` and :func:`aenrich`."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pandas as pd

from ..ids import check_id
from .client import AsyncRegistryClient, RegistryClient

__all__ = ["aenrich", "enrich"]

# Added after the id they describe; a project also names its supplier.
_PROJECT_COLUMNS = ("project_name", "pathway", "project_country", "supplier_name")
_SUPPLIER_COLUMNS = ("supplier_name", "supplier_country")
_ORGANISATION_COLUMNS = ("organisation_name",)
_COLUMNS = {"project": _PROJECT_COLUMNS, "supplier": _SUPPLIER_COLUMNS,
            "organisation": _ORGANISATION_COLUMNS}


def enrich(summary: pd.DataFrame, client: RegistryClient) -> pd.DataFrame:
    """A copy of ``summary`` with names (and pathway, country) joined on its ids.

    Works on any frame with a ``project_id``, ``supplier_id`` or ``organisation_id`` index or
    column: the output of :func:`~isoanalytics.summarize`, a credit-batch or order frame.
    With ``project_id`` it adds ``project_name, pathway, project_country, supplier_name``;
    else with ``supplier_id``, ``supplier_name, supplier_country``; else with
    ``organisation_id``, ``organisation_name``. Each id is fetched once per client
    (concurrently, then cached), so enriching again costs no requests. An id the registry
    does not know gets missing values and a warning naming it; no row is dropped.

    Examples
    --------
    >>> from isoanalytics import RegistryClient, demo, enrich, summarize
    >>> with RegistryClient.demo() as client:
    ...     balance = client.credit_balance(demo.DEFAULT_ORGANISATION_ID)
    ...     table = enrich(summarize(balance, by="supplier"), client)
    >>> table["supplier_name"].iloc[0]
    'Deepwell Carbon'
    """
    if isinstance(client, AsyncRegistryClient):
        raise TypeError("enrich() takes a RegistryClient; with an AsyncRegistryClient, "
                        "use `await aenrich(summary, client)`")
    kind, ids = _kind_and_ids(summary)
    return _joined(summary, kind, client.lookup(kind, ids), client.redact)


async def aenrich(summary: pd.DataFrame, client: AsyncRegistryClient) -> pd.DataFrame:
    """The asyncio twin of :func:`enrich`.

    Examples
    --------
    >>> import asyncio
    >>> from isoanalytics import AsyncRegistryClient, aenrich, demo, summarize
    >>> async def suppliers():
    ...     async with AsyncRegistryClient.demo() as client:
    ...         balance = await client.credit_balance(demo.DEFAULT_ORGANISATION_ID)
    ...         return await aenrich(summarize(balance, by="supplier"), client)
    >>> asyncio.run(suppliers())["supplier_name"].iloc[0]
    'Deepwell Carbon'
    """
    if not isinstance(client, AsyncRegistryClient):
        raise TypeError("aenrich() takes an AsyncRegistryClient; with a RegistryClient, "
                        "use enrich(summary, client)")
    kind, ids = _kind_and_ids(summary)
    return _joined(summary, kind, await client.lookup(kind, ids), client.redact)


def _kind_and_ids(summary: pd.DataFrame) -> tuple[str, list[str]]:
    if not isinstance(summary, pd.DataFrame):
        raise TypeError(f"enrich() takes a DataFrame, got {type(summary).__name__}")
    for kind in ("project", "supplier", "organisation"):
        ids = _ids(summary, f"{kind}_id")
        if ids is not None:
            # Each id becomes a request path: one that breaks the id rule is refused, naming
            # the column, before any request.
            return kind, [check_id(value, kind, argument=f"the frame's {kind}_id")
                          for value in pd.unique(ids) if isinstance(value, str)]
    raise ValueError(
        "enrich() needs a project_id, supplier_id or organisation_id index or column, such as "
        f"summarize(balance, by='project'); this frame has index {summary.index.name!r} and "
        f"columns {list(summary.columns)}")


def _ids(frame: pd.DataFrame, name: str) -> Any:
    if name in frame.columns:
        return frame[name].to_numpy()
    if name in (frame.index.names or ()):
        return frame.index.get_level_values(name).to_numpy()
    return None


def _joined(summary: pd.DataFrame, kind: str, records: dict[str, dict | None],
            redact: Callable[[str], str]) -> pd.DataFrame:
    unknown = sorted(record_id for record_id, record in records.items() if record is None)
    if unknown:
        warnings.warn(f"the registry knows no {kind} {', '.join(unknown[:5])}"
                      f"{' and others' if len(unknown) > 5 else ''}: their names stay empty",
                      stacklevel=3)
    columns = _COLUMNS[kind]
    # Names end up in charts (pixels, beyond any later scrub) and shared files: a credential
    # a registry echoed into one is taken out here, where it enters.
    described = {record_id: tuple(None if text is None else redact(text)
                                  for text in _describe(kind, record))
                 for record_id, record in records.items()}
    ids = _ids(summary, f"{kind}_id")
    result = summary.copy()
    for position, column in enumerate(columns):
        if column in result.columns:
            continue  # already enriched, or the user's own column: never overwritten
        result[column] = pd.array([described.get(record_id, (None,) * len(columns))[position]
                                   for record_id in ids], dtype="string")
    return result


def _describe(kind: str, record: dict | None) -> tuple[str | None, ...]:
    if record is None:
        return (None,) * len(_COLUMNS[kind])
    if kind == "organisation":
        return (record["name"],)
    if kind == "project":
        return (record["name"], record["pathway"], record["country_code"],
                record["supplier"]["organisation"]["name"])
    location = record.get("location") or {}
    return record["organisation"]["name"], location.get("country_code")
