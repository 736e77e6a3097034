"""Registry API resources (credit batches, projects, ...) checked and read into tidy frames.

The schemas and their columns live in ``kinds`` (one Struct and one column list per kind);
this module is the interface the rest of the package uses: :class:`Table` collects pages of
one kind and builds one frame, :func:`check_record` checks one record, :func:`record_frame`
a list. msgspec checks every value as it decodes (``decoding`` names the JSON path of the
first problem); what spans values (``credits`` against ``credit_kgs``, a record added twice)
is checked here, a page at a time, before anything of the page is kept.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from functools import partial
from operator import attrgetter, is_
from typing import Any

import pandas as pd
from msgspec import UNSET

from ..errors import SchemaError
from .columns import build_frame, values
from .decoding import Reader
from .drift import ATTRIBUTE, SchemaDrift
from .fields import (
    CREDIT_BATCH_STATUSES,
    ORDER_STATUSES,
    PATHWAYS,
    PROJECT_STATUSES,
    RETIREMENT_PURPOSES,
)
from .kinds import KINDS_BY_NAME, CreditBatch, Kind
from .page import IssuanceBatches, Listing, Page
from .quantities import check_credits, kilograms

__all__ = ["CREDIT_BATCH_STATUSES", "KINDS", "ORDER_STATUSES", "PATHWAYS", "PROJECT_STATUSES",
           "RETIREMENT_PURPOSES", "ISSUANCE_BATCHES", "Table", "check_record", "columns",
           "id_columns", "listing_reader", "page_reader", "read_record", "record_frame"]

KINDS: tuple[str, ...] = tuple(KINDS_BY_NAME)
_ID = attrgetter("id")
_IS_UNSET = partial(is_, UNSET)


class _Readers:
    """A kind's readers: a page, a list of records, one record."""

    def __init__(self, kind: Kind) -> None:
        name = kind.schema.__name__
        self.page: Reader[Any] = Reader(
            Page[kind.schema],  # type: ignore[name-defined]
            "a paginated list object (nodes, total_count, page_info)")
        self.list: Reader[Any] = Reader(list[kind.schema],  # type: ignore[name-defined]
                                        f"an array of {name} objects")
        self.one: Reader[Any] = Reader(kind.schema, "an object")
        self.listing: Reader[Any] = Reader(Listing[kind.schema],  # type: ignore[name-defined]
                                           "a list object (nodes, total_count)")


_READERS: dict[str, _Readers] = {}


def _kind(kind: Any) -> Kind:
    try:
        return KINDS_BY_NAME[kind]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown record kind {kind!r}; expected one of {', '.join(KINDS)}"
        ) from None


def _readers(kind: str) -> _Readers:
    if kind not in _READERS:
        _READERS[kind] = _Readers(_kind(kind))
    return _READERS[kind]


def page_reader(kind: str) -> Reader[Any]:
    """The reader of a page of ``kind`` records (a ``Page`` of its Struct), made once.

    Examples
    --------
    >>> page = page_reader("organisation").decode(
    ...     b'{"nodes": [], "total_count": 0, "page_info": {"has_next_page": false}}')
    >>> page.total_count, page.page_info.end_cursor
    (0, None)
    """
    return _readers(kind).page


def listing_reader(kind: str) -> Reader[Any]:
    """The reader of a list of ``kind`` records answered whole (a ``Listing``), made once.

    Examples
    --------
    >>> listing_reader("credit_batch").decode(b'{"nodes": [], "total_count": 0}').total_count
    0
    """
    return _readers(kind).listing


#: The reader of ``GET /issuances/{id}/credit_batches``: the supplier's and the pool's batches.
ISSUANCE_BATCHES: Reader[Any] = Reader(
    IssuanceBatches[CreditBatch],
    "an IssuanceCreditBatches object")


def _checked(kind: Kind, records: list, path: str, single: bool = False) -> SchemaDrift:
    """The cross-field rules of ``records`` (decoded; a ``single`` one at ``path`` itself), and
    what they lacked or renamed (earlier names are mapped onto the records in place)."""
    for column in kind.columns:
        if column.build.quantity:
            quantities, _ = values(records, column.steps, column.nulls)
            at = column.where + ".credits"
            where = (at if path == "$" else f"{path}.{at}") if single else f"{path}[{{row}}].{at}"
            check_credits(quantities, kilograms(quantities), where)
    drift = SchemaDrift()
    for earlier, (current, convert) in kind.renamed.items():
        for record in records:
            if getattr(record, current) is UNSET and getattr(record, earlier) is not UNSET:
                setattr(record, current, convert(getattr(record, earlier)))
                drift.renamed[earlier] = current
    for name in kind.tolerated:
        if any(map(_IS_UNSET, map(attrgetter(name), records))):
            drift.missing[name] = None
    return drift


