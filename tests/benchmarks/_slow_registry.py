"""A registry on loopback that takes ``--delay`` seconds per request, in a process of its own.

The benchmarks start it as a subprocess, so the client's CPU time can be read from the
client's process alone. It is the standard library's threading HTTP server speaking
HTTP/1.1 with keep-alive, as a production server would (werkzeug's development server,
behind pytest-httpserver, closes every connection, which would have the benchmark measure
TCP set-up). It serves, for any ``org_1BENCH...`` organisation:

* ``/organisations/{id}/credit_balance``: the balance of the synthetic batches below (a
  balance body carries no organisation id);
* ``/organisations/{id}/credit_batches``: ``--batches`` synthetic credit batches (real demo
  batches with fresh ids, spread over ``--projects`` projects), paged by ``first`` and
  ``after`` and filtered by ``project_id``.

Prints its base URL on the first line of stdout, then serves until killed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import orjson
from werkzeug import Request, Response

from isoanalytics import demo

BASE_PATH = "/registry/v0"
BENCH_ORGANISATION = "org_1BENCH00000000000"


def synthetic_batches(count: int, projects: int) -> list[dict]:
    """``count`` credit batches shaped like the demo's, each with an id of its own."""
    registry = demo.registry()
    source = registry.credit_batches(registry.buyers["large"])
    homes = list({batch["project_id"]: batch["supplier_id"] for batch in source}.items())
    batches = []
    for index in range(count):
        batch = dict(source[index % len(source)])
        batch["id"] = f"ctb_1B{index:014d}"
        batch["project_id"], batch["supplier_id"] = homes[index % projects]
        batches.append(batch)
    return batches


def balance_of(batches: list[dict]) -> dict:
    """The OrganisationCreditBalance the batches add up to (kilograms by status)."""
    def quantity(kgs: int) -> dict:
        return {"credit_kgs": kgs, "credits": round(kgs / 1000, 3)}

    def entry(active: int, retired: int) -> dict:
        return {"active_credits_total": quantity(active),
                "retired_credits_total": quantity(retired)}

    levels: dict[str, dict[str, list[int]]] = {"project": {}, "supplier": {}}
    total = [0, 0]
    for batch in batches:
        column = batch["status"] == "retired"
        kgs = batch["size"]["credit_kgs"]
        total[column] += kgs
        for level, sums in levels.items():
            sums.setdefault(batch[f"{level}_id"], [0, 0])[column] += kgs
    body = {"total": entry(*total), "order_balances": []}
    for level, sums in levels.items():
        body[f"{level}_balances"] = [{f"{level}_id": key, "total": entry(*kgs)}
                                     for key, kgs in sums.items()]
    return body


class SyntheticRegistry:
    """The answers, apart from any HTTP server: (status, JSON bytes) for a path and query."""

    def __init__(self, batch_count: int, project_count: int) -> None:
        self.batches = synthetic_batches(batch_count, project_count)
        self.balance = orjson.dumps(balance_of(self.batches))
        self.by_project: dict[str, list[dict]] = {}
        for batch in self.batches:
            self.by_project.setdefault(batch["project_id"], []).append(batch)

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, bytes]:
        prefix = f"{BASE_PATH}/organisations/org_1BENCH"
        if path.startswith(prefix) and path.endswith("/credit_balance"):
            return 200, self.balance
        if path.startswith(prefix) and path.endswith("/credit_batches"):
            return 200, self._page(query)
        return 404, b'{"detail": "Not Found"}'

    def _page(self, query: dict[str, str]) -> bytes:
        listed = self.by_project.get(query["project_id"], []) if "project_id" in query \
            else self.batches
        # The cursor is a position in the (filtered) list: opaque enough for a benchmark.
        start = int(query.get("after", "-1")) + 1
        size = int(query.get("first", "10"))
        nodes = listed[start:start + size]
        return orjson.dumps({"nodes": nodes, "total_count": len(listed), "page_info": {
            "has_previous_page": start > 0, "start_cursor": str(start) if nodes else None,
            "has_next_page": start + size < len(listed),
            "end_cursor": str(start + len(nodes) - 1) if nodes else None}})


def application(delay: float, batch_count: int, project_count: int
                ) -> Callable[[Request], Response]:
    """The same answers as a werkzeug handler, for pytest-httpserver in the tests."""
    registry = SyntheticRegistry(batch_count, project_count)

    def respond(request: Request) -> Response:
        time.sleep(delay)
        status, body = registry.answer(request.path, dict(request.args.items()))
        return Response(body, status=status, content_type="application/json")

    return respond


def _handler(registry: SyntheticRegistry, delay: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: every answer has a Content-Length
        # Headers and body leave in two writes; with Nagle on, the second waits for the
        # client's delayed ACK (40 ms a request).
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # the name http.server calls
            time.sleep(delay)
            parts = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
            status, body = registry.answer(parts.path, query)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--batches", type=int, default=10_000)
    parser.add_argument("--projects", type=int, default=20)
    args = parser.parse_args()
    registry = SyntheticRegistry(args.batches, args.projects)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(registry, args.delay))
    server.daemon_threads = True
    print(f"http://127.0.0.1:{server.server_port}{BASE_PATH}", flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
