"""Real HTTP servers on loopback for the client's tests and benchmarks (pytest-httpserver).

``registry_server`` serves the demo registry's handler (the same routes, pagination and auth
checks as ``RegistryClient.demo()``) over real HTTP, optionally with a delay per request.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

BASE_PATH = "/registry/v0"
_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "content-encoding"}


def bridge(handler: Callable[[httpx.Request], httpx.Response],
           delay: float = 0.0) -> Callable[[Request], Response]:
    """Serve an httpx-style handler (request -> response) from a werkzeug server."""
    def respond(request: Request) -> Response:
        if delay:
            time.sleep(delay)
        forwarded = httpx.Request(request.method, request.url,
                                  headers=list(request.headers.items()),
                                  content=request.get_data())
        answer = handler(forwarded)
        headers = [(key, value) for key, value in answer.headers.items()
                   if key.lower() not in _HOP_BY_HOP]
        return Response(answer.content, status=answer.status_code, headers=headers)
    return respond


@contextmanager
def serving(threaded: bool = True) -> Iterator[HTTPServer]:
    """A started pytest-httpserver on 127.0.0.1 and a free port; stopped afterwards."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=threaded)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        if server.is_running():
            server.stop()


def stopped_url() -> str:
    """The URL of a port nobody listens on any more: connections there are refused."""
    with serving(threaded=False) as server:
        return server.url_for(BASE_PATH)


def serve_demo(server: HTTPServer, delay: float = 0.0, registry=None) -> str:
    """Mount the demo registry on ``server``; returns the base URL to give the client."""
    from isoanalytics._demo_transport import transport

    handler = transport(registry, base_path=BASE_PATH).handler
    server.expect_request(re.compile(f"^{BASE_PATH}/.*")).respond_with_handler(
        bridge(handler, delay))
    return server.url_for(BASE_PATH)
