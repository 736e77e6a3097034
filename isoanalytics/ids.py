"""The one rule for registry ids, and the one way an id becomes part of a request path.

An id is its kind's prefix (``org_``, ``prj_``, ...) followed by ASCII letters and digits,
20 to 37 characters in all: ``org_1GB56M1ST1S0GVNA``. Every id the registry publishes (the
OpenAPI examples, the sample records) is a prefix and 16 upper-case letters and digits; the
37-character ceiling and the lower case are the API's own validation (its 422 answers). The
rule leaves nothing that a URL treats specially (``/``, ``.``, ``?``, ``#``, ``%``, spaces,
control characters, non-ASCII look-alikes), so a checked id is always exactly one path
segment.

Where an id comes from decides the error: a caller's argument that breaks the rule is an
:class:`~isoanalytics.errors.InvalidIdError` naming the argument (:func:`check_id`); an id
inside a response body is a :class:`~isoanalytics.errors.SchemaError` naming its JSON path
(:func:`check_body_id`). Request paths are built by :func:`resource_path` only, from the
API's own resource names and checked ids, each percent-encoded as one segment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

from .errors import InvalidIdError, SchemaError

__all__ = ["ID_KINDS", "ID_MAX_LENGTH", "ID_MIN_LENGTH", "IdKind", "check_body_id", "check_id",
           "id_pattern", "is_id", "resource_path"]

ID_MIN_LENGTH, ID_MAX_LENGTH = 20, 37
_TAIL = "[0-9A-Za-z]"  # spelled out: \w and str.isalnum also take non-ASCII letters


@dataclass(frozen=True)
class IdKind:
    """One kind of registry id: its name, its noun in messages, its prefix and its pattern.

    Examples
    --------
    >>> from isoanalytics.ids import ID_KINDS
    >>> kind = ID_KINDS["project"]
    >>> kind.prefix, bool(kind.pattern.fullmatch("prj_1GB56M1ST1S0GVNA"))
    ('prj_', True)
    >>> kind.rule[:40]
    "expected a project id: 'prj_' followed b"
    """

    name: str
    noun: str
    prefix: str

    @property
    def pattern(self) -> re.Pattern[str]:
        return _PATTERNS[self.prefix]

    @property
    def rule(self) -> str:
        """The rule in words, for messages: what a user should pass instead."""
        article = "an" if self.noun[0] in "aeiou" else "a"
        return (f"expected {article} {self.noun} id: {self.prefix!r} followed by ASCII letters "
                f"and digits only, {ID_MIN_LENGTH} to {ID_MAX_LENGTH} characters in all (such "
                f"as {self.prefix}1GB56M1ST1S0GVNA)")


_KINDS = (
    IdKind("credit_batch", "credit batch", "ctb_"), IdKind("project", "project", "prj_"),
    IdKind("supplier", "supplier", "spl_"), IdKind("organisation", "organisation", "org_"),
    IdKind("order", "order", "ord_"), IdKind("retirement", "retirement", "ret_"),
    IdKind("issuance", "issuance", "iss_"), IdKind("delivery", "delivery", "dlv_"),
    IdKind("removal", "removal", "rmv_"), IdKind("transfer", "transfer", "tfr_"),
    IdKind("refund", "buffer-pool refund", "bpr_"),
    IdKind("project_document", "project document", "pjd_"),
)
#: Every kind of id the package reads, by name (``"organisation"``, ``"credit_batch"``...).
ID_KINDS: Mapping[str, IdKind] = MappingProxyType({kind.name: kind for kind in _KINDS})
# fullmatch, never match + "$": "$" also matches before a trailing newline.
_PATTERNS = {
    kind.prefix: re.compile(re.escape(kind.prefix) + _TAIL
                            + f"{{{ID_MIN_LENGTH - len(kind.prefix)},"
                              f"{ID_MAX_LENGTH - len(kind.prefix)}}}")
    for kind in _KINDS
}
# The same, for many ids joined by newlines (all_ids).
_COLUMN_PATTERNS = {
    prefix: re.compile(f"(?:{pattern.pattern}\n)*{pattern.pattern}")
    for prefix, pattern in _PATTERNS.items()
}

# The API's paths: a collection, then (for the ones read by id) an id of its kind, then one
# of its sub-resources. Nothing else can become a path.
_RESOURCES: Mapping[str, tuple[str | None, tuple[str, ...]]] = {
    "organisation": (None, ()),
    "organisations": ("organisation", ("credit_balance", "credit_batches", "orders")),
    "projects": ("project", ("documents",)),
    "suppliers": ("supplier", ("projects", "issuances", "deliveries", "orders")),
    "retirements": ("retirement", ("credit_batches",)),
    "orders": ("order", ("deliveries",)),
    "deliveries": ("delivery", ("credit_batches",)),
    "transfers": ("transfer", ("credit_batches",)),
    "refunds": ("refund", ("credit_batches",)),
    "issuances": ("issuance", ("credit_batches",)),
    "credit_batches": ("credit_batch", ()),
    "beneficiaries": (None, ()),
    "transferees": (None, ()),
}


def id_kind(kind: str) -> IdKind:
    """The :class:`IdKind` named ``kind`` (``"organisation"``, ``"project"``...)."""
    try:
        return ID_KINDS[kind]
    except (KeyError, TypeError):
        raise ValueError(f"unknown id kind {kind!r}; expected one of {', '.join(ID_KINDS)}") \
            from None


def id_pattern(kind: str) -> str:
    """The one rule for ``kind`` as regular-expression text for a schema library.

    Anchored for ``re.search`` (how msgspec's ``Meta(pattern=...)`` applies a pattern) with
    ``\\Z``, never ``$``, which would also match before a trailing newline.

    Examples
    --------
    >>> import re
    >>> pattern = id_pattern("project")
    >>> good = "prj_1CTWZQGKE1S0VAXA"
    >>> bool(re.search(pattern, good)), bool(re.search(pattern, good + "\\n"))
    (True, False)
    """
    return f"^{id_kind(kind).pattern.pattern}\\Z"


def is_id(value: Any, kind: str) -> bool:
    """Whether ``value`` is an id of ``kind`` under the one rule.

    Examples
    --------
    >>> is_id("org_1GB56M1ST1S0GVNA", "organisation")
    True
    >>> is_id("org_1GB56M1ST1S0GVNA/../x", "organisation")
    False
    >>> is_id("prj_1CTWZQGKE1S0VAXA", "supplier")
    False
    """
    return type(value) is str and id_kind(kind).pattern.fullmatch(value) is not None


def all_ids(values: Iterable[Any], kind: str) -> bool:
    """Whether every value is an id of ``kind`` (a whole column at once, for the fast reads).

    One match over the values joined by newlines: about 4x faster than a match per value
    on 100,000 ids. The newline count proves no value brought its own.
    """
    values = list(values)
    if not values:
        return True
    if not set(map(type, values)) <= {str}:  # exact type: a str subclass may override methods
        return False
    joined = "\n".join(values)
    return (joined.count("\n") == len(values) - 1
            and _COLUMN_PATTERNS[id_kind(kind).prefix].fullmatch(joined) is not None)


def check_id(value: Any, kind: str, *, argument: str | None = None) -> str:
    """A caller's id, checked before it goes into any request: ``value``, or InvalidIdError.

    Parameters
    ----------
    value : Any
        What the caller passed.
    kind : str
        Its kind: ``"organisation"``, ``"project"``, ``"supplier"``, ``"order"``...
        (:data:`ID_KINDS`).
    argument : str, optional
        The argument, filter or option it came in as, to name in the error (default
        ``"{kind}_id"``); a command line passes its option, e.g. ``"--org"``.

    Raises
    ------
    InvalidIdError
        A ``ValueError`` whose message names ``argument`` and states the rule.

    Examples
    --------
    >>> check_id("org_1GB56M1ST1S0GVNA", "organisation")
    'org_1GB56M1ST1S0GVNA'
    >>> check_id("org_1GB56M1ST1S0GVNA/../x", "organisation", argument="--org")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    isoanalytics.errors.InvalidIdError: --org: expected an organisation id: 'org_' followed by ...
    """
    spec = id_kind(kind)
    if type(value) is str and spec.pattern.fullmatch(value):
        return value
    raise InvalidIdError(argument or f"{kind}_id", spec.rule, value=value, kind=kind)


def check_body_id(value: Any, path: str, kind: str) -> str:
    """An id read from a response body: ``value``, or a SchemaError naming its JSON ``path``.

    Examples
    --------
    >>> check_body_id("prj_1CTWZQGKE1S0VAXA", "project_balances[0].project_id", "project")
    'prj_1CTWZQGKE1S0VAXA'
    >>> check_body_id("prj_AAAAAAAA/../../admin", "project_balances[0].project_id", "project")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    isoanalytics.errors.SchemaError: project_balances[0].project_id: expected a project id: ...
    """
    spec = id_kind(kind)
    if type(value) is str and spec.pattern.fullmatch(value):
        return value
    raise SchemaError(path, spec.rule, value=value)


def resource_path(resource: str, record_id: str | None = None, *tail: str,
                  argument: str | None = None) -> str:
    """The path of one of the API's resources, under the base URL: the only way to build one.

    ``resource`` is one of the API's collections, ``record_id`` (for those read by id) is
    checked by :func:`check_id` for the collection's kind, and ``tail`` names a
    sub-resource. Each segment is percent-encoded on its own, so no value can add a segment,
    climb out with ``..``, or start a query or fragment.

    Raises
    ------
    InvalidIdError
        ``record_id`` breaks the id rule (naming ``argument``, default ``"{kind}_id"``).
    ValueError
        ``resource`` or ``tail`` is not a path of the API (a mistake in the calling code).

    Examples
    --------
    >>> resource_path("organisations", "org_1GB56M1ST1S0GVNA", "credit_balance")
    '/organisations/org_1GB56M1ST1S0GVNA/credit_balance'
    >>> resource_path("projects")
    '/projects'
    """
    if resource not in _RESOURCES:
        raise ValueError(f"unknown API resource {resource!r}; expected one of "
                         f"{', '.join(_RESOURCES)}")
    kind, subresources = _RESOURCES[resource]
    segments = [resource]
    if record_id is not None:
        if kind is None:
            raise ValueError(f"/{resource} is not read by id")
        segments.append(check_id(record_id, kind, argument=argument))
    for name in tail:
        if record_id is None or name not in subresources:
            raise ValueError(f"{name!r} is not a sub-resource of /{resource}/{{id}}; expected "
                             f"one of {', '.join(subresources) or 'none'}")
        segments.append(name)
    return "".join("/" + quote(segment, safe="") for segment in segments)
