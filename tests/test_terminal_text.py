"""Registry text on a terminal: nothing in it can move the cursor, write the clipboard, make a
link, recolour, clear or reorder the line (terminal_text), and ordinary names pass unchanged."""

from __future__ import annotations

import base64
import io
import json
import re
import unicodedata

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from isoanalytics import demo
from isoanalytics._format import terminal_text
from isoanalytics.cli import EXIT_CREDENTIALS, main

from .loopback import BASE_PATH, bridge

BIDI = frozenset(map(chr, (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F),
                           *range(0x2066, 0x206A))))
JOINERS = "\u200c\u200d"
TAGS = range(0xE0000, 0xE0080)
# The three emoji tag sequences (subdivision flags), the only place tag characters may stay.
FLAGS = ["\U0001f3f4" + "".join(chr(0xE0000 + ord(c)) for c in region) + "\U000e007f"
         for region in ("gbeng", "gbsct", "gbwls")]


def forbidden(character: str, one_line: bool = False) -> bool:
    """What must never reach a terminal (written out here, apart from the implementation)."""
    if character in "\t\n":
        return one_line
    point = ord(character)
    category = unicodedata.category(character)
    return (point < 0x20 or 0x7F <= point <= 0x9F or character in BIDI
            or character in "\u2028\u2029" or category == "Cs"
            or (category == "Cf" and character not in JOINERS))


def check_inert(text: str, one_line: bool = False) -> None:
    for flag in FLAGS:
        text = text.replace(flag, "\U0001f3f4")
    bad = [f"U+{ord(c):04X}" for c in text if forbidden(c, one_line) or ord(c) in TAGS]
    assert not bad, (text, bad)


# Pieces that assemble into escape sequences and their near misses, so that hypothesis tries
# sequences and not only characters.
PIECES = ["\x1b", "[", "]", "P", "_", "^", "X", "\x07", "\\", "\x9b", "\x9c", "\x9d", "\x90",
          "0", "2", "8", "52", ";", "c;", "m", "J", "H", "(", "B", "#", "\r", "\n", "\r\n",
          "\t", "\x85", "\u2028", "\u202e", "\u2066", "\u2069", "\u200f", "\u200d", "\u200b",
          "\ufeff", "\U000e0041", "\U000e0067", "\U000e007f", "\U0001f3f4", "\ud800", "\x00",
          "\x7f", "\x08", "Deepwell", " ", "\u00e9", "\u78b3"]
ANY_TEXT = st.lists(st.one_of(st.characters(exclude_categories=()),
                              st.sampled_from(PIECES))).map("".join)
