"""The ``credit_balance`` body (spec: ``OrganisationCreditBalance``) and its cross-field rules.

msgspec checks each field as it decodes; :func:`read_balance` then checks what spans fields
(``credits`` against ``credit_kgs``, each entity listed once) a whole list at a time, and
returns each list as columns.

**Ids, a column at a time.** A body of 100,000 projects holds 110,000 ids; msgspec checks a
``Meta(pattern=...)`` with one regular-expression match per value, which cost a third of the
read. So the body is decoded first into the *fast* structs below, whose ids are plain
strings, and each id column is then checked by the one id rule in one match
(:func:`isoanalytics.ids.all_ids`). Only when something is wrong is the body decoded again
into the strict structs (ids as patterns), on the error path alone, so the first problem in
the body is named exactly as a strict decode names it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np

from ..errors import SchemaError
from ..ids import all_ids
from .decoding import Reader
from .fields import OrderId, ProjectId, SupplierId
from .quantities import CreditQuantity, check_credits, kilograms

STATUS_KEYS = ("active_credits_total", "retired_credits_total")


class StatusTotals(msgspec.Struct, gc=False):
    """Active and retired credits (spec: ``CreditBalance``, renamed here: the package's
    :class:`~isoanalytics.CreditBalance` is the whole body).

    Examples
    --------
    >>> q = '{"credit_kgs": 1500, "credits": 1.5}'
    >>> totals = msgspec.json.decode(
    ...     f'{{"active_credits_total": {q}, "retired_credits_total": {q}}}', type=StatusTotals)
    >>> totals.active_credits_total.credit_kgs
    1500
    """

    active_credits_total: CreditQuantity
    retired_credits_total: CreditQuantity


class ProjectCreditBalance(msgspec.Struct, gc=False):
    """One project's totals (spec: ``ProjectCreditBalance``)."""

    project_id: ProjectId
    total: StatusTotals


class SupplierCreditBalance(msgspec.Struct, gc=False):
    """One supplier's totals (spec: ``SupplierCreditBalance``)."""

    supplier_id: SupplierId
    total: StatusTotals


class OrderCreditBalance(msgspec.Struct, gc=False):
    """One order's totals (spec: ``OrderCreditBalance``)."""

    order_id: OrderId
    total: StatusTotals


class OrganisationCreditBalance(msgspec.Struct, gc=False):
    """The body of ``GET /organisations/{id}/credit_balance`` (spec: ``OrganisationCreditBalance``).

    The spec requires ``order_balances``; the API's documented example omits it, and its
    compatibility policy lets us tolerate that: absent (or null) is ``None``, which
    ``reconcile()`` reports as an absent level rather than as zero.
    """

    total: StatusTotals
    project_balances: list[ProjectCreditBalance]
    supplier_balances: list[SupplierCreditBalance]
    order_balances: list[OrderCreditBalance] | None = None


@dataclass(frozen=True)
class ListSpec:
    """One of the body's balance lists: where it lives and how its ids look."""

    level: str
    list_key: str
    id_key: str


LISTS = (
    ListSpec("project", "project_balances", "project_id"),
    ListSpec("supplier", "supplier_balances", "supplier_id"),
    ListSpec("order", "order_balances", "order_id"),
)


@dataclass(frozen=True)
class Columns:
    """A balance list read into columns: ids and int64 kilograms per status."""

    ids: list[str]
    active_kgs: np.ndarray
    retired_kgs: np.ndarray


@dataclass(frozen=True)
class ParsedBody:
    """A checked body: the organisation's totals and each list as columns."""

    active_kgs: int
    retired_kgs: int
    levels: dict[str, Columns]
    order_balances_present: bool


# The fast structs: the same body, ids as plain strings (checked a column at a time after).

class _FastProject(ProjectCreditBalance, gc=False):
    project_id: str


class _FastSupplier(SupplierCreditBalance, gc=False):
    supplier_id: str


class _FastOrder(OrderCreditBalance, gc=False):
    order_id: str


class _FastBody(OrganisationCreditBalance, gc=False):
    project_balances: list[_FastProject]  # type: ignore[assignment]
    supplier_balances: list[_FastSupplier]  # type: ignore[assignment]
    order_balances: list[_FastOrder] | None = None  # type: ignore[assignment]


BODY_HINT = "Pass the JSON body of GET /organisations/{id}/credit_balance."
_WHAT = "a JSON object (an OrganisationCreditBalance)"
READER: Reader[OrganisationCreditBalance] = Reader(OrganisationCreditBalance, _WHAT, BODY_HINT)
_FAST: Reader[Any] = Reader(_FastBody, _WHAT, BODY_HINT)
_TOTAL = attrgetter("total")
_ACTIVE, _RETIRED = (attrgetter(key) for key in STATUS_KEYS)


def read_balance(body: Any) -> ParsedBody:
    """Decode (bytes or text) or convert (decoded objects) a body, check it, and return its
    columns; a SchemaError names the JSON path of the first problem."""
    try:
        decoded = _FAST.decode(body)
    except SchemaError:
        READER.decode(body)  # the strict decode names the first problem, as it always has
        raise
    if not all(all_ids(map(attrgetter(spec.id_key), getattr(decoded, spec.list_key) or ()),
                       spec.level) for spec in LISTS):
        READER.decode(body)  # raises at the first id that breaks the rule
    totals = decoded.total
    for key, quantity in zip(STATUS_KEYS, (_ACTIVE(totals), _RETIRED(totals)), strict=True):
        check_credits([quantity], kilograms([quantity]), f"total.{key}.credits")
    levels = {}
    for spec in LISTS:
        entries = getattr(decoded, spec.list_key)
        levels[spec.level] = _columns(entries or [], spec)
    return ParsedBody(totals.active_credits_total.credit_kgs,
                      totals.retired_credits_total.credit_kgs, levels,
                      decoded.order_balances is not None)


def _columns(entries: Sequence[Any], spec: ListSpec) -> Columns:
    ids = list(map(attrgetter(spec.id_key), entries))
    if len(set(ids)) != len(ids):
        first: dict[str, int] = {}
        for index, entity_id in enumerate(ids):
            if entity_id in first:
                raise SchemaError(
                    f"{spec.list_key}[{index}].{spec.id_key}",
                    f"{entity_id} is listed twice (first at {spec.list_key}[{first[entity_id]}]); "
                    "each entity must appear once",
                )
            first[entity_id] = index
    totals = list(map(_TOTAL, entries))
    kgs = []
    for key, status in zip(STATUS_KEYS, (_ACTIVE, _RETIRED), strict=True):
        quantities = list(map(status, totals))
        kgs.append(kilograms(quantities))
        check_credits(quantities, kgs[-1], f"{spec.list_key}[{{row}}].total.{key}.credits")
    return Columns(ids, kgs[0], kgs[1])
