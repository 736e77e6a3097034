"""Bounds on one request: its deadline, its cancellation and the size of its body.

httpx's timeouts bound each wait (connecting, one read), not their sum, so a server that
trickles a byte at a time can hold a request for as long as it likes. Here:

- a :class:`Deadline` is the moment a request (every attempt, read and backoff sleep) must
  end by; while one is :func:`applied <applying>`, :func:`cut` shortens the timeout of every
  connect, read and write of the sync transport (``network.DeadlineBackend``) to the time
  left, so no single wait can outlast it;
- a :class:`Cancel` tells the requests of a parallel step that the step has failed, so each
  stops before its next attempt or during its backoff sleep (threads cannot be killed);
- a :class:`BodyReader` decodes a body as it arrives (gzip and deflate, in slices), keeping
  at most ``limit`` decoded bytes, so a compressed bomb costs no more than its limit.

Examples
--------
>>> reader = BodyReader("identity", limit=4)
>>> reader.feed(b"abcdef")
True
>>> reader.finish(), reader.over
(b'abcd', True)
"""

from __future__ import annotations

import sys
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# -- deadlines -----------------------------------------------------------------------------------


class Deadline:
    """A moment on the monotonic clock, ``seconds`` from now."""

    __slots__ = ("at", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        return self.at - time.monotonic()

    def passed(self) -> bool:
        return self.left() <= 0


_deadline: ContextVar[Deadline | None] = ContextVar("isoanalytics_deadline", default=None)


@contextmanager
def applying(deadline: Deadline) -> Iterator[None]:
    """Cut every network wait of this thread's requests to ``deadline``."""
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def cut(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` cut to the time left of the applied deadline; ``error`` once it has passed."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline.left()
    if left <= 0:
        raise error("the request's deadline has passed")
    return left if timeout is None else min(timeout, left)


# -- cancellation --------------------------------------------------------------------------------


class Cancelled(Exception):
    """A request stopped because the parallel step it belonged to had already failed."""


class Cancel:
    """A flag shared by the requests of one parallel step; setting it sets its children's."""

    def __init__(self, parent: Cancel | None = None) -> None:
        self._event = threading.Event()
        self._children: list[Cancel] = []
        self._lock = threading.Lock()
        if parent is not None:
            with parent._lock:
                parent._children.append(self)
            if parent.is_set():
                self.set()

    def set(self) -> None:
        self._event.set()
        with self._lock:
            children = list(self._children)
        for child in children:
            child.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)


_cancel: ContextVar[Cancel | None] = ContextVar("isoanalytics_cancel", default=None)


def current_cancel() -> Cancel | None:
    return _cancel.get()


@contextmanager
def cancelling(cancel: Cancel) -> Iterator[None]:
    """Requests made in this thread stop once ``cancel`` is set."""
    token = _cancel.set(cancel)
    try:
        yield
    finally:
        _cancel.reset(token)


def no_waits() -> bool:
    """True while ``stamina.set_testing(True)`` is on: the same attempts, without waits.

    The client's retries ran on stamina before it had its own loop, and test suites use
    stamina's switch to skip backoff. Looked at only if the program imported stamina.
    """
    stamina = sys.modules.get("stamina")
    return bool(stamina is not None and getattr(stamina, "is_testing", lambda: False)())


def sleep(seconds: float) -> None:
    """Sleep, or raise :class:`Cancelled` as soon as this thread's step is cancelled."""
    if no_waits():
        check_cancelled()
        return
    cancel = _cancel.get()
    if cancel is None:
        time.sleep(seconds)
    elif cancel.wait(seconds):
        raise Cancelled()


def check_cancelled() -> None:
    cancel = _cancel.get()
    if cancel is not None and cancel.is_set():
        raise Cancelled()


# -- bodies --------------------------------------------------------------------------------------

# The encodings the client asks for (Accept-Encoding), hence the only ones it decodes.
ACCEPTED_ENCODINGS = "gzip, deflate"
_SLICE = 1 << 20  # at most this many decoded bytes from one step of the decoder


class UndecodableBody(Exception):
    """The body is in an encoding not asked for, or its compressed data is corrupt."""


class BodyReader:
    """Decodes a body chunk by chunk, keeping at most ``limit`` decoded bytes.

    ``feed`` returns True once the limit is passed (``over``) or the data proves corrupt:
    stop reading. ``finish`` returns the bytes kept, or raises :class:`UndecodableBody`
    for corrupt data (so the caller meets it in one place, after the response is closed).
    """

    def __init__(self, content_encoding: str, limit: int) -> None:
        codings = [part.strip().lower() for part in content_encoding.split(",")]
        codings = [coding for coding in codings if coding and coding != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise UndecodableBody(f"content-encoding {content_encoding!r} was not asked for "
                                  f"(the client accepts {ACCEPTED_ENCODINGS})")
        self._coding = codings[0] if codings else None
        self._decoder = self._new_decoder()
        self._first = True
        self._chunks: list[bytes] = []
        self.limit = limit
        self.size = 0
        self.over = False
        self._corrupt: str | None = None

    def _new_decoder(self, raw_deflate: bool = False):
        if self._coding is None:
            return None
        if self._coding == "deflate":
            return zlib.decompressobj(-zlib.MAX_WBITS if raw_deflate else zlib.MAX_WBITS)
        return zlib.decompressobj(zlib.MAX_WBITS | 16)

    def _keep(self, data: bytes) -> None:
        room = self.limit - self.size
        if len(data) > room:
            data, self.over = data[:room], True
        if data:
            self._chunks.append(data)
            self.size += len(data)

    def feed(self, data: bytes) -> bool:
        if self._decoder is None:
            self._keep(data)
            return self.over
        while data and not self.over and not self._decoder.eof and self._corrupt is None:
            try:
                out = self._decoder.decompress(data, min(self.limit - self.size + 1, _SLICE))
            except zlib.error as error:
                if self._first and self._coding == "deflate":
                    # Some servers send raw deflate without the zlib header (as httpx allows).
                    self._decoder, self._first = self._new_decoder(raw_deflate=True), False
                    continue
                self._corrupt = f"the {self._coding} data is corrupt ({error})"
                return True
            self._first = False
            self._keep(out)
            data = self._decoder.unconsumed_tail
        return self.over

    def finish(self) -> bytes:
        if self._corrupt is not None:
            raise UndecodableBody(self._corrupt)
        if self._decoder is not None and not self.over:
            try:
                self._keep(self._decoder.flush())
            except zlib.error as error:
                raise UndecodableBody(f"the {self._coding} data is corrupt ({error})") from None
        return b"".join(self._chunks)
