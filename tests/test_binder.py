"""Binder's set-up, rebuilt here: a fresh virtualenv from binder/ alone, then nbval.

repo2docker installs ``binder/requirements.txt`` from the repository root into a clean
environment; this does the same with pip (no conda file, so no conda needed) in a copy of the
files a clone would hold, and runs the notebooks strictly, as the default run does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from .conftest import REPO

pytestmark = pytest.mark.binder

# What a clone holds that Binder uses; tests/ and the rest play no part in the image.
CLONED = ["isoanalytics", "notebooks", "binder", "pyproject.toml", "README.md", "conftest.py"]


def run(command: list[str], cwd, env) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=900, check=False)
    assert result.returncode == 0, (
        f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n"
        f"{result.stderr[-3000:]}")
    return result


def test_a_fresh_binder_environment_runs_every_notebook(tmp_path):
    clone = tmp_path / "repo"
    for name in CLONED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, clone / name,
                            ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        else:
            clone.mkdir(exist_ok=True)
            shutil.copy2(source, clone / name)
    # No ISOMETRIC_* (Binder has no credentials), no virtualenv or path of ours leaking in.
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("ISOMETRIC_", "VIRTUAL_ENV", "PYTHON", "JUPYTER", "MPLBACKEND"))}
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], clone, env)
    python = str(venv / "bin" / "python")
    # Binder installs binder/requirements.txt alone; nbval is our addition, to check the result.
    run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", "binder/requirements.txt", "nbval"], clone, env)

    extensions = run([python, "-m", "jupyter", "server", "extension", "list"], clone, env)
    listing = extensions.stdout + extensions.stderr
    assert "jupyterlab" in listing and "voila.server_extension" in listing  # lab, and the Voila link

    result = run([python, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=", "-q",
                  "--nbval", "--nbval-current-env",
                  "--nbval-sanitize-with", "notebooks/sanitize.cfg", "notebooks"], clone, env)
    notebooks = len(list((REPO / "notebooks").glob("*.ipynb")))
    assert notebooks == 4
    assert " passed" in result.stdout and "failed" not in result.stdout
