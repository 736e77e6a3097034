"""Registry API resources (credit batches, projects, ...) checked and read into tidy frames.

Each kind of record has one declarative table below (``_KINDS``): its frame's columns, each
with the JSON path it is read from and the rule (``_Rule``) that checks and stores it, plus
the schema properties deliberately left out and why. A ``?`` after a key in a path means its
value may be null; everything below a null object is then missing too.

As in ``_validate``, the rules run twice over: ``_fast_read`` reads a page of records a column
at a time (comprehensions and set checks) and accepts only what the record-by-record walk,
``_checked_read``, would accept; when it finds anything it does not like it returns ``None``
and the walk runs, either to name the problem by its JSON path or to read an unusual but valid
page the slow way. Date-times are only checked for shape per value; ``Table.to_frame`` parses
them all at once and names the record of any that turns out not to be a real instant.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SchemaError
from ..ids import ID_KINDS, all_ids, check_body_id
from .frames import _STRING_DTYPE
from .validate import INT64_MAX, _checked_quantity, _require, _require_object

__all__ = ["KINDS", "Table", "check_record", "columns", "record_frame"]

KINDS: tuple[str, ...] = (
    "credit_batch", "project", "supplier", "order", "retirement", "organisation"
)

# The spec's closed enums (tests/test_records.py checks them against the OpenAPI file).
CREDIT_BATCH_STATUSES = ("active", "split", "retired")
ORDER_STATUSES = ("placed", "in_progress", "completed")
PATHWAYS = (
    "biomass_carbon_removal_and_storage", "direct_air_capture", "enhanced_weathering",
    "carbon_mineralization", "reforestation", "marine", "superpollutants",
)
PROJECT_STATUSES = (
    "draft", "preview", "under_validation", "validated", "validation_unsuccessful", "cancelled"
)
RETIREMENT_PURPOSES = (
    "corporate_targets", "public_environmental_claims", "insetting", "regulatory_requirement",
    "other",
)

_TIME_UNIT = "us"  # what the API writes; also spans years 1 to 9999, unlike ns
_INT64_MIN = -(2**63)
_NONE_TYPE = type(None)


class _BadValue(Exception):
    """A stored value that bulk conversion refused; ``Table.to_frame`` names its record."""

    def __init__(self, row: int, value: Any, problem: str) -> None:
        super().__init__(problem)
        self.row, self.value, self.problem = row, value, problem


# -- rules: how one kind of JSON value is checked and stored -----------------------------------

class _Rule:
    """How one kind of JSON value is checked, stored, and turned into a frame column.

    ``check`` judges one value and names its path in any error. ``fast`` judges a whole
    column of non-null values and returns ``None`` whenever ``check`` might object to one
    of them (it may refuse more). Both return what is stored: usually the values as they
    are. ``build`` turns a column of stored values (``None`` where missing) into the
    frame's column.
    """

    def check(self, value: Any, path: str) -> Any:
        raise NotImplementedError

    def fast(self, values: list) -> list | None:
        raise NotImplementedError

    def build(self, values: list, nullable: bool) -> Any:
        raise NotImplementedError


class _Text(_Rule):
    def check(self, value: Any, path: str) -> Any:
        if type(value) is not str:
            raise SchemaError(path, "expected a string", value=value)
        return value

    def fast(self, values: list) -> list | None:
        # exact types: a str subclass or bool-for-int slips through isinstance
        return values if set(map(type, values)) <= {str} else None

    def build(self, values: list, nullable: bool) -> Any:
        return pd.Series(values, dtype=_STRING_DTYPE)


class _Id(_Text):
    """A resource id: the one rule of ``isoanalytics.ids``, stored like any string."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def check(self, value: Any, path: str) -> Any:
        return check_body_id(value, path, self.kind)

    def fast(self, values: list) -> list | None:
        return values if all_ids(values, self.kind) else None


class _Enum(_Rule):
    """One of a closed set of strings; a categorical column with all the set's categories."""

    def __init__(self, name: str, values: tuple[str, ...]) -> None:
        self.name, self.values, self.allowed = name, values, frozenset(values)

    def check(self, value: Any, path: str) -> Any:
        if type(value) is not str:
            raise SchemaError(path, f"expected a {self.name} string", value=value)
        if value not in self.allowed:
            raise SchemaError(
                path, f"expected one of the {self.name} values {', '.join(self.values)}",
                value=value,
                hint=f"The API may have added a {self.name} value that this version of "
                "isoanalytics does not know: upgrade isoanalytics (pip install -U isoanalytics)",
            )
        return value

    def fast(self, values: list) -> list | None:
        try:
            return values if self.allowed.issuperset(values) else None
        except TypeError:  # an unhashable value (array or object)
            return None

    def build(self, values: list, nullable: bool) -> Any:
        return pd.Categorical(values, categories=self.values)


