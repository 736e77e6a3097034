"""The portfolio explorer in JupyterLab 4 and in Notebook 7, driven by Chromium.

Each front end serves a temporary copy of ``notebooks/`` (the committed notebook is never run
or saved over) on the demo registry. The test opens the explorer notebook, runs all cells from
the Run menu, waits until every cell has run and the kernel is idle, then changes the dimension
to "Country": the chart image and the table must both change, with no console or page errors
(other than failed requests to external hosts and the known errors listed below). A screenshot
of each front end is kept in ``tests/artifacts/browser/``. Skips when Chromium, Playwright,
JupyterLab or Notebook 7 is missing; fails when the notebook is missing.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from .browser import (
    ARTIFACTS,
    TIMEOUT_S,
    BrowserErrors,
    JupyterServer,
    KnownError,
    chromium_page,
    jupyter_server,
    require_chromium,
    screenshot,
)
from .test_browser import CHART, DIMENSION, EXPLORER, TABLE, state, wait_for_change

pytestmark = pytest.mark.browser

SCREENSHOTS = ARTIFACTS / "browser"

# Notebook 7 only, on every page load here, before any kernel starts: its keyboard-shortcuts
# plugin handles another plugin's settings being loaded before its own settings are there, and
# reads `registry.plugins[shortcuts.id].schema` of undefined (an unhandled rejection). Open
# upstream as jupyter/notebook#7862 ("can't access property "schema",
# registry.plugins[shortcuts.id] is undefined", a race in the setting registry's load); nothing
# of ours is involved. Matched by its exact message, thrown from Notebook's own bundle inside
# the setting registry's load; any other error still fails the test.
NOTEBOOK_SHORTCUTS_RACE = KnownError(
    pattern=(r"\Apage error: Cannot read properties of undefined \(reading 'schema'\)\n"
             r"TypeError: [^\n]*\n\s+at [^\n]*/static/notebook/notebook_core\.[0-9a-f]+\.js"
             r".*\.emit \(.*\.load \("),
    reason="Notebook 7's shortcuts plugin races the setting registry (jupyter/notebook#7862)")


@dataclass(frozen=True)
class FrontEnd:
    app: str  # for jupyter_server: "lab" or "notebook"
    picture: str  # the screenshot's file name
    known_errors: tuple[KnownError, ...] = ()


FRONT_ENDS = [
    pytest.param(FrontEnd("lab", "jupyterlab-explorer.png"), id="jupyterlab"),
    pytest.param(FrontEnd("notebook", "notebook7-explorer.png", (NOTEBOOK_SHORTCUTS_RACE,)),
                 id="notebook7"),
]

# Both front ends are built from JupyterLab's components: the same class names.
MENU_BAR_ITEM = ".lm-MenuBar-itemLabel"  # File, Edit, View, Run, Kernel, ...
RUN_ALL = '.lm-Menu-item[data-command="runmenu:run-all"]'  # Run > Run All Cells
KERNEL_NAME = ".jp-KernelName"  # "No Kernel" until the session has a kernel
STATIC_SHOWN_JS = """() => Array.from(document.querySelectorAll('.isoanalytics-static'),
    element => element.getBoundingClientRect().height > 0)"""

# Marks explorer charts already on the page before Run All (saved widget views, should a front
# end ever restore them): only a chart made by this run counts, and none may be left over.
MARK_STALE_JS = f"""() => document.querySelectorAll({CHART!r})
    .forEach(img => img.setAttribute('data-test-stale', ''))"""
# What the notebook shows: code cell prompts ("[3]:", "[*]:" while queued or running, "[ ]:"
# before running), the explorer's charts (fresh and stale), stderr outputs (tracebacks too).
NOTEBOOK_JS = f"""() => {{
    const fresh = Array.from(document.querySelectorAll({CHART!r} + ':not([data-test-stale])'));
    const table = document.querySelector({TABLE!r} + ' table');
    return {{
        prompts: Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputPrompt'),
                            prompt => prompt.textContent.trim()),
        fresh: fresh.length,
        stale: document.querySelectorAll({CHART!r} + '[data-test-stale]').length,
        loaded: fresh.length === 1 && fresh[0].complete && fresh[0].naturalWidth > 0,
        heading: table ? (table.querySelector('th')?.textContent || '').trim() : '',
        stderr: Array.from(document.querySelectorAll(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'),
            output => output.textContent.slice(0, 2000)),
    }};
}}"""
SCROLL_TO_TOP_JS = """() => document.querySelectorAll('*').forEach(element => {
    if (element.scrollTop > 0) element.scrollTop = 0;
})"""


def require_front_end(app: str) -> None:
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if app == "lab":
        pytest.importorskip("jupyterlab", reason="jupyterlab is not installed")
    else:
        pytest.importorskip("notebook", reason="notebook (Notebook 7) is not installed")
        import notebook
        if int(notebook.__version__.split(".")[0]) < 7:
            pytest.skip(f"notebook {notebook.__version__} is installed, not Notebook 7")
    require_chromium()


def diagnosis(page, server: JupyterServer, errors: BrowserErrors) -> str:
    """What the page and the server show, for a failure message."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        shown = page.evaluate(NOTEBOOK_JS)
    except PlaywrightError as error:  # the page may be gone
        shown = f"(page not readable: {error})"
    try:
        kernels = server.kernels()
    except OSError as error:
        kernels = f"(REST API not readable: {error})"
    return (f"notebook: {shown}\nkernels: {kernels}\n{errors}\n"
            f"server log:\n{server.log_tail()}")


