"""Credit balances: the API's ``credit_balance`` body as a validated object and a tidy frame.

``parse_balance`` reads the body of ``GET /organisations/{id}/credit_balance``;
``CreditBalance.to_frame`` gives one row per (level, entity, status); ``stack_balances``
puts many organisations into one such frame and ``split_portfolio`` takes it apart again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np
import pandas as pd

from ..errors import SchemaError
from ..ids import check_id
from .balance_schema import LISTS, STATUS_KEYS, read_balance
from .frames import (
    COLUMNS,
    KGS_PER_CREDIT,
    LEVELS,
    STATUSES,
    check_tidy,
    empty_frame,
    entity_totals,
    tidy_frame,
)

__all__ = [
    "COLUMNS",
    "LEVELS",
    "STATUSES",
    "CreditBalance",
    "parse_balance",
    "split_portfolio",
    "stack_balances",
]

BalanceBody = Union[Mapping[str, Any], str, bytes, "CreditBalance"]

_SPEC_BY_LEVEL = {spec.level: spec for spec in LISTS}


def _frozen(values: Iterable[int]) -> np.ndarray:
    array = np.array(values, dtype=np.int64)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False, repr=False)
class _Entities:
    """One level's entities: ids in response order and their kilograms per status."""

    ids: tuple[str, ...]
    active_kgs: np.ndarray
    retired_kgs: np.ndarray


