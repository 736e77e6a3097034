"""Sphinx configuration of the isoanalytics documentation site.

Build (warnings are errors; nothing is fetched from the internet):
``python -m sphinx -W --keep-going -b html docs docs/_build/html``
"""

from __future__ import annotations

import base64
import html
import io
import json
import re

import isoanalytics

project = "isoanalytics"
author = "isoanalytics developers"
copyright = "isoanalytics developers"
release = isoanalytics.__version__
version = release

extensions = [
    "myst_nb",  # Markdown pages (it includes myst-parser) and the notebooks
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # the docstrings are numpy-style
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build", "**.ipynb_checkpoints"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}

# The notebooks are shown with the outputs committed with them (nbval checks those outputs
# in the test run); the build executes nothing, so it needs no kernel and no registry.
nb_execution_mode = "off"
# myst-nb would load require.js and the widgets' html-manager from CDNs to show widget views:
# the site stays offline, and a widget needs a kernel anyway (Binder, Voila).
nb_ipywidgets_js: dict = {}
myst_enable_extensions = ["colon_fence", "deflist", "dollarmath"]
# Formulas ($...$ in the notebooks) are drawn at build time by matplotlib's mathtext (a
# dependency already) as SVG pictures in data: URLs: MathJax, Sphinx's default, is a script
# from a CDN, and the site must show everything offline.
html_math_renderer = "mathtext"
myst_heading_anchors = 3

autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
# Attributes as field lists: dataclass fields are documented once, and ``path`` or
# ``organisation_id`` in a docstring does not meet several attribute targets.
napoleon_use_ivar = True

html_theme = "pydata_sphinx_theme"
html_title = f"isoanalytics {release}"
html_static_path = ["_static"]
html_css_files = ["isoanalytics.css"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_end": ["theme-switcher", "navbar-icon-links"],
    "icon_links": [],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"changelog": []}
html_show_sourcelink = False
# The theme's light/dark switch starts from this; unset, a first visit logs a console error.
html_context = {"default_mode": "auto"}
# Search results without page excerpts: each excerpt is a fetch() of the page, which browsers
# refuse for file: URLs (CORS), so a site opened from its folder would show errors instead.
# The results themselves need no server (searchindex.js is a script).
html_show_search_summary = False


# The tutorials are the notebooks themselves (docs/tutorials/*.ipynb are links to
# notebooks/*.ipynb). Two adjustments, made to the text Sphinx reads, never to the files:
# - the notebooks link to each other by file name, which works in JupyterLab and on GitHub;
#   Sphinx resolves the links through the symlinks to notebooks/, outside the site, so they
#   become references to the documents instead;
# - the report template's introduction is tagged remove-cell (the report states its own
#   title); on the site it is the tutorial's title and text.
_NOTEBOOK_LINK = re.compile(r"\[([^\]]+)\]\((0\d-[a-z-]+)\.ipynb\)")


def _tutorial_source(app, docname: str, source: list[str]) -> None:
    if not docname.startswith("tutorials/0"):
        return
    notebook = json.loads(source[0])
    for cell in notebook["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"])
        cell["source"] = _NOTEBOOK_LINK.sub(r"{doc}`\1 <\2>`", text)
        if docname == "tutorials/04-report" and text.startswith("# "):
            tags = cell.get("metadata", {}).get("tags", [])
            cell["metadata"]["tags"] = [tag for tag in tags if tag != "remove-cell"]
    source[0] = json.dumps(notebook)


_SVG_CLUTTER = re.compile(r"<\?xml.*?\?>|<!DOCTYPE.*?>|<metadata>.*?</metadata>", re.DOTALL)


def _formula(latex: str, *, display: bool) -> str:
    """An <img> of ``latex`` drawn by mathtext, its baseline on the text's (inline)."""
    import matplotlib
    from matplotlib import mathtext
    from matplotlib.font_manager import FontProperties

    # mathtext has no \lvert/\rvert; a plain bar is the same glyph
    text = latex.strip().replace(r"\lvert", "|").replace(r"\rvert", "|")
    drawn = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "isoanalytics-docs", "svg.fonttype": "path",
                                "mathtext.fontset": "dejavuserif", "figure.facecolor": "none",
                                "savefig.transparent": True}):
        depth = mathtext.math_to_image(f"${text}$", drawn, format="svg", dpi=72,
                                       prop=FontProperties(size=15 if display else 13))
    svg = _SVG_CLUTTER.sub("", drawn.getvalue().decode()).strip()  # no date: reproducible
    source = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    style = "" if display else f' style="vertical-align:-{depth:.1f}pt"'
    return f'<img class="math" src="{source}" alt="{html.escape(latex.strip())}"{style}>'


def _visit_inline_math(self, node) -> None:
    from docutils import nodes

    self.body.append(_formula(node.astext(), display=False))
    raise nodes.SkipNode


def _visit_block_math(self, node) -> None:
    from docutils import nodes

    self.body.append(f'<div class="math">{_formula(node.astext(), display=True)}</div>')
    raise nodes.SkipNode


def setup(app):
    app.connect("source-read", _tutorial_source)
    app.add_html_math_renderer("mathtext", (_visit_inline_math, None), (_visit_block_math, None))
