"""Binder's set-up, rebuilt here: the Python repo2docker picks, then a fresh virtualenv of
exactly that Python from binder/ alone, then nbval.

repo2docker decides the interpreter from ``binder/`` only (with a ``binder/`` folder it never
reads ``pyproject.toml``), so the first test asks repo2docker itself, through its
``--no-build --debug`` output (no Docker needed), and checks the answer against
``requires-python``. The second builds what Binder would: that interpreter (a pyenv build, or
this one when it matches), ``pip install -r binder/requirements.txt`` from a copy of what a
clone holds, then the notebooks under nbval in strict mode, as the default run does.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from .conftest import REPO
from .test_notebooks import NOTEBOOKS

pytestmark = pytest.mark.binder

# What a clone holds that Binder uses; tests/ and the rest play no part in the image.
CLONED = ["isoanalytics", "notebooks", "binder", "pyproject.toml", "README.md", "conftest.py"]
# repo2docker's conda build pack logs this line before writing the Dockerfile.
BUILDS = re.compile(r"Building conda environment for python=(\d+\.\d+)")


def run(command: list[str], cwd, env=None, timeout: float = 900) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout, check=False)
    assert result.returncode == 0, (
        f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n"
        f"{result.stderr[-3000:]}")
    return result


def clone_of_repository(folder: Path) -> Path:
    """A copy of the files a clone holds that Binder reads, in ``folder/repo``."""
    clone = folder / "repo"
    clone.mkdir(parents=True)
    for name in CLONED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, clone / name,
                            ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        else:
            shutil.copy2(source, clone / name)
    return clone


def clean_environment() -> dict[str, str]:
    """No ISOMETRIC_* (Binder has no credentials), no virtualenv or path of ours leaking in."""
    return {name: value for name, value in os.environ.items()
            if not name.startswith(("ISOMETRIC_", "VIRTUAL_ENV", "PYTHON", "JUPYTER",
                                    "MPLBACKEND"))}


def repo2docker_python(clone: Path, workdir: Path) -> tuple[str, str]:
    """The X.Y repo2docker would build for ``clone``, and what it printed."""
    # The console script sits beside this interpreter when the test extra is installed.
    beside = Path(sys.executable).with_name("jupyter-repo2docker")
    program = str(beside) if beside.exists() else shutil.which("jupyter-repo2docker")
    if program is None:
        pytest.skip("jupyter-repo2docker is not installed (it is in the test extra: "
                    "pip install -e '.[test]')")
    # Its own working folder: repo2docker reads a repo2docker_config.py from the cwd.
    workdir.mkdir(exist_ok=True)
    result = run([program, "--no-build", "--debug", "--no-run", str(clone)], workdir,
                 env=clean_environment(), timeout=120)
    said = result.stdout + result.stderr
    found = BUILDS.search(said)
    assert found, f"repo2docker did not say which Python it builds:\n{said[-3000:]}"
    # Its log lines, not the Dockerfile it prints after them.
    log = [line for line in said.splitlines() if "python" in line.lower() and "ENV" not in line
           and "COPY" not in line and "RUN" not in line]
    return found.group(1), "\n".join(log[:5])


@pytest.fixture(scope="module")
def binder_clone(tmp_path_factory) -> Path:
    return clone_of_repository(tmp_path_factory.mktemp("binder"))


@pytest.fixture(scope="module")
def binder_python(binder_clone, tmp_path_factory) -> str:
    return repo2docker_python(binder_clone, tmp_path_factory.mktemp("repo2docker"))[0]


def requires_python() -> SpecifierSet:
    with open(REPO / "pyproject.toml", "rb") as file:
        return SpecifierSet(tomllib.load(file)["project"]["requires-python"])


def test_repo2docker_builds_a_python_the_package_allows(binder_clone, tmp_path):
    version, said = repo2docker_python(binder_clone, tmp_path)
    requires = requires_python()
    assert Version(version) in requires, (
        f"Binder would build Python {version}, but the package requires Python {requires}: "
        f"pin it in binder/runtime.txt. repo2docker said:\n{said}")
    # Chosen on purpose, not repo2docker's default that changes under us.
    assert "Python version unspecified" not in said


def interpreter(version: str) -> Path:
    """A Python ``version`` (X.Y) executable: a pyenv build, else this one when it matches.

    Skips the test, saying why, when neither exists.
    """
    candidates: list[Path] = []
    root = None
    if shutil.which("pyenv"):
        answer = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=False)
        root = Path(answer.stdout.strip()) if answer.returncode == 0 else None
    root = root or Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    builds = sorted((path for path in (root / "versions").glob(f"{version}.*")
                     if re.fullmatch(rf"{re.escape(version)}\.\d+", path.name)),
                    key=lambda path: Version(path.name), reverse=True)  # newest patch first
    candidates += [path / "bin" / f"python{version}" for path in builds]
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        # A virtualenv's python is a link to its base; a venv can be made from either.
        candidates.append(Path(getattr(sys, "_base_executable", sys.executable)))
    for candidate in candidates:
        if candidate.exists():
            answer = subprocess.run(
                [str(candidate), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True, text=True, check=False)
            if answer.stdout.strip() == version:
                return candidate
    pytest.skip(f"Binder builds Python {version}, which is not on this machine (no pyenv "
                f"build under {root / 'versions'}, and pytest runs on "
                f"{sys.version_info.major}.{sys.version_info.minor}): "
                f"`pyenv install {version}` to run this test")


def test_a_fresh_binder_environment_of_that_python_runs_every_notebook(
        binder_python, binder_clone, tmp_path):
    if Version(binder_python) not in requires_python():
        # pip would backtrack for many minutes there before failing (seen: over 4 minutes)
        pytest.fail(f"Binder would build Python {binder_python}, where the package cannot be "
                    f"installed (requires-python {requires_python()}); see "
                    "test_repo2docker_builds_a_python_the_package_allows")
    python_x_y = interpreter(binder_python)
    env = clean_environment()
    venv = tmp_path / "venv"
    run([str(python_x_y), "-m", "venv", str(venv)], binder_clone, env)
    python = str(venv / "bin" / "python")
    built = run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                binder_clone, env).stdout.strip()
    assert built == binder_python
    # Binder installs binder/requirements.txt alone; nbval is our addition, to check the result.
    run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", "binder/requirements.txt", "nbval"], binder_clone, env)

    extensions = run([python, "-m", "jupyter", "server", "extension", "list"], binder_clone, env)
    listing = extensions.stdout + extensions.stderr
    # JupyterLab, and the Voila link
    assert "jupyterlab" in listing and "voila.server_extension" in listing

    result = run([python, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=", "-q",
                  "--nbval", "--nbval-current-env",
                  "--nbval-sanitize-with", "notebooks/sanitize.cfg", "notebooks"],
                 binder_clone, env)
    notebooks = sorted(path.name for path in (REPO / "notebooks").glob("*.ipynb"))
    assert notebooks == sorted(NOTEBOOKS)  # every one of them ran
    assert " passed" in result.stdout and "failed" not in result.stdout
