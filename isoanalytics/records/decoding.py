"""Bodies into schema structs, and msgspec's errors into SchemaErrors in the package's terms.

A :class:`Reader` decodes JSON bytes (or converts already-decoded objects) into one schema
type. msgspec checks every field as it decodes and stops at the first problem; this module
turns that problem into a :class:`~isoanalytics.errors.SchemaError` with the path in the
package's style (``nodes[3].size.credit_kgs``, not ``$.nodes[3]...``), the problem in words
(the id rule of :mod:`isoanalytics.ids` for an id), the field's description as the hint, and
the bad value, read again from the raw body: the error path only, so the fast path never
keeps a second copy of the body.

Bodies msgspec does not read (NaN, nesting beyond msgspec's recursion limit) are read the
way the package always read them (orjson, then Python's json), then converted, so the answer
is the same whichever decoder met them first. How deep msgspec reads depends on the Python:
on 3.11 its limit is Python's recursion limit, on 3.12 and later the interpreter's C stack
limit, which is deeper than :data:`MAX_DEPTH`. So a value nested past 1024 levels in a field
the schema does not define (msgspec skips it, building nothing) is ignored like any unknown
field where msgspec reads that deep, and is a SchemaError where it does not; a body nested
past it in a field the schema reads, or past any decoder's limit, is always a SchemaError.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any, Generic, TypeVar

import msgspec
import msgspec.inspect as mi
import orjson

from ..errors import SchemaError
from ..ids import ID_KINDS
from .fields import ENUMS, INT64_MAX

T = TypeVar("T")

# orjson's own limit (it refuses deeper bodies). The registry's bodies are a few levels deep.
MAX_DEPTH = 1024
_TEXT = (bytes, bytearray, memoryview, str)
_MESSAGE = re.compile(r"(?P<problem>.*?)(?: - at `\$(?P<path>.*)`)?", re.DOTALL)
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_NAIVE = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?")
_BODY_HINT = "Pass the JSON body the registry sent"
_ENUM_HINT = ("The API may have added a {name} value that this version of isoanalytics does "
              "not know: upgrade isoanalytics (pip install -U isoanalytics)")


class Reader(Generic[T]):
    """Decodes bodies into ``schema`` (a Struct, or a type built of them) or says why not.

    Parameters
    ----------
    schema : type
        What to decode into, e.g. ``OrganisationCreditBalance`` or ``Page[CreditBatch]``.
    what : str
        What the body should be, for an error at ``$`` (``"a JSON object (an
        OrganisationCreditBalance)"``).
    hint : str, optional
        What to pass instead, for an error at ``$``.

    Examples
    --------
    >>> from isoanalytics.records.quantities import CreditQuantity
    >>> reader = Reader(CreditQuantity, "a CreditQuantity object")
    >>> reader.decode(b'{"credit_kgs": 1500, "credits": 1.5}').credit_kgs
    1500
    >>> try:
    ...     reader.decode(b'{"credit_kgs": -1, "credits": 1.5}')
    ... except SchemaError as error:
    ...     print(error.path, "|", error.problem, "|", error.value_shown)
    ...     print(error.hint)
    credit_kgs | expected a non-negative integer | -1 (integer)
    credit_kgs counts whole kilograms of CO2e
    """

    def __init__(self, schema: Any, what: str, hint: str | None = None) -> None:
        self.schema, self.what, self.hint = schema, what, hint
        self._decoder = msgspec.json.Decoder(schema)
        self._info: Any = None

    def decode(self, body: Any, path: str = "$") -> T:
        """``body`` (JSON bytes or text, or decoded objects) as the schema type."""
        if not isinstance(body, _TEXT):
            return self.convert(body, path)
        if _may_hold_unreadable_integers(body):
            # msgspec would skip an unreadable integer in an unknown field: read it as always
            return self.convert(load(body, self.hint or _BODY_HINT), path)
        try:
            return self._decoder.decode(body)
        except msgspec.ValidationError as error:
            # Read again as the package always has: a body too deep or not JSON is that
            # first, as before, whatever msgspec met on its way.
            raise self.error(error, load(body, self.hint or _BODY_HINT), path, raw=body) from None
        except (msgspec.DecodeError, RecursionError):
            pass  # NaN, or deeper than msgspec reads: the package's own reading decides
        return self.convert(load(body, self.hint or _BODY_HINT), path)

    def convert(self, value: Any, path: str = "$") -> T:
        """Already-decoded objects (dicts, lists...) as the schema type."""
        try:
            return msgspec.convert(value, self.schema)
        except msgspec.ValidationError as error:
            raise self.error(error, value, path) from None
        except RecursionError:
            raise too_deep() from None

    def error(self, error: msgspec.ValidationError, body: Any, path: str = "$",
              raw: Any = None) -> SchemaError:
        """The SchemaError for msgspec's ``error`` about ``body`` (decoded objects; ``raw`` is
        the text they came from, to show an integer orjson read as a float exactly)."""
        match = _MESSAGE.fullmatch(str(error))
        problem = match["problem"] if match else str(error)
        steps: list[str | int] = [key if key else int(index)
                                  for key, index in _STEP.findall(match["path"] or "")] \
            if match else []
        missing = re.fullmatch(r"Object missing required field `(.+)`", problem)
        if missing:
            steps.append(missing[1])
            return SchemaError(_joined(path, steps), "required key is missing",
                               hint=self.hint if len(steps) == 1 and path == "$" else None)
        value = _value_at(body, steps, raw)
        info, extra = self.field(steps)
        if not steps and isinstance(info, (mi.StructType, mi.UnionType)):
            return SchemaError(_joined(path, steps), f"expected {self.what}", value=value,
                               hint=self.hint)
        words, hint = _problem(problem, info, extra, value)
        return SchemaError(_joined(path, steps), words, value=value,
                           hint=hint or extra.get("description"))

    def field(self, steps: list[str | int]) -> tuple[Any, dict[str, Any]]:
        """The type info of the field at ``steps`` and its metadata (extra and description)."""
        if self._info is None:
            self._info = mi.type_info(self.schema)
        info: Any = self._info
        extra: dict[str, Any] = {}
        for step in [*steps, None]:
            info, extra = _unwrapped(info, {})
            if step is None:
                break
            if isinstance(info, mi.StructType):
                info = next((f.type for f in info.fields if f.encode_name == step), None)
            elif isinstance(info, mi.ListType):
                info = info.item_type
            else:
                info = None
        return info, extra


def _unwrapped(info: Any, extra: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """``info`` without its Metadata (collected into ``extra``) and without null in a union."""
    while True:
        if isinstance(info, mi.Metadata):
            extra = {**extra, **(info.extra or {}), **(info.extra_json_schema or {})}
            info = info.type
        elif isinstance(info, mi.UnionType):
            options = [t for t in info.types if not isinstance(t, mi.NoneType)]
            if len(options) != 1:
                return info, extra
            info = options[0]
        else:
            return info, extra


def _problem(problem: str, info: Any, extra: dict[str, Any],
             value: Any) -> tuple[str, str | None]:
    """msgspec's ``problem`` about a field of type ``info`` in the package's words (and a hint
    when the words need one beyond the field's description)."""
    if "expected" in extra:
        return f"expected {extra['expected']}", None
    if "id_kind" in extra:
        return ID_KINDS[extra["id_kind"]].rule, None
    if "enum" in extra:
        name = extra["enum"]
        if problem.startswith("Invalid enum value"):
            return (f"expected one of the {name} values {', '.join(ENUMS[name])}",
                    _ENUM_HINT.format(name=name))
        return f"expected a {name} string", None
    if isinstance(info, mi.IntType):
        integral_float = type(value) is float and value.is_integer()
        if info.ge == 0:  # kilograms: the API's bigint
            if (isinstance(value, int) and value > INT64_MAX) or (integral_float
                                                                  and value > INT64_MAX):
                return "is beyond the API's bigint range (2**63 - 1 kg)", None
            return "expected a non-negative integer", None
        # A float past 2**63 that is integral is an integer written by an encoder that
        # could not hold it (JavaScript, or orjson before 3.11): name the range.
        if (type(value) is int and value not in range(-(2**63), 2**63)) or (
                integral_float and abs(value) >= 2.0**63) or problem.startswith("Expected `int` <"):
            return "is beyond the 64-bit integer range", None
        return "expected an integer", None
    if isinstance(info, mi.FloatType):
        if info.ge is not None and info.le is not None:
            return f"expected a number from {info.ge} to {info.le}", None
        return "expected a number", None
    if isinstance(info, mi.BoolType):
        return "expected true or false", None
    if isinstance(info, mi.DateTimeType):
        if type(value) is str and _NAIVE.fullmatch(value):
            return "has no UTC offset (Z or +HH:MM), so its instant is ambiguous", None
        if type(value) is str and problem.startswith("Invalid RFC3339") and re.fullmatch(
                r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:?\d\d)", value):
            return "is not a real date-time, or is out of range", None
        return "expected an RFC 3339 date-time with a UTC offset such as 2024-05-01T12:00:00Z", None
    if isinstance(info, mi.DateType):
        if type(value) is str and re.fullmatch(r"\d{4}-\d\d-\d\d", value):
            return "is not a real date (YYYY-MM-DD)", None
        return "expected a date (YYYY-MM-DD) such as 2024-05-01", None
    if isinstance(info, mi.StrType):
        return "expected a string", None
    if isinstance(info, mi.ListType):
        item, item_extra = _unwrapped(info.item_type, {})
        if "enum" in item_extra:
            return f"expected an array of {item_extra['enum']} values", None
        return "expected an array", None
    if isinstance(info, mi.StructType):
        return "expected an object", None
    return problem[:1].lower() + problem[1:], None  # a problem this module has no words for


def _joined(path: str, steps: list[str | int]) -> str:
    parts = [] if path == "$" else [path]
    for step in steps:
        parts.append(f"[{step}]" if isinstance(step, int) else
                     (f".{step}" if parts else str(step)))
    return "".join(parts) or "$"


def _value_at(body: Any, steps: list[str | int], raw: Any = None) -> Any:
    """The value at ``steps`` in ``body``, or None if it is not there."""
    try:
        value = body
        for step in steps:
            value = value[step]
        if type(value) is float and value.is_integer() and abs(value) >= 2.0**63 and raw:
            # orjson reads an integer beyond 64 bits as a float: show the exact one
            value = json.loads(bytes(raw) if not isinstance(raw, str) else raw)
            for step in steps:
                value = value[step]
    except (SchemaError, LookupError, TypeError, ValueError, RecursionError):
        return None
    return value


def _may_hold_unreadable_integers(body: bytes | bytearray | memoryview | str) -> bool:
    """Whether ``body`` may hold an integer literal longer than Python converts (4,300 digits
    by default): then every aligned window of half that length inside it is all digits, so
    checking one window in each half-length stride finds it without reading every byte."""
    limit = sys.get_int_max_str_digits()
    if not limit or len(body) <= limit:
        return False
    data = body if isinstance(body, (bytes, str)) else bytes(body)
    stride = (limit + 1) // 2
    return any(data[start:start + stride].isdigit()
               for start in range(0, len(data) - stride + 1, stride)
               if data[start:start + 1].isdigit())


def load(body: Any, hint: str = _BODY_HINT) -> Any:
    """Turn str/bytes JSON into Python objects the way the package always has; pass anything
    else through.

    A body nested deeper than :data:`MAX_DEPTH`, a number with more digits than Python
    converts, or anything else that is not JSON is a SchemaError at ``$``: never a
    RecursionError or an OverflowError from inside a parser.
    """
    if not isinstance(body, _TEXT):
        return body
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        if "depth limit" in str(error):
            raise too_deep() from None
    # Python's json reads what orjson refuses (NaN, Infinity) so that the schema can say
    # precisely which value is out of range.
    try:
        text = bytes(body).decode("utf-8") if not isinstance(body, str) else body
        return json.loads(text)
    except UnicodeDecodeError as error:
        raise SchemaError(
            "$", f"the body is not UTF-8 text ({error.reason} at byte {error.start})", hint=hint,
        ) from None
    except json.JSONDecodeError as error:
        raise SchemaError(
            "$",
            f"the body is not valid JSON ({error.msg} at line {error.lineno} column {error.colno})",
            hint=hint,
        ) from None
    except RecursionError:  # Python's own stack ends before orjson's limit
        raise too_deep() from None
    except ValueError as error:  # e.g. an integer of more than 4,300 digits
        raise SchemaError("$", f"the body holds a value Python cannot read ({error})") from None


def too_deep() -> SchemaError:
    return SchemaError(
        "$", f"the body nests arrays or objects more than {MAX_DEPTH} levels deep, beyond what "
        "the JSON decoder reads; a registry body is a few levels deep, so this one is "
        "malformed", hint="Report it to whoever runs the server at this base URL",
    )
