"""A hostile registry on loopback: one misbehaviour per route, written at the socket level.

``Hostile`` is a stdlib ``ThreadingHTTPServer`` bound to port 0. Each misbehaviour answers
the credit balance of its own organisation id (``hostile.org(name, *args)``), so a client
test reads ``client.credit_balance(hostile.org("trickle"))`` and later looks at what the
server saw: the requests (``hostile.count``), what it managed to send before the client
hung up (``hostile.sent``), and connections the client closed (``hostile.ended``).

Misbehaviours: a body trickled a byte at a time, headers trickled a byte at a time, a gzip
bomb in a 503 or a 200, a huge error body, a huge success body (with or without a length),
an encoding that was not asked for, a dropped connection, a redirect elsewhere, any status
(with any ``Retry-After``, such as a billion seconds), and echoes
of the request's credentials in each form a server could send them back (raw, padded with
whitespace, URL-encoded, base64 of the value or of the whole header block, repr, JSON), in
each place (the error detail, a plain error body at either cut, ``x-request-id``, any
header, the reason phrase, a JSON value that then fails validation).
"""

from __future__ import annotations

import base64
import collections
import gzip
import hashlib
import json
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import quote, quote_plus, urlsplit

BASE_PATH = "/registry/v0"
TRICKLE_BYTES = 400  # at TRICKLE_PAUSE each: 8 s, far past any deadline a test sets
TRICKLE_PAUSE = 0.02

ECHO_FORMS: dict[str, Callable[[str], str]] = {
    "raw": lambda value: value,
    "padded": lambda value: f" \t{value}\r\n ",
    "quote": lambda value: quote(value, safe=""),
    "quote_slash": quote,
    "quote_plus": quote_plus,
    "quote_lower": lambda value: quote(value, safe="").lower(),
    "base64": lambda value: base64.b64encode(value.encode()).decode(),
    "base64_urlsafe": lambda value: base64.urlsafe_b64encode(value.encode()).decode(),
    "repr": repr,
    "repr_in_list": lambda value: repr(["'\"", value]),
    "json": json.dumps,
    "json_slash": lambda value: json.dumps(value).replace("/", "\\/"),
    "html": lambda value: value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
}
# Where an echo is put; "headers_base64" is the whole request header block, base64-encoded,
# so each credential sits at whatever alignment its place in the block gives it.
ECHO_PLACES = ("detail", "text", "text_at_cut", "text_at_read_limit", "request_id", "header",
               "reason", "value", "headers_base64", "detail_list")


def balance_body(project_id: str = "prj_1AAAAAAAAAAAAAAAA") -> dict:
    quantity = {"credit_kgs": 5000, "credits": 5.0}
    zero = {"credit_kgs": 0, "credits": 0.0}
    total = {"active_credits_total": quantity, "retired_credits_total": zero}
    return {"total": total, "project_balances": [{"project_id": project_id, "total": total}],
            "supplier_balances": [{"supplier_id": "spl_1AAAAAAAAAAAAAAAA", "total": total}],
            "order_balances": []}


_bombs: dict[int, bytes] = {}


def gzip_bomb(decompressed: int) -> bytes:
    """gzip of ``decompressed`` zero bytes (about a thousandth of that on the wire)."""
    if decompressed not in _bombs:
        compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        block = bytes(1 << 20)
        parts = [compressor.compress(block) for _ in range(decompressed >> 20)]
        _bombs[decompressed] = b"".join(parts) + compressor.flush()
    return _bombs[decompressed]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args) -> None:  # quiet: the tests read the counters instead
        pass

    def do_GET(self) -> None:
        hostile = self.server.hostile
        path = urlsplit(self.path).path
        hostile.seen(path, {name.lower(): value for name, value in self.headers.items()})
        behaviour, args = hostile.route(path)
        try:
            behaviour(self, *args)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.hostile.ended += 1

    # -- writing ---------------------------------------------------------------------------

    def head(self, status: int, headers: dict[str, str], reason: str | None = None) -> None:
        self.send_response_only(status, reason)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
             reason: str | None = None) -> None:
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body)),
                   **(headers or {})}
        self.head(status, headers, reason)
        self.wfile.write(body)

    def stream(self, path: str, chunks: Iterator[bytes]) -> None:
        for chunk in chunks:
            self.wfile.write(chunk)
            self.server.hostile.sent[path] += len(chunk)
        self.wfile.flush()
        self.server.hostile.completed[path] += 1