class Table:
    """Accumulates validated records of one kind, page by page, then builds one frame.

    Each :meth:`add` checks a whole page before keeping any of it, so a page that fails
    leaves the table as it was. A record whose id was already added is refused: counting
    it twice would double its kilograms.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.

    Attributes
    ----------
    kind : str
    ids : list of str
        Ids of the records added so far, in order (read it; do not modify it).

    Examples
    --------
    >>> from isoanalytics import demo
    >>> registry = demo.registry()
    >>> table = Table("credit_batch")
    >>> batches = registry.credit_batches(registry.buyers["typical"])
    >>> for start in range(0, len(batches), 50):
    ...     table.add(batches[start:start + 50])
    >>> frame = table.to_frame()
    >>> len(frame) == len(table) == len(batches)
    True
    >>> int(frame["credit_kgs"].sum()) == sum(batch["size"]["credit_kgs"] for batch in batches)
    True
    """

    def __init__(self, kind: str) -> None:
        self._kind = _kind(kind)
        self.kind = kind
        self._records: list[Any] = []
        self.ids: list[str] = []
        self.drift = SchemaDrift()
        self._row_of: dict[str, int] = {}  # id -> row, to refuse a record seen twice
        self._pages: list[tuple[int, str]] = []  # (first row, path) of each add(), for messages

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"Table({self.kind!r}, {len(self)} records)"

    def add(self, nodes: Any, path: str = "nodes") -> None:
        """Validate ``nodes`` (a JSON array of records of this kind) and append them.

        Parameters
        ----------
        nodes : list
            Decoded records, e.g. a page's ``nodes``.
        path : str
            Where ``nodes`` is in its body, to start the JSON path of any error.

        Raises
        ------
        SchemaError
            At the first problem, with a path such as ``nodes[3].size.credit_kgs``
            (the index within this ``nodes``). Nothing from the page is kept.

        Examples
        --------
        >>> table = Table("organisation")
        >>> table.add([{"id": "org_1GB56M1ST1S0GVNA", "name": "Isometric", "domain": None}])
        >>> table.add([{"id": "org_1CP8EQDNQSBXTMR2", "name": 7, "domain": None}])
        Traceback (most recent call last):
        ...
        isoanalytics.errors.SchemaError: nodes[0].name: expected a string, got 7 (integer)
        >>> table.ids
        ['org_1GB56M1ST1S0GVNA']
        """
        if type(nodes) is not list:
            raise SchemaError(
                path, f"expected an array of {self._kind.schema.__name__} objects", value=nodes
            )
        self.add_decoded(_readers(self.kind).list.convert(nodes, path), path)

    def add_decoded(self, records: list, path: str = "nodes") -> None:
        """Append records already decoded into this kind's Struct (a page's ``nodes``).

        Checks what msgspec cannot (``credits`` against ``credit_kgs``, records seen
        before), and notes what the records lacked or renamed in :attr:`drift`.

        Examples
        --------
        >>> page = page_reader("organisation").decode(
        ...     b'{"nodes": [{"id": "org_1GB56M1ST1S0GVNA", "name": "Isometric", "domain": null}],'
        ...     b' "total_count": 1, "page_info": {"has_next_page": false}}')
        >>> table = Table("organisation")
        >>> table.add_decoded(page.nodes)
        >>> table.ids
        ['org_1GB56M1ST1S0GVNA']
        """
        drift = _checked(self._kind, records, path)
        ids = list(map(_ID, records))
        self._check_new(ids, path)
        start = len(self)
        self._records.extend(records)
        self.ids.extend(ids)
        self._row_of.update(zip(ids, range(start, start + len(ids)), strict=True))
        self._pages.append((start, path))
        self.drift.update(drift)

    def extend(self, other: Table) -> None:
        """Append the records of another table of the same kind (validated when added).

        Lets parts of one list read separately (one per project, say) become one frame
        without building a frame per part. A record in both is refused, as by :meth:`add`.

        Examples
        --------
        >>> first, second = Table("organisation"), Table("organisation")
        >>> first.add([{"id": "org_1GB56M1ST1S0GVNA", "name": "Isometric", "domain": None}])
        >>> second.add([{"id": "org_1CP8EQDNQSBXTMR2", "name": "Buyer", "domain": None}])
        >>> first.extend(second)
        >>> len(first)
        2
        """
        if other.kind != self.kind:
            raise ValueError(f"cannot extend a {self.kind} table with a {other.kind} table")
        self._check_new(other.ids, "nodes")
        start = len(self)
        self._records.extend(other._records)
        self.ids.extend(other.ids)
        self._row_of.update(zip(other.ids, range(start, start + len(other)), strict=True))
        self._pages.extend((start + first, path) for first, path in other._pages)
        self.drift.update(other.drift)

    def to_frame(self) -> pd.DataFrame:
        """One frame of all records added: a row per record, in order, a column per variable.

        The columns are :func:`columns` of the kind, with the same dtypes when empty. When
        the records lacked a tolerated field or used an earlier name, the frame says so in
        ``frame.attrs["schema_drift"]`` (``{"missing": [...], "renamed": {old: new}}``).

        Examples
        --------
        >>> table = Table("organisation")
        >>> table.add([{"id": "org_1GB56M1ST1S0GVNA", "name": "Isometric", "domain": None}])
        >>> table.to_frame()["name"].tolist()
        ['Isometric']
        """
        frame = build_frame(self._records, self._kind.columns, self._kind.tolerated)
        if self.drift:
            frame.attrs[ATTRIBUTE] = self.drift.as_attribute()
        return frame

    def _check_new(self, ids: list[str], path: str) -> None:
        if len(set(ids)) == len(ids) and self._row_of.keys().isdisjoint(ids):
            return
        first: dict[str, str] = {}
        for index, record_id in enumerate(ids):
            if record_id in self._row_of:
                earlier = self._where(self._row_of[record_id])
            elif record_id in first:
                earlier = first[record_id]
            else:
                first[record_id] = f"{path}[{index}]"
                continue
            raise SchemaError(
                f"{path}[{index}].id", f"{record_id} was already added (as {earlier})",
                hint="a record counted twice would count its kilograms twice; "
                "fetch the list again from its start",
            )

    def _where(self, row: int) -> str:
        page = bisect_right(self._pages, row, key=lambda page: page[0]) - 1
        start, path = self._pages[page]
        return f"{path}[{row - start}] of add() call {page + 1}"