class _Quantity(_Rule):
    """A CreditQuantity, stored as its exact ``credit_kgs``.

    ``credits`` is checked against ``credit_kgs`` (``_checked_quantity``) and then dropped:
    it is ``credit_kgs / 1000`` rounded, so the frame derives it when it needs it.
    """

    def check(self, value: Any, path: str) -> Any:
        return _checked_quantity(value, path)

    def fast(self, values: list) -> list | None:
        if not set(map(type, values)) <= {dict}:
            return None
        kgs = [quantity["credit_kgs"] for quantity in values]
        credits = [quantity["credits"] for quantity in values]
        if not set(map(type, kgs)) <= {int} or not set(map(type, credits)) <= {int, float}:
            return None
        if kgs and (min(kgs) < 0 or max(kgs) > INT64_MAX):
            return None
        # int / int is correctly rounded, so it equals the API's round(kgs / 1000, 3) exactly
        # in every ordinary case; anything else goes to the tolerant per-value check.
        return kgs if [kg / 1000 for kg in kgs] == credits else None

    def build(self, values: list, nullable: bool) -> Any:
        return _integers(values, nullable)


class _Integer(_Rule):
    def check(self, value: Any, path: str) -> Any:
        # orjson reads an integer literal beyond 64 bits as a float (-2**63 - 1 as -2.0**63,
        # which orjson would have read as an int): name the real problem.
        if type(value) is float and value.is_integer() and abs(value) >= 2.0**63:
            raise SchemaError(path, "is beyond the 64-bit integer range", value=value)
        if type(value) is not int:
            raise SchemaError(path, "expected an integer", value=value)
        if not _INT64_MIN <= value <= INT64_MAX:
            raise SchemaError(path, "is beyond the 64-bit integer range", value=value)
        return value

    def fast(self, values: list) -> list | None:
        if not values:
            return values
        if set(map(type, values)) != {int} or min(values) < _INT64_MIN or max(values) > INT64_MAX:
            return None
        return values

    def build(self, values: list, nullable: bool) -> Any:
        return _integers(values, nullable)


class _Number(_Rule):
    """A float in a closed range. Only Python's exact comparisons are used before the check
    passes: converting a 400-digit integer literal to a float would raise OverflowError."""

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high

    def check(self, value: Any, path: str) -> Any:
        # NaN fails both comparisons, infinities the bounds
        if type(value) not in (int, float) or not self.low <= value <= self.high:
            raise SchemaError(path, f"expected a number from {self.low} to {self.high}",
                              value=value)
        return value

    def fast(self, values: list) -> list | None:
        if not values:
            return values
        if not set(map(type, values)) <= {int, float}:
            return None
        # min and max are unreliable around NaN; math.isnan only ever sees floats here
        if any(map(math.isnan, (value for value in values if type(value) is float))):
            return None
        return values if self.low <= min(values) and max(values) <= self.high else None

    def build(self, values: list, nullable: bool) -> Any:
        return np.array(values, dtype=np.float64)  # None becomes NaN


class _Boolean(_Rule):
    def check(self, value: Any, path: str) -> Any:
        if type(value) is not bool:
            raise SchemaError(path, "expected true or false", value=value)
        return value

    def fast(self, values: list) -> list | None:
        return values if set(map(type, values)) <= {bool} else None

    def build(self, values: list, nullable: bool) -> Any:
        return pd.array(values, dtype="boolean") if nullable else np.array(values, dtype=bool)


class _Moment(_Rule):
    """A date or date-time string: its shape checked per value, its calendar in bulk."""

    def __init__(self, pattern: str, noun: str, example: str, parse: dict) -> None:
        self.pattern, self.noun, self.example = re.compile(pattern), noun, example
        self.parse = parse  # pandas.to_datetime's arguments

    def check(self, value: Any, path: str) -> Any:
        if type(value) is not str or not self.pattern.fullmatch(value):
            raise SchemaError(path, f"expected {self.noun} such as {self.example}", value=value)
        return value

    def fast(self, values: list) -> list | None:
        if not set(map(type, values)) <= {str} or not all(map(self.pattern.fullmatch, values)):
            return None
        return values

    def build(self, values: list, nullable: bool) -> Any:
        raw = np.array(values, dtype=object)
        parsed = pd.to_datetime(raw, errors="coerce", **self.parse)
        bad = np.flatnonzero(pd.isna(parsed) & ~pd.isna(raw))
        if len(bad):
            row = int(bad[0])
            raise _BadValue(row, values[row], f"is not a real {self.noun}, or is out of range")
        return parsed.as_unit(_TIME_UNIT)


