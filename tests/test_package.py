"""The package's face: every public name resolves, and importing it loads nothing heavy."""

from __future__ import annotations

import subprocess
import sys

import isoanalytics


def fresh(code: str) -> str:
    """What ``code`` prints in a new interpreter (nothing imported before it)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120).stdout.strip()


def test_every_public_name_resolves_and_is_listed_by_dir():
    for name in isoanalytics.__all__:
        assert getattr(isoanalytics, name) is not None, name
    assert set(isoanalytics.__all__) <= set(dir(isoanalytics))


def test_import_loads_neither_pandas_nor_httpx():
    heavy = ("pandas", "numpy", "httpx", "matplotlib", "ipywidgets", "nbclient")
    assert fresh("import sys, isoanalytics; "
                 f"print([m for m in {heavy!r} if m in sys.modules])") == "[]"


# What a client and a parser never need: charts, widgets, notebooks, progress bars, schemas.
HEAVY = ("matplotlib", "ipywidgets", "IPython", "nbclient", "nbconvert", "nbformat", "tqdm",
         "jsonschema", "scipy")


def test_import_loads_nothing_heavy():
    loaded = fresh("import sys, isoanalytics; "
                   f"print([m for m in {HEAVY + ('pandas', 'numpy', 'httpx')!r} "
                   "if m in sys.modules])")
    assert loaded == "[]"


def test_a_client_and_a_parser_in_use_load_nothing_heavy():
    # The first real use: a client that reads a balance, a body parsed to a tidy frame.
    code = (
        "import sys\n"
        "from isoanalytics import RegistryClient, demo, parse_balance\n"
        "with RegistryClient.demo() as client:\n"
        "    held = client.credit_balance(demo.DEFAULT_ORGANISATION_ID)\n"
        "frame = parse_balance(held.to_dict()).to_frame()\n"
        "assert len(frame) and held.total_kgs > 0\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    assert fresh(code) == "[]"


def test_the_command_line_module_loads_nothing_heavy_until_it_runs():
    # Ctrl-C while the entry point is being imported could only end in a traceback: that
    # window is kept to the standard library's import time.
    assert fresh("import sys, isoanalytics.cli; "
                 "print([m for m in ('pandas', 'httpx', 'nbclient') if m in sys.modules])") \
        == "[]"


def test_a_function_named_like_its_module_stays_the_function():
    # Importing a submodule sets the package attribute of that name; enrich the function
    # must not be replaced by a module of the same name, whatever was imported first.
    assert fresh("import isoanalytics.widgets, isoanalytics; "
                 "print(callable(isoanalytics.enrich), type(isoanalytics.enrich).__name__)") \
        == "True function"


def test_unknown_names_are_attribute_errors():
    try:
        isoanalytics.no_such_name  # noqa: B018
    except AttributeError as error:
        assert "no_such_name" in str(error)
    else:
        raise AssertionError("no AttributeError")


def test_what_type_checkers_see_is_what_loads():
    # __init__ lists each name three times (for type checkers, for loading, in __all__):
    # they must agree, or an editor would offer a name that does not load.
    import ast
    from pathlib import Path

    tree = ast.parse(Path(isoanalytics.__file__).read_text())
    guarded = next(node for node in tree.body if isinstance(node, ast.If))
    seen = {alias.asname or alias.name for node in guarded.body
            for alias in node.names}
    loaded = {name for names in isoanalytics._HOMES.values() for name in names} | {"demo"}
    assert seen == loaded == set(isoanalytics.__all__) - {"__version__"}