# -- misbehaviours: each writes one answer ---------------------------------------------------

def ok(handler: _Handler) -> None:
    handler.send(200, json.dumps(balance_body()).encode())


def trickle(handler: _Handler) -> None:
    """A valid balance, padded, one byte every TRICKLE_PAUSE."""
    body = json.dumps(balance_body()).encode().ljust(TRICKLE_BYTES)
    handler.head(200, {"Content-Type": "application/json", "Content-Length": str(len(body))})
    handler.wfile.flush()
    path = urlsplit(handler.path).path

    def slowly() -> Iterator[bytes]:
        for index in range(len(body)):
            time.sleep(TRICKLE_PAUSE)
            handler.wfile.flush()
            yield body[index:index + 1]
    handler.stream(path, slowly())


def slow_headers(handler: _Handler) -> None:
    """The status line, then a header one byte every TRICKLE_PAUSE, then a valid balance."""
    body = json.dumps(balance_body()).encode()
    path = urlsplit(handler.path).path
    handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
    padding = b"X-Padding: " + b"a" * TRICKLE_BYTES + b"\r\n"

    def slowly() -> Iterator[bytes]:
        for index in range(len(padding)):
            time.sleep(TRICKLE_PAUSE)
            handler.wfile.flush()
            yield padding[index:index + 1]
        yield f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    handler.stream(path, slowly())


def bomb(handler: _Handler, status: str, decompressed: str) -> None:
    data = gzip_bomb(int(decompressed))
    handler.head(int(status), {"Content-Type": "application/json", "Content-Encoding": "gzip",
                               "Content-Length": str(len(data))})
    handler.stream(urlsplit(handler.path).path,
                   (data[start:start + 65536] for start in range(0, len(data), 65536)))