class _DateTime(_Moment):
    """An RFC 3339 date-time: an explicit offset is required, since without one the
    instant would depend on the time zone of the reader's machine.

    The fast check takes the upper-case ``T`` and ``Z`` the API writes; ``check`` also
    takes the lower case RFC 3339 allows, and stores it upper-cased, which pandas reads.
    """

    _CLOCK = r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d{1,9})?"
    _NAIVE = re.compile(_CLOCK)
    _ANY_CASE = re.compile(_CLOCK + r"(?:[Zz]|[+-]\d\d:\d\d)")

    def __init__(self) -> None:
        super().__init__(
            r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)",
            "an RFC 3339 date-time with a UTC offset", "2024-05-01T12:00:00Z",
            {"utc": True, "format": "ISO8601"},
        )

    def check(self, value: Any, path: str) -> Any:
        if type(value) is str and self._NAIVE.fullmatch(value):
            raise SchemaError(
                path, "has no UTC offset (Z or +HH:MM), so its instant is ambiguous", value=value
            )
        if type(value) is str and self._ANY_CASE.fullmatch(value):
            return value.upper()
        return super().check(value, path)


class _Purposes(_Rule):
    """An array of RetirementPurpose values, stored joined with ", "."""

    def __init__(self, item: _Enum) -> None:
        self.item = item

    def check(self, value: Any, path: str) -> Any:
        if type(value) is not list:
            raise SchemaError(path, f"expected an array of {self.item.name} values", value=value)
        for index, item in enumerate(value):
            self.item.check(item, f"{path}[{index}]")
        return ", ".join(value)

    def fast(self, values: list) -> list | None:
        if not set(map(type, values)) <= {list}:
            return None
        if self.item.fast(list(chain.from_iterable(values))) is None:
            return None
        return [", ".join(value) for value in values]

    def build(self, values: list, nullable: bool) -> Any:
        return pd.Series(values, dtype=_STRING_DTYPE)


class _Derived(_Rule):
    """A column computed in ``to_frame`` from other columns (already built), not read."""

    def __init__(self, compute: Callable[[Mapping[str, Any]], Any]) -> None:
        self.compute = compute


def _integers(values: list, nullable: bool) -> Any:
    # Straight from Python ints to int64: never through float, which loses kilograms past 2**53.
    if nullable:
        missing = np.array([value is None for value in values], dtype=bool)
        exact = np.array([0 if value is None else value for value in values], dtype=np.int64)
        return pd.arrays.IntegerArray(exact, missing)
    return np.array(values, dtype=np.int64)


def _share(part: str, whole: str) -> _Derived:
    def share(frame: Mapping[str, Any]) -> Any:
        numerator, denominator = frame[part], frame[whole]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(denominator == 0, np.nan, numerator / denominator)

    return _Derived(share)


_ID_BY_PREFIX = {kind.prefix: kind.name for kind in ID_KINDS.values()}


def _id(prefix: str) -> _Id:
    # The tables below name ids by prefix, as the API's examples show them.
    return _Id(_ID_BY_PREFIX[prefix])


_TEXT = _Text()
_KGS = _Quantity()
_INTEGER = _Integer()
_BOOLEAN = _Boolean()
_DATETIME = _DateTime()
_DATE = _Moment(r"\d{4}-\d\d-\d\d", "a date (YYYY-MM-DD)", "2024-05-01", {"format": "%Y-%m-%d"})
_LATITUDE, _LONGITUDE = _Number(-90, 90), _Number(-180, 180)
_PURPOSES = _Purposes(_Enum("RetirementPurpose", RETIREMENT_PURPOSES))
_CREDITS = _Derived(lambda frame: frame["credit_kgs"] / 1000)
_REMAINING = _Derived(lambda frame: frame["ordered_kgs"] - frame["delivered_kgs"])


# -- the resources: their columns, and what is left out ----------------------------------------

