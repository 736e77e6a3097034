"""Reading and validating ``OrganisationCreditBalance`` bodies.

The rules are written once, as a plain walk over the body (``_checked_columns``) that stops at
the first problem and names its JSON path. A 100,000-row body would take that walk about as
long as the JSON parse itself, so each list is first read by ``_fast_columns``: list
comprehensions and set/numpy checks that accept only what the walk would accept. When the
fast read finds anything it does not like it returns ``None`` and the walk runs, either to
name the problem or, if there is none, to read the list the slow way. A fast-path miss can
therefore cost time but never correctness (tests/test_validate.py checks both agree).
"""

from __future__ import annotations

import gc
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from ..errors import SchemaError
from ..ids import all_ids, check_body_id

INT64_MAX = 2**63 - 1
STATUS_KEYS = ("active_credits_total", "retired_credits_total")


@dataclass(frozen=True)
class ListSpec:
    """One of the body's balance lists: where it lives and how its ids look."""

    level: str
    list_key: str
    id_key: str
    id_kind: str  # its kind in isoanalytics.ids
    required: bool


LISTS = (
    ListSpec("project", "project_balances", "project_id", "project", True),
    ListSpec("supplier", "supplier_balances", "supplier_id", "supplier", True),
    # The API's documented example omits order_balances; its compatibility policy lets us
    # tolerate that, and reconcile() reports the level as absent rather than as zero.
    ListSpec("order", "order_balances", "order_id", "order", False),
)

_BODY_HINT = "Pass the JSON body of GET /organisations/{id}/credit_balance."


@dataclass(frozen=True)
class Columns:
    """A balance list read into columns: ids and int64 kilograms per status."""

    ids: list[str]
    active_kgs: np.ndarray
    retired_kgs: np.ndarray


@dataclass(frozen=True)
class ParsedBody:
    active_kgs: int
    retired_kgs: int
    levels: dict[str, Columns]
    order_balances_present: bool


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector while a large body is decoded and read.

    Decoding allocates hundreds of thousands of dicts, each of which counts towards the
    collector's thresholds, so it runs again and again over a tree that cannot contain a
    cycle. Pausing it cut decode time about 3x (tests/benchmarks/bench_parse.py). The
    collector's previous state is restored, whatever happens.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# orjson's own limit (it refuses deeper bodies). The registry's bodies are a few levels deep.
MAX_DEPTH = 1024


def decode(body: Any) -> Any:
    """Turn str/bytes JSON into Python objects; pass anything else through.

    A body nested deeper than :data:`MAX_DEPTH`, a number with more digits than Python
    converts, or anything else that is not JSON is a SchemaError at ``$``: never a
    RecursionError or an OverflowError from inside a parser.
    """
    if not isinstance(body, (bytes, bytearray, memoryview, str)):
        return body
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        if "depth limit" in str(error):
            raise _too_deep() from None
    # orjson refuses integers beyond 64 bits and NaN; json reads both, so the validator can
    # then say precisely which value is out of range.
    try:
        text = bytes(body).decode("utf-8") if not isinstance(body, str) else body
        return json.loads(text)
    except UnicodeDecodeError as error:
        raise SchemaError(
            "$", f"the body is not UTF-8 text ({error.reason} at byte {error.start})",
            hint=_BODY_HINT,
        ) from None
    except json.JSONDecodeError as error:
        raise SchemaError(
            "$",
            f"the body is not valid JSON ({error.msg} at line {error.lineno} column {error.colno})",
            hint=_BODY_HINT,
        ) from None
    except RecursionError:  # Python's own stack ends before orjson's limit
        raise _too_deep() from None
    except ValueError as error:  # e.g. an integer of more than 4,300 digits
        raise SchemaError("$", f"the body holds a value Python cannot read ({error})") from None


def _too_deep() -> SchemaError:
    return SchemaError(
        "$", f"the body nests arrays or objects more than {MAX_DEPTH} levels deep, beyond what "
        "the JSON decoder reads; a registry body is a few levels deep, so this one is "
        "malformed", hint="Report it to whoever runs the server at this base URL",
    )


def read_body(body: Any) -> ParsedBody:
    """Validate a decoded body and return its quantities as columns."""
    if not isinstance(body, dict):
        raise SchemaError(
            "$", "expected a JSON object (an OrganisationCreditBalance)", value=body, hint=_BODY_HINT
        )
    total = _require(body, "total", "$", hint=_BODY_HINT)
    active_kgs, retired_kgs = _checked_balance(total, "total")
    levels: dict[str, Columns] = {}
    order_balances_present = True
    for spec in LISTS:
        entries = body.get(spec.list_key)
        if entries is None and not spec.required:
            order_balances_present = False
            entries = []
        elif spec.list_key not in body:
            raise SchemaError(spec.list_key, "required list is missing", hint=_BODY_HINT)
        elif not isinstance(entries, list):
            raise SchemaError(spec.list_key, "expected an array", value=entries)
        levels[spec.level] = _fast_columns(entries, spec) or _checked_columns(entries, spec)
    return ParsedBody(active_kgs, retired_kgs, levels, order_balances_present)


# -- the rules, one value at a time ------------------------------------------------------------

