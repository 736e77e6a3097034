"""Settings for every test run, the notebooks' included (this file sits at the root for them).

nbval's kernels inherit this process's environment. A developer's ISOMETRIC_* variables would
send the notebooks to the live registry and their outputs would differ from the committed
ones, so they are removed before any kernel starts: tests always run on the demo registry.
Tests that need the variables set them with monkeypatch.
"""

from __future__ import annotations

import os

# The report template is collected once, as notebooks/04-report.ipynb (a link to it), so
# nbval does not run the same notebook twice.
collect_ignore_glob = ["isoanalytics/templates/*.ipynb"]


def pytest_configure(config) -> None:
    for name in [name for name in os.environ if name.startswith("ISOMETRIC_")]:
        del os.environ[name]