class _Column:
    """One frame column: its name, where it is read from, and its rule."""

    def __init__(self, name: str, path: str | None, rule: _Rule) -> None:
        self.name, self.rule = name, rule
        keys = path.split(".") if path else []
        # (key, whether its value may be null) from the record down to the value
        self.steps = tuple((key.rstrip("?"), key.endswith("?")) for key in keys)
        self.where = ".".join(key for key, _ in self.steps)  # its JSON path, for messages
        self.nullable = any(nullable for _, nullable in self.steps)


@dataclass(frozen=True)
class _Kind:
    schema: str
    columns: tuple[_Column, ...]
    omitted: Mapping[str, str]  # schema property path -> why it is not a column

    @property
    def read(self) -> tuple[_Column, ...]:
        return tuple(c for c in self.columns if not isinstance(c.rule, _Derived))


def _kind(schema: str, rows: tuple, omitted: Mapping[str, str] | None = None) -> _Kind:
    return _Kind(schema, tuple(_Column(*row) for row in rows), omitted or {})


_ELSEWHERE = "a property of that organisation or supplier: see its own frame"

_KINDS: Mapping[str, _Kind] = {
    "credit_batch": _kind("CreditBatch", (
        ("id", "id", _id("ctb_")),
        ("serial_number", "serial_number", _TEXT),
        ("status", "status", _Enum("CreditBatchStatus", CREDIT_BATCH_STATUSES)),
        ("project_id", "project_id", _id("prj_")),
        ("supplier_id", "supplier_id", _id("spl_")),
        ("credit_kgs", "size", _KGS),
        ("credits", None, _CREDITS),
        ("issued_at", "issued_at", _DATETIME),
        ("delivered_at", "delivered_at?", _DATETIME),
        ("retired_at", "retired_at?", _DATETIME),
        ("sequestered_on", "sequestered_on", _DATE),
        ("country_of_issue", "country_of_issue", _TEXT),
        ("issuance_id", "issuance_id", _id("iss_")),
        ("delivery_id", "delivery_id?", _id("dlv_")),
        ("retirement_id", "retirement_id?", _id("ret_")),
        ("removal_id", "removal_id", _id("rmv_")),
        ("parent_id", "parent_id?", _id("ctb_")),
        ("left_child_id", "left_child_id?", _id("ctb_")),
        ("right_child_id", "right_child_id?", _id("ctb_")),
        ("owner_id", "owner.id", _id("org_")),
        ("owner_name", "owner.name", _TEXT),
        ("beneficiary_id", "beneficiary?.id", _id("org_")),
        ("beneficiary_name", "beneficiary?.name", _TEXT),
        ("ccp_approved", "ccp_approved", _BOOLEAN),
        ("gross_carbon_removed_kg", "carbon_removal_data?.gross_carbon_removed_kg", _INTEGER),
        ("net_carbon_removed_kg", "carbon_removal_data?.net_carbon_removed_kg", _INTEGER),
        ("emissions_kg", "carbon_removal_data?.emissions_kg", _INTEGER),
        ("counterfactuals_kg", "carbon_removal_data?.counterfactuals_kg", _INTEGER),
        ("losses_kg", "carbon_removal_data?.losses_kg", _INTEGER),
    ), {"owner.domain": _ELSEWHERE, "beneficiary.domain": _ELSEWHERE}),
    "project": _kind("Project", (
        ("id", "id", _id("prj_")),
        ("name", "name", _TEXT),
        ("supplier_id", "supplier.id", _id("spl_")),
        ("supplier_name", "supplier.organisation.name", _TEXT),
        ("status", "status", _Enum("ProjectStatus", PROJECT_STATUSES)),
        ("short_code", "short_code", _TEXT),
        ("url", "url", _TEXT),
        ("process_key", "process_key", _TEXT),
        ("pathway", "pathway", _Enum("Pathway", PATHWAYS)),
        ("protocol_slug", "protocol_slug", _TEXT),
        ("country_code", "country_code", _TEXT),
        ("validator_name", "validator_name?", _TEXT),
        ("current_verifier_name", "current_verifier_name?", _TEXT),
        ("crediting_period_start", "crediting_period_start?", _DATE),
        ("crediting_period_end", "crediting_period_end?", _DATE),
        ("issued_kgs", "issued_credits_total", _KGS),
        ("retired_kgs", "retired_credits_total", _KGS),
        ("issued_buffer_pool_kgs", "issued_buffer_pool_credits_total", _KGS),
        ("retired_buffer_pool_kgs", "retired_buffer_pool_credits_total", _KGS),
        ("country_name", "location?.country_name", _TEXT),
        ("latitude", "location?.latitude", _LATITUDE),
        ("longitude", "location?.longitude", _LONGITUDE),
    ), {
        "supplier.organisation.id": _ELSEWHERE,
        "supplier.organisation.domain": _ELSEWHERE,
        "supplier.short_description": _ELSEWHERE,
        "supplier.long_description": _ELSEWHERE,
        "supplier.location": _ELSEWHERE,
        "location.country_code": "repeats the project's own country_code",
        "location.description": "optional free text naming the place",
    }),
    "supplier": _kind("Supplier", (
        ("id", "id", _id("spl_")),
        ("name", "organisation.name", _TEXT),
        ("organisation_id", "organisation.id", _id("org_")),
        ("domain", "organisation.domain?", _TEXT),
        ("short_description", "short_description?", _TEXT),
        ("long_description", "long_description?", _TEXT),
        ("country_code", "location?.country_code", _TEXT),
        ("country_name", "location?.country_name", _TEXT),
        ("latitude", "location?.latitude", _LATITUDE),
        ("longitude", "location?.longitude", _LONGITUDE),
    ), {"location.description": "optional free text naming the place"}),
    "order": _kind("Order", (
        ("id", "id", _id("ord_")),
        ("status", "status", _Enum("OrderStatus", ORDER_STATUSES)),
        ("supplier_id", "supplier.id", _id("spl_")),
        ("supplier_name", "supplier.organisation.name", _TEXT),
        ("buyer_organisation_id", "buyer_organisation.id", _id("org_")),
        ("buyer_organisation_name", "buyer_organisation.name", _TEXT),
        ("effective_contract_date", "effective_contract_date", _DATE),
        ("fulfilled_at", "fulfilled_at?", _DATETIME),
        ("ordered_kgs", "credits_ordered", _KGS),
        ("delivered_kgs", "credits_delivered", _KGS),
        ("remaining_kgs", None, _REMAINING),
        ("delivered_share", None, _share("delivered_kgs", "ordered_kgs")),
    ), {
        "supplier.organisation.id": _ELSEWHERE,
        "supplier.organisation.domain": _ELSEWHERE,
        "supplier.short_description": _ELSEWHERE,
        "supplier.long_description": _ELSEWHERE,
        "supplier.location": _ELSEWHERE,
        "buyer_organisation.domain": _ELSEWHERE,
    }),
    "retirement": _kind("Retirement", (
        ("id", "id", _id("ret_")),
        ("retired_at", "retired_at", _DATETIME),
        ("owner_id", "owner.id", _id("org_")),
        ("owner_name", "owner.name", _TEXT),
        ("beneficiary_id", "beneficiary.id", _id("org_")),
        ("beneficiary_name", "beneficiary.name", _TEXT),
        ("retired_kgs", "credit_batch_size_total", _KGS),
        ("purposes", "purposes", _PURPOSES),
        ("url", "url", _TEXT),
        ("notes", "notes?", _TEXT),
    ), {"owner.domain": _ELSEWHERE, "beneficiary.domain": _ELSEWHERE}),
    "organisation": _kind("Organisation", (
        ("id", "id", _id("org_")),
        ("name", "name", _TEXT),
        ("domain", "domain?", _TEXT),
    )),
}


