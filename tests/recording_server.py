"""A registry on loopback that records the raw target of every request and serves what it is told.

A stdlib ``ThreadingHTTPServer`` bound to port 0: unlike werkzeug it neither decodes nor
normalises the request line, so ``requests`` holds exactly what the client sent (the path
and query as they were on the wire). Routes map a path under the base (``/projects``) to a
body, or to a function of the query that returns one; anything else is a 404 with the API's
``{"detail": "Not Found"}``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

BASE_PATH = "/registry/v0"
SECRET = "SECRET-5d1b9e7a-recorded-server"
TOKEN = "TOKEN-eyJhbGciOi-recorded-server"

Answer = bytes | Callable[[dict[str, list[str]]], bytes]


def page(nodes: list, total_count: int | None = None, *, has_next: bool = False,
         end_cursor: str | None = "cursor-end") -> bytes:
    """A PaginatedListResource body."""
    return json.dumps({
        "nodes": nodes, "total_count": len(nodes) if total_count is None else total_count,
        "page_info": {"has_next_page": has_next, "has_previous_page": False,
                      "start_cursor": None, "end_cursor": end_cursor},
    }).encode()


class RecordingServer:
    """The server, its base URL, its routes and every raw request target it received."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.routes: dict[str, Answer] = {}
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with owner._lock:
                    owner.requests.append(self.path)
                path, _, query = self.path.partition("?")
                answer = owner.routes.get(path.removeprefix(BASE_PATH), None)
                if answer is None or not path.startswith(BASE_PATH + "/"):
                    status, body = 404, b'{"detail": "Not Found"}'
                else:
                    status = 200
                    body = answer(parse_qs(query)) if callable(answer) else answer
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass  # quiet: the test reads .requests instead

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{BASE_PATH}"

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
        self.routes.clear()

    def paths(self) -> list[str]:
        """The requests' paths (the raw target up to any ``?``)."""
        return [target.partition("?")[0] for target in self.requests]

    def client_options(self, **options: Any) -> dict[str, Any]:
        return {"client_secret": SECRET, "access_token": TOKEN, "base_url": self.base_url,
                "max_retries": 0, "timeout": 5.0, **options}


@contextmanager
def recording_server() -> Iterator[RecordingServer]:
    server = RecordingServer()
    server._thread.start()
    try:
        yield server
    finally:
        server._httpd.shutdown()
        server._httpd.server_close()
