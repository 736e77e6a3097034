"""Text for terminals, charts and reports: exact quantities, and registry text made inert.

Quantities are formatted from integer kilograms (no float on the way). Registry text (names
of organisations, suppliers, projects) is data, never markup: :func:`terminal_text` takes out
what a terminal would obey (escape sequences, control and bidi characters), and
:func:`short_name` makes one line of it, no wider than :data:`NAME_WIDTH` columns, for chart
labels. Tables keep the full name (HTML-escaped by :mod:`isoanalytics.tables`).
"""

from __future__ import annotations

import math
import re
import unicodedata

from ._options import check_choice

#: The units quantities are shown in: exact tonnes of CO2e, or the integer kilograms.
UNITS = ("tCO2e", "kg")


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
    check_choice("units", units, UNITS)
    return tonnes(kgs) if units == "tCO2e" else f"{int(kgs):,}"


_PERIOD_WORDS = {"Y": "year", "Q": "quarter", "M": "month", "W": "week", "D": "day"}


def period_word(freq: str) -> str:
    """What one period of a pandas frequency is: "year", "quarter", "month", "week", "day".

    Examples
    --------
    >>> from isoanalytics._format import period_word
    >>> period_word("Y-MAR"), period_word("W-SUN"), period_word("10min")
    ('year', 'week', 'period')
    """
    return _PERIOD_WORDS.get(str(freq)[:1], "period") if str(freq)[1:2] in ("", "-") else "period"


# Chart labels are cut to this many columns (an ellipsis ends a cut name): about a third of
# an 8-inch chart at 10 pt, so a name of any length leaves the bars their room.
NAME_WIDTH = 40

# Complete ESC sequences (ECMA-48), removed whole so that no stray parameters are left:
# string sequences (OSC, e.g. OSC 52 clipboard writes and OSC 8 links; DCS, SOS, PM, APC)
# up to their terminator (BEL or ST), CSI sequences, and the other ESC forms (ESC, any
# intermediates, a final byte). The 8-bit C1 introducers count as ESC + letter. What is left
# of a broken sequence loses its ESC below and so is plain, visible text.
_SEQUENCE = re.compile(
    r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"
    r"|(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]"
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]"
)
_LINE_BREAK = re.compile(r"\r\n|[\n\r\x0b\x0c\x85\u2028\u2029]")
# Emoji tag sequences (the flags of England, Scotland and Wales) are the only use of tag
# characters kept: elsewhere they are invisible text.
_FLAG_TAGS = re.compile("\U0001f3f4(?:" + "|".join(
    "".join(chr(0xE0000 + ord(letter)) for letter in region) + "\U000e007f"
    for region in ("gbeng", "gbsct", "gbwls")) + ")")
# Format characters a name needs: zero-width (non-)joiners join emoji and shape scripts.
_JOINERS = frozenset("\u200c\u200d")


def _kept(character: str, keep: str) -> str:
    """``character`` itself, or what stands for it in terminal text ("" when it goes)."""
    if character in keep or character in _JOINERS:
        return character
    category = unicodedata.category(character)
    if category == "Cs":  # a lone surrogate (JSON allows one) cannot even be encoded
        return "\ufffd"
    # Cc: C0, DEL, C1. Cf: bidi embeddings, overrides, isolates and marks (U+202A-U+202E,
    # U+2066-U+2069, U+200E, U+200F, U+061C), zero-width spaces, BOM, tags...: they reorder
    # or hide the text around them.
    return "" if category in ("Cc", "Cf") else character