def _spec(kind: str) -> _Kind:
    try:
        return _KINDS[kind]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown record kind {kind!r}; expected one of {', '.join(KINDS)}"
        ) from None


# -- reading a page: the walk that names problems, and the fast read ---------------------------

def _checked_value(record: dict, column: _Column, path: str) -> Any:
    value = record
    for depth, (key, nullable) in enumerate(column.steps):
        value = _require(value, key, path)
        path = key if path == "$" else f"{path}.{key}"
        if value is None and nullable:
            return None
        if depth < len(column.steps) - 1:
            value = _require_object(value, path)
    return column.rule.check(value, path)


def _checked_read(nodes: list, columns: tuple[_Column, ...], path: str) -> dict[str, list]:
    read: dict[str, list] = {column.name: [] for column in columns}
    for index, node in enumerate(nodes):
        where = f"{path}[{index}]"
        record = _require_object(node, where)
        for column in columns:
            read[column.name].append(_checked_value(record, column, where))
    return read


def _fast_step(parents: list, missing: int, key: str, nullable: bool) -> tuple[list, int] | None:
    """``key`` of every parent (``None`` below a missing one), and how many are missing."""
    if missing:
        values = [None if parent is None else parent[key] for parent in parents]
    else:
        values = [parent[key] for parent in parents]
    now_missing = values.count(None)
    if now_missing != missing and not nullable:
        return None
    return values, now_missing


