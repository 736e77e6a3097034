"""Text formatting of exact quantities for terminals and reports (no float on the way)."""

from __future__ import annotations

import math


def tonnes(kgs: int) -> str:
    """Kilograms as tCO2e with three decimals, exactly (integer arithmetic, no float).

    Examples
    --------
    >>> from isoanalytics import tonnes
    >>> tonnes(1234567), tonnes(-5)
    ('1,234.567', '-0.005')
    """
    sign = "-" if kgs < 0 else ""
    whole, grams = divmod(abs(int(kgs)), 1000)
    return f"{sign}{whole:,}.{grams:03d}"


def percent(share: float, digits: int = 1) -> str:
    """A 0-1 share as a percentage; an undefined share (NaN) as 'n/a'.

    Examples
    --------
    >>> from isoanalytics import percent
    >>> percent(0.4567), percent(float("nan"))
    ('45.7 %', 'n/a')
    """
    return "n/a" if share is None or math.isnan(share) else f"{share * 100:.{digits}f} %"


def quantity(kgs: int, units: str = "tCO2e") -> str:
    """Kilograms in ``units``: "tCO2e" (exact tonnes) or "kg" (the integer itself).

    Examples
    --------
    >>> from isoanalytics._format import quantity
    >>> quantity(1234567), quantity(1234567, "kg")
    ('1,234.567', '1,234,567')
    """
    if units not in ("tCO2e", "kg"):
        raise ValueError(f'units must be "tCO2e" or "kg"; got {units!r}')
    return tonnes(kgs) if units == "tCO2e" else f"{int(kgs):,}"


def terminal_text(text: str) -> str:
    """Registry text made safe to print: control characters (C0 and C1) removed.

    Newline and tab stay. This keeps a name from the registry from moving the cursor,
    clearing the screen or starting an escape sequence in the reader's terminal.

    Examples
    --------
    >>> from isoanalytics._format import terminal_text
    >>> terminal_text("Acme\\x1b[2J Carbon\\x07")
    'Acme[2J Carbon'
    """
    return "".join(character for character in str(text)
                   if character in "\n\t"
                   or not (ord(character) < 0x20 or 0x7F <= ord(character) <= 0x9F))
