"""Real HTTP servers on loopback for the client's tests and benchmarks (pytest-httpserver).

``registry_server`` serves the demo registry's handler (the same routes, pagination and auth
checks as ``RegistryClient.demo()``) over real HTTP, optionally with a delay per request.
"""

from __future__ import annotations

import atexit
import re
import socket
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


_REFUSING: list[socket.socket] = []  # bound, never listening: held for the whole run


def stopped_url() -> str:
    """The URL of a loopback port where connections are refused, for as long as this runs.

    The port is held by a socket that is bound but never listens (Linux then answers a
    connection with a reset): a port freed by a stopped server could be taken by another
    process in the meantime, and the test would then talk to that.
    """
    if not _REFUSING:
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        holder.bind(("127.0.0.1", 0))
        atexit.register(holder.close)
        _REFUSING.append(holder)
    port = _REFUSING[0].getsockname()[1]
    return f"http://127.0.0.1:{port}{BASE_PATH}"


def serve_demo(server: HTTPServer, delay: float = 0.0, registry=None, *,
               credentials: tuple[str, str] | None = None,
               rewrite: Callable[[httpx.Request, httpx.Response], httpx.Response] | None = None,
               ) -> str:
    """Mount the demo registry on ``server``; returns the base URL to give the client.

    ``credentials`` (client secret, access token) are made-up values the server accepts in
    place of the demo's own, as the default buyer's: a test can then send values that appear
    nowhere else and look for them in what the package writes. ``rewrite`` turns each answer
    (and the request as it arrived, credentials included) into another: a hostile registry.
    """
    from isoanalytics.demo.transport import transport

    handler = transport(registry, base_path=BASE_PATH).handler
    if credentials is not None:
        handler = _accepting(handler, *credentials)
    if rewrite is not None:  # outermost: it sees the request as it arrived
        answering = handler

        def handler(request: httpx.Request) -> httpx.Response:
            return rewrite(request, answering(request))
    server.expect_request(re.compile(f"^{BASE_PATH}/.*")).respond_with_handler(
        bridge(handler, delay))
    return server.url_for(BASE_PATH)


def _accepting(handler: Callable[[httpx.Request], httpx.Response], secret: str,
               token: str) -> Callable[[httpx.Request], httpx.Response]:
    from isoanalytics import demo

    def respond(request: httpx.Request) -> httpx.Response:
        headers = dict(request.headers)
        if headers.get("x-client-secret") != secret:
            return httpx.Response(401, json={"detail": "Invalid client secret"})
        headers["x-client-secret"] = demo.CLIENT_SECRET
        if "authorization" in headers:
            if headers["authorization"] != f"Bearer {token}":
                return httpx.Response(401, json={"detail": "Invalid access token"})
            own = demo.access_token(demo.DEFAULT_ORGANISATION_ID)
            headers["authorization"] = f"Bearer {own}"
        return handler(httpx.Request(request.method, request.url, headers=headers,
                                     content=request.content))
    return respond


def one_supplier(organisation_id: str, supplier_id: str
                 ) -> Callable[[httpx.Request, httpx.Response], httpx.Response]:
    """A ``rewrite`` for :func:`serve_demo`: ``organisation_id`` holds, orders and receives
    credits from ``supplier_id`` alone (its balance, orders and deliveries are cut to that
    supplier's, the total summed again from what is left), as a real one-supplier buyer would.
    The demo registry has no such buyer, and adding one would change every demo figure."""
    balance_path = f"{BASE_PATH}/organisations/{organisation_id}/credit_balance"

    def rewrite(request: httpx.Request, answer: httpx.Response) -> httpx.Response:
        if answer.status_code != 200:
            return answer
        path = request.url.path
        body = answer.json()
        if path == balance_path:
            return httpx.Response(200, json=_one_supplier_balance(body, request, supplier_id))
        if path.endswith("/orders") and organisation_id in path:
            return httpx.Response(200, json=_kept(body, lambda node: node["supplier"]["id"]
                                                  == supplier_id))
        if path == f"{BASE_PATH}/deliveries":
            return httpx.Response(200, json=_kept(body, lambda node: (
                node["to_organisation"]["id"] != organisation_id
                or node["from_supplier"]["id"] == supplier_id)))
        return answer
    return rewrite


def _kept(listing: dict, keep: Callable[[dict], bool]) -> dict:
    nodes = [node for node in listing["nodes"] if keep(node)]
    # One page holds them all here (the demo buyer's orders and deliveries are few).
    return {**listing, "nodes": nodes,
            "total_count": listing["total_count"] - len(listing["nodes"]) + len(nodes)}


def _one_supplier_balance(body: dict, request: httpx.Request, supplier_id: str) -> dict:
    from isoanalytics import demo

    registry = demo.registry()
    projects = {project["id"] for project in registry.projects()
                if project["supplier"]["id"] == supplier_id}
    organisation_id = request.url.path.split("/")[-2]
    orders = {order["id"] for order in registry.orders(organisation_id)
              if order["supplier"]["id"] == supplier_id}
    kept = {"project_balances": [row for row in body["project_balances"]
                                 if row["project_id"] in projects],
            "supplier_balances": [row for row in body["supplier_balances"]
                                  if row["supplier_id"] == supplier_id],
            "order_balances": [row for row in body["order_balances"]
                               if row["order_id"] in orders]}
    total = {}
    for status in ("active_credits_total", "retired_credits_total"):
        kgs = sum(row["total"][status]["credit_kgs"] for row in kept["supplier_balances"])
        total[status] = {"credit_kgs": kgs, "credits": round(kgs / 1000, 3)}
    return {**kept, "total": total}
