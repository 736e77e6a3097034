"""HTML reports: run the report notebook with parameters and export it as one self-contained file.

:func:`build` (and ``isoanalytics report``) checks what it can before starting a kernel (the
output directory, the template, the credentials, that each organisation exists), runs the
template in a fresh Python kernel of this interpreter with nbclient, and exports it with
nbconvert: figures embedded as PNG, code hidden unless asked for, and no script or stylesheet
fetched from the internet, so the file opens offline in any browser. It is written to a
temporary name beside the output and renamed, so a failure never leaves a half-written report.

The template ships in the package (``isoanalytics/templates/report.ipynb``); in the repository,
``notebooks/04-report.ipynb`` is a link to that same file, for readers.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor

from . import errors
from ._plans import organisation_path
from .client import RegistryClient
from .fetch import _interactive

__all__ = ["DEFAULT_TITLE", "TEMPLATE", "ReportError", "TemplateError", "build"]

TEMPLATE = Path(str(files("isoanalytics") / "templates" / "report.ipynb"))
DEFAULT_TITLE = "Carbon-removal credit holdings"
# nbconvert's lab template would fetch require.js, MathJax and mermaid from CDNs: offline that
# is console errors and a slow page. The report uses none of them.
_NO_SCRIPT = "data:text/javascript,"


class TemplateError(Exception):
    """The report template is missing, is not a notebook, or has no ``parameters`` cell."""


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
) -> Path:
    """Build the HTML report of one organisation or a portfolio; returns the file's path.

    Parameters
    ----------
    organisation_ids : str, list of str or None
        The organisations to report on; several give a portfolio section. None: the access
        token's own organisation (with ``demo=True``, the demo's default buyer).
    output : path
        The HTML file to write (replaced if it exists). Its directory must exist.
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
        Another report notebook to run; it needs a cell tagged ``parameters``.
    notebook : path or None
        Also save the executed notebook there.
    progress : bool or None
        Show a progress bar; None: only in a terminal or a notebook.
    timeout : float
        Seconds any one cell may run.

    Raises
    ------
    TemplateError
        The template is missing, unreadable or has no ``parameters`` cell.
    MissingCredentialsError, NotFoundError, RegistryError
        Found before the kernel starts: credentials, an unknown organisation, an unreachable
        registry.
    ReportError
        A cell failed while the report ran; ``registry_error`` is the registry error's class
        when that is what the cell raised.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from isoanalytics import report
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = report.build(output=pathlib.Path(folder) / "report.html", demo=True)
    ...     "<b>DEMO DATA</b>" in path.read_text()
    True
    """
    ids = _organisation_ids(organisation_ids)
    output = _output_path(output, "output")
    saved_notebook = None if notebook is None else _output_path(notebook, "notebook")
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a positive integer; got {top!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds; got {timeout!r}")
    title = DEFAULT_TITLE if title is None else title
    if not isinstance(title, str) or not title.strip():
        raise ValueError(f"title must be a non-empty string; got {title!r}")
    if demo and environment:
        raise ValueError("environment chooses a live registry; leave it out with demo=True")
    notebook_node = _read_template(Path(template) if template is not None else TEMPLATE)
    with RegistryClient.demo() if demo else RegistryClient(environment) as client:
        ids = _checked_organisations(client, ids)
        parameters = _Parameters(ids, client.environment, title.strip(), top)
    _inject(notebook_node, parameters)
    with _progress_bar(notebook_node, progress) as bar:
        try:
            _execute(notebook_node, timeout, bar)
        except ReportError as error:
            raise _with_notebook(error, notebook_node, saved_notebook) from None
        bar.set_postfix_str("exporting HTML")
        page = _export(notebook_node, title=parameters.title, with_code=with_code)
        _write_atomically(output, page.encode("utf-8"))
        if saved_notebook is not None:
            _write_atomically(saved_notebook, nbformat.writes(notebook_node).encode("utf-8"))
    return output


def _with_notebook(error: ReportError, node: nbformat.NotebookNode,
                   saved_notebook: Path | None) -> ReportError:
    """The error, saying where to find the notebook as far as it ran (its traceback in it)."""
    if saved_notebook is not None:
        _write_atomically(saved_notebook, nbformat.writes(node).encode("utf-8"))
        hint = f"the notebook as far as it ran, traceback included, is in {str(saved_notebook)!r}"
    else:
        hint = ("to see the notebook as far as it ran, traceback included, pass "
                "--notebook FILE (notebook= in Python)")
    return ReportError(f"{error}; {hint}", error_name=error.error_name, section=error.section,
                       cell=error.cell)


def _organisation_ids(organisation_ids: str | Iterable[str] | None) -> list[str]:
    if organisation_ids is None:
        return []
    ids = [organisation_ids] if isinstance(organisation_ids, str) else list(organisation_ids)
    for organisation_id in ids:
        organisation_path(organisation_id)  # a malformed id is refused here, with its reason
    return list(dict.fromkeys(ids))  # an organisation named twice is reported once


def _output_path(path: str | os.PathLike[str], what: str) -> Path:
    path = Path(path).expanduser()
    if path.is_dir():
        raise IsADirectoryError(f"{what} {str(path)!r} is a directory; name a file in it, "
                                f"e.g. {str(path / 'report.html')!r}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{what} {str(path)!r}: the directory {str(path.parent)!r} "
                                "does not exist; create it or choose another path")
    return path


def _read_template(path: Path) -> nbformat.NotebookNode:
    where = f"report template {str(path)!r}"
    try:
        node = nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise TemplateError(f"{where} does not exist. The template ships inside the package: "
                            "reinstall isoanalytics, or pass the path of a report notebook"
                            ) from None
    except (OSError, ValueError) as error:  # unreadable, or not notebook JSON
        raise TemplateError(f"{where} is not a readable notebook: {error}") from None
    tagged = [cell for cell in node.cells if "parameters" in cell.metadata.get("tags", [])]
    if len(tagged) != 1:
        raise TemplateError(f"{where} needs exactly one code cell tagged 'parameters' (where "
                            f"the report's parameters are set); it has {len(tagged)}")
    return node


def _checked_organisations(client: RegistryClient, ids: list[str]) -> list[str]:
    # Each organisation is read once here, before a kernel starts: an unknown id, a refused
    # token or an unreachable registry fails in a second, as the registry's own error.
    ids = ids or [client.current_organisation()["id"]]
    for organisation_id in ids:
        client.organisation(organisation_id)
    return ids


def _inject(node: nbformat.NotebookNode, parameters: _Parameters) -> None:
    # papermill's convention: a cell tagged "injected-parameters" right after the defaults.
    position = next(index for index, cell in enumerate(node.cells)
                    if "parameters" in cell.metadata.get("tags", []))
    cell = nbformat.v4.new_code_cell(parameters.source(),
                                     metadata={"tags": ["injected-parameters"]})
    node.cells.insert(position + 1, cell)


@contextlib.contextmanager
def _progress_bar(node: nbformat.NotebookNode, progress: bool | None) -> Iterator[Any]:
    from tqdm.auto import tqdm

    bar = tqdm(total=sum(cell.cell_type == "code" for cell in node.cells), desc="report",
               unit="cell", leave=False,
               disable=not (_interactive() if progress is None else progress))
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


def _kernel_manager(folder: str) -> Any:
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    # The kernel is this interpreter's ipykernel: kernel_dirs=[] ignores any "python3" spec
    # installed elsewhere, which might point at a Python without isoanalytics. On POSIX it
    # talks over Unix sockets in a private folder, not TCP ports.
    options = ({"transport": "ipc", "ip": os.path.join(folder, "kernel")}
               if os.name == "posix" else {})
    return AsyncKernelManager(kernel_name="python3",
                              kernel_spec_manager=KernelSpecManager(kernel_dirs=[]), **options)


def _execute(node: nbformat.NotebookNode, timeout: float, bar: Any) -> None:
    sections = _sections(node)

    def started(cell: Any, cell_index: int, **_: Any) -> None:
        bar.set_postfix_str(sections[cell_index] or "setting up", refresh=True)

    def executed(cell: Any, cell_index: int, **_: Any) -> None:
        bar.update(1)

    with tempfile.TemporaryDirectory(prefix="isoanalytics-report-") as folder:
        runner = NotebookClient(node, km=_kernel_manager(folder), timeout=timeout,
                                resources={"metadata": {"path": folder}},
                                on_cell_start=started, on_cell_executed=executed)
        bar.set_postfix_str("starting kernel")
        try:
            runner.execute(cleanup_kc=True)  # stop the kernel we made, even on failure
        except CellExecutionError as error:
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
            raise ReportError(f"the report's Python kernel died ({error}); if memory ran "
                              "out, report on fewer organisations at a time",
                              error_name="DeadKernelError") from None


def _failed_cell(node: nbformat.NotebookNode) -> int | None:
    for index, cell in enumerate(node.cells):
        if any(output.get("output_type") == "error" for output in cell.get("outputs", [])):
            return index
    return None


def _export(node: nbformat.NotebookNode, *, title: str, with_code: bool) -> str:
    exporter = HTMLExporter(
        template_name="lab",
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


def _write_atomically(path: Path, data: bytes) -> None:
    # A temporary file in the same folder, renamed over the target: readers see the old file
    # or the whole new one, never half of it.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        # mkstemp makes the file private; a report is for sharing: keep the mode of the file
        # it replaces, else the usual rw-r--r--.
        mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