def huge(handler: _Handler, status: str, size: str, framing: str = "length") -> None:
    """``size`` bytes of JSON-ish text; ``framing`` "chunked" sends no length up front."""
    size_ = int(size)
    block = b" " * 65536
    path = urlsplit(handler.path).path
    if framing == "chunked":
        handler.head(int(status), {"Content-Type": "application/json",
                                   "Transfer-Encoding": "chunked"})
        chunks = (b"%x\r\n%s\r\n" % (len(block), block) for _ in range(size_ // len(block)))
        handler.stream(path, chunks)
        handler.wfile.write(b"0\r\n\r\n")
    else:
        handler.head(int(status), {"Content-Type": "application/json",
                                   "Content-Length": str(size_ // len(block) * len(block))})
        handler.stream(path, (block for _ in range(size_ // len(block))))


def brotli(handler: _Handler) -> None:
    handler.send(200, b"\x0b\x02\x80{}\x03", {"Content-Encoding": "br"})


def hang_up(handler: _Handler) -> None:
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Le")
    handler.wfile.flush()
    handler.close_connection = True


def status(handler: _Handler, code: str, retry_after: str = "") -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    handler.send(int(code), json.dumps({"detail": f"status {code}"}).encode(), headers)


def redirect(handler: _Handler, host: str, port: str) -> None:
    """A redirect to another server: following it would carry the credentials there."""
    handler.send(302, b"", {"Location": f"http://{host}:{port}{BASE_PATH}/organisation"})


def gzipped_ok(handler: _Handler) -> None:
    handler.send(200, gzip.compress(json.dumps(balance_body()).encode()),
                 {"Content-Encoding": "gzip"})


def corrupt(handler: _Handler, coding: str, code: str = "200") -> None:
    """Says it is compressed, and is not: the decoder fails on the first bytes."""
    handler.send(int(code), b"this is not compressed data at all", {"Content-Encoding": coding})


def echo(handler: _Handler, place: str, form: str) -> None:
    """The request's credentials sent back in ``form`` at ``place``."""
    encode = ECHO_FORMS[form]
    secret = handler.headers.get("x-client-secret", "")
    authorization = handler.headers.get("authorization", "")
    said = f"you sent {encode(secret)} and {encode(authorization)}"
    line = said.replace("\r", " ").replace("\n", " ")  # what a header can carry
    if place == "detail":
        handler.send(503, json.dumps({"detail": said}).encode())
    elif place == "detail_list":
        handler.send(422, json.dumps({"detail": [
            {"loc": ["query", encode(secret)], "msg": encode(authorization)}]}).encode())
    elif place == "text":
        handler.send(500, said.encode(), {"Content-Type": "text/plain"})
    elif place == "text_at_cut":  # the credential straddles the 200-character excerpt
        handler.send(500, ("x" * 179 + said).encode(), {"Content-Type": "text/plain"})
    elif place == "text_at_read_limit":  # ... or the 8 KiB read of an error body
        handler.send(500, ("x" * (8192 - 20) + said + "y" * 9000).encode(),
                     {"Content-Type": "text/plain"})
    elif place == "request_id":
        handler.send(404, b'{"detail": "Not Found"}', {"x-request-id": line})
    elif place == "header":
        handler.send(404, b'{"detail": "Not Found"}', {"x-echo": line})
    elif place == "reason":
        handler.send(404, b'{"detail": "Not Found"}', reason=line)
    elif place == "value":  # a 200 whose project id (quoted by SchemaError) is the echo
        handler.send(200, json.dumps(balance_body(project_id=said)).encode())
    elif place == "headers_base64":
        block = "".join(f"{name}: {value}\r\n" for name, value in handler.headers.items())
        handler.send(503, json.dumps(
            {"detail": base64.b64encode(block.encode()).decode()}).encode())
    else:
        raise ValueError(place)


BEHAVIOURS: dict[str, Callable[..., None]] = {
    "ok": ok, "trickle": trickle, "slow_headers": slow_headers, "bomb": bomb, "huge": huge,
    "brotli": brotli, "hang_up": hang_up, "status": status, "echo": echo,
    "gzipped_ok": gzipped_ok, "redirect": redirect, "corrupt": corrupt,
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hostile: Hostile

    def handle_error(self, request, client_address) -> None:
        # A client hanging up early is what the tests provoke: not worth a traceback.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class Hostile:
    """The hostile registry; use as a context manager (or call ``close``)."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.hostile = self
        self._routes: dict[str, tuple[str, tuple[str, ...]]] = {}
        self.count: collections.Counter[str] = collections.Counter()
        self.sent: collections.Counter[str] = collections.Counter()
        self.completed: collections.Counter[str] = collections.Counter()
        self.headers: list[dict[str, str]] = []
        self.ended = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{BASE_PATH}"

    def org(self, behaviour: str, *args: object, tag: str = "") -> str:
        """The organisation id whose balance misbehaves so (an id valid by any rule);
        ``tag`` makes another id for the same misbehaviour (its own counters)."""
        key = "/".join((behaviour, *map(str, args), tag))
        digest = hashlib.sha256(key.encode()).hexdigest()[:15].upper()
        organisation_id = f"org_1{digest}"
        self._routes[organisation_id] = (behaviour, tuple(map(str, args)))
        return organisation_id

    def path(self, organisation_id: str) -> str:
        return f"{BASE_PATH}/organisations/{organisation_id}/credit_balance"

    def project(self, behaviour: str, *args: object, tag: str = "") -> str:
        """A project id whose ``GET /projects/{id}`` misbehaves so."""
        return "prj_" + self.org(behaviour, *args, tag=tag)[4:]

    def route(self, path: str) -> tuple[Callable[..., None], tuple[str, ...]]:
        for part in path.split("/"):
            key = "org_" + part[4:] if part.startswith(("org_", "prj_")) else None
            if key in self._routes:
                behaviour, args = self._routes[key]
                return BEHAVIOURS[behaviour], args
        return status, ("404",)

    def seen(self, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self.count[path] += 1
            self.headers.append(headers)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@contextmanager
def hostile_registry() -> Iterator[Hostile]:
    with Hostile() as hostile:
        yield hostile
