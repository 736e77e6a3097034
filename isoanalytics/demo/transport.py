"""The demo registry served over HTTP, behind the same client code path as the live API.

Offline, the package's HTTP client does not branch into a separate "demo mode": it sends
the very requests it would send to the Isometric Registry API v0 to :data:`demo.BASE_URL`,
and the transport built here answers them from :func:`demo.registry`. So requests, paging,
authentication and error handling go through the code that serves real users, and the
demo exercises it.

The handler implements every GET operation of the API that an organisation's token can
use (all but ``/supplier`` and ``/stripe/configuration``, which need a supplier's), with
the API's shapes:

``/organisation``, ``/organisations/{id}``, ``/organisations/{id}/credit_balance``,
``/organisations/{id}/credit_batches``, ``/organisations/{id}/orders``, ``/projects``,
``/projects/{id}``, ``/projects/{id}/documents``, ``/suppliers``, ``/suppliers/{id}``,
``/suppliers/{id}/projects``, ``/suppliers/{id}/issuances``, ``/suppliers/{id}/deliveries``,
``/suppliers/{id}/orders``, ``/retirements``, ``/retirements/{id}``,
``/retirements/{id}/credit_batches``, ``/credit_batches/{id}``, ``/orders/{id}``,
``/orders/{id}/deliveries``, ``/deliveries``, ``/deliveries/{id}``,
``/deliveries/{id}/credit_batches``, ``/transfers``, ``/transfers/{id}``,
``/transfers/{id}/credit_batches``, ``/refunds/{id}``, ``/refunds/{id}/credit_batches``,
``/issuances``, ``/issuances/{id}``, ``/issuances/{id}/credit_batches``, ``/beneficiaries``
and ``/transferees``.

Public records (organisations, projects and their documents, suppliers, retirements,
issuances) answer with or without a token. An organisation sees only its own orders, the
deliveries it received, the transfers into or out of its account, the refunds it received
and the batches it owns or that were retired on its behalf; another organisation's record
answers 404, exactly as an unknown id does. The ``/organisations/{id}`` routes of another
organisation's private data answer 403, as before. Unknown ids answer null where the API's
schema allows it (``/organisations/{id}``, ``/projects/{id}``, ``/suppliers/{id}``), else 404.

Every route needs the ``x-client-secret`` header (:data:`demo.CLIENT_SECRET`); the routes
of one organisation's private data also need its access token (:func:`demo.access_token`)
as ``Authorization: Bearer``. Lists are paged Relay-style (``first``/``after``,
``last``/``before``) with opaque cursors, and invalid input gets a 422 whose body has the
API's ``HTTPValidationError`` shape (FastAPI's).

A response depends only on the request's method, path, query and headers, never on earlier
requests, so one handler can serve threads and event loops at once, or sit behind a real
HTTP server.
"""

from __future__ import annotations

__all__ = ["DemoHandler", "transport"]

import base64
import binascii
import enum
import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple, TypeVar

import httpx
import orjson

from .. import demo
from ..ids import ID_KINDS, ID_MAX_LENGTH, ID_MIN_LENGTH, IdKind, is_id

_T = TypeVar("_T")
_PAGE_SIZE, _PAGE_MAX = 10, 50  # the API's default and maximum for first and last
_STATUSES = ("active", "split", "retired")
_UNSPLIT = frozenset({"active", "retired"})  # the API leaves split parents out by default
_SORT_FIELDS = ("issued_at",)
_DIRECTIONS = ("asc", "desc")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_JSON = "application/json"


_ORGANISATION, _PROJECT, _SUPPLIER = (ID_KINDS["organisation"], ID_KINDS["project"],
                                      ID_KINDS["supplier"])
_BATCH, _DELIVERY, _ISSUANCE, _ORDER = (ID_KINDS["credit_batch"], ID_KINDS["delivery"],
                                       ID_KINDS["issuance"], ID_KINDS["order"])
_REFUND, _RETIREMENT, _TRANSFER = (ID_KINDS["refund"], ID_KINDS["retirement"],
                                   ID_KINDS["transfer"])
# credit_batches' id filters: (query parameter, kind). Each but order_id is also a field of
# CreditBatch; the order is on the registry's own records (see _index_batches).
_BATCH_FILTERS = (
    ("supplier_id", _SUPPLIER), ("project_id", _PROJECT), ("issuance_id", _ISSUANCE),
    ("delivery_id", _DELIVERY), ("order_id", _ORDER), ("retirement_id", _RETIREMENT),
)


class _Access(enum.Enum):
    PUBLIC = "public"  # a token is optional, but checked when sent
    TOKEN = "token"  # any organisation's token
    OWNER = "owner"  # the token of the organisation named in the path


