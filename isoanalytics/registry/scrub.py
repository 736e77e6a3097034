"""Keeping credentials out of everything the package writes: messages, attributes, log records.

A server (or a proxy in front of it) may echo the request's headers back: in an error body,
a header, a JSON value that then fails validation. It may echo them raw or transformed, so a
:class:`Scrubber` knows every form a credential takes on the way back (raw, URL-encoded,
base64 at any alignment, repr-, JSON- and HTML-escaped) and replaces each with
``[redacted]``; then any run holding 8 consecutive characters of a credential, whatever
escaping surrounds it. Text that was cut short may end with the first part of an encoded
credential; such text loses its last characters (as many as the longest form) after scrubbing.

:func:`redact_error` applies a scrubber to a package error and the chain behind it, and cuts
the chain where it reaches a foreign exception (an httpx error holds the request, whose
headers show ``x-client-secret``). :class:`LogScrubber` does the same for the records of the
httpx and httpcore loggers (httpcore logs every response header at DEBUG) while a client
lives; it is attached when the first client is made, never at import.

Examples
--------
>>> scrubber = Scrubber(["s3cret-value-123"])
>>> scrubber.scrub("echo: s3cret-value-123, czNjcmV0LXZhbHVlLTEyMw==")
'echo: [redacted], [redacted]Mw=='
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
import threading
import weakref
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"
# httpx reports each exchange at INFO (with the server's reason phrase), httpcore at DEBUG
# (with every response header); filters apply to records logged on the logger itself only.
FOREIGN_LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2",
                   "httpcore.proxy", "httpcore.socks", "httpcore.connection_pool")


def _repr_forms(value: str) -> set[str]:
    # Per character, so the form is the same wherever the credential sits in a larger repr;
    # a quote is escaped or not depending on the whole string's delimiter, so take both.
    forms = set()
    for escape in (repr, ascii):
        plain = "".join(ch if ch in "'\"" else escape(ch)[1:-1] for ch in value)
        forms |= {plain, plain.replace("'", "\\'"), plain.replace('"', '\\"')}
    return forms


def _base64_forms(value: str) -> set[str]:
    # Inside a larger blob (say, base64 of "x-client-secret: <value>") the credential starts
    # at byte offset 0, 1 or 2 of a 3-byte group: the characters that depend on its bytes
    # alone are the same whatever surrounds it.
    data = value.encode()
    forms = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        for offset in range(3):
            encoded = encode(b"\0" * offset + data).decode()
            core = encoded[4 if offset else 0:(offset + len(data)) // 3 * 4]
            if len(core) >= 8:
                forms.add(core)
    return forms


def forms_of(value: str) -> set[str]:
    """Every form of ``value`` a server might echo back."""
    forms = {value, quote(value), quote(value, safe=""), quote_plus(value),
             quote_plus(value, safe="/"), html.escape(value), html.escape(value, quote=False)}
    for ensure_ascii in (True, False):
        escaped = json.dumps(value, ensure_ascii=ensure_ascii)[1:-1]
        forms |= {escaped, escaped.replace("/", "\\/")}
    return {form for form in forms | _repr_forms(value) | _base64_forms(value) if form}


PIECE = 8  # no run of this many characters of a credential is ever shown


class Scrubber:
    """Replaces every echoed form of a set of credentials with ``[redacted]``.

    Then, whatever escaping was stacked on an echo (a repr of JSON of a repr...), any run of
    text containing :data:`PIECE` consecutive characters of a credential is redacted too:
    escaping inserts characters but leaves runs of the credential intact between them.
    """

    def __init__(self, credentials: Iterable[str]) -> None:
        forms = set()
        self._pieces: set[str] = set()
        for credential in credentials:
            if credential:
                forms |= forms_of(credential)
                folded = credential.casefold()
                self._pieces |= {folded[start:start + PIECE]
                                 for start in range(len(folded) - PIECE + 1)}
        # Longest first: a form inside a longer one must not leave the longer one's rest.
        ordered = sorted(forms, key=len, reverse=True)
        self._pattern = (re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE)
                         if ordered else None)
        self._margin = len(ordered[0]) if ordered else 0

    def scrub(self, text: str, *, cut: bool = False) -> str:
        """``text`` without credentials; ``cut=True`` when it was cut short at its end."""
        if self._pattern is None:
            return text
        text = self._without_pieces(self._pattern.sub(REDACTED, text))
        if cut:
            # The cut may have split a credential: its first part, if any, is in the tail.
            text = text[:max(len(text) - self._margin, 0)]
        return text

    def _without_pieces(self, text: str) -> str:
        folded = text.casefold()
        if len(folded) != len(text):  # casefold changed lengths (ß -> ss): fold per character
            folded = "".join(character.casefold()[:1] or character for character in text)
        pieces = self._pieces
        spans: list[list[int]] = []  # [start, end) of each run to redact, merged
        for start in range(len(folded) - PIECE + 1):
            if folded[start:start + PIECE] in pieces:
                end = start + PIECE
                if spans and start <= spans[-1][1]:
                    spans[-1][1] = end
                else:
                    spans.append([start, end])
        for start, end in reversed(spans):
            text = text[:start] + REDACTED + text[end:]
        return text

    def __repr__(self) -> str:
        return "Scrubber(********)"


def _is_package_error(error: BaseException) -> bool:
    from ..errors import RegistryError, SchemaError

    return isinstance(error, (RegistryError, SchemaError))


def redact_error(error: BaseException, scrubber: Scrubber) -> BaseException:
    """Scrub ``error`` and the package errors chained behind it; cut the chain at any other.

    Only the package's own errors carry text that may quote a server; anything else in a
    chain (an httpx error holding its request and headers, a decoder error holding the
    whole document) is dropped from it. Returns ``error`` itself, changed in place.
    """
    seen = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        link.redact(scrubber.scrub)  # type: ignore[attr-defined]
        following = link.__cause__ or link.__context__
        if following is not None and not _is_package_error(following):
            link.__cause__ = link.__context__ = None
            following = None
        link = following
    return error


class LogScrubber(logging.Filter):
    """Scrubs the records of httpx and httpcore with the credentials of every live client."""

    def __init__(self) -> None:
        super().__init__("isoanalytics-secrets")
        self._scrubbers: weakref.WeakSet[Scrubber] = weakref.WeakSet()

    def filter(self, record: logging.LogRecord) -> bool:
        scrubbers = list(self._scrubbers)
        if scrubbers:
            text = record.getMessage()
            for scrubber in scrubbers:
                text = scrubber.scrub(text)
            record.msg, record.args = text, None
        return True


_log_scrubber = LogScrubber()
_attached = False
_lock = threading.Lock()


def watch_logs(scrubber: Scrubber) -> None:
    """Scrub httpx/httpcore records of ``scrubber``'s credentials while it lives."""
    global _attached
    with _lock:
        if not _attached:
            for name in FOREIGN_LOGGERS:
                logging.getLogger(name).addFilter(_log_scrubber)
            _attached = True
        _log_scrubber._scrubbers.add(scrubber)


def unwatch_logs(scrubber: Scrubber) -> None:
    """Stop scrubbing for ``scrubber`` (its client is closed)."""
    with _lock:
        _log_scrubber._scrubbers.discard(scrubber)