NAMES = st.text(st.characters(exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp")))


@given(ANY_TEXT, st.booleans())
def test_nothing_a_terminal_obeys_survives(text, one_line):
    cleaned = terminal_text(text, one_line=one_line)
    check_inert(cleaned, one_line)
    assert terminal_text(cleaned, one_line=one_line) == cleaned  # idempotent
    cleaned.encode("utf-8")  # no lone surrogate: printable to any UTF-8 stream


@given(ANY_TEXT)
def test_one_line_is_the_text_with_its_breaks_and_tabs_as_spaces(text):
    assert terminal_text(text, one_line=True) == (
        terminal_text(text).replace("\n", " ").replace("\t", " "))


@given(NAMES)
def test_printable_text_is_unchanged(text):
    assert terminal_text(text) == text == terminal_text(text, one_line=True)
    assert terminal_text(f"{text}\n\t{text}") == f"{text}\n\t{text}"


@pytest.mark.parametrize("name", [
    "Deepwell Carbon", "Bioch\u00e4r K\u00f6ln GmbH", "Pok\u00e9mon", "Poke\u0301mon",
    "\u78b3\u6c47\u79d1\u6280", "\u041c\u043e\u0441\u043a\u0432\u0430",
    "\u0639\u0631\u0628\u064a", "\u0939\u093f\u0928\u094d\u0926\u0940",
    "\u0646\u0645\u200c\u0627\u06cc", "\U0001f30d\U0001f331 Reforest", "\U0001f44d\U0001f3fd",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467", "\U0001f1e7\U0001f1f7", "1\ufe0f\u20e3",
    *FLAGS, "a$b", "$\\undefinedmacro{x}$", "<b>&amp;</b>", "Tab\tseparated",
])
def test_ordinary_names_are_kept_as_they_are(name):
    assert terminal_text(name) == name


ATTACKS = [
    # (registry text, what is printed)
    ("\x1b[31mRed\x1b[0m Rock", "Red Rock"),  # colour
    ("\x1b[2J\x1b[H\x1b[1;1HCleared", "Cleared"),  # clear screen, cursor home
    ("Deepwell\x1b[1A\x1b[2K", "Deepwell"),  # move up, erase the previous line
    ("a\x1b]52;c;" + base64.b64encode(b"rm -rf ~").decode() + "\x07b", "ab"),  # clipboard, BEL
    ("a\x1b]52;c;cm0gLXJm\x1b\\b", "ab"),  # clipboard, ST
    ("\x1b]8;;https://evil.example/\x1b\\Deepwell\x1b]8;;\x1b\\", "Deepwell"),  # hyperlink
    ("\x1b]0;window title\x07Name", "Name"),  # window title
    ("\x9b31mRed\x9b0m", "Red"),  # 8-bit CSI
    ("a\x9d52;c;cm0=\x9cb", "ab"),  # 8-bit OSC and ST
    ("\x1bPq#0;2;0;0;0#0~~@@\x1b\\Sixel", "Sixel"),  # DCS (sixel graphics)
    ("\x1b_payload\x1b\\x\x1b^pm\x1b\\y\x1bXsos\x1b\\z", "xyz"),  # APC, PM, SOS
    ("\x1b(0lqk\x1b(B", "lqk"),  # character set switch
    ("\x1bcReset\x1b7\x1b8", "Reset"),  # RIS, save/restore cursor
    ("Open\x1b]52;c;cm0gLXJm", "Open52;c;cm0gLXJm"),  # unterminated: inert, visible
    ("Half\x1b[", "Half"),
    ("Deepwell Carbon\rEvil Corp", "Deepwell Carbon\nEvil Corp"),  # overwrite by CR
    ("abc\x08\x08\x08XYZ", "abcXYZ"),  # backspace
    ("bell\x07\x00\x7f", "bell"),
    ("admin\u202e\u2066 // check\u2069\u2066", "admin // check"),  # Trojan Source
    ("\u200fabc\u200e\u061c", "abc"),
    ("Deep\u200bwell\ufeff\u2060", "Deepwell"),  # zero-width space, BOM, word joiner
    ("Carbon" + "".join(chr(0xE0000 + ord(c)) for c in "ignore this") + "\U000e007f",
     "Carbon"),  # text hidden in tag characters
    ("\ud800name", "\ufffdname"),  # lone surrogate (json.loads allows one)
    ("one\u2028two\x85three", "one\ntwo\nthree"),
]


@pytest.mark.parametrize(("text", "printed"), ATTACKS)
def test_escape_sequences_and_controls_are_taken_out(text, printed):
    assert terminal_text(text) == printed
    assert terminal_text(text, one_line=True) == printed.replace("\n", " ")


def test_only_text_is_accepted():
    with pytest.raises(TypeError, match="str"):
        terminal_text(b"\x1b[31m")


# -- the command line, against a registry whose names are hostile -----------------------------

def hostile(name: str) -> str:
    return (f"\x1b]52;c;{base64.b64encode(b'rm -rf ~').decode()}\x07\x1b[2J\x1b[31m{name}"
            "\x1b[0m\u202e\x1b]8;;https://evil.example/\x1b\\\r\x9b1A")


def _rename(value):
    if isinstance(value, dict):
        return {key: hostile(item) if key == "name" and isinstance(item, str) else _rename(item)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_rename(item) for item in value]
    return value


@pytest.fixture
def hostile_registry(monkeypatch, server):
    """The demo registry on loopback, every organisation, supplier and project name wrapped in
    escape sequences (clipboard write, clear screen, colour, link, bidi override, CR)."""
    from isoanalytics.demo.transport import transport

    handler = transport(base_path=BASE_PATH).handler

    def renaming(request: httpx.Request) -> httpx.Response:
        answer = handler(request)
        if not answer.headers.get("content-type", "").startswith("application/json"):
            return answer
        return httpx.Response(answer.status_code, headers={"content-type": "application/json"},
                              content=json.dumps(_rename(answer.json())).encode())

    server.expect_request(re.compile(f"^{BASE_PATH}/.*")).respond_with_handler(bridge(renaming))
    monkeypatch.setenv("ISOMETRIC_BASE_URL", server.url_for(BASE_PATH))
    monkeypatch.setenv("ISOMETRIC_CLIENT_SECRET", demo.CLIENT_SECRET)
    monkeypatch.setenv("ISOMETRIC_ACCESS_TOKEN", demo.access_token(demo.DEFAULT_ORGANISATION_ID))
    return server


def test_summary_prints_hostile_registry_names_as_plain_text(hostile_registry, capsys):
    out = io.StringIO()
    code = main(["summary"], out=out)
    printed, error = out.getvalue(), capsys.readouterr().err
    assert code == 0, error
    check_inert(printed)
    check_inert(error)
    # Each name stays on its line: a row of the supplier table is one line with its figures.
    lines = printed.splitlines()
    assert any("Harbourline Freight" in line and demo.DEFAULT_ORGANISATION_ID in line
               for line in lines)
    assert any("Deepwell Carbon" in line and "%" in line for line in lines)


def test_an_error_carrying_registry_text_is_printed_as_plain_text(hostile_registry, capsys):
    hostile_registry.clear()
    hostile_registry.expect_request(re.compile(f"^{BASE_PATH}/.*")).respond_with_json(
        {"detail": hostile("Invalid access token")}, status=401)
    code = main(["summary"], out=io.StringIO())
    error = capsys.readouterr().err
    assert code == EXIT_CREDENTIALS
    assert "Invalid access token" in error
    check_inert(error)


@pytest.mark.parametrize("body", ["json", "text"])
def test_server_text_in_an_error_is_inert_wherever_it_is_shown(hostile_registry, body):
    # Not only the command line: a notebook renders ANSI colours in a traceback, and a log
    # line is read in a terminal. The error's detail, request id and message are inert.
    from isoanalytics import NotFoundError, RegistryClient

    hostile_registry.clear()
    payload = (json.dumps({"detail": hostile("No such organisation")}) if body == "json"
               else hostile("No such organisation"))
    hostile_registry.expect_request(re.compile(f"^{BASE_PATH}/.*")).respond_with_data(
        # (a header carries no line break and only Latin-1: escapes and C1 controls it can)
        payload, status=404, headers={"x-request-id": "\x1b]52;c;cm0=\x07\x1b[2Jreq-1\x9b1A"},
        content_type="application/json" if body == "json" else "text/plain")
    with RegistryClient() as client, pytest.raises(NotFoundError) as caught:
        client.organisation(demo.DEFAULT_ORGANISATION_ID)
    error = caught.value
    for text in (str(error), error.detail, error.request_id):
        check_inert(text, one_line=True)
    assert "No such organisation" in error.detail and "req-1" in error.request_id