# -- errors -------------------------------------------------------------------------------------

class _Refusal(Exception):
    """Ends a request early with an error response."""

    def __init__(self, status: int, detail: Any, headers: Mapping[str, str] | None = None):
        super().__init__(status, detail)
        self.status, self.detail, self.headers = status, detail, dict(headers or {})


def _problem(loc: Sequence[str | int], kind: str, msg: str, value: Any,
             ctx: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One entry of an HTTPValidationError's ``detail``, as FastAPI (pydantic 2) writes it."""
    entry = {"type": kind, "loc": list(loc), "msg": msg, "input": value}
    if ctx:
        entry["ctx"] = dict(ctx)
    return entry


def _unprocessable(*problems: dict[str, Any]) -> _Refusal:
    return _Refusal(422, list(problems))


def _unauthorised(detail: str, *, bearer: bool) -> _Refusal:
    # WWW-Authenticate names the scheme the client should retry with (RFC 9110, 11.6.1).
    return _Refusal(401, detail, {"www-authenticate": "Bearer"} if bearer else None)


# -- query and path parameters ------------------------------------------------------------------

class _Page(NamedTuple):
    """A validated page request: a window size, its direction and the cursors' item ids."""

    size: int
    backward: bool
    after: str | None
    before: str | None


class _Params:
    """Reads a request's parameters, collecting every problem so one 422 reports them all."""

    def __init__(self, query: httpx.QueryParams) -> None:
        self._query = query
        self.problems: list[dict[str, Any]] = []

    def _value(self, name: str) -> str | None:
        values = self._query.get_list(name)
        return values[-1] if values else None  # FastAPI reads the last of repeated scalars

    def entity_id(self, value: str, loc: tuple[str, ...], kind: IdKind) -> str | None:
        """``value`` if it is an id of ``kind``; else None, with the problem recorded."""
        if len(value) < ID_MIN_LENGTH:
            self.problems.append(_problem(
                loc, "string_too_short", f"String should have at least {ID_MIN_LENGTH} characters",
                value, {"min_length": ID_MIN_LENGTH}))
        elif len(value) > ID_MAX_LENGTH:
            self.problems.append(_problem(
                loc, "string_too_long", f"String should have at most {ID_MAX_LENGTH} characters",
                value, {"max_length": ID_MAX_LENGTH}))
        elif not _is_kind(value, kind):
            self.problems.append(_problem(
                loc, "value_error",
                f"Value error, expected {_article(kind.noun)} {kind.noun} id: {kind.prefix!r} "
                "followed by ASCII letters and digits only", value))
        else:
            return value
        return None

    def optional_id(self, name: str, kind: IdKind) -> str | None:
        value = self._value(name)
        return None if value is None else self.entity_id(value, ("query", name), kind)

    def choice(self, name: str, options: Sequence[str], default: str) -> str:
        value = self._value(name)
        if value is None:
            return default
        if value not in options:
            self.problems.append(_enum_problem(("query", name), value, options))
        return value

    def choices(self, name: str, options: Sequence[str]) -> frozenset[str] | None:
        """The set of values of a repeated parameter, or None when it is absent."""
        values = self._query.get_list(name)
        for index, value in enumerate(values):
            if value not in options:
                self.problems.append(_enum_problem(("query", name, index), value, options))
        return frozenset(values) if values else None

    def moment(self, name: str) -> datetime | None:
        value = self._value(name)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.problems.append(_problem(
                ("query", name), "datetime_parsing",
                "Input should be a valid datetime, such as 2024-01-01T00:00:00Z", value))
            return None
        if parsed.tzinfo is None:  # a naive time would be ambiguous, so the API refuses it
            self.problems.append(_problem(("query", name), "timezone_aware",
                                          "Input should have timezone info", value))
            return None
        return parsed

    def page(self) -> _Page:
        first, last = self._size("first"), self._size("last")
        after, before = self._cursor("after"), self._cursor("before")
        if first is not None and last is not None:
            self.problems.append(_problem(
                ("query", "last"), "value_error",
                "Value error, page forwards (first, after) or backwards (last, before), not both",
                self._value("last")))
        backward = last is not None or (before is not None and first is None)
        size = (last if backward else first) or _PAGE_SIZE
        return _Page(size, backward, after, before)

    def _size(self, name: str) -> int | None:
        value = self._value(name)
        if value is None:
            return None
        if not _INTEGER.fullmatch(value.strip()):
            self.problems.append(_problem(
                ("query", name), "int_parsing",
                "Input should be a valid integer, unable to parse string as an integer", value))
        elif int(value) < 1:
            self.problems.append(_problem(("query", name), "greater_than",
                                          "Input should be greater than 0", value, {"gt": 0}))
        elif int(value) > _PAGE_MAX:
            self.problems.append(_problem(
                ("query", name), "less_than_equal",
                f"Input should be less than or equal to {_PAGE_MAX}", value, {"le": _PAGE_MAX}))
        else:
            return int(value)
        return None

    def _cursor(self, name: str) -> str | None:
        value = self._value(name)
        if value is None:
            return None
        if not value:
            self.problems.append(_problem(("query", name), "string_too_short",
                                          "String should have at least 1 character", value,
                                          {"min_length": 1}))
            return None
        item_id = _decode_cursor(value)
        if item_id is None:
            self.problems.append(_bad_cursor(name, value))
        return item_id


def _is_kind(value: str, kind: IdKind) -> bool:
    return is_id(value, kind.name)


def _article(noun: str) -> str:
    return "an" if noun[0] in "aeiou" else "a"


def _enum_problem(loc: Sequence[str | int], value: str, options: Sequence[str]) -> dict[str, Any]:
    quoted = [f"'{option}'" for option in options]
    expected = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    return _problem(loc, "enum", f"Input should be {expected}", value, {"expected": expected})


def _bad_cursor(name: str, value: str) -> dict[str, Any]:
    which = "end_cursor" if name == "after" else "start_cursor"
    return _problem(("query", name), "value_error",
                    f"Value error, not a cursor of this list: pass the {which} of a page "
                    "of the same list", value)


# -- cursors and pages --------------------------------------------------------------------------

def _cursor(item_id: str) -> str:
    """The opaque cursor of a list item: its id, URL-safe base64 without padding.

    An id names one item for good, so its cursor is stable across requests and page sizes;
    the position is looked up in the list being paged.
    """
    return base64.urlsafe_b64encode(item_id.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        item_id = raw.decode("ascii")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    return item_id if _cursor(item_id) == cursor else None  # one spelling per item


def _window(ids: Sequence[str], page: _Page) -> tuple[slice, dict[str, Any]]:
    """Where ``page`` lies in a list of items with these ids, and its PageInfo."""
    start, stop = 0, len(ids)
    positions = {item_id: index for index, item_id in enumerate(ids)}
    for name, item_id in (("after", page.after), ("before", page.before)):
        if item_id is not None and item_id not in positions:
            raise _unprocessable(_bad_cursor(name, _cursor(item_id)))
    if page.after is not None:
        start = positions[page.after] + 1
    if page.before is not None:
        stop = max(start, positions[page.before])
    if page.backward:
        start = max(start, stop - page.size)
    else:
        stop = min(stop, start + page.size)
    shown = ids[start:stop]
    return slice(start, stop), {
        "has_previous_page": start > 0,
        "start_cursor": _cursor(shown[0]) if shown else None,
        "has_next_page": stop < len(ids),
        "end_cursor": _cursor(shown[-1]) if shown else None,
    }


def _listing(nodes: list[Any], total: int, page_info: dict[str, Any]) -> dict[str, Any]:
    """A PaginatedListResource."""
    return {"nodes": nodes, "total_count": total, "page_info": page_info}


def _paginate(nodes: list[dict[str, Any]], page: _Page) -> dict[str, Any]:
    """One page of API objects, each with an ``id``."""
    window, page_info = _window([node["id"] for node in nodes], page)
    return _listing(nodes[window], len(nodes), page_info)


# -- credit batches -----------------------------------------------------------------------------

class _IndexedBatch(NamedTuple):
    """A CreditBatch reduced to what the filters read, with its JSON kept as bytes."""

    id: str
    status: str
    issued_at: datetime
    filters: Mapping[str, str | None]  # _BATCH_FILTERS parameter -> the batch's value
    body: bytes  # immutable, so requests can share it; each response parses its own copy


def _index_batches(registry: demo.DemoRegistry, organisation_id: str) -> tuple[_IndexedBatch, ...]:
    """A buyer's batches, split parents included, in ascending (issued_at, id) order."""
    # A CreditBatch does not say which order it was delivered against; the registry keeps
    # that on its own records, as the live API's database does.
    order_of = {b.id: b.order_id for b in registry._batches[organisation_id]}
    indexed = []
    for batch in registry.credit_batches(organisation_id, include_split=True):
        values = {name: batch.get(name) for name, _ in _BATCH_FILTERS}
        values["order_id"] = order_of[batch["id"]]
        indexed.append(_IndexedBatch(batch["id"], batch["status"],
                                     datetime.fromisoformat(batch["issued_at"]),
                                     MappingProxyType(values), orjson.dumps(batch)))
    return tuple(sorted(indexed, key=lambda b: (b.issued_at, b.id)))


@dataclass(frozen=True)
class _BatchQuery:
    ids: Mapping[str, str]  # filter parameter -> wanted id, only those given
    statuses: frozenset[str]
    issued_after: datetime | None
    issued_before: datetime | None

    def keeps(self, batch: _IndexedBatch) -> bool:
        return (batch.status in self.statuses
                and all(batch.filters[name] == wanted for name, wanted in self.ids.items())
                and (self.issued_after is None or batch.issued_at > self.issued_after)
                and (self.issued_before is None or batch.issued_at < self.issued_before))


# -- routes -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Call:
    """One request on its way through a route: the parsed parts and who is asking."""

    registry: demo.DemoRegistry
    batches: Mapping[str, tuple[_IndexedBatch, ...]]  # buyer id -> its indexed batches
    params: _Params
    access: _Access
    path_id: str | None  # the {id} path segment, once validated
    caller: str | None  # the organisation of the bearer token, if one was sent

    def ready(self) -> None:
        """Refuse invalid input (422), then another organisation's private data (403).

        A route calls this once it has read its parameters, before it touches any data.
        """
        if self.params.problems:
            raise _unprocessable(*self.params.problems)
        if self.access is _Access.OWNER and self.path_id != self.caller:
            raise _Refusal(403, "The access token belongs to a different organisation: it does "
                                f"not give access to the private data of {self.path_id}")

    @property
    def owner(self) -> str:
        """The organisation in the path of an owner's route (ready() checked it is the caller's)."""
        assert self.access is _Access.OWNER and self.path_id is not None
        return self.path_id

    @property
    def caller_id(self) -> str:
        """The token's organisation, on a route that needs a token (refused with 401 without)."""
        assert self.caller is not None, "a route that needs a token was called without one"
        return self.caller


def _or_null(lookup: Callable[[str], dict[str, Any]], key: str | None) -> dict[str, Any] | None:
    # The API's schema for these routes answers an unknown id with 200 and null, not a 404.
    try:
        return lookup(key) if key is not None else None
    except LookupError:
        return None


def _current_organisation(call: _Call) -> Any:
    call.ready()
    return call.registry.organisation(call.caller_id)


def _organisation(call: _Call) -> Any:
    call.ready()
    return _or_null(call.registry.organisation, call.path_id)


def _credit_balance(call: _Call) -> Any:
    call.ready()
    return call.registry.credit_balance(call.owner)


def _orders(call: _Call) -> Any:
    page = call.params.page()
    call.ready()
    return _paginate(call.registry.orders(call.owner), page)


def _credit_batches(call: _Call) -> Any:
    params = call.params
    wanted = {name: params.optional_id(name, kind) for name, kind in _BATCH_FILTERS}
    query = _BatchQuery(
        ids={name: value for name, value in wanted.items() if value is not None},
        statuses=params.choices("status", _STATUSES) or _UNSPLIT,
        issued_after=params.moment("issued_after"), issued_before=params.moment("issued_before"))
    params.choice("sort_field", _SORT_FIELDS, "issued_at")  # issued_at is the only field
    descending = params.choice("sort_direction", _DIRECTIONS, "desc") == "desc"
    page = params.page()
    call.ready()
    kept = [b for b in call.batches[call.owner] if query.keeps(b)]
    if descending:  # the exact reverse of ascending, so ties by id flip too
        kept.reverse()
    window, page_info = _window([b.id for b in kept], page)
    return _listing([orjson.loads(b.body) for b in kept[window]], len(kept), page_info)


def _projects(call: _Call) -> Any:
    page = call.params.page()
    call.ready()
    # The API lists projects alphabetically by name; the id breaks ties so paging is stable.
    projects = sorted(call.registry.projects(), key=lambda p: (p["name"], p["id"]))
    return _paginate(projects, page)


def _project(call: _Call) -> Any:
    call.ready()
    return _or_null(call.registry.project, call.path_id)


def _suppliers(call: _Call) -> Any:
    page = call.params.page()
    call.ready()
    return _paginate(call.registry.suppliers(), page)


def _supplier(call: _Call) -> Any:
    call.ready()
    return _or_null(call.registry.supplier, call.path_id)


def _retirements(call: _Call) -> Any:
    params = call.params
    owner = params.optional_id("owner_org_id", _ORGANISATION)
    beneficiary = params.optional_id("beneficiary_org_id", _ORGANISATION)
    page = params.page()
    call.ready()
    kept = [r for r in call.registry.retirements()
            if owner in (None, r["owner"]["id"])
            and beneficiary in (None, r["beneficiary"]["id"])]
    return _paginate(kept, page)


# -- the history's routes -----------------------------------------------------------------------
# Who sees what: everyone sees the public record (retirements, issuances, projects and their
# documents); an organisation sees its own orders, the deliveries it received, the transfers
# into and out of its account, the refunds it received, and the batches it owns or that were
# retired on its behalf. Another organisation's record answers 404, as an unknown id does, so
# a response never tells whether a private id exists.

def _record(call: _Call, lookup: Callable[[str], _T], kind: IdKind,
            visible: Callable[[_T], bool] | None = None) -> _T:
    """The record of the path's id, or a 404 when it is unknown or not the caller's to see."""
    call.ready()
    key = call.path_id
    assert key is not None  # the route's kind is set, so ready() checked the id
    try:
        found = lookup(key)
    except LookupError:
        found = None
    if found is not None and (visible is None or visible(found)):
        return found
    if visible is None:  # a public record: only an unknown id misses
        raise _Refusal(404, f"No {kind.noun} {key} in the registry: check the id")
    raise _Refusal(404, f"No {kind.noun} {key} that this organisation may see: the id is "
                        f"unknown, or the {kind.noun} belongs to another organisation")


def _sees(call: _Call, *organisations: dict[str, Any]) -> bool:
    return call.caller is not None and any(o["id"] == call.caller for o in organisations)


def _batch_listing(batches: list[dict[str, Any]]) -> dict[str, Any]:
    """A ListResource of credit batches: every one, no paging (as the API's schema says)."""
    return {"nodes": batches, "total_count": len(batches)}


def _retirement(call: _Call) -> Any:
    return _record(call, call.registry.retirement, _RETIREMENT)


def _retirement_credit_batches(call: _Call) -> Any:
    found = _record(call, call.registry.retirement, _RETIREMENT)
    return _batch_listing(call.registry.retirement_credit_batches(found["id"]))


def _credit_batch(call: _Call) -> Any:
    return _record(call, call.registry.credit_batch, _BATCH,
                   lambda b: _sees(call, b["owner"], *filter(None, [b["beneficiary"]])))


def _own_order(call: _Call) -> dict[str, Any]:
    return _record(call, call.registry.order, _ORDER,
                   lambda o: _sees(call, o["buyer_organisation"]))


def _order(call: _Call) -> Any:
    return _own_order(call)


def _newest(records: list[dict[str, Any]], when: str) -> list[dict[str, Any]]:
    # The registry lists them newest first; re-sorted here so the order is this route's own.
    return sorted(records, key=lambda r: (r[when], r["id"]), reverse=True)


def _order_deliveries(call: _Call) -> Any:
    page = call.params.page()
    order = _own_order(call)
    kept = [d for d in call.registry.deliveries() if d["order_id"] == order["id"]]
    return _paginate(_newest(kept, "delivered_at"), page)


def _deliveries(call: _Call) -> Any:
    params = call.params
    supplier = params.optional_id("from_supplier_id", _SUPPLIER)
    receiver = params.optional_id("to_organisation_id", _ORGANISATION)
    page = params.page()
    call.ready()
    kept = [d for d in call.registry.deliveries()
            if _sees(call, d["to_organisation"]) and supplier in (None, d["from_supplier"]["id"])
            and receiver in (None, d["to_organisation"]["id"])]
    return _paginate(_newest(kept, "delivered_at"), page)


def _own_delivery(call: _Call) -> dict[str, Any]:
    return _record(call, call.registry.delivery, _DELIVERY,
                   lambda d: _sees(call, d["to_organisation"]))


def _delivery(call: _Call) -> Any:
    return _own_delivery(call)


def _delivery_credit_batches(call: _Call) -> Any:
    return _batch_listing(call.registry.delivery_credit_batches(_own_delivery(call)["id"]))


def _transfers(call: _Call) -> Any:
    params = call.params
    sender = params.optional_id("from_organisation_id", _ORGANISATION)
    receiver = params.optional_id("to_organisation_id", _ORGANISATION)
    page = params.page()
    call.ready()
    kept = [t for t in call.registry.transfers()
            if _sees(call, t["from_organisation"], t["to_organisation"])
            and sender in (None, t["from_organisation"]["id"])
            and receiver in (None, t["to_organisation"]["id"])]
    return _paginate(_newest(kept, "transferred_at"), page)


def _own_transfer(call: _Call) -> dict[str, Any]:
    return _record(call, call.registry.transfer, _TRANSFER,
                   lambda t: _sees(call, t["from_organisation"], t["to_organisation"]))


def _transfer(call: _Call) -> Any:
    return _own_transfer(call)


def _transfer_credit_batches(call: _Call) -> Any:
    return _batch_listing(call.registry.transfer_credit_batches(_own_transfer(call)["id"]))


def _own_refund(call: _Call) -> dict[str, Any]:
    return _record(call, call.registry.refund, _REFUND,
                   lambda r: _sees(call, r["to_organisation"]))


def _refund(call: _Call) -> Any:
    return _own_refund(call)


def _refund_credit_batches(call: _Call) -> Any:
    return _batch_listing(call.registry.refund_credit_batches(_own_refund(call)["id"]))


def _issuances(call: _Call) -> Any:
    page = call.params.page()
    call.ready()
    return _paginate(_newest(call.registry.issuances(), "issued_at"), page)


def _issuance(call: _Call) -> Any:
    return _record(call, call.registry.issuance, _ISSUANCE)


def _issuance_credit_batches(call: _Call) -> Any:
    return _record(call, call.registry.issuance_credit_batches, _ISSUANCE)


def _project_documents(call: _Call) -> Any:
    page = call.params.page()
    return _paginate(_record(call, call.registry.project_documents, _PROJECT), page)


def _supplier_of(call: _Call) -> str:
    return _record(call, call.registry.supplier, _SUPPLIER)["id"]


def _supplier_projects(call: _Call) -> Any:
    page = call.params.page()
    supplier = _supplier_of(call)
    kept = [p for p in call.registry.projects() if p["supplier"]["id"] == supplier]
    # Most recently created first: the demo dates a project by its crediting period's start
    # (none yet: created last of all, so listed last).
    kept.sort(key=lambda p: (p["crediting_period_start"] or "", p["id"]), reverse=True)
    return _paginate(kept, page)


def _supplier_issuances(call: _Call) -> Any:
    page = call.params.page()
    supplier = _supplier_of(call)
    kept = [i for i in call.registry.issuances() if i["supplier"]["id"] == supplier]
    return _paginate(_newest(kept, "issued_at"), page)


def _supplier_deliveries(call: _Call) -> Any:
    page = call.params.page()
    supplier = _supplier_of(call)
    kept = [d for d in call.registry.deliveries()
            if d["from_supplier"]["id"] == supplier and _sees(call, d["to_organisation"])]
    return _paginate(_newest(kept, "delivered_at"), page)


def _supplier_orders(call: _Call) -> Any:
    page = call.params.page()
    supplier = _supplier_of(call)
    kept = [o for o in call.registry.orders(call.caller_id) if o["supplier"]["id"] == supplier]
    return _paginate(kept, page)  # orders() is newest contract first, as the API lists them


def _beneficiaries(call: _Call) -> Any:
    page = call.params.page()
    call.ready()
    return _paginate(call.registry.beneficiaries(call.caller_id), page)


def _transferees(call: _Call) -> Any:
    page = call.params.page()
    call.ready()
    return _paginate(call.registry.transferees(call.caller_id), page)


class _Route(NamedTuple):
    pattern: tuple[str, ...]  # path segments; "{id}" matches any one non-empty segment
    view: Callable[[_Call], Any]
    access: _Access
    kind: IdKind | None = None  # what kind of id {id} is


_ROUTES = (
    _Route(("organisation",), _current_organisation, _Access.TOKEN),
    _Route(("organisations", "{id}"), _organisation, _Access.PUBLIC, _ORGANISATION),
    _Route(("organisations", "{id}", "credit_balance"), _credit_balance, _Access.OWNER,
           _ORGANISATION),
    _Route(("organisations", "{id}", "credit_batches"), _credit_batches, _Access.OWNER,
           _ORGANISATION),
    _Route(("organisations", "{id}", "orders"), _orders, _Access.OWNER, _ORGANISATION),
    _Route(("projects",), _projects, _Access.PUBLIC),
    _Route(("projects", "{id}"), _project, _Access.PUBLIC, _PROJECT),
    _Route(("suppliers",), _suppliers, _Access.PUBLIC),
    _Route(("suppliers", "{id}"), _supplier, _Access.PUBLIC, _SUPPLIER),
    _Route(("retirements",), _retirements, _Access.PUBLIC),
    _Route(("retirements", "{id}"), _retirement, _Access.PUBLIC, _RETIREMENT),
    _Route(("retirements", "{id}", "credit_batches"), _retirement_credit_batches, _Access.PUBLIC,
           _RETIREMENT),
    _Route(("credit_batches", "{id}"), _credit_batch, _Access.TOKEN, _BATCH),
    _Route(("orders", "{id}"), _order, _Access.TOKEN, _ORDER),
    _Route(("orders", "{id}", "deliveries"), _order_deliveries, _Access.TOKEN, _ORDER),
    _Route(("deliveries",), _deliveries, _Access.TOKEN),
    _Route(("deliveries", "{id}"), _delivery, _Access.TOKEN, _DELIVERY),
    _Route(("deliveries", "{id}", "credit_batches"), _delivery_credit_batches, _Access.TOKEN,
           _DELIVERY),
    _Route(("transfers",), _transfers, _Access.TOKEN),
    _Route(("transfers", "{id}"), _transfer, _Access.TOKEN, _TRANSFER),
    _Route(("transfers", "{id}", "credit_batches"), _transfer_credit_batches, _Access.TOKEN,
           _TRANSFER),
    _Route(("refunds", "{id}"), _refund, _Access.TOKEN, _REFUND),
    _Route(("refunds", "{id}", "credit_batches"), _refund_credit_batches, _Access.TOKEN,
           _REFUND),
    _Route(("issuances",), _issuances, _Access.PUBLIC),
    _Route(("issuances", "{id}"), _issuance, _Access.PUBLIC, _ISSUANCE),
    _Route(("issuances", "{id}", "credit_batches"), _issuance_credit_batches, _Access.PUBLIC,
           _ISSUANCE),
    _Route(("projects", "{id}", "documents"), _project_documents, _Access.PUBLIC, _PROJECT),
    _Route(("suppliers", "{id}", "projects"), _supplier_projects, _Access.PUBLIC, _SUPPLIER),
    _Route(("suppliers", "{id}", "issuances"), _supplier_issuances, _Access.PUBLIC, _SUPPLIER),
    _Route(("suppliers", "{id}", "deliveries"), _supplier_deliveries, _Access.TOKEN, _SUPPLIER),
    _Route(("suppliers", "{id}", "orders"), _supplier_orders, _Access.TOKEN, _SUPPLIER),
    _Route(("beneficiaries",), _beneficiaries, _Access.TOKEN),
    _Route(("transferees",), _transferees, _Access.TOKEN),
)


def _match(segments: list[str]) -> tuple[_Route, str | None] | None:
    for route in _ROUTES:
        if len(route.pattern) == len(segments) and all(
                want == got or (want == "{id}" and got)
                for want, got in zip(route.pattern, segments, strict=True)):
            path_id = segments[route.pattern.index("{id}")] if route.kind else None
            return route, path_id
    return None


# -- the handler --------------------------------------------------------------------------------

class DemoHandler:
    """Answers Registry API requests from a demo registry: the transport's handler.

    Calling it with an :class:`httpx.Request` returns the :class:`httpx.Response` the API
    would give. It reads only the method, the path (below ``base_path``), the query and the
    headers, so it can also sit behind a real HTTP server, and it keeps no state between
    requests: threads and event loops may call one handler at once.

    Parameters
    ----------
    registry : DemoRegistry, optional
        The registry to serve; :func:`demo.registry` by default.
    base_path : str
        Where the API's routes start, ``/registry/v0`` as in the live API's server URLs.

    Examples
    --------
    >>> import httpx
    >>> from isoanalytics import demo
    >>> from isoanalytics.demo.transport import DemoHandler
    >>> handle = DemoHandler()
    >>> response = handle(httpx.Request(
    ...     "GET", "http://127.0.0.1:8000/registry/v0/suppliers?first=2",
    ...     headers={"x-client-secret": demo.CLIENT_SECRET}))
    >>> response.status_code, len(response.json()["nodes"]), response.json()["total_count"]
    (200, 2, 40)
    >>> handle(httpx.Request("GET", "http://127.0.0.1:8000/registry/v0/projects")).json()
    {'detail': 'Missing client secret: send the x-client-secret header'}
    """

    __slots__ = ("_base_path", "_batches", "_registry", "_tokens")

    def __init__(self, registry: demo.DemoRegistry | None = None, *,
                 base_path: str = "/registry/v0") -> None:
        self._registry = registry if registry is not None else demo.registry()
        self._base_path = base_path.rstrip("/")
        buyers = self._registry.buyers.values()
        self._tokens = MappingProxyType({demo.access_token(org_id): org_id for org_id in buyers})
        # Indexed once and only read afterwards, so paging thousands of batches stays cheap.
        self._batches = MappingProxyType({org_id: _index_batches(self._registry, org_id)
                                          for org_id in buyers})

    @property
    def registry(self) -> demo.DemoRegistry:
        """The registry it serves."""
        return self._registry

    @property
    def base_path(self) -> str:
        """The path the routes start at, without a trailing slash."""
        return self._base_path

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Answer one request; see the class docstring."""
        headers: dict[str, str] = {}
        try:
            status, body = 200, self._answer(request)
        except _Refusal as refusal:
            status, body, headers = refusal.status, {"detail": refusal.detail}, refusal.headers
        return httpx.Response(status, content=orjson.dumps(body), headers={
            "content-type": _JSON, "x-request-id": _request_id(request), **headers})

    def _answer(self, request: httpx.Request) -> Any:
        found = self._route(request.url.path)
        if found is None:
            raise _Refusal(404, "Not Found")
        route, raw_id = found
        if request.method != "GET":
            raise _Refusal(405, "Method Not Allowed", {"allow": "GET"})
        self._check_secret(request.headers.get("x-client-secret"))
        caller = self._caller(request.headers.get("authorization"))
        if caller is None and route.access is not _Access.PUBLIC:
            raise _unauthorised("Not authenticated: this route needs an organisation's access "
                                "token in the Authorization header (Bearer <token>)", bearer=True)
        params = _Params(request.url.params)
        path_id = None
        if route.kind is not None and raw_id is not None:  # raw_id is set when kind is
            path_id = params.entity_id(raw_id, ("path", "id"), route.kind)
        return route.view(_Call(self._registry, self._batches, params, route.access, path_id,
                                caller))

    def _route(self, path: str) -> tuple[_Route, str | None] | None:
        if not path.startswith(self._base_path + "/"):
            return None
        return _match(path[len(self._base_path) + 1:].split("/"))

    @staticmethod
    def _check_secret(secret: str | None) -> None:
        if secret is None:
            raise _unauthorised("Missing client secret: send the x-client-secret header",
                                bearer=False)
        # Constant time, as a real secret check must be; the demo's secret is public anyway.
        if not hmac.compare_digest(secret.encode(errors="replace"), demo.CLIENT_SECRET.encode()):
            raise _unauthorised("Invalid client secret in the x-client-secret header",
                                bearer=False)

    def _caller(self, authorization: str | None) -> str | None:
        """The organisation whose token the request carries; None when it carries none."""
        if authorization is None:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorised("Invalid Authorization header: expected 'Bearer <token>'",
                                bearer=True)
        caller = self._tokens.get(token.strip())
        if caller is None:
            raise _unauthorised("Invalid access token: it is not the token of any organisation",
                                bearer=True)
        return caller


def _request_id(request: httpx.Request) -> str:
    # Deterministic, like everything in the demo: the same request always gets the same id.
    digest = hashlib.sha256(request.method.encode() + b" " + request.url.raw_path)
    return f"demo-{digest.hexdigest()[:16]}"


def transport(registry: demo.DemoRegistry | None = None, *,
              base_path: str = "/registry/v0") -> httpx.MockTransport:
    """An httpx transport serving the demo registry as the Registry API v0.

    Works for :class:`httpx.Client` and :class:`httpx.AsyncClient` alike; give the client
    ``base_url=demo.BASE_URL`` and the demo's credentials.

    Parameters
    ----------
    registry : DemoRegistry, optional
        The registry to serve; :func:`demo.registry` by default.
    base_path : str
        The path the routes start at, that of :data:`demo.BASE_URL` by default.

    Returns
    -------
    httpx.MockTransport
        Its handler is a :class:`DemoHandler`.

    Examples
    --------
    >>> import httpx
    >>> from isoanalytics import demo
    >>> from isoanalytics.demo.transport import transport
    >>> org = demo.DEFAULT_ORGANISATION_ID
    >>> headers = {"x-client-secret": demo.CLIENT_SECRET,
    ...            "authorization": f"Bearer {demo.access_token(org)}"}
    >>> with httpx.Client(transport=transport(), base_url=demo.BASE_URL,
    ...                   headers=headers) as client:
    ...     print(client.get("/organisation").json()["name"])
    ...     page = client.get(f"/organisations/{org}/credit_batches", params={"first": 5})
    ...     print(len(page.json()["nodes"]), page.json()["page_info"]["has_next_page"])
    Harbourline Freight
    5 True
    """
    if registry is None:
        return httpx.MockTransport(_default_handler(base_path))
    return httpx.MockTransport(DemoHandler(registry, base_path=base_path))


@functools.cache
def _default_handler(base_path: str) -> DemoHandler:
    # Indexing the demo's batches takes ~55 ms; every RegistryClient.demo() shares one
    # handler for the cached demo registry, as they share the registry itself.
    return DemoHandler(base_path=base_path)