def columns(kind: str) -> tuple[str, ...]:
    """The column names of a kind's frame, in order.

    Examples
    --------
    >>> columns("organisation")
    ('id', 'name', 'domain')
    """
    return tuple(column.name for column in _kind(kind).columns)


def id_columns(kind: str) -> Mapping[str, tuple[str, str]]:
    """The kind's id columns: column name -> (its JSON path in a record, its kind of id).

    Examples
    --------
    >>> id_columns("order")["supplier_id"]
    ('supplier.id', 'supplier')
    """
    reader = _readers(kind).one
    found = {}
    for column in _kind(kind).columns:
        if column.path is None:
            continue
        _, extra = reader.field(list(column.steps))
        if "id_kind" in extra:
            found[column.name] = (column.where, extra["id_kind"])
    return found


def read_record(kind: str, value: Any, path: str = "$") -> tuple[Any, SchemaDrift]:
    """One decoded record checked: its Struct, and what it lacked or renamed.

    Examples
    --------
    >>> record, drift = read_record(
    ...     "organisation", {"id": "org_1GB56M1ST1S0GVNA", "name": "Isometric", "domain": None})
    >>> record.name, bool(drift)
    ('Isometric', False)
    """
    spec = _kind(kind)
    if not isinstance(value, dict):
        raise SchemaError(path, "expected an object", value=value)
    record = _readers(kind).one.convert(value, path)
    return record, _checked(spec, [record], path, single=True)


def check_record(kind: str, value: Any, path: str = "$") -> dict:
    """Validate one record (e.g. the body of ``GET /projects/{id}``) and return it unchanged.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    value : Any
        The decoded record.
    path : str
        Its JSON path in the body; ``$`` (the body itself) makes errors name bare keys.

    Raises
    ------
    SchemaError
        At the first problem, naming its path.

    Examples
    --------
    >>> record = {"id": "org_1GB56M1ST1S0GVNA", "name": "Isometric", "domain": "isometric.com"}
    >>> check_record("organisation", record) is record
    True
    >>> try:
    ...     check_record("organisation", {"id": "org_1GB56M1ST1S0GVNA", "name": "Isometric"})
    ... except SchemaError as error:
    ...     print(error)
    domain: required key is missing
    """
    read_record(kind, value, path)
    return value


def record_frame(kind: str, records: list[dict]) -> pd.DataFrame:
    """Validate a list of records of one kind and return their frame.

    The same as ``Table(kind)``, one ``add(records)``, then ``to_frame()``.

    Examples
    --------
    >>> from isoanalytics import demo
    >>> frame = record_frame("project", demo.registry().projects())
    >>> list(frame["pathway"].cat.categories[:2])
    ['biomass_carbon_removal_and_storage', 'direct_air_capture']
    >>> str(frame["issued_kgs"].dtype), str(frame["crediting_period_start"].dtype)
    ('int64', 'datetime64[us]')
    """
    table = Table(kind)
    table.add(records)
    return table.to_frame()