def _fast_read(nodes: list, columns: tuple[_Column, ...]) -> dict[str, list] | None:
    """Read a page a column at a time; ``None`` when anything might break a rule."""
    if not set(map(type, nodes)) <= {dict}:
        return None
    objects: dict[tuple, tuple[list, int]] = {(): (nodes, 0)}  # shared parents, by path
    read: dict[str, list] = {}
    try:
        for column in columns:
            parents, missing = nodes, 0
            for depth in range(1, len(column.steps)):
                prefix = column.steps[:depth]
                if prefix not in objects:
                    step = _fast_step(parents, missing, *prefix[-1])
                    if step is None or not set(map(type, step[0])) <= {dict, _NONE_TYPE}:
                        return None
                    objects[prefix] = step
                parents, missing = objects[prefix]
            step = _fast_step(parents, missing, *column.steps[-1])
            if step is None:
                return None
            values, missing = step
            present = [value for value in values if value is not None] if missing else values
            stored = column.rule.fast(present)
            if stored is None:
                return None
            if stored is not present:  # converted: put the missing values back in place
                if missing:
                    converted = iter(stored)
                    stored = [None if value is None else next(converted) for value in values]
                values = stored
            read[column.name] = values
    except (KeyError, TypeError):  # a missing key, or a key looked up in a non-object
        return None
    return read


# -- the public interface ----------------------------------------------------------------------

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
        self._spec = _spec(kind)
        self.kind = kind
        self._read = self._spec.read
        self._values: dict[str, list] = {column.name: [] for column in self._read}
        self.ids: list[str] = self._values["id"]
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
                path, f"expected an array of {self._spec.schema} objects", value=nodes
            )
        read = _fast_read(nodes, self._read)
        if read is None:
            read = _checked_read(nodes, self._read, path)
        self._check_new(read["id"], path)
        start = len(self)
        for name, values in read.items():
            self._values[name].extend(values)
        self._row_of.update(zip(read["id"], range(start, start + len(nodes))))
        self._pages.append((start, path))

    def extend(self, other: Table) -> None:
        """Append the records of another table of the same kind (validated when added).

        Lets parts of one list read separately (one per project, say) become one frame
        without building a frame per part. A record in both is refused, as by :meth:`add`.
        """
        if other.kind != self.kind:
            raise ValueError(f"cannot extend a {self.kind} table with a {other.kind} table")
        self._check_new(other.ids, "nodes")
        start = len(self)
        for name, values in other._values.items():
            self._values[name].extend(values)
        self._row_of.update(zip(other.ids, range(start, start + len(other))))
        self._pages.extend((start + first, path) for first, path in other._pages)

    def to_frame(self) -> pd.DataFrame:
        """One frame of all records added: a row per record, in order, a column per variable.

        The columns are :func:`columns` of the kind, with the same dtypes when empty.

        Raises
        ------
        SchemaError
            If a date or date-time has the right shape but is no real day or instant
            (``2024-02-30``), naming its record's path and id.
        """
        data: dict[str, Any] = {}
        for column in self._spec.columns:
            if isinstance(column.rule, _Derived):
                data[column.name] = column.rule.compute(data)
                continue
            try:
                data[column.name] = column.rule.build(self._values[column.name], column.nullable)
            except _BadValue as bad:
                raise self._error_at(bad, column) from None
        return pd.DataFrame(data)

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

    def _error_at(self, bad: _BadValue, column: _Column) -> SchemaError:
        page = bisect_right(self._pages, bad.row, key=lambda page: page[0]) - 1
        start, path = self._pages[page]
        return SchemaError(
            f"{path}[{bad.row - start}].{column.where}",
            f"{bad.problem} (record {self.ids[bad.row]}, from add() call {page + 1})",
            value=bad.value,
        )


def columns(kind: str) -> tuple[str, ...]:
    """The column names of a kind's frame, in order.

    Examples
    --------
    >>> columns("organisation")
    ('id', 'name', 'domain')
    """
    return tuple(column.name for column in _spec(kind).columns)


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
    record = _require_object(value, path)
    for column in _spec(kind).read:
        _checked_value(record, column, path)
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
