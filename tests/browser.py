"""Real-browser test helpers: Debian's Chromium driven by Playwright, and a Voila server.

Used by the browser tests (``pytest -m browser``). Playwright cannot download its own
browser on these machines, so we launch the system Chromium by path; a missing Chromium,
Playwright or Voila makes the test skip with the reason, never fail.

- :func:`chromium_page`: a fresh headless page plus a list that collects console errors and
  uncaught page errors (failed requests to non-loopback hosts, such as a CDN's FontAwesome
  CSS when offline, are not counted; nor are the :class:`KnownError` a test passes).
- :func:`screenshot`: a full-page PNG, also of pages that scroll an inner element (Voila).
- :func:`voila_server`: serve one notebook on 127.0.0.1 in a clean Jupyter environment,
  stopping the server and every kernel it started on exit.
- :func:`jupyter_server`: the same for ``jupyter lab`` or ``jupyter notebook`` (Notebook 7) on a
  directory, with a known token; sessions are deleted through the REST API on exit.
- :func:`started_server`: what both use: any server command that binds port 0, with the port
  it got read from the OS.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright's own download fails here
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # we run as root in containers
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
TIMEOUT_S = 60.0  # default for Playwright actions and waits; a first Voila page load takes 5-15 s

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # git-ignored: screenshots and logs


def require_chromium() -> Path:
    """Debian's Chromium, or skip the test saying how to install it."""
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's chromium is not installed ({CHROMIUM} is missing): "
                    "apt-get install chromium")
    return CHROMIUM


# --- console and page errors -----------------------------------------------------------------


def is_loopback_url(url: str) -> bool:
    """True for URLs that stay on this machine (and for data:, blob:, about: and file: ones).

    >>> is_loopback_url("http://127.0.0.1:8866/voila/static/voila.js")
    True
    >>> is_loopback_url("http://localhost/x"), is_loopback_url("http://[::1]:80/")
    (True, True)
    >>> is_loopback_url("https://cdnjs.cloudflare.com/ajax/libs/font-awesome/all.min.css")
    False
    >>> is_loopback_url("blob:http://127.0.0.1:8866/3f1c"), is_loopback_url("data:,")
    (True, True)
    """
    parts = urlsplit(url)
    if parts.scheme == "blob":
        return is_loopback_url(url[len("blob:"):])
    if parts.scheme not in ("http", "https", "ws", "wss"):
        return True
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_external_request_failure(text: str, url: str) -> bool:
    """A console error that only says a request to another host failed (blocked CDN, offline).

    ``url`` is the console message's location, which for a failed load is the resource itself.

    >>> is_external_request_failure("Failed to load resource: net::ERR_NAME_NOT_RESOLVED",
    ...                             "https://cdn.jsdelivr.net/npm/font-awesome.css")
    True
    >>> is_external_request_failure("Failed to load resource: the server responded with a "
    ...                             "status of 404 (Not Found)", "http://127.0.0.1:8866/x.js")
    False
    """
    return text.startswith("Failed to load resource") and not is_loopback_url(url)


@dataclass(frozen=True)
class KnownError:
    """A console or page error that is understood and harmless, so a test may let it pass.

    ``pattern`` is a regular expression searched (``re.DOTALL``) in the line
    :class:`BrowserErrors` records: ``"console error: TEXT (at URL)"`` or
    ``"page error: MESSAGE\\nSTACK"``. Make it as narrow as the error; ``reason`` says why it
    is harmless (with a reference) and is shown beside it in ``ignored``.
    """

    pattern: str
    reason: str

    def matches(self, line: str) -> bool:
        return re.search(self.pattern, line, re.DOTALL) is not None


@dataclass
class BrowserErrors:
    """Console errors and uncaught page errors seen on a page, as readable lines."""

    errors: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # external request failures, for debugging
    known: tuple[KnownError, ...] = ()  # errors to ignore as well, each with its reason

    def _record(self, line: str, ignore: bool = False) -> None:
        known = next((error for error in self.known if error.matches(line)), None)
        if known is not None:
            self.ignored.append(f"{line}\n(known: {known.reason})")
        else:
            (self.ignored if ignore else self.errors).append(line)

    def watch(self, page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)

    def _on_console(self, message) -> None:
        if message.type != "error":
            return
        url = (message.location or {}).get("url", "")
        line = f"console error: {message.text} (at {url or 'unknown location'})"
        self._record(line, ignore=is_external_request_failure(message.text, url))

    def _on_page_error(self, error) -> None:
        stack = getattr(error, "stack", None) or ""
        self._record(f"page error: {error}\n{stack}".rstrip())

    def __bool__(self) -> bool:
        return bool(self.errors)

    def __str__(self) -> str:
        return "\n".join(self.errors) or "no console or page errors"