@dataclass(frozen=True, eq=False, repr=False)
class CreditBalance:
    """An organisation's credit balance, validated, in exact integer kilograms.

    Build one with :func:`parse_balance`. Quantities are ``int`` / int64 kilograms of CO2e
    (1 credit = 1 tCO2e = 1,000 kg); credits are derived only for display.

    Attributes
    ----------
    organisation_id : str or None
        The organisation the balance belongs to (the body itself does not say).
    active_kgs, retired_kgs : int
        The organisation's totals as reported in the body's ``total``.
    order_balances_present : bool
        False when the body had no ``order_balances`` list (the API's documented example
        omits it); :func:`isoanalytics.reconcile` then reports the order level as absent.

    Examples
    --------
    >>> import isoanalytics
    >>> balance = isoanalytics.parse_balance(
    ...     '{"total": {"active_credits_total": {"credit_kgs": 1500, "credits": 1.5},'
    ...     ' "retired_credits_total": {"credit_kgs": 500, "credits": 0.5}},'
    ...     ' "project_balances": [], "supplier_balances": []}',
    ...     organisation_id="org_1GB56M1ST1S0GVNA",
    ... )
    >>> balance.total_kgs
    2000
    >>> balance.to_frame()[["level", "status", "credit_kgs"]]
              level   status  credit_kgs
    0  organisation   active        1500
    1  organisation  retired         500
    """

    organisation_id: str | None
    active_kgs: int
    retired_kgs: int
    _entities: Mapping[str, _Entities] = field(repr=False)
    order_balances_present: bool = True

    @property
    def total_kgs(self) -> int:
        """Active plus retired kilograms."""
        return self.active_kgs + self.retired_kgs

    def entity_ids(self, level: str) -> tuple[str, ...]:
        """The ids listed at ``level`` (project, supplier or order), in response order."""
        return self._level(level).ids

    def _level(self, level: str) -> _Entities:
        if level not in self._entities:
            raise ValueError(f"level must be one of 'project', 'supplier', 'order'; got {level!r}")
        return self._entities[level]

    def to_frame(self) -> pd.DataFrame:
        """The tidy long frame: one row per (level, entity, status).

        Columns are exactly ``organisation_id, level, entity_id, status, credit_kgs, credits``.
        The organisation's own totals are the rows with ``level == "organisation"`` (their
        ``entity_id`` is the organisation id); zero-kg rows the API listed are kept.
        ``credit_kgs`` is int64 and exact, ``credits`` is ``credit_kgs / 1000`` for display.
        """
        return tidy_frame(**self._tidy_arrays())

    def _tidy_arrays(self) -> dict[str, np.ndarray]:
        """The row-aligned arrays of :meth:`to_frame`, so a portfolio can build one frame."""
        ids = [self.organisation_id]
        active = [np.array([self.active_kgs], dtype=np.int64)]
        retired = [np.array([self.retired_kgs], dtype=np.int64)]
        counts = [1]
        for level in LEVELS[1:]:
            entities = self._entities[level]
            ids.extend(entities.ids)
            active.append(entities.active_kgs)
            retired.append(entities.retired_kgs)
            counts.append(len(entities.ids))
        # Rows run level by level, entity by entity, active before retired.
        kgs = np.column_stack([np.concatenate(active), np.concatenate(retired)]).ravel()
        return {
            "organisation_id": np.full(len(kgs), self.organisation_id, dtype=object),
            "level_codes": np.repeat(np.arange(len(LEVELS), dtype=np.int8), np.array(counts) * 2),
            "entity_id": np.repeat(np.array(ids, dtype=object), 2),
            "status_codes": np.tile(np.arange(len(STATUSES), dtype=np.int8), len(ids)),
            "credit_kgs": kgs,
        }

    def to_dict(self) -> dict[str, Any]:
        """The balance as an API-shaped ``OrganisationCreditBalance`` body."""
        body: dict[str, Any] = {"total": _balance_json(self.active_kgs, self.retired_kgs)}
        for level in LEVELS[1:]:
            spec = _SPEC_BY_LEVEL[level]
            if level == "order" and not self.order_balances_present:
                continue
            entities = self._entities[level]
            body[spec.list_key] = [
                {spec.id_key: entity_id, "total": _balance_json(int(active), int(retired))}
                for entity_id, active, retired in zip(
                    entities.ids, entities.active_kgs.tolist(), entities.retired_kgs.tolist()
                , strict=True)
            ]
        return body

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> CreditBalance:
        """Rebuild one organisation's balance from its tidy frame (the inverse of ``to_frame``)."""
        frame = check_tidy(frame)
        organisations = frame["organisation_id"].unique()
        if len(organisations) > 1:
            raise SchemaError(
                "frame.organisation_id",
                f"holds {len(organisations)} organisations; one balance holds one",
                hint="use isoanalytics.split_portfolio(frame) for a portfolio",
            )
        organisation_id = _check_organisation_id(
            None if len(organisations) == 0 or pd.isna(organisations[0]) else str(organisations[0])
        )
        totals = entity_totals(frame, "organisation")
        if len(totals) != 1:
            raise SchemaError(
                "frame.level",
                f"expected one entity at level 'organisation' (the totals), found {len(totals)}",
                organisation_id=organisation_id,
            )
        entities = {}
        for level in LEVELS[1:]:
            level_totals = entity_totals(frame, level)
            entities[level] = _Entities(
                tuple(level_totals.index),
                _frozen(level_totals["active_kgs"]),
                _frozen(level_totals["retired_kgs"]),
            )
        return cls(
            organisation_id,
            int(totals["active_kgs"].iloc[0]),
            int(totals["retired_kgs"].iloc[0]),
            entities,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CreditBalance):
            return NotImplemented
        return (
            self.organisation_id == other.organisation_id
            and self.active_kgs == other.active_kgs
            and self.retired_kgs == other.retired_kgs
            and self.order_balances_present == other.order_balances_present
            and all(
                mine.ids == theirs.ids
                and np.array_equal(mine.active_kgs, theirs.active_kgs)
                and np.array_equal(mine.retired_kgs, theirs.retired_kgs)
                for mine, theirs in zip(self._entities.values(), other._entities.values(),
                                        strict=True)
            )
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        counts = ", ".join(f"{level}s={len(self._entities[level].ids)}" for level in LEVELS[1:])
        return (
            f"CreditBalance(organisation_id={self.organisation_id!r}, "
            f"active_kgs={self.active_kgs}, retired_kgs={self.retired_kgs}, {counts})"
        )


def _balance_json(active_kgs: int, retired_kgs: int) -> dict[str, Any]:
    return {
        key: {"credit_kgs": kgs, "credits": round(kgs / KGS_PER_CREDIT, 3)}
        for key, kgs in zip(STATUS_KEYS, (active_kgs, retired_kgs), strict=True)
    }


def _check_organisation_id(organisation_id: Any) -> str | None:
    if organisation_id is None:
        return None
    return check_id(organisation_id, "organisation", argument="organisation_id")


def parse_balance(body: BalanceBody, *, organisation_id: str | None = None) -> CreditBalance:
    """Validate a ``credit_balance`` response body and return a :class:`CreditBalance`.

    Parameters
    ----------
    body : dict, str or bytes
        The JSON body of ``GET /organisations/{id}/credit_balance``, decoded or not.
        A CreditBalance is returned as it is (with ``organisation_id`` filled in if missing).
    organisation_id : str, optional
        The organisation the body belongs to; the body does not carry it.

    Raises
    ------
    InvalidIdError
        ``organisation_id`` is not an organisation id (a ``ValueError``).
    SchemaError
        Naming the JSON path of the first problem, e.g.
        ``supplier_balances[3].total.retired_credits_total.credit_kgs: expected a
        non-negative integer, got '12.5' (string)``. Unknown extra fields are ignored and a
        missing ``order_balances`` list is tolerated, as the API's compatibility policy allows.

    Examples
    --------
    >>> from isoanalytics import demo, parse_balance
    >>> org = demo.DEFAULT_ORGANISATION_ID
    >>> balance = parse_balance(demo.registry().credit_balance(org), organisation_id=org)
    >>> balance.total_kgs > 0
    True
    """
    organisation_id = _check_organisation_id(organisation_id)
    if isinstance(body, CreditBalance):
        if organisation_id is None or organisation_id == body.organisation_id:
            return body
        if body.organisation_id is None:
            return CreditBalance(organisation_id, body.active_kgs, body.retired_kgs,
                                 body._entities, body.order_balances_present)
        raise SchemaError(
            "organisation_id",
            f"this balance belongs to {body.organisation_id}, not {organisation_id}",
        )
    try:
        parsed = read_balance(body)
    except SchemaError as error:
        raise error.with_context(organisation_id=organisation_id) from None
    entities = {
        level: _Entities(tuple(columns.ids), _frozen(columns.active_kgs),
                         _frozen(columns.retired_kgs))
        for level, columns in parsed.levels.items()
    }
    return CreditBalance(
        organisation_id,
        parsed.active_kgs,
        parsed.retired_kgs,
        entities,
        parsed.order_balances_present,
    )


# -- portfolios --------------------------------------------------------------------------------

def stack_balances(
    balances: Iterable[tuple[str, BalanceBody]] | Mapping[str, BalanceBody],
) -> pd.DataFrame:
    """Stack many organisations' balances into one tidy frame.

    Parameters
    ----------
    balances : list of (organisation_id, body) pairs, or a mapping of id to body
        Each body is what :func:`parse_balance` takes (dict, str, bytes or CreditBalance).

    Returns
    -------
    DataFrame
        The columns of :meth:`CreditBalance.to_frame`, organisations in the order given.

    Raises
    ------
    SchemaError
        Naming the organisation and JSON path of the first bad body, or an organisation
        given twice (stacking it twice would count its credits twice).

    Examples
    --------
    >>> from isoanalytics import demo, stack_balances
    >>> registry = demo.registry()
    >>> frame = stack_balances([(org["id"], registry.credit_balance(org["id"]))
    ...                         for org in registry.organisations()])
    >>> frame["organisation_id"].nunique() == len(registry.organisations())
    True
    """
    pairs = list(balances.items()) if isinstance(balances, Mapping) else list(balances)
    seen: dict[str, int] = {}
    parts = []
    for position, pair in enumerate(pairs):
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise SchemaError(
                f"balances[{position}]", "expected an (organisation_id, body) pair", value=pair
            )
        organisation_id, body = pair
        if organisation_id is None:
            raise SchemaError(f"balances[{position}]",
                              "every balance in a portfolio needs its organisation_id")
        if organisation_id in seen:
            raise SchemaError(
                f"balances[{position}]",
                f"{organisation_id} is given twice (first at balances[{seen[organisation_id]}]); "
                "stacking it twice would count its credits twice",
            )
        seen[organisation_id] = position
        parts.append(parse_balance(body, organisation_id=organisation_id)._tidy_arrays())
    if not parts:
        return empty_frame()
    # One frame from the joined arrays: a frame per organisation and a concat cost ~1 ms each.
    return tidy_frame(**{name: np.concatenate([part[name] for part in parts])
                         for name in parts[0]})


def split_portfolio(frame: pd.DataFrame) -> dict[str, CreditBalance]:
    """Split a stacked portfolio frame back into one :class:`CreditBalance` per organisation.

    Examples
    --------
    >>> from isoanalytics import demo, split_portfolio, stack_balances
    >>> org = demo.DEFAULT_ORGANISATION_ID
    >>> body = demo.registry().credit_balance(org)
    >>> split_portfolio(stack_balances([(org, body)]))[org].total_kgs > 0
    True
    """
    frame = check_tidy(frame)
    if frame["organisation_id"].isna().any():
        raise SchemaError("frame.organisation_id",
                          "every row of a portfolio needs an organisation_id")
    return {
        str(organisation_id): CreditBalance.from_frame(part)
        for organisation_id, part in frame.groupby("organisation_id", sort=False)
    }