def poll(page, server: JupyterServer, errors: BrowserErrors, what: str, ready,
         timeout_s: float = TIMEOUT_S):
    """Call ``ready()`` every 100 ms until it returns something true, and return that; fail on
    a console or page error, or after ``timeout_s``, saying what the page showed."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = ready()
        if result:
            return result
        assert not errors, f"while waiting for {what}:\n{diagnosis(page, server, errors)}"
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout_s:.0f} s\n{diagnosis(page, server, errors)}")
        page.wait_for_timeout(100)


def kernel_idle(server: JupyterServer, *, connected: bool = False) -> bool:
    """The server runs one kernel, idle (and with a front end connected, if asked)."""
    kernels = server.kernels()
    return (len(kernels) == 1 and kernels[0]["execution_state"] == "idle"
            and (not connected or kernels[0]["connections"] > 0))


def run_all(page, server: JupyterServer, errors: BrowserErrors) -> dict:
    """Wait for the kernel, click Run > Run All Cells, and wait until every code cell has run,
    the kernel is idle and the explorer this run made shows its chart and table. Returns
    what the notebook then shows."""

    def kernel_ready() -> bool:
        names = page.locator(KERNEL_NAME).all_inner_texts()
        return (bool(names) and "No Kernel" not in names
                and kernel_idle(server, connected=True))

    poll(page, server, errors, "the notebook's kernel to start and connect", kernel_ready)
    page.evaluate(MARK_STALE_JS)
    page.locator(MENU_BAR_ITEM, has_text=re.compile(r"^Run$")).click()
    page.locator(RUN_ALL).click()

    def finished() -> dict | None:
        shown = page.evaluate(NOTEBOOK_JS)
        done = (shown["prompts"]
                and all(prompt[1:-2].isdigit() for prompt in shown["prompts"])  # "[12]:"
                and shown["fresh"] == 1 and shown["loaded"] and shown["heading"]
                and shown["stale"] == 0)
        return shown if done and kernel_idle(server) else None

    shown = poll(page, server, errors, "all cells to run and the explorer to render", finished)
    assert not shown["stderr"], "cells wrote to stderr:\n" + "\n".join(shown["stderr"])
    return shown


def settled_state(page, server: JupyterServer, errors: BrowserErrors) -> dict:
    """The chart and table once they stop changing (two polls 100 ms apart agree): the
    widgets' last updates from the notebook's final cells may land just after the kernel is
    idle."""
    last: list[dict] = [{}]

    def settled() -> dict | None:
        now = state(page)
        stable = now == last[0] and now["loaded"]
        last[0] = now
        return now if stable else None

    return poll(page, server, errors, "the explorer to settle", settled)


def exercise(front_end: FrontEnd, root: Path) -> dict[str, float]:
    """Open the explorer notebook, run it, choose the "Country" dimension; the chart and the
    table must change. Returns cumulative timings in seconds."""
    timings: dict[str, float] = {}
    start = time.monotonic()
    with jupyter_server(front_end.app, root) as server, \
            chromium_page(known_errors=front_end.known_errors) as (page, errors):
        timings["server up"] = time.monotonic() - start
        try:
            page.goto(server.notebook_url(EXPLORER.name), wait_until="domcontentloaded")
            shown = run_all(page, server, errors)
            timings["ran"] = time.monotonic() - start
            # The notebook's last cell sets the dimension back to "supplier".
            assert shown["heading"] == "Supplier", shown

            before = settled_state(page, server, errors)
            dimension = page.locator(DIMENSION)
            dimension.scroll_into_view_if_needed()
            labels = dimension.locator("option").all_inner_texts()
            assert {"Supplier", "Project", "Pathway", "Country"} <= set(labels), labels
            dimension.select_option(label="Country")
            wait_for_change(page, before, "choosing the dimension 'Country'", server, errors)
            poll(page, server, errors, "the table's heading to read 'Country'",
                 lambda: page.evaluate(NOTEBOOK_JS)["heading"] == "Country")
            timings["dimension"] = time.monotonic() - start
            # The explorer's static copy (for exported pages) is there, hidden by its own
            # style rule, since the widgets render here.
            assert page.evaluate(STATIC_SHOWN_JS) == [False], "the static copy shows"
            assert not errors, f"{errors}\nserver log:\n{server.log_tail()}"
        finally:  # also after a failure: the screenshot shows what the page showed
            page.evaluate(SCROLL_TO_TOP_JS)
            screenshot(page, SCREENSHOTS / front_end.picture)
    timings["total"] = time.monotonic() - start
    return timings


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_explorer_runs_and_follows_the_dimension(front_end: FrontEnd, tmp_path: Path):
    require_front_end(front_end.app)
    # A missing notebook is a failure, not a skip: this test exists to check it.
    assert EXPLORER.is_file(), f"the explorer notebook is missing: {EXPLORER}"
    root = tmp_path / "notebooks"
    shutil.copytree(EXPLORER.parent, root,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    timings = exercise(front_end, root)
    print(f"{front_end.app}: " + ", ".join(f"{name} {seconds:.1f} s"
                                          for name, seconds in timings.items()))
