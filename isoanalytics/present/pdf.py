"""Print an HTML page to PDF bytes in Debian's headless Chromium, offline.

:func:`print_pdf` is the one job: the page is loaded as it is (no file, no server), every
request that is not a ``data:`` URL inside it is aborted and the browser is set offline, so a
PDF holds exactly what the HTML file shows when opened offline. Chromium is driven through
Playwright's asynchronous API with ``executable_path`` (Playwright's own browser download is
not used), on an event loop of its own in a worker thread: the caller's thread only waits, so
Ctrl-C reaches it at once, the printing is cancelled, the browser closed, and the
``KeyboardInterrupt`` goes on.

The paper size and margins are :data:`PAPERS` and :data:`MARGIN`; page numbers and the data
source's banner are the page's own CSS ``@page`` margin boxes (the report's stylesheet), which
Chromium prints since version 131.

What it needs: the ``pdf`` extra (``pip install 'isoanalytics[pdf]'``: Playwright), else
:class:`~isoanalytics.present.datasets.MissingExtraError`; and Chromium (Debian's package,
``apt-get install chromium``), found at ``$ISOANALYTICS_CHROMIUM``, else ``/usr/bin/chromium``,
else ``chromium`` on the ``PATH``, else :class:`MissingBrowserError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import threading
from pathlib import Path
from typing import Any

from .datasets import MissingExtraError

__all__ = ["CHROMIUM_VARIABLE", "EXTRA", "MARGIN", "PAPERS", "MissingBrowserError",
           "PrintError", "Printer", "check_paper", "check_printer", "chromium_path",
           "print_pdf"]

EXTRA = "pdf"  # pyproject.toml's optional dependencies: isoanalytics[pdf] brings Playwright
CHROMIUM_VARIABLE = "ISOANALYTICS_CHROMIUM"  # a Chromium elsewhere (or, in tests, none)
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
# Paper sizes as Chromium names them, and their width and height in millimetres.
PAPERS = {"A4": (210.0, 297.0), "Letter": (215.9, 279.4)}
# The page margins, in millimetres, also in the report's stylesheet (@page): top and bottom
# hold the banner and the page number; the printable width is the paper's less 2 * side.
MARGIN = {"top": 16.0, "bottom": 16.0, "side": 14.0}
_FLAGS = ("--no-sandbox",  # as root in a container; the page is our own, offline
          "--disable-gpu", "--no-first-run", "--disable-background-networking",
          "--disable-component-update", "--disable-sync")


class MissingBrowserError(Exception):
    """No Chromium to print with; the message names the package to install.

    Attributes
    ----------
    package : str
        The Debian package that installs it, ``"chromium"``.
    path : str or None
        Where it was looked for, when a path was given (``$ISOANALYTICS_CHROMIUM``).

    Examples
    --------
    >>> from isoanalytics.present.pdf import MissingBrowserError
    >>> error = MissingBrowserError("no chromium", path="/opt/none")
    >>> error.package, error.path
    ('chromium', '/opt/none')
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.package = "chromium"
        self.path = path


class PrintError(RuntimeError):
    """Chromium failed to print the page (it crashed, or did not finish in time).

    Examples
    --------
    >>> from isoanalytics.present.pdf import PrintError
    >>> isinstance(PrintError("Chromium did not finish printing in 120 s"), RuntimeError)
    True
    """


def check_paper(paper: str) -> str:
    """The paper size as Chromium names it (``"A4"`` or ``"Letter"``, any case), else ValueError.

    Examples
    --------
    >>> from isoanalytics.present.pdf import check_paper
    >>> check_paper("letter")
    'Letter'
    >>> check_paper("A3")
    Traceback (most recent call last):
    ...
    ValueError: paper must be A4 or Letter; got 'A3'
    """
    found = next((name for name in PAPERS if isinstance(paper, str)
                  and paper.strip().lower() == name.lower()), None)
    if found is None:
        raise ValueError(f"paper must be {' or '.join(PAPERS)}; got {paper!r}")
    return found


