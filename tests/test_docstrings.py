"""Every public name has a docstring with an example, and a place in the API reference.

The examples run as doctests (``--doctest-modules``); this test checks that they exist. Constants
(``COLUMNS``, ``DIMENSIONS``, ``__version__``, ``demo.AS_OF``...) are exempt from the example,
not from the reference: a tuple, a string or a path has no docstring of its own
(``inspect.getdoc`` would return its type's), so the API pages say what each holds. Exception
classes show when they are raised (on the demo registry where it can raise them) or what to
catch them as, in a docstring of their own.
"""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

import isoanalytics

from .conftest import REPO

API = REPO / "docs" / "api"
SUBMODULES = ("plots", "widgets", "report", "tables", "demo", "ids")
EXAMPLES = re.compile(r"^Examples\n--------\n(?:.*\n)*?>>> ", re.MULTILINE)


def _public() -> list[tuple[str, str]]:
    names = [("isoanalytics", name) for name in isoanalytics.__all__]
    for module in SUBMODULES:
        names += [(f"isoanalytics.{module}", name)
                  for name in importlib.import_module(f"isoanalytics.{module}").__all__]
    return names


PUBLIC = _public()


def _kind(obj: object) -> str:
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return "exception"
    if inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj):
        return "documented"
    return "constant"


def test_every_submodule_named_here_is_public():
    # A new public module must join SUBMODULES (and the API reference) to be checked.
    assert set(SUBMODULES) >= set(isoanalytics._SUBMODULES)


@pytest.mark.parametrize(("module", "name"), PUBLIC, ids=[f"{m}.{n}" for m, n in PUBLIC])
def test_public_name_has_a_docstring_with_an_example(module, name):
    obj = getattr(importlib.import_module(module), name)
    kind = _kind(obj)
    if kind == "constant":
        return  # the API page describes it (next test)
    if kind == "exception":
        # Its own docstring (an inherited one would say when the parent is raised).
        own = vars(obj).get("__doc__")
        assert own and own.strip(), f"{module}.{name} has no docstring of its own"
    doc = inspect.getdoc(obj) or ""
    assert EXAMPLES.search(doc + "\n"), (
        f"{module}.{name}: its docstring has no 'Examples' section with a >>> example")


@pytest.mark.parametrize(("module", "name"), PUBLIC, ids=[f"{m}.{n}" for m, n in PUBLIC])
def test_public_name_is_in_the_api_reference(module, name):
    obj = getattr(importlib.import_module(module), name)
    if inspect.ismodule(obj):  # isoanalytics.demo: a page of its own
        page, directive = API / f"{obj.__name__.rsplit('.', 1)[-1]}.rst", "automodule"
        name = obj.__name__
    else:
        page = API / f"{module.rsplit('.', 1)[-1]}.rst"
        directive = {"exception": "autoexception", "constant": "autodata"}.get(
            _kind(obj), "autoclass" if inspect.isclass(obj) else "autofunction")
    text = page.read_text()
    assert f".. currentmodule:: {module}\n" in text or inspect.ismodule(obj)
    assert re.search(rf"^\.\. {directive}:: {re.escape(name)}$", text, re.MULTILINE), (
        f"{module}.{name} is not documented in {page.relative_to(REPO)} "
        f"(expected '.. {directive}:: {name}')")
