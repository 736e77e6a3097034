"""Re-take the README's picture of the report: ``python -m tests.screenshot_report``.

Builds the demo report (the README's first command), opens it in headless Chromium and saves
the top of the page, the part a stakeholder sees first, to ``docs/report.png``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from isoanalytics import report

from .browser import chromium_page

PICTURE = Path(__file__).resolve().parents[1] / "docs" / "report.png"


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        page_file = report.build(output=Path(folder) / "report.html", demo=True, progress=False)
        with chromium_page(viewport=(1000, 1250)) as (page, errors):
            page.goto(page_file.as_uri(), wait_until="load")
            PICTURE.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(PICTURE))  # the viewport: headline and first section
            assert not errors, str(errors)
    print(f"saved {PICTURE} ({PICTURE.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