def terminal_text(text: str, *, one_line: bool = False) -> str:
    """``text`` with nothing a terminal would obey: safe to print, whatever its source.

    Removes ESC sequences (CSI, OSC including clipboard writes and hyperlinks, DCS and the
    other forms, 7- and 8-bit), C0 and C1 control characters, DEL, and the invisible format
    characters that reorder or hide text (bidi overrides, embeddings, isolates and marks,
    zero-width spaces, tag characters). Line breaks of any kind become ``"\\n"`` (a space
    with ``one_line=True``); a tab is kept, or a space on one line. Letters, accents, CJK and
    emoji (with their joiners and variation selectors) are kept as they are. Idempotent.

    Parameters
    ----------
    text : str
        Text from the registry, an error message, anything about to be printed.
    one_line : bool
        For a field within a line (a name in a table): no line break, no tab.

    Examples
    --------
    >>> from isoanalytics._format import terminal_text
    >>> terminal_text("Deepwell\\x1b]52;c;cm0gLXJmIH4=\\x07 Carbon\\u202e")
    'Deepwell Carbon'
    >>> terminal_text("Bioch\u00e4r\\r\\nK\u00f6ln", one_line=True)
    'Bioch\u00e4r K\u00f6ln'
    """
    if not isinstance(text, str):
        raise TypeError(f"terminal_text() takes a str, got {type(text).__name__}")
    if text.isprintable():  # no Cc, Cf, Cs, Zl, Zp (nor Co, Cn): nothing to take out
        return text
    text = _LINE_BREAK.sub(" " if one_line else "\n", _SEQUENCE.sub("", text))
    if one_line:
        text = text.replace("\t", " ")
    keep = "\t\n"
    out: list[str] = []
    position = 0
    for flag in _FLAG_TAGS.finditer(text):
        out.extend(_kept(character, keep) for character in text[position:flag.start()])
        out.append(flag.group())
        position = flag.end()
    out.extend(_kept(character, keep) for character in text[position:])
    return "".join(out)


def name_or_id(name: object, entity_id: object) -> str:
    """What to call an entity: its name when it has one with something visible in it, else its id.

    A name that is missing (None, NA), empty, or nothing once made plain (only white space or
    control characters) shows the id instead; the name itself is returned as it is, for the
    caller to make plain (:func:`short_name`, :func:`terminal_text`) or to escape.

    Examples
    --------
    >>> from isoanalytics._format import name_or_id
    >>> name_or_id("Deepwell Carbon", "spl_1"), name_or_id(None, "spl_2")
    ('Deepwell Carbon', 'spl_2')
    >>> name_or_id("\x07 ", "spl_3")  # nothing visible in it
    'spl_3'
    """
    if isinstance(name, str) and terminal_text(name, one_line=True).strip():
        return name
    return str(entity_id)


def _columns(character: str) -> int:
    if unicodedata.combining(character) or character in _JOINERS or (
            unicodedata.category(character) in ("Mn", "Me", "Cf")):
        return 0
    return 2 if unicodedata.east_asian_width(character) in ("W", "F") else 1


def display_width(text: str) -> int:
    """The columns ``text`` takes on a terminal: wide (CJK, most emoji) count 2, marks 0.

    Meant for text that went through :func:`terminal_text` (a control character counts 1),
    for example to pad a column of names: ``name + " " * (width - display_width(name))``.

    Examples
    --------
    >>> from isoanalytics._format import display_width
    >>> display_width("Kohlenstoff"), display_width("\u78b3\u6c47"), display_width("e\u0301")
    (11, 4, 1)
    """
    return sum(_columns(character) for character in text)


def short_name(name: object, width: int = NAME_WIDTH) -> str:
    """A name as one line of plain text, cut with an ellipsis to at most ``width`` columns.

    For chart labels: :func:`terminal_text` on one line, runs of white space made one space,
    and a name wider than ``width`` columns (see :func:`display_width`) cut at a character
    boundary (its combining marks kept with it) and ended with "…". Tables show the
    full name instead.

    Examples
    --------
    >>> from isoanalytics._format import short_name
    >>> short_name("Deepwell\\nCarbon"), short_name("Carbon Removal Cooperative", 10)
    ('Deepwell Carbon', 'Carbon Re…')
    """
    if width < 1:
        raise ValueError(f"width must be at least 1 column; got {width!r}")
    text = " ".join(terminal_text(str(name), one_line=True).split())
    if len(text) <= width and text.isascii():
        return text
    used = 0
    for character in text:  # stops at the first column too many, however long the name
        used += _columns(character)
        if used > width:
            break
    else:
        return text
    kept, used = [], 0
    for character in text:
        columns = _columns(character)
        if used + columns > width - 1:
            break
        kept.append(character)
        used += columns
    return "".join(kept).rstrip().rstrip("".join(_JOINERS)) + "…"
