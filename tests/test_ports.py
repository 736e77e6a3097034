"""Test servers get their ports from the OS and report them; no port is probed, released and
hoped for (another process could take it in between, and the test would then fail or talk to
that process)."""

from __future__ import annotations

import errno
import socket

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
