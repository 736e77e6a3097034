"""Test servers get their ports from the OS and report them; no port is probed, released and
hoped for (another process could take it in between, and the test would then fail or talk to
that process)."""

from __future__ import annotations

import errno
import os
import socket
import sys

import httpx
import pytest

from .loopback import stopped_url


def test_a_stopped_url_is_refused_and_nobody_else_can_take_its_port():
    url = stopped_url()
    port = httpx.URL(url).port
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=5)
    other = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with other, pytest.raises(OSError) as taken:
        other.bind(("127.0.0.1", port))
    assert taken.value.errno == errno.EADDRINUSE
    assert stopped_url() == url  # one held port for the whole run


_STOLEN: list[socket.socket] = []  # the listeners that took a released probe's port


class _Thief(socket.socket):
    """A socket that, when a port probed with ``bind(port 0)`` is released, has another
    listener take that port at once: what a busy machine may do between a probe and the
    server's own bind."""

    def close(self) -> None:
        probed = self.fileno() >= 0 and self.family == socket.AF_INET and self._probed()
        super().close()
        if probed:
            thief = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            thief.bind(("127.0.0.1", probed))
            thief.listen()
            _STOLEN.append(thief)

    def _probed(self) -> int | None:
        try:
            port = self.getsockname()[1]
            self.getpeername()
        except OSError as error:  # not connected: a bound socket, a probe if bound
            return port if error.errno == errno.ENOTCONN and port else None
        return None


@pytest.fixture
def ports_taken_once_released(monkeypatch):
    monkeypatch.setattr(socket, "socket", _Thief)
    yield _STOLEN
    for thief in _STOLEN:
        socket.socket.close(thief)
    _STOLEN.clear()


def test_voila_serves_on_a_port_it_bound_itself(ports_taken_once_released, tmp_path):
    pytest.importorskip("voila", reason="voila is not installed")
    import nbformat
    import psutil

    from .browser import voila_server

    notebook = tmp_path / "hello.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]),
                   notebook)
    with voila_server(notebook, timeout_s=60) as server:
        port = httpx.URL(server.url).port
        listening = {c.laddr.port for c in psutil.Process(server.process.pid).net_connections()
                     if c.status == psutil.CONN_LISTEN}
        assert listening == {port}
        page = httpx.get(server.url, timeout=60)
        assert page.status_code == 200 and "2" in page.text
    assert ports_taken_once_released == []  # nothing was probed in this process


# A server that finds its port taken on its first start, as jupyter_server may (it probes port
# 0, then listens on the number a moment later), and serves on port 0 when started again.
FLAKY_SERVER = """
import http.server, pathlib, sys
starts = pathlib.Path(sys.argv[1])
starts.write_text(starts.read_text() + "start\\n" if starts.exists() else "start\\n")
if sys.argv[2] == "fail" or starts.read_text().count("start") == 1:
    print(sys.argv[3], flush=True)
    sys.exit(1)
http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler).serve_forever()
"""


def _flaky(tmp_path, mode: str, message: str) -> tuple[list[str], dict]:
    command = [sys.executable, "-c", FLAKY_SERVER, str(tmp_path / "starts"), mode, message]
    return command, {"cwd": tmp_path, "env": dict(os.environ), "log": tmp_path / "server.log",
                     "probe": "/", "timeout_s": 30}


def test_a_server_whose_port_was_taken_is_started_again(tmp_path):
    from .browser import started_server

    command, options = _flaky(tmp_path, "once", "The port 8888 is already in use.")
    with started_server("flaky", command, **options) as (process, port):
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 200
        assert process.poll() is None
    assert (tmp_path / "starts").read_text().count("start") == 2


def test_a_server_failing_otherwise_is_not_started_again(tmp_path):
    from .browser import START_ATTEMPTS, started_server

    command, options = _flaky(tmp_path, "fail", "ImportError: no module named voila")
    with pytest.raises(RuntimeError, match="(?s)status 1 before answering.*ImportError"), \
            started_server("broken", command, **options):
        pass
    assert (tmp_path / "starts").read_text().count("start") == 1
    command, options = _flaky(tmp_path / "taken", "fail", "The port 8888 is already in use.")
    (tmp_path / "taken").mkdir()
    with pytest.raises(RuntimeError, match=f"attempt {START_ATTEMPTS}"), \
            started_server("always taken", command, **options):
        pass
    assert (tmp_path / "taken" / "starts").read_text().count("start") == START_ATTEMPTS
