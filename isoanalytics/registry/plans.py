"""What each client method asks the registry, written once for the sync and the async client.

A plan is a generator. It yields a :class:`~isoanalytics.registry.http.Call` and is sent back the
response body (bytes), or yields :class:`Parallel` plans and is sent back their results in
order; a failure is thrown in at the ``yield``, where the plan may handle it. What it
returns is the method's result. The clients only drive plans (``client``
does the I/O, retries and concurrency), so paging, partitioning, caching and validation
behave the same whether a user is in a notebook cell or an ``async`` program.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import pandas as pd

from ..errors import NotFoundError, PaginationError, SchemaError
from ..ids import check_id, resource_path
from ..records.balance import CreditBalance, parse_balance
from ..records.decoding import load
from ..records.page import ENVELOPE
from ..records.resources import (
    ISSUANCE_BATCHES,
    Table,
    listing_reader,
    page_reader,
    read_record,
)
from .http import PAGE_SIZE, Call

T = TypeVar("T")
Plan = Generator[Any, Any, T]
logger = logging.getLogger("isoanalytics")

# Listing per project pays off only when the cursor chain would be long.
PARTITION_MIN_PAGES = 4

# credit_batches' id filters and the kind of id each takes
_ID_FILTERS = {
    "supplier_id": "supplier", "project_id": "project", "issuance_id": "issuance",
    "delivery_id": "delivery", "order_id": "order", "retirement_id": "retirement",
}
_BATCH_STATUSES = ("active", "split", "retired")
BATCH_FILTERS = (*_ID_FILTERS, "status", "issued_after", "issued_before")


@dataclass(frozen=True)
class Parallel:
    """Run these plans concurrently (bounded by the client's ``concurrency``)."""

    plans: tuple[Plan[Any], ...]


def one(kind: str, call: Call, *, nullable: bool = False,
        record_id: str | None = None) -> Plan[dict[str, Any]]:
    """One object by id; ``null`` (the API's answer for an unknown id) is a NotFoundError.

    With ``record_id`` (the id asked for), a record carrying another id is a SchemaError at
    ``id``: a server must not answer for one entity with another's data.
    """
    value = _decoded((yield call), call)
    if value is None and nullable:
        raise NotFoundError(f"the registry has no {kind} with this id (it answered null)",
                            status_code=200, endpoint=call.endpoint,
                            organisation_id=call.organisation_id)
    record = _checked(kind, value, call)
    if record_id is not None and record["id"] != record_id:
        raise SchemaError("id", f"is not the id asked for ({record_id}): the server answered "
                          f"with another {kind.replace('_', ' ')}", **call.context())
    return record


def balance(call: Call) -> Plan[CreditBalance]:
    content = yield call
    try:
        return parse_balance(content, organisation_id=call.organisation_id)
    except SchemaError as error:
        raise error.with_context(**call.context()) from None


def pages(kind: str, call: Call, first_body: Any = None) -> Plan[Table]:
    """Every page of a Relay-paginated list, checked page by page, as one :class:`Table`.

    Follows ``end_cursor`` while ``has_next_page``, bounded by the first page's
    ``total_count``: reading more records than it says, a page of more records than were
    asked for (``first``), an empty page or a missing or repeated cursor while
    ``has_next_page`` is true, a repeated id, or a ``total_count`` that changes between pages
    is a PaginationError the moment its page arrives; a final count that differs from
    ``total_count`` is one at the end. As every page but the last brings at least one new
    record, no list costs more than ``total_count + 1`` requests, whatever the server sends
    (``ceil(total_count / 50)`` from a server that fills its pages). Each page is validated as
    it arrives (an error names its page) and only its columns are kept. ``first_body`` is
    the already-fetched first page, when the caller has it.
    """
    table = Table(kind)
    seen_ids: dict[str, int] = {}
    seen_cursors: dict[str, int] = {}  # cursor -> the page that gave it
    total_count = None
    after = None
    page = 1
    while True:
        page_call = Call(call.path, (*call.params, ("first", str(PAGE_SIZE)))
                         + ((("after", after),) if after else ()),
                         call.organisation_id, call.private, page)
        # The page's records are decoded straight into gc=False structs: no collection
        # runs over them, so the collector needs no pausing.
        decoded = (first_body if page == 1 and first_body is not None
                   else _envelope(kind, (yield page_call), page_call))
        nodes, count = decoded.nodes, decoded.total_count
        has_next, end_cursor = decoded.page_info.has_next_page, decoded.page_info.end_cursor
        if total_count is None:
            total_count = count
        elif count != total_count:
            raise PaginationError(
                f"total_count changed from {total_count} to {count} between pages: the "
                "list changed while it was read. Read it again", **page_call.context())
        _check_bounds(len(nodes), len(table), total_count, page_call)
        for record_id in _raw_ids(nodes):
            if record_id in seen_ids:
                raise PaginationError(
                    f"{record_id} arrived again, first seen on page {seen_ids[record_id]}: "
                    "the server's pages overlap", **page_call.context())
            seen_ids[record_id] = page
        try:
            table.add_decoded(nodes)
        except SchemaError as error:
            raise error.with_context(**page_call.context()) from None
        empty, decoded, nodes = not nodes, None, None
        if not has_next:
            break
        if empty or end_cursor is None or end_cursor in seen_cursors:
            # The cursor itself is not quoted: it is the server's text, of any length.
            problem = ("an empty page" if empty else "no end_cursor" if end_cursor is None
                       else f"the cursor page {seen_cursors[end_cursor]} gave, again")
            raise PaginationError(
                f"has_next_page is true but the page gave {problem}; stopping rather than "
                "looping", **page_call.context())
        seen_cursors[end_cursor] = page
        after = end_cursor
        page += 1
    if len(table) != total_count:
        raise PaginationError(f"read {len(table)} records but total_count says {total_count}",
                              **call.context())
    return table


def _check_bounds(page_size: int, read: int, total_count: int, call: Call) -> None:
    """A page may hold at most what was asked for, and the list at most ``total_count``."""
    if page_size > PAGE_SIZE:
        raise PaginationError(
            f"the page holds {page_size} records, more than the {PAGE_SIZE} asked for "
            "(first); stopping rather than reading a list the server does not bound",
            **call.context())
    if read + page_size > total_count:
        raise PaginationError(
            f"the pages so far hold {read + page_size} records but total_count says "
            f"{total_count}; stopping rather than following the server further",
            **call.context())


def _raw_ids(nodes: list) -> Iterator[str]:
    # Before the table's own check of ids added twice, so an overlap between pages is named
    # as what it is; the page's decoding has checked each id against the id rule already.
    for node in nodes:
        yield node.id


def frame(kind: str, call: Call) -> Plan[pd.DataFrame]:
    return _framed((yield from pages(kind, call)), call)


def listing(kind: str, call: Call) -> Plan[pd.DataFrame]:
    """A list the API answers whole (``ListResource``: ``nodes`` and ``total_count``, no pages).

    Checked as a page is, and a ``total_count`` other than the number of records is a
    SchemaError at ``total_count``: the list is incomplete or padded.
    """
    body = yield call
    decoded = _read(listing_reader(kind), body, call)
    table = Table(kind)
    _add(table, decoded.nodes, "nodes", call)
    if decoded.total_count != len(table):
        raise SchemaError("total_count", f"says {decoded.total_count} but nodes holds "
                          f"{len(table)} records", value=decoded.total_count, **call.context())
    return _framed(table, call)


def issuance_batches(issuance_id: str, call: Call) -> Plan[pd.DataFrame]:
    """An issuance's batches as one credit-batch frame with a ``pool`` column (``"supplier"``
    or ``"buffer_pool"``); each list must add up to its stated total, to the kilogram."""
    body = yield call
    decoded = _read(ISSUANCE_BATCHES, body, call)
    if decoded.issuance_id != issuance_id:
        raise SchemaError("issuance_id", f"is not the id asked for ({issuance_id}): the "
                          "server answered with another issuance's batches", **call.context())
    table = Table("credit_batch")
    pools = []
    for pool, nodes, total in (
            ("supplier", decoded.supplier_credit_batches,
             decoded.supplier_credit_batch_size_total),
            ("buffer_pool", decoded.buffer_pool_credit_batches,
             decoded.buffer_pool_credit_batch_size_total)):
        _add(table, nodes, f"{pool}_credit_batches", call)
        listed = sum(node.size.credit_kgs for node in nodes)  # Python ints: exact
        if listed != total.credit_kgs:
            raise SchemaError(f"{pool}_credit_batch_size_total.credit_kgs",
                              f"says {total.credit_kgs} but the batches listed hold {listed} kg",
                              value=total.credit_kgs, **call.context())
        pools.extend([pool] * len(nodes))
    both = (decoded.supplier_credit_batch_size_total.credit_kgs
            + decoded.buffer_pool_credit_batch_size_total.credit_kgs)
    if decoded.credit_batch_size_total.credit_kgs != both:
        raise SchemaError("credit_batch_size_total.credit_kgs",
                          f"says {decoded.credit_batch_size_total.credit_kgs} but the supplier's "
                          f"and the pool's totals add up to {both} kg",
                          value=decoded.credit_batch_size_total.credit_kgs, **call.context())
    frame = _framed(table, call)
    frame["pool"] = pd.Categorical(pools, categories=("supplier", "buffer_pool"))
    return frame


def _read(reader: Any, body: Any, call: Call) -> Any:
    try:
        return reader.decode(body)
    except SchemaError as error:
        raise error.with_context(**call.context()) from None


def _add(table: Table, nodes: list, path: str, call: Call) -> None:
    try:
        table.add_decoded(nodes, path)
    except SchemaError as error:
        raise error.with_context(**call.context()) from None


def _framed(table: Table, call: Call) -> pd.DataFrame:
    """The table's frame; what its records lacked or renamed is warned about once, here."""
    table.drift.warn(call.endpoint, stacklevel=3)
    return table.to_frame()


def credit_batches(organisation_id: str, filters: Mapping[str, Any], *, concurrency: int,
                   by_project: bool | None = None) -> Plan[pd.DataFrame]:
    """An organisation's credit batches, listed per project concurrently when that is faster.

    One cursor chain of N pages costs N round trips one after the other. Listing each
    project's batches (the API's ``project_id`` filter) runs ``concurrency`` chains at once
    but costs at least one request per project. With ``by_project=None`` the first page's
    ``total_count`` and the organisation's balance (its projects and their kilograms, a
    stand-in for their batch counts) decide: per project when that estimate needs fewer
    than three quarters of the chain's round trips. ``True`` or ``False`` force the choice.
    If the per-project lists do not add up to the unfiltered ``total_count`` (a project
    missing from the balance), the chain is read instead: slower, never incomplete.
    """
    params = batch_params(filters)
    path = resource_path("organisations", organisation_id, "credit_batches")
    call = Call(path, params, organisation_id, private=True)
    first_call = Call(path, (*params, ("first", str(PAGE_SIZE))), organisation_id, True, 1)
    first_body = _envelope("credit_batch", (yield first_call), first_call)
    total_count, has_next = first_body.total_count, first_body.page_info.has_next_page
    chain_rounds = -(-total_count // PAGE_SIZE)
    if (has_next and "project_id" not in filters and by_project is not False
            and (by_project or chain_rounds >= PARTITION_MIN_PAGES)):
        held = yield from balance(Call(resource_path("organisations", organisation_id,
                                                     "credit_balance"),
                                       (), organisation_id, private=True))
        if by_project or _per_project_rounds(held, total_count, concurrency) < 0.75 * chain_rounds:
            tables = yield Parallel(tuple(
                pages("credit_batch", Call(path, (*params, ("project_id", project_id)),
                                           organisation_id, private=True))
                for project_id in held.entity_ids("project")))
            listed = sum(map(len, tables))
            if listed == total_count:
                return sort_batches(_framed(_joined(tables, call), call))
            logger.info("%s: the per-project lists hold %d batches, the unfiltered list %d; "
                        "reading the unfiltered list instead", call.endpoint, listed,
                        total_count)
    table = yield from pages("credit_batch", call, first_body=first_body)
    return sort_batches(_framed(table, call))


def _per_project_rounds(held: CreditBalance, total_count: int, concurrency: int) -> float:
    """Round trips that listing per project would take, if batches follow kilograms.

    Read from the balance's own tidy rows (the registry layer does no analysis): each
    project's active plus retired kilograms.
    """
    rows = held.to_frame()
    kgs = rows.loc[rows["level"] == "project", "credit_kgs"].groupby(
        rows["entity_id"], sort=False).sum().to_numpy()
    held_kgs = int(kgs.sum())
    if held_kgs == 0:
        return float("inf")
    pages_each = [max(math.ceil(total_count * int(project_kgs) / held_kgs / PAGE_SIZE), 1)
                  for project_kgs in kgs]
    return max(math.ceil(sum(pages_each) / concurrency), max(pages_each))


def sort_batches(batches: pd.DataFrame) -> pd.DataFrame:
    """Newest issue first, then by id: one order whichever way the pages were read."""
    return batches.sort_values(["issued_at", "id"], ascending=[False, True],
                               kind="stable", ignore_index=True)


_LOOKUPS = {"project": "projects", "supplier": "suppliers", "organisation": "organisations"}


def lookup(kind: str, ids: Iterable[str],
           cache: dict[tuple[str, str], dict | None]) -> Plan[dict[str, dict | None]]:
    """Projects, suppliers or organisations by id, each fetched at most once per client.

    ``None`` stands for an id the registry does not know.
    """
    collection = _LOOKUPS[kind]
    wanted = [check_id(record_id, kind) for record_id in dict.fromkeys(ids)]
    missing = [record_id for record_id in wanted if (kind, record_id) not in cache]
    found = yield Parallel(tuple(_maybe(kind, Call(resource_path(collection, record_id)),
                                        record_id)
                                 for record_id in missing))
    for record_id, record in zip(missing, found, strict=False):
        cache[(kind, record_id)] = record
    return {record_id: cache[(kind, record_id)] for record_id in wanted}


def _maybe(kind: str, call: Call, record_id: str) -> Plan[dict | None]:
    try:
        return (yield from one(kind, call, nullable=True, record_id=record_id))
    except NotFoundError:
        return None


def batch_params(filters: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Query parameters for the credit-batch filters, checked before anything is sent."""
    unknown = sorted(set(filters) - set(BATCH_FILTERS))
    if unknown:
        raise TypeError(f"unknown credit_batches filter(s) {', '.join(unknown)}; "
                        f"the API filters on {', '.join(BATCH_FILTERS)}")
    params: list[tuple[str, str]] = []
    for name, value in filters.items():
        if value is None:
            continue
        if name in _ID_FILTERS:
            params.append((name, check_id(value, _ID_FILTERS[name], argument=name)))
        elif name == "status":
            statuses = [value] if isinstance(value, str) else list(value)
            bad = [status for status in statuses if status not in _BATCH_STATUSES]
            if bad or not statuses:
                raise ValueError(f"status must be one or more of {', '.join(_BATCH_STATUSES)}, "
                                 f"got {value!r}")
            params.extend(("status", status) for status in dict.fromkeys(statuses))
        else:
            params.append((name, _moment(value, name)))
    return tuple(params)


def _moment(value: Any, name: str) -> str:
    if isinstance(value, str):
        value = pd.Timestamp(value)
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{name} must be a timezone-aware datetime (or ISO 8601 text with an "
                         f"offset, e.g. '2025-01-01T00:00:00Z'), got {value!r}")
    return pd.Timestamp(value).tz_convert("UTC").isoformat().replace("+00:00", "Z")


def _decoded(body: Any, call: Call) -> Any:
    if not isinstance(body, (bytes, bytearray, memoryview, str)):
        return body  # already decoded
    try:
        return load(body)
    except SchemaError as error:
        raise error.with_context(**call.context()) from None


def _checked(kind: str, value: Any, call: Call) -> dict[str, Any]:
    """One record checked; for a record an earlier version of the API wrote, the dict gains
    the tolerated fields it lacked (as None) and current names for earlier ones, and the
    call warns once (a dict carries no attribute to say so)."""
    try:
        record, drift = read_record(kind, value)
    except SchemaError as error:
        raise error.with_context(**call.context()) from None
    if drift:
        for name in drift.missing:
            value.setdefault(name, None)
        for current in drift.renamed.values():
            value.setdefault(current, getattr(record, current).isoformat())
        drift.warn(call.endpoint, stacklevel=3)
    return value


def _envelope(kind: str, body: Any, call: Call) -> Any:
    """A page (``Page`` of the kind's Struct): its nodes, total_count and page_info, checked
    as one decode."""
    try:
        return page_reader(kind).decode(body)
    except SchemaError as page_error:
        error = page_error
    try:  # a wrong envelope is named before the records in it, as the frame around them
        ENVELOPE.decode(body)
    except SchemaError as envelope_error:
        if not envelope_error.path.startswith("nodes["):
            error = envelope_error
    raise error.with_context(**call.context()) from None


def _joined(tables: list[Table], call: Call) -> Table:
    joined = Table("credit_batch")
    owner: dict[str, int] = {}
    for position, table in enumerate(tables):
        for record_id in table.ids:
            if record_id in owner:
                raise PaginationError(
                    f"credit batch {record_id} is listed under two projects",
                    **call.context())
            owner[record_id] = position
        joined.extend(table)
    return joined
