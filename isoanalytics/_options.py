"""The checks of a caller's options, worded once: a choice, a positive integer, seconds.

Each raises a ValueError naming the option, what it must be and what it got, before any work:
``top must be a positive integer; got 0``. Without a name (``None``) the message starts at
"must be", for argparse, which names the command line's option itself.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import TypeVar

__all__ = ["check_choice", "check_integer", "check_seconds"]

T = TypeVar("T")


def check_choice(name: str, value: T, allowed: Iterable[object]) -> T:
    """``value`` if it is one of ``allowed``; else a ValueError naming ``name`` and the choices.

    Examples
    --------
    >>> from isoanalytics._options import check_choice
    >>> check_choice("units", "kg", ("tCO2e", "kg"))
    'kg'
    >>> check_choice("units", "t", ("tCO2e", "kg"))
    Traceback (most recent call last):
    ...
    ValueError: units must be one of 'tCO2e', 'kg'; got 't'
    """
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def _named(name: str | None) -> str:
    return f"{name} " if name else ""


def check_integer(name: str | None, value: object, minimum: int = 1) -> int:
    """``value`` as an int if it is a whole number (not a bool) of at least ``minimum``.

    Examples
    --------
    >>> from isoanalytics._options import check_integer
    >>> check_integer("top", 3), check_integer("max_retries", 0, minimum=0)
    (3, 0)
    >>> check_integer("top", 0)
    Traceback (most recent call last):
    ...
    ValueError: top must be a positive integer; got 0
    """
    # numbers.Integral takes numpy's integers too; a bool is one, but never meant as a count.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{_named(name)}must be {what}; got {value!r}")
    return int(value)


def check_seconds(name: str | None, value: object) -> float:
    """``value`` as a float if it is a finite, positive number of seconds (not a bool).

    Examples
    --------
    >>> from isoanalytics._options import check_seconds
    >>> check_seconds("timeout", 2)
    2.0
    >>> check_seconds("timeout", float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: timeout must be a positive number of seconds; got nan
    """
    seconds = float(value) if isinstance(value, numbers.Real) else math.nan
    if isinstance(value, bool) or not math.isfinite(seconds) or not seconds > 0:
        raise ValueError(f"{_named(name)}must be a positive number of seconds; got {value!r}")
    return seconds
