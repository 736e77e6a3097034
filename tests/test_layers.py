"""The package's import graph runs one way by layer, and no module reaches into another's privates.

Read from the source's syntax trees, so every import counts: at the top of a module, inside a
function (the lazy ones), and under ``if TYPE_CHECKING:``. The layers, bottom up:

- bottom: ``errors``, ``ids``, ``_format``, ``_environment``, ``_version``, ``_options``,
  ``_progress`` (imports only each other);
- ``records`` and, beside it, ``demo``: each imports only the bottom (and itself);
- ``registry`` and ``analysis``: the records and the bottom, never each other; of the registry
  only ``registry.client`` may import the demo, to hand the client the demo's transport and
  credentials (the HTTP layer knows no demo);
- ``present``: the registry, the analysis and below;
- ``cli``: everything below it; the package's ``__init__``, ``__main__`` and the public shims
  (``isoanalytics.plots``, ``.tables``, ``.widgets``, ``.report``) sit on top, and nothing
  inside the package imports them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "isoanalytics"

BOTTOM = frozenset({"errors", "ids", "_format", "_environment", "_version", "_options",
                    "_progress"})
# What each layer may import (its own layer included).
ALLOWED = {
    "bottom": {"bottom"},
    "records": {"bottom", "records"},
    "demo": {"bottom", "demo"},
    "registry": {"bottom", "records", "registry", "demo"},  # the demo: see DEMO_IMPORTERS
    "analysis": {"bottom", "records", "analysis"},
    "present": {"bottom", "records", "registry", "analysis", "present"},
    "cli": {"bottom", "records", "demo", "registry", "analysis", "present", "cli"},
    "top": {"bottom", "records", "demo", "registry", "analysis", "present", "cli", "top"},
}
# The one registry module that may import the demo, and why.
DEMO_IMPORTERS = {"isoanalytics.registry.client": "it hands the client the demo's transport "
                                                  "and credentials"}
# Private names a module may still take from another, while a rewrite is under way: (importer,
# imported name). Each entry must still be in use (a stale one fails the test), so the set only
# shrinks; it is empty since records/ was rebuilt on declared schemas.
PENDING_PRIVATE_IMPORTS: set[tuple[str, str]] = set()
TOP = frozenset({"isoanalytics", "isoanalytics.__main__", "isoanalytics.plots",
                 "isoanalytics.tables", "isoanalytics.widgets", "isoanalytics.report"})


def layer(module: str) -> str:
    """The layer of a module of the package, by its dotted name."""
    if module in TOP:
        return "top"
    part = module.split(".")[1]
    if part in BOTTOM:
        return "bottom"
    if part in ("records", "demo", "registry", "analysis", "present", "cli"):
        return part
    raise AssertionError(f"{module} belongs to no layer: add it to tests/test_layers.py")


@dataclass(frozen=True)
class Source:
    """One module of the package: its dotted name, file and syntax tree."""

    name: str
    path: Path
    tree: ast.Module
    root: Path = PACKAGE.parent  # what locations are given relative to

    @property
    def package(self) -> str:
        """What a relative import of level 1 starts from."""
        return self.name if self.path.name == "__init__.py" else self.name.rpartition(".")[0]

    def where(self, node: ast.AST) -> str:
        return f"{self.path.relative_to(self.root)}:{getattr(node, 'lineno', '?')}"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources(package: Path = PACKAGE) -> list[Source]:
    """Every module of the package in the folder ``package``, parsed."""
    root = package.parent
    return [Source(module_name(path, root), path, ast.parse(path.read_text(), str(path)), root)
            for path in sorted(package.rglob("*.py"))]


MODULES = {source.name for source in sources()}


def is_module(name: str, modules: set[str]) -> bool:
    return name in modules


@dataclass(frozen=True)
class Edge:
    """One import in the package: who imports what (a module of the package), and where."""

    importer: str
    imported: str
    names: tuple[str, ...]  # the names taken from it (``from X import a, b``); () for ``import X``
    where: str


def edges(source: Source, modules: set[str] = MODULES) -> list[Edge]:
    """Every import of a package module by ``source``, wherever in the module it stands."""
    found = []
    for node in ast.walk(source.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "isoanalytics":
                    found.append(Edge(source.name, alias.name, (), source.where(node)))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = source.package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "isoanalytics":
                continue
            plain = []
            for alias in node.names:
                # ``from . import bounds``: the module isoanalytics.registry.bounds itself.
                if is_module(f"{target}.{alias.name}", modules):
                    found.append(Edge(source.name, f"{target}.{alias.name}", (),
                                      source.where(node)))
                else:
                    plain.append(alias.name)
            if plain:
                found.append(Edge(source.name, target, tuple(plain), source.where(node)))
    return found


def layering_problems(all_sources: list[Source], modules: set[str] = MODULES) -> list[str]:
    problems = []
    for source in all_sources:
        here = layer(source.name)
        for edge in edges(source, modules):
            there = layer(edge.imported)
            if there not in ALLOWED[here]:
                problems.append(
                    f"{edge.where}: {edge.importer} ({here} layer) imports {edge.imported} "
                    f"({there} layer); the {here} layer may import only "
                    f"{', '.join(sorted(ALLOWED[here]))}")
            elif (here == "registry" and there == "demo"
                  and edge.importer not in DEMO_IMPORTERS):
                problems.append(
                    f"{edge.where}: {edge.importer} imports {edge.imported}: of the registry "
                    f"layer only {', '.join(DEMO_IMPORTERS)} may import the demo "
                    f"({next(iter(DEMO_IMPORTERS.values()))}); the demo is a transport handed "
                    "to the client")
    return problems


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def defined_names(source: Source) -> set[str]:
    """Every name the module binds anywhere: functions, classes, attributes, arguments..."""
    names = set()
    for node in ast.walk(source.tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
    return names


def privacy_problems(all_sources: list[Source], modules: set[str] = MODULES,
                     pending: set[tuple[str, str]] = frozenset()) -> list[str]:
    """Private names taken from, or reached into, another module of the package."""
    defined = {source.name: defined_names(source) for source in all_sources}
    problems = []
    for source in all_sources:
        own = defined[source.name]
        others = set().union(*(names for name, names in defined.items() if name != source.name))
        module_aliases = {}
        for edge in edges(source, modules):
            for name in edge.names:
                if private(name) and (source.name, f"{edge.imported}.{name}") not in pending:
                    problems.append(f"{edge.where}: {source.name} imports {edge.imported}.{name}, "
                                    "a private name of another module: give it a public name "
                                    "(or a public home) first")
        for node in ast.walk(source.tree):
            if isinstance(node, ast.ImportFrom) or isinstance(node, ast.Import):
                for alias in node.names:
                    module_aliases[alias.asname or alias.name] = alias.name
        for node in ast.walk(source.tree):
            if not (isinstance(node, ast.Attribute) and private(node.attr)):
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) \
                    and owner.func.id == "super":
                continue
            # A private name the module does not define itself but another module does:
            # ``client._run(...)``, ``metrics._summary``.
            if node.attr not in own and node.attr in others:
                problems.append(f"{source.where(node)}: {source.name} reaches into "
                                f"{ast.unparse(node)}, a private name of another module")
    return problems


def test_every_module_belongs_to_a_layer():
    for name in MODULES:
        layer(name)  # raises, naming the module, for one that fits nowhere


def test_imports_run_one_way_by_layer():
    problems = layering_problems(sources())
    assert not problems, "imports against the layering:\n" + "\n".join(problems)


def test_no_module_takes_or_reaches_into_another_modules_private_names():
    problems = privacy_problems(sources(), pending=PENDING_PRIVATE_IMPORTS)
    assert not problems, "private names used across modules:\n" + "\n".join(problems)
    taken = {(edge.importer, f"{edge.imported}.{name}")
             for source in sources() for edge in edges(source) for name in edge.names}
    stale = PENDING_PRIVATE_IMPORTS - taken
    assert not stale, f"no longer imported: remove from PENDING_PRIVATE_IMPORTS: {sorted(stale)}"


def test_the_http_layer_knows_no_demo():
    http = next(source for source in sources() if source.name == "isoanalytics.registry.http")
    imported = {edge.imported for edge in edges(http)}
    assert not {name for name in imported if name.startswith("isoanalytics.demo")}, imported
    assert "isoanalytics" not in imported  # nor the package facade, which would reach it


# -- the checks themselves catch what they are for --------------------------------------------

def _planted(tmp_path: Path, files: dict[str, str]) -> list[Source]:
    for relative, text in files.items():
        path = tmp_path / "isoanalytics" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return sources(tmp_path / "isoanalytics")


PLANTED_MODULES = {"isoanalytics", "isoanalytics.registry", "isoanalytics.registry.http",
                   "isoanalytics.registry.client", "isoanalytics.registry.enrich",
                   "isoanalytics.analysis", "isoanalytics.analysis.metrics",
                   "isoanalytics.demo", "isoanalytics._format"}


@pytest.mark.parametrize(("relative", "text", "expected"), [
    ("registry/http.py", "def f():\n    from .. import demo\n",
     "isoanalytics/registry/http.py:2: isoanalytics.registry.http imports isoanalytics.demo: "
     "of the registry layer only isoanalytics.registry.client may import the demo"),
    ("registry/http.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                         "    from ..analysis.metrics import summarize\n",
     "isoanalytics/registry/http.py:3: isoanalytics.registry.http (registry layer) imports "
     "isoanalytics.analysis.metrics (analysis layer)"),
    ("analysis/metrics.py", "import isoanalytics.registry.client\n",
     "imports isoanalytics.registry.client (registry layer)"),
    ("registry/client.py", "from .. import __version__\n",
     "imports isoanalytics (top layer)"),
    ("_format.py", "from .demo import BASE_URL\n",
     "isoanalytics._format (bottom layer) imports isoanalytics.demo (demo layer)"),
])
def test_a_planted_bad_import_is_named_with_its_line_and_edge(tmp_path, relative, text,
                                                               expected):
    planted = _planted(tmp_path, {"__init__.py": "", "registry/__init__.py": "",
                                  "analysis/__init__.py": "", "demo/__init__.py": "",
                                  relative: text})
    problems = layering_problems(planted, PLANTED_MODULES | {"isoanalytics.registry.client"})
    assert any(expected in problem for problem in problems), problems


def test_a_planted_private_import_or_reach_is_named(tmp_path):
    planted = _planted(tmp_path, {
        "__init__.py": "", "registry/__init__.py": "", "analysis/__init__.py": "",
        "registry/client.py": "class RegistryClient:\n    def _run(self, plan):\n"
                              "        return self._drive(plan)\n    def _drive(self, plan):\n"
                              "        return plan\n",
        "registry/enrich.py": "def enrich(client):\n    return client._run(None)\n",
        "analysis/metrics.py": "def _summary():\n    pass\n",
        "analysis/dimensions.py": "from .metrics import _summary\nfrom .. import _format\n",
        "_format.py": "def tonnes(kgs):\n    return kgs\n",
    })
    problems = privacy_problems(planted, PLANTED_MODULES | {"isoanalytics.analysis.dimensions"})
    assert any("isoanalytics/registry/enrich.py:2: isoanalytics.registry.enrich reaches into "
               "client._run" in problem for problem in problems), problems
    assert any("isoanalytics/analysis/dimensions.py:1: isoanalytics.analysis.dimensions imports "
               "isoanalytics.analysis.metrics._summary" in problem for problem in problems)
    # self._drive inside the class, and the bottom module _format itself, are fine.
    assert len(problems) == 2, problems