@contextlib.contextmanager
def chromium_page(*, timeout_s: float = TIMEOUT_S, viewport: tuple[int, int] = (1280, 900),
                  known_errors: tuple[KnownError, ...] = ()):
    """Yield ``(page, errors)``: a fresh headless Chromium page and its :class:`BrowserErrors`
    (which do not count ``known_errors``).

    Skips the test when Playwright or Debian's Chromium is missing. The browser (a fresh
    profile) is closed on exit.
    """
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    executable = require_chromium()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable),
                                             args=list(CHROMIUM_FLAGS))
        try:
            context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
            context.set_default_timeout(timeout_s * 1000)
            page = context.new_page()
            errors = BrowserErrors(known=tuple(known_errors))
            errors.watch(page)
            yield page, errors
        finally:
            browser.close()


def screenshot(page, path: Path, *, max_height: int = 12_000) -> Path:
    """A full-page PNG at ``path`` (parent directories made).

    Voila's and JupyterLab's pages scroll an inner element, not the document, so
    ``full_page=True`` alone stops at the viewport: the viewport is first grown to the tallest
    scrollable content (up to ``max_height`` pixels).
    """
    height = page.evaluate("() => Math.max(...Array.from(document.querySelectorAll('*'), "
                           "element => element.scrollHeight), document.body.scrollHeight)")
    viewport = page.viewport_size or {"width": 1280, "height": 900}
    if height > viewport["height"]:
        page.set_viewport_size({"width": viewport["width"], "height": min(height, max_height)})
        page.wait_for_timeout(100)  # a relayout
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=path, full_page=True)
    return path


# --- Voila ------------------------------------------------------------------------------------


def clean_environment(home: Path) -> dict[str, str]:
    """os.environ without ``ISOMETRIC_*`` (so notebooks run in demo mode) and with private
    Jupyter and IPython directories under ``home``.

    The Jupyter data path still includes ``sys.prefix/share/jupyter``, where Voila's templates
    and static files and the ``python3`` kernel spec live; ``JUPYTER_DATA_DIR`` only replaces
    the per-user directory.
    """
    env = {name: value for name, value in os.environ.items() if not name.startswith("ISOMETRIC_")}
    for name in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "JUPYTER_PREFER_ENV_PATH", "PYTHONSTARTUP"):
        env.pop(name, None)
    for name, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                      ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")):
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(home / sub)
    env["JUPYTER_PLATFORM_DIRS"] = "1"  # no deprecation warning from jupyter_core on stderr
    env["PYTHONUNBUFFERED"] = "1"  # the log tail in an error message is up to date
    return env


@dataclass
class ServerProcess:
    """A server started by :func:`started_server`, with its log."""

    url: str  # the page to open, e.g. http://127.0.0.1:PORT/
    process: subprocess.Popen
    log: Path  # the server's (and its kernels') stdout and stderr

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class VoilaServer(ServerProcess):
    """Voila serving one notebook: ``url`` is the notebook's page."""