def chromium_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The Chromium to print with: ``path``, else ``$ISOANALYTICS_CHROMIUM``, else Debian's.

    Raises :class:`MissingBrowserError` naming the package when there is none, or when the
    one named is not an executable file.

    Examples
    --------
    >>> from isoanalytics.present.pdf import MissingBrowserError, chromium_path
    >>> try:
    ...     chromium_path("/nonexistent/chromium")
    ... except MissingBrowserError as error:
    ...     print("apt-get install chromium" in str(error))
    True
    """
    given = os.fspath(path) if path is not None else os.environ.get(CHROMIUM_VARIABLE) or None
    if given is not None:
        named = Path(given).expanduser()
        if named.is_file() and os.access(named, os.X_OK):
            return named
        whose = "" if path is not None else f" (${CHROMIUM_VARIABLE})"
        raise MissingBrowserError(
            f"PDF output prints the report in Chromium, and {given!r}{whose} is not an "
            "executable file: install Debian's chromium (apt-get install chromium) or point "
            f"{CHROMIUM_VARIABLE} at a Chromium", path=given)
    if DEBIAN_CHROMIUM.is_file():
        return DEBIAN_CHROMIUM
    found = shutil.which("chromium")
    if found:
        return Path(found)
    raise MissingBrowserError(
        "PDF output prints the report in Chromium, which is not installed: install Debian's "
        f"chromium (apt-get install chromium), or point {CHROMIUM_VARIABLE} at a Chromium")


def check_printer(chromium: str | os.PathLike[str] | None = None) -> Path:
    """The Chromium :func:`print_pdf` would use, once Playwright is found importable.

    For a command to refuse before any work what it could not print: raises
    :class:`~isoanalytics.present.datasets.MissingExtraError` (no Playwright) or
    :class:`MissingBrowserError` (no Chromium).

    Examples
    --------
    >>> from isoanalytics.present.pdf import MissingBrowserError, check_printer
    >>> try:
    ...     check_printer("/nonexistent/chromium")
    ... except (ImportError, MissingBrowserError) as error:
    ...     print("install" in str(error))
    True
    """
    _async_playwright()
    return chromium_path(chromium)


def _async_playwright() -> Any:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        raise MissingExtraError(
            "PDF output needs Playwright, which is not installed: pip install "
            f"'isoanalytics[{EXTRA}]' (or pip install playwright); it drives Debian's "
            "chromium (apt-get install chromium)", extra=EXTRA, name="playwright") from None
    return async_playwright


def print_pdf(page: str, *, paper: str = "A4", chromium: str | os.PathLike[str] | None = None,
              timeout: float = 120.0) -> bytes:
    """The HTML ``page`` printed to PDF (bytes) on ``paper``, offline, in headless Chromium.

    Parameters
    ----------
    page : str
        A whole HTML page; it may load nothing but ``data:`` URLs (a self-contained report).
    paper : {"A4", "Letter"}
        The paper size; the margins are :data:`MARGIN`.
    chromium : path or None
        The browser; None: :func:`chromium_path`'s search.
    timeout : float
        Seconds the whole printing may take (the browser's start included).

    Raises
    ------
    MissingExtraError
        Playwright is not installed (``pip install 'isoanalytics[pdf]'``).
    MissingBrowserError
        No Chromium (``apt-get install chromium``).
    PrintError
        Chromium crashed or did not finish within ``timeout``.
    KeyboardInterrupt
        Ctrl-C: the printing is cancelled and the browser closed first.

    Examples
    --------
    >>> from isoanalytics.present.pdf import MissingBrowserError, print_pdf
    >>> try:
    ...     pdf = print_pdf("<p>Hello</p>", paper="Letter")
    ... except (ImportError, MissingBrowserError):  # no Playwright, or no chromium, here
    ...     pdf = b"%PDF-"
    >>> pdf[:5]
    b'%PDF-'
    """
    with Printer(paper, chromium=chromium, timeout=timeout) as printer:
        return printer.print(page)


class Printer:
    """Headless Chromium started ahead, in the background, to print one page when it is ready.

    :func:`print_pdf` in two steps, for a caller with other work to do first: entering starts
    Playwright's driver and the browser on a worker thread (a few seconds that then overlap
    the caller's work), :meth:`print` hands the page over and waits for the PDF, and leaving
    closes the browser, also when the page never came (an error, Ctrl-C). The parameters and
    errors are :func:`print_pdf`'s; ``timeout`` bounds the start and the printing each.

    Examples
    --------
    >>> from isoanalytics.present.pdf import MissingBrowserError, Printer
    >>> try:
    ...     with Printer("A4") as printer:
    ...         pdf = printer.print("<p>Hello</p>")
    ... except (ImportError, MissingBrowserError):  # no Playwright, or no chromium, here
    ...     pdf = b"%PDF-"
    >>> pdf[:5]
    b'%PDF-'
    """

    def __init__(self, paper: str = "A4", *, chromium: str | os.PathLike[str] | None = None,
                 timeout: float = 120.0) -> None:
        self.paper = check_paper(paper)
        self.executable = chromium_path(chromium)
        if not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds; got {timeout!r}")
        self.timeout = float(timeout)
        self._async_playwright = _async_playwright()
        self._run: _PrintRun | None = None
        self._page: asyncio.Future[str] | None = None

    def __enter__(self) -> Printer:
        self._run = _PrintRun(self._work())
        # Made before the loop runs, so print() can always hand the page over.
        self._page = self._run.loop.create_future()
        self._run.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._run is not None:
            self._run.stop()

    def print(self, page: str) -> bytes:
        """The page printed to PDF bytes (once: the browser is then closed)."""
        if self._run is None:
            raise RuntimeError("a Printer prints inside its with block")
        future = self._page
        if future is not None and not self._run.done.is_set():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (it failed)
                self._run.loop.call_soon_threadsafe(future.set_result, page)
        return self._run.result()

    async def _work(self) -> bytes:
        assert self._page is not None
        async with self._async_playwright() as playwright:
            try:
                async with asyncio.timeout(self.timeout):
                    browser = await playwright.chromium.launch(
                        executable_path=str(self.executable), args=list(_FLAGS),
                        handle_sigint=False, handle_sigterm=False, handle_sighup=False,
                        timeout=self.timeout * 1000)
            except TimeoutError:
                raise PrintError(f"Chromium did not start in {self.timeout:g} s") from None
            try:
                context = await browser.new_context(offline=True)
                context.set_default_timeout(self.timeout * 1000)
                await context.route("**/*", _only_data_urls)
                tab = await context.new_page()
                page = await self._page
                try:
                    async with asyncio.timeout(self.timeout):
                        await tab.set_content(page, wait_until="load")
                        margin = {side: f"{MARGIN[key]}mm" for side, key in (
                            ("top", "top"), ("bottom", "bottom"), ("left", "side"),
                            ("right", "side"))}
                        # By name, the paper is exact (595 x 842 pt for A4); in millimetres,
                        # Chromium rounds it to whole pixels.
                        pdf: bytes = await tab.pdf(format=self.paper, margin=margin,
                                                   print_background=True)
                        return pdf
                except TimeoutError:
                    raise PrintError(f"Chromium did not finish printing in {self.timeout:g} s"
                                     ) from None
            finally:
                with contextlib.suppress(Exception):
                    await browser.close()


async def _only_data_urls(route: Any) -> None:
    # The page itself comes with set_content (no request); a data: URL is inside it.
    if route.request.url.startswith("data:"):
        await route.continue_()
    else:
        await route.abort("blockedbyclient")


class _PrintRun:
    """A coroutine on an event loop of its own, in a worker thread; the caller only waits.

    Ctrl-C in the waiting thread cancels the coroutine (Playwright closes the browser and
    its driver as it unwinds) and waits for that before the interrupt goes on.
    """

    def __init__(self, work: Any) -> None:
        self.work = work
        self.loop = asyncio.new_event_loop()
        self.task: asyncio.Task[bytes] | None = None
        self.value: bytes | None = None
        self.error: BaseException | None = None
        self.started = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._work, name="isoanalytics-pdf", daemon=True)

    def _work(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.task = self.loop.create_task(self.work)
            self.started.set()
            self.value = self.loop.run_until_complete(self.task)
        except BaseException as error:  # noqa: BLE001 - handed to the waiting thread
            self.error = error
        finally:
            pending = [task for task in asyncio.all_tasks(self.loop) if not task.done()]
            for task in pending:
                task.cancel()
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()
            self.started.set()
            self.done.set()

    def start(self) -> None:
        self.thread.start()

    def result(self) -> bytes:
        """Wait for the coroutine's value (its error raised here); Ctrl-C cancels it first."""
        try:
            while not self.done.wait(0.25):  # bounded waits: Ctrl-C is seen at once
                pass
        except KeyboardInterrupt:
            self.stop()
            raise
        self.thread.join()
        if self.error is not None:
            if isinstance(self.error, (MissingExtraError, PrintError)):
                raise self.error
            raise PrintError(f"Chromium failed to print the report: "
                             f"{_first_line(self.error)}") from self.error
        assert self.value is not None
        return self.value

    def stop(self) -> None:
        """Cancel the coroutine (if it still runs) and wait for the browser to be closed."""
        self.started.wait(30)
        if self.task is not None and not self.done.is_set():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self.loop.call_soon_threadsafe(self.task.cancel)
        try:
            self.done.wait(30)
        except KeyboardInterrupt:  # a second Ctrl-C: the browser is closing already
            self.done.wait(30)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]
