"""The API's ``CreditQuantity``, and its cross-field rule: ``credits`` agrees with ``credit_kgs``.

``credit_kgs`` is the truth (whole kilograms, exact at any size); ``credits`` is
``credit_kgs / 1000`` rounded to 3 decimals and carried as a binary float. msgspec checks each
field on its own as it decodes; the agreement of the two is checked here a whole column at a
time, by whoever holds the decoded quantities (``balance_schema``, ``kinds``).
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Annotated

import msgspec
import numpy as np
from msgspec import Meta

from ..errors import SchemaError
from .fields import Kilograms

_KGS, _CREDITS = attrgetter("credit_kgs"), attrgetter("credits")
_CREDITS_HINT = "credit_kgs is authoritative; the body is inconsistent, report it to its source"


class CreditQuantity(msgspec.Struct, gc=False):
    """A quantity of credits (spec: ``CreditQuantity``), in exact kilograms and in credits.

    Examples
    --------
    >>> import msgspec
    >>> msgspec.json.decode(b'{"credit_kgs": 125632, "credits": 125.632}', type=CreditQuantity)
    CreditQuantity(credit_kgs=125632, credits=125.632)
    """

    credit_kgs: Kilograms
    credits: Annotated[float, Meta(description="credits is credit_kgs / 1000, to 3 decimals")]


def kilograms(quantities: Sequence[CreditQuantity]) -> np.ndarray:
    """The ``credit_kgs`` of each quantity as int64 (straight from ints, never via float)."""
    return np.array(list(map(_KGS, quantities)), dtype=np.int64)


def check_credits(quantities: Sequence[CreditQuantity], kgs: np.ndarray, where: str) -> None:
    """Raise a SchemaError at ``where`` (``{row}`` in it replaced by the row, as in
    ``"nodes[{row}].size.credits"``) for the first quantity whose ``credits`` is not
    ``credit_kgs / 1000`` within rounding: half a gram, plus a few ulps of representation.
    NaN and infinities (which only a Python-decoded body can hold) never agree."""
    credits = np.array(list(map(_CREDITS, quantities)), dtype=np.float64)
    expected = kgs.astype(np.float64) / 1000.0
    with np.errstate(invalid="ignore", over="ignore"):
        agrees = np.abs(credits - expected) <= 0.0005 + 4 * np.spacing(expected)
    if agrees.all():
        return
    row = int(np.flatnonzero(~agrees)[0])
    expected_credits = int(kgs[row]) / 1000
    raise SchemaError(where.format(row=row),
                      f"disagrees with credit_kgs / 1000 = {expected_credits:.3f} beyond rounding",
                      value=quantities[row].credits, hint=_CREDITS_HINT)