def _require(container: dict, key: str, path: str, hint: str | None = None) -> Any:
    if key not in container:
        where = key if path == "$" else f"{path}.{key}"
        raise SchemaError(where, "required key is missing", hint=hint)
    return container[key]


def _require_object(value: Any, path: str) -> dict:
    if not isinstance(value, dict):
        raise SchemaError(path, "expected an object", value=value)
    return value


def _credits_tolerance(expected: float) -> float:
    # credits is credit_kgs / 1000 rounded to 3 decimals, then carried as a binary float:
    # half a gram of rounding plus a few ulps of representation error.
    return 0.0005 + 4 * math.ulp(expected)


def _checked_quantity(quantity: Any, path: str) -> int:
    quantity = _require_object(quantity, path)
    kgs = _require(quantity, "credit_kgs", path)
    # orjson reads an integer literal beyond 64 bits as a float: name the real problem.
    if type(kgs) is float and kgs > INT64_MAX and kgs.is_integer():
        kgs = int(kgs)
    if type(kgs) is not int or kgs < 0:
        raise SchemaError(
            f"{path}.credit_kgs", "expected a non-negative integer", value=kgs,
            hint="credit_kgs counts whole kilograms of CO2e",
        )
    if kgs > INT64_MAX:
        raise SchemaError(
            f"{path}.credit_kgs", "is beyond the API's bigint range (2**63 - 1 kg)", value=kgs
        )
    credits = _require(quantity, "credits", path)
    if type(credits) not in (int, float):
        raise SchemaError(f"{path}.credits", "expected a number", value=credits)
    try:
        credits_float = float(credits)
    except OverflowError:
        credits_float = math.inf
    expected = float(kgs) / 1000.0
    if not math.isfinite(credits_float) or abs(credits_float - expected) > _credits_tolerance(expected):
        raise SchemaError(
            f"{path}.credits",
            f"disagrees with credit_kgs / 1000 = {kgs / 1000:.3f} beyond rounding",
            value=credits,
            hint="credit_kgs is authoritative; the body is inconsistent, report it to its source",
        )
    return kgs


def _checked_balance(balance: Any, path: str) -> tuple[int, int]:
    balance = _require_object(balance, path)
    active, retired = (
        _checked_quantity(_require(balance, key, path), f"{path}.{key}") for key in STATUS_KEYS
    )
    return active, retired


def _checked_columns(entries: list, spec: ListSpec) -> Columns:
    ids: list[str] = []
    active: list[int] = []
    retired: list[int] = []
    first_seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        path = f"{spec.list_key}[{index}]"
        entry = _require_object(entry, path)
        entity_id = check_body_id(
            _require(entry, spec.id_key, path), f"{path}.{spec.id_key}", spec.id_kind
        )
        active_kgs, retired_kgs = _checked_balance(_require(entry, "total", path), f"{path}.total")
        if entity_id in first_seen:
            raise SchemaError(
                f"{path}.{spec.id_key}",
                f"{entity_id} is listed twice (first at {spec.list_key}[{first_seen[entity_id]}]); "
                "each entity must appear once",
            )
        first_seen[entity_id] = index
        ids.append(entity_id)
        active.append(active_kgs)
        retired.append(retired_kgs)
    return Columns(ids, np.array(active, dtype=np.int64), np.array(retired, dtype=np.int64))


# -- the same rules, a whole list at a time ----------------------------------------------------

def _fast_columns(entries: list, spec: ListSpec) -> Columns | None:
    """Read a list in bulk; ``None`` when anything might break a rule."""
    try:
        ids = [entry[spec.id_key] for entry in entries]
        totals = [entry["total"] for entry in entries]
        active = [total["active_credits_total"] for total in totals]
        retired = [total["retired_credits_total"] for total in totals]
        kgs = [quantity["credit_kgs"] for quantity in active]
        kgs += [quantity["credit_kgs"] for quantity in retired]
        credits = [quantity["credits"] for quantity in active]
        credits += [quantity["credits"] for quantity in retired]
    except (KeyError, TypeError, IndexError):
        return None
    if not entries:
        empty = np.zeros(0, dtype=np.int64)
        return Columns([], empty, empty.copy())
    # bool is a subclass of int, so compare exact types rather than isinstance
    if set(map(type, ids)) != {str} or set(map(type, kgs)) != {int}:
        return None
    if not set(map(type, credits)) <= {int, float}:
        return None
    # Any mapping passes the lookups above; the walk decides what else is acceptable.
    if {dict} != set(map(type, entries)) | set(map(type, totals)) | set(map(type, active + retired)):
        return None
    if not all_ids(ids, spec.id_kind) or len(set(ids)) != len(ids):
        return None
    try:
        kgs_array = np.array(kgs, dtype=np.int64)
        credits_array = np.array(credits, dtype=np.float64)
    except OverflowError:
        return None
    if kgs_array.min() < 0:
        return None
    expected = kgs_array.astype(np.float64) / 1000.0
    with np.errstate(invalid="ignore", over="ignore"):
        agrees = np.abs(credits_array - expected) <= 0.0005 + 4 * np.spacing(expected)
    if not agrees.all():  # NaN and inf compare False, so they land here too
        return None
    half = len(entries)
    return Columns(ids, kgs_array[:half], kgs_array[half:])