def _answers(url: str) -> bool:
    """True once an HTTP server answers at all (a 404 counts): the page itself is not fetched,
    since that would start a kernel and run the notebook."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


# What a server logs when the port it chose was taken before it listened (jupyter_server
# probes port 0, closes the probe, then listens on the number it read).
_PORT_TAKEN = re.compile(r"already in use|no available port could be found")
START_ATTEMPTS = 3


def _listening_port(process: subprocess.Popen) -> int | None:
    """The TCP port ``process`` listens on (None while it listens on none yet).

    Read from the operating system's socket table, so it is the port the server really got.
    """
    import psutil

    try:
        listening = {connection.laddr.port
                     for connection in psutil.Process(process.pid).net_connections(kind="tcp")
                     if connection.status == psutil.CONN_LISTEN}
    except psutil.Error:  # exited meanwhile: the caller sees it through poll()
        return None
    if len(listening) > 1:
        raise RuntimeError(f"the server listens on several ports ({sorted(listening)}): "
                           "cannot tell which one serves HTTP")
    return listening.pop() if listening else None


@contextlib.contextmanager
def started_server(name: str, command: list[str], *, cwd: Path, env: dict[str, str],
                   log: Path, probe: str,
                   timeout_s: float) -> Iterator[tuple[subprocess.Popen, int]]:
    """Start ``command`` (which asks for port 0) in its own session, output to ``log``; find
    the port it listens on, wait until ``http://127.0.0.1:PORT{probe}`` answers HTTP, yield
    the process and the port, and :func:`_stop` it on exit.

    The server binds the port itself (port 0: the OS picks a free one), so no port is chosen
    here and released in the hope that it stays free. A server that still reports its port
    taken (jupyter_server probes port 0 before it listens) is started again, up to
    :data:`START_ATTEMPTS` times. Raises with the log's tail when the server exits or stays
    silent for ``timeout_s``.

    Examples
    --------
    >>> command = [sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1"]
    >>> with started_server("http.server", command, cwd=Path("."), env=dict(os.environ),
    ...                     log=Path(os.devnull), probe="/",
    ...                     timeout_s=30) as (process, port):
    ...     port > 0
    True
    """
    pytest.importorskip("psutil", reason="psutil (an ipykernel dependency) finds the port")
    for attempt in range(1, START_ATTEMPTS + 1):
        with open(log, "wb") as log_file:
            process = subprocess.Popen(
                command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        server = ServerProcess(url="", process=process, log=log)  # for its log tail
        try:
            deadline = time.monotonic() + timeout_s
            port = None
            while port is None or not _answers(f"http://127.0.0.1:{port}{probe}"):
                if process.poll() is not None:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{name} did not answer on {f'port {port}' if port else 'any port'} "
                        f"within {timeout_s:.0f} s:\n{server.log_tail()}")
                port = port or _listening_port(process)
                time.sleep(0.1)
            else:
                yield process, port
                return
        finally:
            _stop(process)
        tail = server.log_tail()
        if not (_PORT_TAKEN.search(tail) and attempt < START_ATTEMPTS):
            raise RuntimeError(f"{name} exited with status {process.returncode} before "
                               f"answering HTTP (attempt {attempt}):\n{tail}")


@contextlib.contextmanager
def voila_server(notebook: Path | str, *, timeout_s: float = TIMEOUT_S,
                 extra_args: tuple[str, ...] = ()) -> Iterator[VoilaServer]:
    """Serve ``notebook`` with ``python -m voila`` on a loopback port the OS picks.

    Uses this interpreter's environment, no ``ISOMETRIC_*`` variables and temporary Jupyter
    directories; tracebacks are shown in the page. Waits until the port answers HTTP (raising
    with the server's log tail after ``timeout_s``); on exit stops the server with SIGTERM
    (Voila then shuts its kernels down), and kills whatever of its process tree is left.
    Skips the test when Voila is not installed.
    """
    pytest.importorskip("voila", reason="voila is not installed")
    notebook = Path(notebook).resolve()
    if not notebook.is_file():
        raise FileNotFoundError(f"no notebook to serve at {notebook}")
    with tempfile.TemporaryDirectory(prefix="voila-test-") as tmp:
        home = Path(tmp)
        log = home / "voila.log"
        command = [
            sys.executable, "-m", "voila", str(notebook), "--no-browser",
            # The OS picks a free port as Voila listens; it logs ":0", so started_server reads the
            # port from the socket table.
            "--port=0", "--Voila.ip=127.0.0.1",
            "--Voila.port_retries=0",  # a port 0 needs no retry
            "--show_tracebacks=True", *extra_args,
        ]
        with started_server("Voila", command, cwd=notebook.parent, env=clean_environment(home),
                      log=log, probe="/voila-test-readiness-probe",
                      timeout_s=timeout_s) as (process, port):
            yield VoilaServer(url=f"http://127.0.0.1:{port}/", process=process, log=log)


# --- JupyterLab and Notebook 7 ----------------------------------------------------------------

# The news pop-up ("Would you like to get notified about official Jupyter news?") covers part of
# the page and asks jupyter.org for news and updates, which fails offline.
ANNOUNCEMENTS_PLUGIN = "@jupyterlab/apputils-extension:announcements"

JUPYTER_APPS = {  # app: (module to run and import, notebook page under the base URL)
    "lab": ("jupyterlab", "lab/tree/{path}?reset&token={token}"),  # reset: a fresh workspace
    "notebook": ("notebook", "notebooks/{path}?token={token}"),  # Notebook 7
}


@dataclass
class JupyterServer(ServerProcess):
    """``jupyter lab`` or ``jupyter notebook`` serving ``root_dir``; ``url`` is its base URL."""

    app: str  # "lab" or "notebook"
    token: str
    root_dir: Path

    def notebook_url(self, path: str) -> str:
        """The page that opens the notebook at ``path`` (relative to ``root_dir``), logged in."""
        page = JUPYTER_APPS[self.app][1]
        return self.url + page.format(path=urllib.parse.quote(path), token=self.token)

    def api(self, method: str, endpoint: str, timeout_s: float = 10.0):
        """Call the REST API (``endpoint`` such as ``"sessions"``); the decoded JSON or None."""
        request = urllib.request.Request(
            f"{self.url}api/{endpoint}", method=method,
            headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body = response.read()
        return json.loads(body) if body else None

    def kernels(self, retries: int = 20) -> list[dict]:
        """The running kernels, each with its ``execution_state`` ("idle", "busy", ...).

        ``GET /api/kernels`` answers 500 for a moment while a session's kernel starts
        (jupyter_server 2.21 lists the kernel before setting its ``last_activity``: "TraitError:
        The 'last_activity' trait ... expected a datetime, not the NoneType None" in the log;
        compare jupyter-server/enterprise_gateway#1395). Such answers are retried, 50 ms apart.
        """
        for attempt in range(retries + 1):
            try:
                return self.api("GET", "kernels")
            except urllib.error.HTTPError as error:
                if error.code != 500 or attempt == retries:
                    raise
                time.sleep(0.05)
        raise AssertionError("unreachable")

    def delete_sessions(self) -> None:
        """Delete every session (which shuts its kernel down), then any kernel left over."""
        for session in self.api("GET", "sessions"):
            with contextlib.suppress(urllib.error.HTTPError):  # 404: gone meanwhile
                self.api("DELETE", f"sessions/{session['id']}", timeout_s=30)
        for kernel in self.kernels():
            with contextlib.suppress(urllib.error.HTTPError):
                self.api("DELETE", f"kernels/{kernel['id']}", timeout_s=30)


@contextlib.contextmanager
def jupyter_server(app: str, root_dir: Path | str, *, timeout_s: float = TIMEOUT_S,
                   disabled_extensions: tuple[str, ...] = (ANNOUNCEMENTS_PLUGIN,),
                   extra_args: tuple[str, ...] = ()) -> Iterator[JupyterServer]:
    """Serve ``root_dir`` with JupyterLab (``app="lab"``) or Notebook 7 (``app="notebook"``).

    Like :func:`voila_server`: this interpreter, a loopback port the OS picks, no ``ISOMETRIC_*``
    variables, temporary Jupyter config, data and runtime directories (in which
    ``disabled_extensions`` are disabled, as ``jupyter labextension disable`` would), a random
    token, ``--allow-root`` when running as root. Everything the front end saves lands in
    ``root_dir``: give it a copy. On exit every session is deleted through the REST API (so
    kernels shut down cleanly), then the server is stopped by its pid. Skips the test when the
    app is not installed.
    """
    if app not in JUPYTER_APPS:
        raise ValueError(f"app must be one of {sorted(JUPYTER_APPS)}, not {app!r}")
    module = JUPYTER_APPS[app][0]
    pytest.importorskip(module, reason=f"{module} is not installed")
    root_dir = Path(root_dir).resolve()
    if not root_dir.is_dir():
        raise FileNotFoundError(f"no directory to serve at {root_dir}")
    with tempfile.TemporaryDirectory(prefix=f"jupyter-{app}-test-") as tmp:
        home = Path(tmp)
        env = clean_environment(home)
        if disabled_extensions:  # read by JupyterLab and Notebook 7 alike
            labconfig = Path(env["JUPYTER_CONFIG_DIR"]) / "labconfig"
            labconfig.mkdir(parents=True, exist_ok=True)
            (labconfig / "page_config.json").write_text(json.dumps(
                {"disabledExtensions": {name: True for name in disabled_extensions}}))
        token = secrets.token_hex(16)
        log = home / f"jupyter-{app}.log"
        command = [
            sys.executable, "-m", module, "--no-browser",
            # The OS picks the port (port 0); started_server reads which from the socket table.
            "--ServerApp.ip=127.0.0.1", "--ServerApp.port=0",
            "--ServerApp.port_retries=0",  # a taken port is started again by started_server
            f"--ServerApp.root_dir={root_dir}", f"--IdentityProvider.token={token}",
            *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
            *extra_args,
        ]
        with started_server(f"jupyter {app}", command, cwd=root_dir, env=env, log=log,
                      probe="/api", timeout_s=timeout_s) as (process, port):
            server = JupyterServer(url=f"http://127.0.0.1:{port}/", process=process, log=log,
                                   app=app, token=token, root_dir=root_dir)
            try:
                yield server
            finally:
                if process.poll() is None:  # then _stop ends the server and what is left
                    with contextlib.suppress(OSError):  # it may hang or have died: go on
                        server.delete_sessions()


def _stop(process: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGTERM the server, wait, then SIGKILL its process group and any leftover descendants.

    Kernels run in their own sessions (jupyter_client starts them with start_new_session), so
    killing the server's process group alone would not reach them: they are listed first.
    """
    if process.poll() is not None:
        return
    try:
        import psutil  # a dependency of ipykernel, hence there whenever Voila can run kernels
    except ImportError:
        psutil = None
    descendants = []
    if psutil is not None:
        with contextlib.suppress(psutil.Error):  # the server may have exited just now
            descendants = psutil.Process(process.pid).children(recursive=True)
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)  # Voila: stop the loop, shut all kernels down
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # start_new_session: its pgid is its pid
    process.wait()
    if psutil is not None:
        _, alive = psutil.wait_procs(descendants, timeout=2)
        for child in alive:  # psutil.Process checks the pid still names the same process
            with contextlib.suppress(psutil.Error):
                child.kill()
        psutil.wait_procs(alive, timeout=5)
