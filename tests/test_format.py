"""Names cut for charts (short_name) and their width in terminal columns (display_width)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isoanalytics._format import NAME_WIDTH, display_width, short_name, terminal_text

ELLIPSIS = "\u2026"


@given(st.text(), st.integers(min_value=1, max_value=80))
def test_a_short_name_is_one_plain_line_within_its_width(name, width):
    short = short_name(name, width)
    assert display_width(short) <= width
    assert "\n" not in short and "\t" not in short and short == short.strip()
    assert terminal_text(short, one_line=True) == short
    assert short_name(short, width) == short  # idempotent
    plain = " ".join(terminal_text(name, one_line=True).split())
    if display_width(plain) <= width:
        assert short == plain  # nothing cut that fits
    else:
        assert short.endswith(ELLIPSIS) and plain.startswith(short[:-1])


def test_names_of_any_length_are_cut_to_name_width():
    assert short_name("Deepwell Carbon") == "Deepwell Carbon"
    long = short_name("x" * 5_000)
    assert long == "x" * (NAME_WIDTH - 1) + ELLIPSIS and len(long) == NAME_WIDTH
    # Wide characters count two columns; a cut keeps a letter with its accent.
    assert short_name("\u78b3" * 30) == "\u78b3" * 19 + ELLIPSIS
    assert short_name("e\u0301" * 50, 4) == "e\u0301" * 3 + ELLIPSIS
    # A cut never leaves a joiner dangling at the end.
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert not short_name(family * 20, 5).removesuffix(ELLIPSIS).endswith("\u200d")
    assert short_name(" Deep \n\n well\t\x1b[31mCarbon ") == "Deep well Carbon"
    assert short_name(None) == "None" and short_name(12) == "12"
    with pytest.raises(ValueError, match="at least 1"):
        short_name("x", 0)


def test_display_width_counts_terminal_columns():
    assert display_width("Deepwell") == 8
    assert display_width("\u78b3\u6c47") == 4  # CJK: two columns each
    assert display_width("Poke\u0301mon") == 7  # the combining accent takes none
    assert display_width("\U0001f30d") == 2
    assert display_width("") == 0
