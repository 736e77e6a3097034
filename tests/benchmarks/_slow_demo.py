"""The demo registry on loopback, ``--delay`` seconds per request, in a process of its own.

Every route of the demo (``isoanalytics.demo.transport.DemoHandler``) behind the standard
library's threading HTTP server, HTTP/1.1 with keep-alive (as ``_slow_registry`` serves its
synthetic batches). It counts what it serves: ``GET /__stats`` answers
``{"requests": n, "peak_in_flight": k}`` since the last ``GET /__reset``; neither is counted.

Prints its base URL on the first line of stdout, then serves until killed.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import orjson

from isoanalytics.demo.transport import DemoHandler

BASE_PATH = "/registry/v0"


class Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = self.in_flight = self.peak = 0

    def enter(self) -> None:
        with self.lock:
            self.requests += 1
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def reset(self) -> None:
        with self.lock:
            self.requests = self.peak = 0


def _handler(demo: DemoHandler, delay: float, counter: Counter) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # see _slow_registry

        def do_GET(self) -> None:  # the name http.server calls
            if self.path in ("/__stats", "/__reset"):
                if self.path == "/__reset":
                    counter.reset()
                self._send(200, orjson.dumps({"requests": counter.requests,
                                              "peak_in_flight": counter.peak}), {})
                return
            counter.enter()
            try:
                time.sleep(delay)
                request = httpx.Request("GET", f"http://loopback{self.path}",
                                        headers=dict(self.headers.items()))
                response = demo(request)
                self._send(response.status_code, response.content,
                           {name: value for name, value in response.headers.items()
                            if name.lower() not in ("content-length", "content-encoding")})
            finally:
                counter.leave()

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
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
    args = parser.parse_args()
    counter = Counter()
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 _handler(DemoHandler(base_path=BASE_PATH), args.delay, counter))
    server.daemon_threads = True
    print(f"http://127.0.0.1:{server.server_port}{BASE_PATH}", flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
