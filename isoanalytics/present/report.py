"""HTML reports: run the report notebook with parameters and export it as one self-contained file.

:func:`build` (and ``isoanalytics report``) checks what it can before starting a kernel (the
output directory, the template, the credentials, that each organisation exists), runs the
template in a fresh Python kernel of this interpreter with nbclient, and exports it with
nbconvert: figures embedded as PNG, code hidden unless asked for, and no script or stylesheet
fetched from the internet, so the file opens offline in any browser. It is written to a
temporary name beside the output and renamed, so a failure never leaves a half-written report.

Before any work the output is checked: a regular file (never a FIFO, a device or a socket),
not the same file as the notebook, in a folder a temporary file can be created in. A cell that
fails, shows an error or prints a traceback fails the report (no traceback reaches an HTML file).
Ctrl-C stops the kernel, removes its temporary folder and any partial file, and raises
:class:`ReportInterrupted`. :func:`render` returns the page instead of writing it.

A PDF (``output="report.pdf"``, or ``pdf=True`` for one beside the HTML with the same stem)
is the same page printed in headless Chromium (:mod:`isoanalytics.present.pdf`), on A4 or
Letter, written atomically with the other files; Playwright (the ``pdf`` extra) and Chromium
are checked for before any work.

The template ships in the package (``isoanalytics/templates/report.ipynb``); in the repository,
``notebooks/04-report.ipynb`` is a link to that same file, for readers.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import errno
import json
import logging
import math
import os
import re
import signal
import stat
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import nbformat
from jupyter_core.utils import ensure_async
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor

from .. import errors
from .._options import check_integer, check_seconds
from .._progress import progress_bar
from ..ids import check_id
from ..records.periods import Period, reporting_period
from ..registry.client import RegistryClient
from .datasets import parquet_engine
from .pdf import MissingBrowserError, Printer, PrintError, check_paper, check_printer
from .snapshots import check_store

__all__ = ["DEFAULT_TITLE", "TEMPLATE", "MissingBrowserError", "OutputPathError", "PrintError",
           "ReportError", "ReportInterrupted", "ReportWriteError", "TemplateError", "build",
           "render"]

TEMPLATE = Path(str(files("isoanalytics") / "templates" / "report.ipynb"))
NBCONVERT_TEMPLATES = Path(str(files("isoanalytics") / "templates" / "nbconvert"))
# The template's parameters a reporting period sets (ISO 8601 text with the zone, and the
# period's name); a report without one leaves the template's defaults (None: all time).
PERIOD_PARAMETERS = ("period_start", "period_end", "period_label")
# The template's cells of the "Holdings over time" section: run only with a snapshot store
# (history=), and taken out otherwise, so a report without one is exactly as it was.
HISTORY_TAG = "history"
logger = logging.getLogger("isoanalytics.report")
DEFAULT_TITLE = "Carbon-removal credit holdings"
# nbconvert's lab template would fetch require.js, MathJax and mermaid from CDNs: offline that
# is console errors and a slow page. The report uses none of them.
_NO_SCRIPT = "data:text/javascript,"
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class TemplateError(Exception):
    """The report template is missing, is not a notebook, or has several ``parameters`` cells.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from isoanalytics import report
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     template = Path(folder, "empty.ipynb")
    ...     _ = template.write_text("{}")
    ...     try:
    ...         report.build(demo=True, output=Path(folder, "r.html"), template=template)
    ...     except report.TemplateError:
    ...         print("refused before any kernel started")
    refused before any kernel started
    """


class OutputPathError(ValueError):
    """An output path that cannot take the report, found before any work is done.

    Attributes
    ----------
    path : str
        The path as given.

    Examples
    --------
    >>> import os, tempfile
    >>> from isoanalytics import report
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     pipe = os.path.join(folder, "pipe")
    ...     os.mkfifo(pipe)  # a named pipe, a device or a socket is never replaced
    ...     try:
    ...         report.build(demo=True, output=pipe)
    ...     except report.OutputPathError as error:
    ...         print(error.path == pipe)
    True
    """

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class ReportWriteError(OSError):
    """The finished report could not be written (a full disk, a folder made read-only).

    The previous file, if any, is left as it was and no temporary file stays behind.

    Attributes
    ----------
    path : str
        The file that could not be written.

    Examples
    --------
    >>> from isoanalytics.report import ReportWriteError
    >>> error = ReportWriteError("no space left on the device", path="q3.html")
    >>> isinstance(error, OSError), error.path
    (True, 'q3.html')
    """

    def __init__(self, message: str, *, path: str, error_number: int | None = None) -> None:
        super().__init__(error_number, message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        return self.message


class ReportInterrupted(KeyboardInterrupt):
    """The report was interrupted (Ctrl-C): the kernel is stopped and nothing was written.

    Attributes
    ----------
    stage : str
        What was going on: ``"checking"``, ``"running"``, ``"exporting"``, ``"printing"``
        (the PDF) or ``"writing"``.

    Examples
    --------
    >>> from isoanalytics.report import ReportInterrupted
    >>> interrupt = ReportInterrupted("running")
    >>> isinstance(interrupt, KeyboardInterrupt), interrupt.stage
    (True, 'running')
    """

    def __init__(self, stage: str) -> None:
        super().__init__(stage)
        self.stage = stage


class ReportError(Exception):
    """A cell of the report failed while it ran (or its kernel did).

    Attributes
    ----------
    error_name : str
        The exception's class name in the kernel, e.g. ``"NotFoundError"``.
    section : str or None
        The report section the cell belongs to (the heading above it).
    cell : int or None
        The cell's position in the executed notebook.

    Examples
    --------
    >>> from isoanalytics import NotFoundError
    >>> from isoanalytics.report import ReportError
    >>> error = ReportError("the report failed in section 'Holdings'",
    ...                     error_name="NotFoundError", section="Holdings")
    >>> error.registry_error is NotFoundError  # the package's class, for the exit code
    True
    """

    def __init__(self, message: str, *, error_name: str, section: str | None = None,
                 cell: int | None = None) -> None:
        super().__init__(message)
        self.error_name = error_name
        self.section = section
        self.cell = cell

    @property
    def registry_error(self) -> type[Exception] | None:
        """The ``isoanalytics.errors`` class the kernel raised, if it was one of them."""
        found = getattr(errors, self.error_name, None) if self.error_name in errors.__all__ \
            else None
        return found if isinstance(found, type) else None


@dataclass(frozen=True)
class _Parameters:
    organisation_ids: list[str]
    environment: str
    title: str
    top: int

    def source(self) -> str:
        # repr() of str, int and list of str is a Python literal: no value can become code.
        return "\n".join(["# Parameters set by isoanalytics.report.build()",
                          *(f"{name} = {value!r}" for name, value in vars(self).items())])


@dataclass(frozen=True)
class _HistoryParameters(_Parameters):
    # Only a report with a store sets it: the parameters of one without are as they were.
    history_store: str


def build(
    organisation_ids: str | Iterable[str] | None = None,
    output: str | os.PathLike[str] = "report.html",
    *,
    demo: bool = False,
    environment: str | None = None,
    title: str | None = None,
    top: int = 10,
    with_code: bool = False,
    template: str | os.PathLike[str] | None = None,
    notebook: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    timeout: float = 600.0,
    history: str | os.PathLike[str] | None = None,
    period: int | str | Period | None = None,
    start: Any = None,
    end: Any = None,
    year_start: int = 1,
    pdf: bool = False,
    paper: str = "A4",
    chromium: str | os.PathLike[str] | None = None,
) -> Path:
    """Build the HTML (or PDF) report of one organisation or a portfolio; returns its path.

    Parameters
    ----------
    organisation_ids : str, list of str or None
        The organisations to report on; several give a portfolio section. None: the access
        token's own organisation (with ``demo=True``, the demo's default buyer).
    output : path
        The HTML file to write (replaced if it exists); a name ending in ``.pdf`` writes the
        PDF instead. Its directory must exist.
    demo : bool
        Read the embedded demo registry (fictional data, offline) instead of the live one.
    environment : {"sandbox", "production"} or None
        The live registry; None: ``ISOMETRIC_ENVIRONMENT``, else sandbox. Credentials come from
        ``ISOMETRIC_CLIENT_SECRET`` and ``ISOMETRIC_ACCESS_TOKEN`` (for a portfolio,
        ``ISOMETRIC_ACCESS_TOKENS=org_A=token_A,org_B=token_B``); the report's kernel reads
        them from the environment, so they are never parameters in the notebook.
    title : str or None
        The report's heading and the page title; None: :data:`DEFAULT_TITLE`.
    top : int
        Suppliers and projects shown by name; the rest are summed in one "Other" row.
    with_code : bool
        Show the code cells too (for analysts reviewing how the figures were made).
    template : path or None
        Another report notebook to run, such as an analyst's own: the parameters are set in
        a cell after the one tagged ``parameters`` or, without one, before its first code
        cell. Widget views are left out of the page (they need a kernel); an explorer's
        static copy of its last state stays.
    notebook : path or None
        Also save the executed notebook there.
    progress : bool or None
        Show a progress bar; None: only in a terminal or a notebook.
    timeout : float
        Seconds any one cell may run.
    history : path or None
        A snapshot store (``isoanalytics snapshot --store DIR``): the report then has a
        section "Holdings over time (snapshots)", the organisations' holdings at each of
        their snapshots and what moved between the first and the last, supplier by supplier.
    period : int, str or Period, optional
        The reporting period of the section "Claims in the period": a calendar year
        (``2025`` or ``"2025"``), a quarter (``"2025-Q3"``) or a month (``"2025-06"``), in
        UTC, or a :class:`~isoanalytics.records.periods.Period` (from
        :func:`~isoanalytics.records.periods.reporting_period`). Without a period (and
        without ``start``/``end``) the section covers all time.
    start, end : date, date-like text or time-zone-aware datetime, optional
        A period of your own instead: ``start`` included, ``end`` **excluded**, as in
        :func:`isoanalytics.claims` (``start="2025-01-01", end="2026-01-01"`` is 2025; the
        command line's ``--to`` is the last day included instead). A date is its midnight
        UTC; a date-time without a zone is refused.
    year_start : int
        The month (1 to 12) a year starts in: ``period=2026, year_start=4`` is the fiscal
        year April 2025 to March 2026, named, as :func:`isoanalytics.timeline` names it, by
        the calendar year it ends in (see :func:`~isoanalytics.records.periods.reporting_period`).
    pdf : bool
        Also write the PDF beside the HTML, with the same stem (``report.html`` and
        ``report.pdf``); the path returned is the HTML's.
    paper : {"A4", "Letter"}
        The PDF's paper size.
    chromium : path or None
        The Chromium that prints the PDF; None: ``$ISOANALYTICS_CHROMIUM``, else
        ``/usr/bin/chromium``, else ``chromium`` on the ``PATH``.

    Raises
    ------
    TemplateError
        The template is missing, unreadable or has several ``parameters`` cells (or, given
        a period, no ``period_start`` parameter to take it).
    MissingCredentialsError, NotFoundError, RegistryError
        Found before the kernel starts: credentials, an unknown organisation, an unreachable
        registry.
    OutputPathError
        Before any work: ``output`` or ``notebook`` is not a regular file (a FIFO, a device,
        a socket), both name the same file, the folder cannot be written, or the name asks
        for a format this does not write (``.ipynb``).
    ValueError
        Before any work: a period that is not a year, quarter or month, one given together
        with ``start``/``end``, a start after the end, a date-time without a zone,
        ``year_start`` outside 1 to 12; the message names the argument.
    MissingExtraError, MissingBrowserError
        Before any work, for a PDF: Playwright is not installed (``pip install
        'isoanalytics[pdf]'``), or there is no Chromium (``apt-get install chromium``).
    PrintError
        Chromium failed to print the PDF (it crashed, or took longer than two minutes).
    DatasetPathError
        Before any work: ``history`` does not exist or is not a snapshot store (a
        ``ValueError``); without pyarrow, :class:`MissingExtraError` names the extra.
    ReportError
        A cell failed while the report ran, or showed an error or printed a traceback
        (the HTML would carry a traceback); ``registry_error`` is the registry error's class
        when that is what the cell raised.
    ReportWriteError
        The finished report could not be written (a full disk); the previous files are kept.
    ReportInterrupted
        Ctrl-C (a ``KeyboardInterrupt``); ``stage`` says what was going on. The kernel is
        stopped, and nothing is written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from isoanalytics import report
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = report.build(output=pathlib.Path(folder) / "report.html", demo=True)
    ...     "<b>DEMO DATA</b>" in path.read_text()
    True
    """
    chosen = reporting_period(period, start=start, end=end, year_start=year_start)
    output = _output_path(output, "output")
    # -o report.pdf is the PDF alone; pdf=True (--pdf) adds report.pdf beside report.html.
    only_pdf = output.suffix.lower() == ".pdf"
    printed = None
    if only_pdf:
        printed = output
    elif pdf:
        printed = _output_path(output.with_suffix(".pdf"), "pdf")
    saved_notebook = None if notebook is None else _output_path(notebook, "notebook")
    _check_distinct(output, saved_notebook)
    paper = check_paper(paper)  # a typo is refused even when nothing is printed
    browser = None
    if printed is not None:
        _check_distinct(printed, saved_notebook)
        browser = check_printer(chromium)  # Playwright and Chromium, before any work
    stage = ["checking"]
    try:
        with contextlib.ExitStack() as printing:
            # The browser starts while the kernel runs (a few seconds saved); leaving the
            # block closes it, also on an error or Ctrl-C.
            printer = None if printed is None else printing.enter_context(
                Printer(paper, chromium=browser))
            page, node = _run(organisation_ids, demo=demo, environment=environment,
                              title=title, top=top, with_code=with_code, template=template,
                              saved_notebook=saved_notebook, progress=progress,
                              timeout=timeout, stage=stage, history=history,
                              period=chosen)
            files = {} if only_pdf else {output: page.encode("utf-8")}
            if printed is not None and printer is not None:
                stage[0] = "printing"
                files[printed] = printer.print(page)
        stage[0] = "writing"
        if saved_notebook is not None:
            files[saved_notebook] = nbformat.writes(node).encode("utf-8")
        _write_atomically(files)
    except ReportInterrupted:
        raise
    except KeyboardInterrupt:
        raise ReportInterrupted(stage[0]) from None
    return output


def render(
    organisation_ids: str | Iterable[str] | None = None,
    *,
    demo: bool = False,
    environment: str | None = None,
    title: str | None = None,
    top: int = 10,
    with_code: bool = False,
    template: str | os.PathLike[str] | None = None,
    notebook: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    timeout: float = 600.0,
    history: str | os.PathLike[str] | None = None,
    period: int | str | Period | None = None,
    start: Any = None,
    end: Any = None,
    year_start: int = 1,
) -> str:
    """The HTML report as a string, without writing it (``isoanalytics report -o -``).

    The parameters (``history`` and the period's too), errors and checks are those of
    :func:`build`.

    Examples
    --------
    >>> from isoanalytics import report
    >>> "<b>DEMO DATA</b>" in report.render(demo=True, progress=False)
    True
    """
    chosen = reporting_period(period, start=start, end=end, year_start=year_start)
    saved_notebook = None if notebook is None else _output_path(notebook, "notebook")
    stage = ["checking"]
    try:
        page, node = _run(organisation_ids, demo=demo, environment=environment, title=title,
                          top=top, with_code=with_code, template=template,
                          saved_notebook=saved_notebook, progress=progress, timeout=timeout,
                          stage=stage, history=history, period=chosen)
        if saved_notebook is not None:
            stage[0] = "writing"
            _write_atomically({saved_notebook: nbformat.writes(node).encode("utf-8")})
    except ReportInterrupted:
        raise
    except KeyboardInterrupt:
        raise ReportInterrupted(stage[0]) from None
    return page


def _run(organisation_ids: str | Iterable[str] | None, *, demo: bool, environment: str | None,
         title: str | None, top: int, with_code: bool,
         template: str | os.PathLike[str] | None, saved_notebook: Path | None,
         progress: bool | None, timeout: float, stage: list[str],
         history: str | os.PathLike[str] | None = None, period: Period | None = None,
         ) -> tuple[str, nbformat.NotebookNode]:
    """Check the arguments, run the template and export it; ``stage[0]`` follows along."""
    ids = _organisation_ids(organisation_ids)
    check_integer("top", top)
    check_seconds("timeout", timeout)
    title = DEFAULT_TITLE if title is None else title
    if not isinstance(title, str) or not title.strip():
        raise ValueError(f"title must be a non-empty string; got {title!r}")
    if demo and environment:
        raise ValueError("environment chooses a live registry; leave it out with demo=True")
    notebook_node = _read_template(Path(template) if template is not None else TEMPLATE)
    store = _history_section(notebook_node, history)
    _check_period_parameters(notebook_node, period)
    with RegistryClient.demo() if demo else RegistryClient(environment) as client:
        ids = _checked_organisations(client, ids)
        parameters = (_Parameters(ids, client.environment, title.strip(), top) if store is None
                      else _HistoryParameters(ids, client.environment, title.strip(), top,
                                              history_store=store))
        # The kernel reads the same credentials: whatever a registry echoed into the data
        # (a name, a value quoted in a traceback) is taken out before anything is saved.
        redact = client.redact
    _inject(notebook_node, parameters)
    _inject_period(notebook_node, period)
    with _progress_bar(notebook_node, progress) as bar:
        stage[0] = "running"
        try:
            try:
                _execute(notebook_node, timeout, bar)
            finally:
                _redact_notebook(notebook_node, redact)
            _refuse_error_outputs(notebook_node)
        except ReportError as error:
            error = ReportError(redact(str(error)), error_name=error.error_name,
                                section=error.section, cell=error.cell)
            raise _with_notebook(error, notebook_node, saved_notebook) from None
        stage[0] = "exporting"
        bar.set_postfix_str("exporting HTML")
        _without_widgets(notebook_node)
        page = _export(notebook_node, title=parameters.title, with_code=with_code)
    return page, notebook_node


def _redact_notebook(node: nbformat.NotebookNode, redact: Callable[[str], str]) -> None:
    """Every text of the executed notebook through ``redact``, in place (pictures aside:
    a PNG's base64 is not text, and nothing can be taken out of its pixels)."""
    for cell in node.cells:
        cell.source = redact(cell.source)
        for output in cell.get("outputs", ()):
            for key in ("text", "evalue"):
                if isinstance(output.get(key), str):
                    output[key] = redact(output[key])
            if "traceback" in output:
                output["traceback"] = [redact(line) for line in output["traceback"]]
            for mime, value in output.get("data", {}).items():
                if isinstance(value, str) and not mime.startswith(("image/png", "image/jp")):
                    output["data"][mime] = redact(value)


def _with_notebook(error: ReportError, node: nbformat.NotebookNode,
                   saved_notebook: Path | None) -> ReportError:
    """The error, saying where to find the notebook as far as it ran (its traceback in it)."""
    if saved_notebook is not None:
        _write_atomically({saved_notebook: nbformat.writes(node).encode("utf-8")})
        hint = f"the notebook as far as it ran, traceback included, is in {str(saved_notebook)!r}"
    else:
        hint = ("to see the notebook as far as it ran, traceback included, run again with "
                "--notebook FILE (notebook= in Python)")
    return ReportError(f"{error}; {hint}", error_name=error.error_name, section=error.section,
                       cell=error.cell)


def _organisation_ids(organisation_ids: str | Iterable[str] | None) -> list[str]:
    if organisation_ids is None:
        return []
    ids = [organisation_ids] if isinstance(organisation_ids, str) else list(organisation_ids)
    for organisation_id in ids:
        check_id(organisation_id, "organisation", argument="organisation_ids")
    return list(dict.fromkeys(ids))  # an organisation named twice is reported once


# Names that promise another format than the HTML this writes, and what to do instead.
_OTHER_FORMATS = {
    "output": {".ipynb": "the executed notebook is saved with --notebook FILE (notebook= in "
                         "Python); -o is the HTML (or PDF) report"},
    "pdf": {},
    "notebook": {".html": "the notebook is JSON; name it FILE.ipynb (the HTML report is -o)",
                 ".htm": "the notebook is JSON; name it FILE.ipynb (the HTML report is -o)",
                 ".pdf": "the notebook is JSON; name it FILE.ipynb"},
}


def _output_path(path: str | os.PathLike[str], what: str) -> Path:
    """The path, refused before any work if it cannot take a file written by renaming."""
    given = os.fspath(path)
    path = Path(path).expanduser()
    named = f"{what} {given!r}"
    if path.is_dir():
        raise IsADirectoryError(f"{named} is a directory; name a file in it, "
                                f"e.g. {str(path / 'report.html')!r}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{named}: the directory {str(path.parent)!r} "
                                "does not exist; create it or choose another path")
    advice = _OTHER_FORMATS[what].get(path.suffix.lower())
    if advice:
        raise OutputPathError(f"{named}: {advice}", path=given)
    with contextlib.suppress(FileNotFoundError):
        mode = path.stat().st_mode  # follows a link: a link to /dev/null is a device
        if not stat.S_ISREG(mode):
            kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else
                    "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else
                    "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
            raise OutputPathError(
                f"{named} is {kind}, not a regular file; it is never replaced. Choose a file "
                "name (the report is written to a temporary file beside it, then renamed)",
                path=given)
    _probe_folder(path.parent, named, given)
    return path


def _probe_folder(folder: Path, named: str, given: str) -> None:
    # Permissions alone do not tell (root ignores them; a read-only mount or an immutable
    # folder refuses root too): create and remove a temporary file where the report will go.
    try:
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".isoanalytics-probe-")
    except OSError as error:
        raise OutputPathError(
            f"{named}: cannot create a file in the folder {str(folder)!r} "
            f"({error.strerror or error}); choose a folder you can write to", path=given
        ) from None
    os.close(handle)
    os.unlink(probe)


def _check_distinct(output: Path, notebook: Path | None) -> None:
    if notebook is None:
        return
    same = output.resolve() == notebook.resolve()
    with contextlib.suppress(OSError):
        same = same or os.path.samefile(output, notebook)  # hard links
    if same:
        raise OutputPathError(
            f"notebook {str(notebook)!r} and output {str(output)!r} are the same file; "
            "give the notebook its own name, e.g. report.ipynb", path=str(notebook))


def _read_template(path: Path) -> nbformat.NotebookNode:
    where = f"report template {str(path)!r}"
    try:
        shape = json.loads(path.read_bytes())
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        shape = None  # said below, by nbformat's reading
    except (OSError, ValueError) as error:
        raise TemplateError(f"{where} is not a readable notebook: "
                            f"{_first_line(error)}") from None
    if shape is not None and not (isinstance(shape, dict) and isinstance(shape.get("cells"), list)
                                  and isinstance(shape.get("nbformat"), int)):
        raise TemplateError(f"{where} is JSON but not a notebook (it needs a list of \"cells\" "
                            "and an \"nbformat\" version); pass a .ipynb report notebook")
    try:
        node: nbformat.NotebookNode = nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise TemplateError(f"{where} does not exist. The template ships inside the package: "
                            "reinstall isoanalytics, or pass the path of a report notebook"
                            ) from None
    except Exception as error:  # noqa: BLE001 - unreadable, not JSON, not a notebook (jsonschema)
        raise TemplateError(f"{where} is not a readable notebook: "
                            f"{_first_line(error)}") from None
    if not isinstance(node, dict) or not isinstance(node.get("cells"), list):
        raise TemplateError(f"{where} is not a notebook: it has no list of cells")
    tagged = [cell for cell in node.cells if "parameters" in cell.metadata.get("tags", [])]
    if len(tagged) > 1:
        raise TemplateError(f"{where} needs at most one code cell tagged 'parameters' (where "
                            f"the report's parameters are set); it has {len(tagged)}")
    return node


def _history_section(node: nbformat.NotebookNode,
                     history: str | os.PathLike[str] | None) -> str | None:
    """The store's absolute path (the kernel runs in a folder of its own), checked before
    any work; without one, the template's history cells are taken out."""
    tagged = [cell for cell in node.cells if HISTORY_TAG in cell.metadata.get("tags", [])]
    if history is None:
        node.cells = [cell for cell in node.cells
                      if HISTORY_TAG not in cell.metadata.get("tags", [])]
        return None
    folder = check_store(history, "history")
    parquet_engine("A report's history (history=, --history)")
    if not tagged:
        raise TemplateError(f"the report template has no cell tagged {HISTORY_TAG!r}, so it "
                            "cannot show the history it was given; leave out history= "
                            "(--history) or use a template with that section")
    return str(folder.resolve())


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]


def _checked_organisations(client: RegistryClient, ids: list[str]) -> list[str]:
    # Each organisation is read once here, before a kernel starts: an unknown id, a refused
    # token or an unreachable registry fails in a second, as the registry's own error.
    ids = ids or [client.current_organisation()["id"]]
    for organisation_id in ids:
        client.organisation(organisation_id)
    return ids


def _inject(node: nbformat.NotebookNode, parameters: _Parameters) -> None:
    # papermill's convention: a cell tagged "injected-parameters" right after the defaults;
    # a notebook without defaults (an analyst's own) gets it before its first code cell, so
    # it may use the names or not.
    tagged = [index + 1 for index, cell in enumerate(node.cells)
              if "parameters" in cell.metadata.get("tags", [])]
    code = [index for index, cell in enumerate(node.cells) if cell.cell_type == "code"]
    position = (tagged or code or [len(node.cells)])[0]
    cell = nbformat.v4.new_code_cell(parameters.source(),
                                     metadata={"tags": ["injected-parameters"]})
    node.cells.insert(position, cell)


def _without_widgets(node: nbformat.NotebookNode) -> None:
    """Take out widget views and the saved widget state: a report is a static page, where a
    view would need a kernel and a renderer fetched from a CDN. An explorer's static copy of
    its last state (a separate output) stays."""
    node.metadata.pop("widgets", None)
    for cell in node.cells:
        if "outputs" in cell:
            cell["outputs"] = [output for output in cell["outputs"]
                               if _WIDGET_VIEW not in output.get("data", {})]


def _check_period_parameters(node: nbformat.NotebookNode, period: Period | None) -> None:
    """A period given to a template that cannot take it is refused, not silently ignored."""
    if period is None or period.all_time:
        return
    cell = next((cell for cell in node.cells if "parameters" in cell.metadata.get("tags", [])),
                None)  # an analyst's notebook may have no parameters cell at all
    if cell is None or not re.search(r"^period_start\s*=", cell.source, re.MULTILINE):
        raise TemplateError("the report template's parameters cell sets no period_start, so "
                            f"it cannot report on the period {period.label}; leave out the "
                            "period (--period, --from, --to) or use a template with the "
                            f"parameters {', '.join(PERIOD_PARAMETERS)}")


def _inject_period(node: nbformat.NotebookNode, period: Period | None) -> None:
    # Only a report with a period sets them: the parameters of one without are as they were.
    if period is None or period.all_time:
        return
    cell = next(cell for cell in node.cells
                if "injected-parameters" in cell.metadata.get("tags", []))
    values = (*period.iso(), period.label)
    # repr() of str and None is a Python literal: no value can become code.
    cell.source += "".join(f"\n{name} = {value!r}"
                           for name, value in zip(PERIOD_PARAMETERS, values, strict=True))


@contextlib.contextmanager
def _progress_bar(node: nbformat.NotebookNode, progress: bool | None) -> Iterator[Any]:
    bar = progress_bar(sum(cell.cell_type == "code" for cell in node.cells), "report", "cell",
                       shown=progress)
    try:
        yield bar
    finally:
        bar.close()


def _sections(node: nbformat.NotebookNode) -> list[str | None]:
    """For each cell, the last markdown heading above it (the report section it is in)."""
    sections, current = [], None
    for cell in node.cells:
        if cell.cell_type == "markdown" and "remove-cell" not in cell.metadata.get("tags", []):
            headings = [line.lstrip("#").strip() for line in cell.source.splitlines()
                        if line.startswith("#")]
            current = headings[-1] if headings else current
        sections.append(current)
    return sections


def _quiet_log(name: str) -> logging.Logger:
    # nbclient and jupyter_client log to stderr through traitlets; what matters reaches the
    # user as a ReportError, so their own lines (half a story, on a Ctrl-C) stay out.
    log = logging.getLogger(f"isoanalytics.report.{name}")
    log.propagate = False
    if not log.handlers:
        log.addHandler(logging.NullHandler())
    return log


def _kernel_manager(folder: str) -> Any:
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    # The kernel is this interpreter's ipykernel: kernel_dirs=[] ignores any "python3" spec
    # installed elsewhere, which might point at a Python without isoanalytics. On POSIX it
    # talks over Unix sockets in a private folder, not TCP ports.
    options = ({"transport": "ipc", "ip": os.path.join(folder, "kernel")}
               if os.name == "posix" else {})
    return AsyncKernelManager(kernel_name="python3", log=_quiet_log("kernel"),
                              kernel_spec_manager=KernelSpecManager(kernel_dirs=[]), **options)


class _KernelRun:
    """nbclient's run of the notebook on an event loop of its own, in a worker thread.

    The main thread only waits, so Ctrl-C arrives there as a plain KeyboardInterrupt, never
    inside asyncio or zmq code; :meth:`stop` then cancels the run, and the worker shuts the
    kernel down and closes its loop before the interrupt goes on.
    """

    def __init__(self, runner: NotebookClient, kernel_log: Any) -> None:
        self.runner = runner
        self.kernel_log = kernel_log
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(self._exception)
        self.task: asyncio.Task[Any] | None = None
        self.error: BaseException | None = None
        self.stopping = False
        # Waiting is on an Event, never on Thread.join: a Ctrl-C that interrupts join() can
        # leave the thread marked as stopped while it still runs (Python 3.11, bpo-45274).
        self.started = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._work, name="isoanalytics-report-kernel",
                                       daemon=True)

    def _exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if not self.stopping:  # what is left of a cancelled run is not news
            loop.default_exception_handler(context)

    async def _main(self) -> None:
        km = self.runner.km
        try:
            await self.runner.async_execute(cleanup_kc=True, stdout=self.kernel_log,
                                            stderr=self.kernel_log)
        finally:
            # A cancel while the kernel was starting comes before nbclient's own clean-up
            # is armed: stop whatever was started here, and drop nbclient's atexit hook.
            atexit.unregister(self.runner._cleanup_kernel)
            if self.runner.kc is not None:
                self.runner.kc.stop_channels()  # synchronous in every jupyter_client 8
            if km is not None and km.has_kernel:
                with contextlib.suppress(Exception):
                    await ensure_async(km.shutdown_kernel(now=True))
            if km is not None:
                with contextlib.suppress(Exception):
                    await ensure_async(km.cleanup_resources())

    def _work(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.task = self.loop.create_task(self._main())
            self.started.set()
            self.loop.run_until_complete(self.task)
        except BaseException as error:  # noqa: BLE001 - handed to the main thread
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

    def run(self) -> None:
        self.thread.start()
        try:
            while not self.done.wait(0.25):  # bounded waits: Ctrl-C is seen at once
                pass
        except KeyboardInterrupt:
            self.stop()
            raise
        self.thread.join()
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        """Cancel the run and wait for the kernel to be shut down (a second Ctrl-C waits too)."""
        self.stopping = True
        self.runner.shutdown_kernel = "immediate"
        with _ignoring_interrupts():
            self.started.wait(30)
            if self.task is not None and not self.done.is_set():
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    self.loop.call_soon_threadsafe(self.task.cancel)
            self.done.wait(30)


@contextlib.contextmanager
def _ignoring_interrupts() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _execute(node: nbformat.NotebookNode, timeout: float, bar: Any) -> None:
    sections = _sections(node)

    def started(cell: Any, cell_index: int, **_: Any) -> None:
        bar.set_postfix_str(sections[cell_index] or "setting up", refresh=True)

    def executed(cell: Any, cell_index: int, **_: Any) -> None:
        bar.update(1)

    with tempfile.TemporaryDirectory(prefix="isoanalytics-report-") as folder, \
            open(os.path.join(folder, "kernel.log"), "wb") as kernel_log:
        # nbclient's timeout is whole seconds: round a fraction up, never down to 0.
        runner = NotebookClient(node, km=_kernel_manager(folder), timeout=math.ceil(timeout),
                                resources={"metadata": {"path": folder}},
                                log=_quiet_log("nbclient"),
                                on_cell_start=started, on_cell_executed=executed)
        bar.set_postfix_str("starting kernel")
        try:
            _KernelRun(runner, kernel_log).run()
        except CellExecutionError as error:
            # The error output the cell showed says more than the reply (a failing display
            # replies with no ename at all).
            _refuse_error_outputs(node)
            index = _failed_cell(node)
            section = sections[index] if index is not None else None
            where = f"in section {section!r}" if section else "while setting up"
            raise ReportError(f"the report failed {where}: {error.ename}: {error.evalue}",
                              error_name=error.ename, section=section, cell=index) from None
        except CellTimeoutError as error:
            raise ReportError(f"a report cell ran longer than {timeout:g} s ({error}); allow "
                              "more with --timeout SECONDS (timeout= in Python)",
                              error_name="CellTimeoutError") from None
        except DeadKernelError as error:
            said = _last_line(os.path.join(folder, "kernel.log"))
            said = f"; its last words: {said}" if said else ""
            raise ReportError(f"the report's Python kernel died ({error}{said}); if memory "
                              "ran out, report on fewer organisations at a time",
                              error_name="DeadKernelError") from None
        except RuntimeError as error:  # nbclient: the kernel did not start or answer
            said = _last_line(os.path.join(folder, "kernel.log"))
            raise ReportError(f"the report's Python kernel did not start ({_first_line(error)}"
                              f"{'; ' + said if said else ''})",
                              error_name="DeadKernelError") from None


def _last_line(path: str) -> str:
    with contextlib.suppress(OSError), open(path, "rb") as file:
        lines = file.read()[-4000:].decode("utf-8", "replace").strip().splitlines()
        return lines[-1][:300] if lines else ""
    return ""


def _refuse_error_outputs(node: nbformat.NotebookNode) -> None:
    """A cell that showed an error or printed a traceback failed, even if its kernel said "ok".

    IPython catches errors in display (a chart whose label fails in mathtext, a broken
    ``_repr_html_``) and shows their traceback as an output; a template may catch and print
    one, or tag a cell ``raises-exception``. Such a notebook is never exported. Other text on
    the error stream (a library's warning: a font cache being rebuilt, a deprecation) fails
    nothing, but is no part of a report: it is taken out and logged on the package's logger.
    """
    sections = _sections(node)
    failures, warned = [], []
    for index, cell in enumerate(node.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                what = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
                failures.append((0, index, what, output.get("ename")))
            elif _is_stderr(output):
                text = output.get("text", "")
                lines = [line for line in text.splitlines() if line.strip()]
                last = lines[-1][:300] if lines else ""
                if "Traceback (most recent call last)" in text:
                    failures.append((1, index, f"it wrote to its error stream: {last}", None))
                else:
                    warned.append((index, last))
    if failures:
        # An error the cell raised says more than a traceback it printed; the notebook is
        # left as it ran, for --notebook to keep.
        _, index, what, error_name = min(failures, key=lambda failure: failure[:2])
        section = sections[index]
        where = f"in section {section!r}" if section else "while setting up"
        raise ReportError(f"the report failed {where}: {what}",
                          error_name=error_name or "ReportError", section=section, cell=index)
    for index, line in warned:
        logger.warning("report section %r wrote to its error stream: %s",
                       sections[index] or "setup", line)
    for cell in node.cells:
        if "outputs" in cell:
            cell["outputs"] = [output for output in cell["outputs"] if not _is_stderr(output)]


def _is_stderr(output: dict) -> bool:
    return output.get("output_type") == "stream" and output.get("name") == "stderr"


def _failed_cell(node: nbformat.NotebookNode) -> int | None:
    for index, cell in enumerate(node.cells):
        if any(output.get("output_type") == "error" for output in cell.get("outputs", [])):
            return index
    return None


def _export(node: nbformat.NotebookNode, *, title: str, with_code: bool) -> str:
    exporter = HTMLExporter(
        # nbconvert's lab template, plus each picture's alt text and the report's stylesheet.
        extra_template_basedirs=[str(NBCONVERT_TEMPLATES)],
        template_name="isoanalytics",
        exclude_input=not with_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    exporter.require_js_url = exporter.mathjax_url = exporter.mermaid_js_url = _NO_SCRIPT
    exporter.mermaid_layout_elk_js_url = ""  # no layout plugin to fetch
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={"remove-cell"}),
                                   enabled=True)
    page, _ = exporter.from_notebook_node(node, resources={"metadata": {"name": title}})
    return page


def _write_atomically(files: dict[Path, bytes]) -> None:
    """Write each file to a temporary name in its folder, then rename them all over the targets.

    Readers see the old files or the whole new ones, never half of one; if any write fails
    (a full disk) no target is touched and no temporary file stays behind.
    """
    written: list[tuple[str, Path]] = []
    try:
        for path, data in files.items():
            try:
                handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                                     suffix=".part")
                written.append((temporary, path))
                with os.fdopen(handle, "wb") as file:
                    file.write(data)
                    file.flush()
                    os.fsync(file.fileno())
                # mkstemp makes the file private; a report is for sharing: keep the mode of
                # the file it replaces, else the usual rw-r--r--.
                mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644
                os.chmod(temporary, mode)
            except OSError as error:
                full = error.errno in (errno.ENOSPC, errno.EDQUOT)
                reason = ("the disk is full" if full else error.strerror or str(error))
                raise ReportWriteError(
                    f"could not write {str(path)!r}: {reason}; the previous file was left as it "
                    f"was. {'Free some space' if full else 'Check the folder'} or choose "
                    "another path", path=str(path), error_number=error.errno) from None
        for temporary, path in written:
            os.replace(temporary, path)
    except BaseException:
        for temporary, _ in written:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        raise
