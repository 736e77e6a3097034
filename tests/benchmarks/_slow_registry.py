"""A registry on loopback that takes ``--delay`` seconds per request, in a process of its own.

The benchmarks start it as a subprocess, so the client's CPU time can be read from the
client's process alone. It serves:

* ``/organisations/{id}/credit_balance`` for any ``org_1BENCH...`` id: the balance of the
  synthetic batches below (a balance body carries no organisation id);
* ``/organisations/org_1BENCH.../credit_batches``: ``--batches`` synthetic credit batches
  (real demo batches with fresh ids, spread over ``--projects`` projects), paged by
  ``first``/``after`` and filtered by ``project_id``;
* everything else from the demo registry's handler (the routes behind ``RegistryClient.demo()``).

Prints its base URL on the first line of stdout, then serves until killed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import orjson
from werkzeug import Request, Response
from werkzeug.serving import WSGIRequestHandler, make_server

from isoanalytics import demo
from isoanalytics._demo_transport import transport

from ..loopback import BASE_PATH, bridge

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

    levels: dict[str, dict[str, list[int]]] = {"project": {}, "supplier": {}}
    total = [0, 0]
    for batch in batches:
        column = batch["status"] == "retired"
        kgs = batch["size"]["credit_kgs"]
        total[column] += kgs
        for level, sums in levels.items():
            sums.setdefault(batch[f"{level}_id"], [0, 0])[column] += kgs

    def entry(active: int, retired: int) -> dict:
        return {"active_credits_total": quantity(active),
                "retired_credits_total": quantity(retired)}

    body = {"total": entry(*total), "order_balances": []}
    for level, sums in levels.items():
        body[f"{level}_balances"] = [{f"{level}_id": key, "total": entry(*kgs)}
                                     for key, kgs in sums.items()]
    return body


def application(delay: float, batch_count: int, project_count: int
                ) -> Callable[[Request], Response]:
    """The handler: a werkzeug request in, a response out (pytest-httpserver takes it too)."""
    demo_answer = bridge(transport(base_path=BASE_PATH).handler)
    batches = synthetic_batches(batch_count, project_count)
    balance = orjson.dumps(balance_of(batches))
    by_project: dict[str, list[dict]] = {}
    for batch in batches:
        by_project.setdefault(batch["project_id"], []).append(batch)

    def page_of_batches(request: Request) -> bytes:
        listed = by_project.get(request.args["project_id"], []) if "project_id" in \
            request.args else batches
        # The cursor is a position in the (filtered) list: opaque enough for a benchmark.
        start = int(request.args.get("after", "-1")) + 1
        size = int(request.args.get("first", "10"))
        nodes = listed[start:start + size]
        return orjson.dumps({"nodes": nodes, "total_count": len(listed), "page_info": {
            "has_previous_page": start > 0, "start_cursor": str(start) if nodes else None,
            "has_next_page": start + size < len(listed),
            "end_cursor": str(start + len(nodes) - 1) if nodes else None}})

    def respond(request: Request) -> Response:
        time.sleep(delay)
        if request.path.endswith("/credit_balance") and "org_1BENCH" in request.path:
            return Response(balance, content_type="application/json")
        if request.path == f"{BASE_PATH}/organisations/{BENCH_ORGANISATION}/credit_batches":
            return Response(page_of_batches(request), content_type="application/json")
        return demo_answer(request)

    return respond


class _QuietKeepAliveHandler(WSGIRequestHandler):
    # HTTP/1.1 keeps connections open between requests, as any production server does;
    # werkzeug's default (HTTP/1.0, one connection per request, a log line each) would make
    # the benchmark measure connection set-up and stderr instead of the client.
    protocol_version = "HTTP/1.1"

    def log_request(self, *args, **kwargs) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--batches", type=int, default=10_000)
    parser.add_argument("--projects", type=int, default=20)
    args = parser.parse_args()
    app = Request.application(application(args.delay, args.batches, args.projects))
    server = make_server("127.0.0.1", 0, app, threaded=True,
                         request_handler=_QuietKeepAliveHandler)
    print(f"http://127.0.0.1:{server.server_port}{BASE_PATH}", flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
