"""Re-execute the notebooks for committing: a fresh kernel each, top to bottom, on the demo.

Run ``python -m tests.execute_notebooks`` after editing a notebook or changing what it shows;
nbval (in the default test run) then compares against these outputs. The kernel gets no
ISOMETRIC_* variables (the committed outputs are the demo's) and no MPLBACKEND (each notebook
sets ``%matplotlib inline``). Per-cell execution timestamps are dropped: they change on every
run and would make every re-execution a diff.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def execute(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(notebook, path)


def main(names: list[str]) -> None:
    for name in [n for n in os.environ if n.startswith("ISOMETRIC_") or n == "MPLBACKEND"]:
        del os.environ[name]
    paths = [NOTEBOOKS / name for name in names] or sorted(NOTEBOOKS.glob("*.ipynb"))
    for path in paths:
        print(f"executing {path.name}")
        execute(path)


if __name__ == "__main__":
    main(sys.argv[1:])
