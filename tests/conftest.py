"""Shared test helpers: API-shaped bodies and hypothesis strategies for them."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
OPENAPI = SHARED / "isometric" / "registry-openapi.json"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)$")

# Deterministic by default; CI runs the same examples every time.
settings.register_profile(
    "default", derandomize=True, max_examples=60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ORG = "org_1GB56M1ST1S0GVNA"
OTHER_ORG = "org_1CP8EQDNQSBXTMR2"


def quantity(kgs: int) -> dict:
    return {"credit_kgs": kgs, "credits": round(kgs / 1000, 3)}


def balance(active: int, retired: int) -> dict:
    return {"active_credits_total": quantity(active), "retired_credits_total": quantity(retired)}


def make_body(projects=(), suppliers=(), orders=(), total=None, *, with_orders=True) -> dict:
    """A credit_balance body from (id, active_kgs, retired_kgs) triples.

    ``total`` defaults to the sums over the projects.
    """
    if total is None:
        total = (sum(p[1] for p in projects), sum(p[2] for p in projects))
    body = {
        "project_balances": [{"project_id": i, "total": balance(a, r)} for i, a, r in projects],
        "supplier_balances": [{"supplier_id": i, "total": balance(a, r)} for i, a, r in suppliers],
        "total": balance(*total),
    }
    if with_orders:
        body["order_balances"] = [{"order_id": i, "total": balance(a, r)} for i, a, r in orders]
    return body


def entity_id(prefix: str, number: int) -> str:
    digits = []
    for _ in range(16):
        number, digit = divmod(number, 32)
        digits.append(ALPHABET[digit])
    return f"{prefix}_{''.join(reversed(digits))}"


KGS = st.one_of(
    st.integers(0, 10**9),
    st.just(0),
    st.integers(2**53 - 5, 2**53 + 5),  # where float64 stops being exact
)


@st.composite
def entities(draw, prefix: str, max_size: int = 12) -> list[tuple[str, int, int]]:
    numbers = draw(st.lists(st.integers(0, 2**40), unique=True, max_size=max_size))
    return [(entity_id(prefix, n), draw(KGS), draw(KGS)) for n in numbers]


@st.composite
def bodies(draw) -> dict:
    """Valid bodies; project, supplier and order lists need not add up to the total."""
    projects = draw(entities("prj"))
    suppliers = draw(entities("spl"))
    orders = draw(entities("ord", max_size=4))
    total = (draw(KGS), draw(KGS)) if draw(st.booleans()) else None
    with_orders = draw(st.booleans()) or bool(orders)
    return make_body(projects, suppliers, orders, total, with_orders=with_orders)


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not present (it is only on development machines)")
    return SHARED


@pytest.fixture(scope="module")
def openapi_validator():
    """``validate(schema_name, instance)``: raise jsonschema.ValidationError unless valid.

    Uses a Draft 2020-12 validator over a referencing.Registry holding the whole OpenAPI
    document, so ``#/components/schemas/...`` refs resolve, with date and date-time
    format checking.
    """
    if not OPENAPI.exists():
        pytest.skip(f"contract tests need the API description at {OPENAPI}, which is absent")
    jsonschema = pytest.importorskip("jsonschema")
    referencing = pytest.importorskip("referencing")
    from referencing.jsonschema import DRAFT202012

    uri = "urn:isometric:registry-openapi"
    document = json.loads(OPENAPI.read_text(encoding="utf-8"))
    schemas = referencing.Registry().with_resource(
        uri, referencing.Resource.from_contents(document, default_specification=DRAFT202012))
    checker = jsonschema.FormatChecker()
    if "date-time" not in checker.checkers:  # jsonschema needs an optional package for it

        @checker.checks("date-time", raises=ValueError)
        def rfc3339(text) -> bool:
            if isinstance(text, str):
                if not RFC3339.match(text):
                    raise ValueError(f"{text!r} is not an RFC 3339 date-time")
                datetime.fromisoformat(text.upper())
            return True
    validators: dict[str, jsonschema.Draft202012Validator] = {}

    def validate(schema_name: str, instance) -> None:
        if schema_name not in validators:
            assert schema_name in document["components"]["schemas"], schema_name
            validators[schema_name] = jsonschema.Draft202012Validator(
                {"$ref": f"{uri}#/components/schemas/{schema_name}"},
                registry=schemas, format_checker=checker)
        validators[schema_name].validate(instance)

    return validate


@pytest.fixture(scope="session")
def _loopback_server():
    from .loopback import serving

    with serving() as server:
        yield server


@pytest.fixture
def server(_loopback_server):
    """A real HTTP server on 127.0.0.1 (pytest-httpserver, threaded), fresh for each test.

    One server serves the whole session: stopping a werkzeug server takes half a second.
    """
    _loopback_server.clear()
    yield _loopback_server
    _loopback_server.clear()


@pytest.fixture(autouse=True)
def no_isometric_variables(monkeypatch):
    """Every test starts without the developer's ISOMETRIC_* variables, as on a fresh machine."""
    for name in ("ISOMETRIC_CLIENT_SECRET", "ISOMETRIC_ACCESS_TOKEN", "ISOMETRIC_ACCESS_TOKENS",
                 "ISOMETRIC_ENVIRONMENT", "ISOMETRIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def demo_report(tmp_path_factory) -> Path:
    """The demo report, built once per session by the README's command: a folder with
    report.html, report.ipynb and said.txt (what the command printed)."""
    import io

    from isoanalytics.cli import main

    folder = tmp_path_factory.mktemp("demo-report")
    said = io.StringIO()
    code = main(["report", "--demo", "-o", str(folder / "report.html"),
                 "--notebook", str(folder / "report.ipynb")], out=said)
    assert code == 0
    (folder / "said.txt").write_text(said.getvalue())
    return folder


PORTFOLIO_TITLE = 'Board pack: Q3 <draft> & "final"'


@pytest.fixture(scope="session")
def portfolio_report(tmp_path_factory) -> Path:
    """A three-organisation demo report (one holds nothing) with its code shown and top 3."""
    from isoanalytics import demo, report

    buyers = demo.registry().buyers
    folder = tmp_path_factory.mktemp("portfolio-report")
    report.build([buyers["concentrated"], buyers["diversified"], buyers["empty"]],
                 folder / "report.html", demo=True, with_code=True, top=3,
                 title=PORTFOLIO_TITLE, notebook=folder / "report.ipynb", progress=False)
    return folder


PERIOD_ORGANISATION = "diversified"  # the demo buyer with retirements in 2024, 2025 and 2026


@pytest.fixture(scope="session")
def period_report(tmp_path_factory) -> Path:
    """The demo report with ``--period 2025``, by the command line: a folder with report.html,
    report.ipynb and said.txt. Of the demo's "diversified" buyer (:data:`PERIOD_ORGANISATION`),
    which retired credits in 2025 and in the years either side (the default buyer retired
    only in 2026), so its "Claims in the period" section has every table and the chart."""
    import io

    from isoanalytics import demo
    from isoanalytics.cli import main

    folder = tmp_path_factory.mktemp("period-report")
    said = io.StringIO()
    code = main(["report", "--demo", "--org", demo.registry().buyers[PERIOD_ORGANISATION],
                 "--period", "2025", "-o", str(folder / "report.html"),
                 "--notebook", str(folder / "report.ipynb")], out=said)
    assert code == 0
    (folder / "said.txt").write_text(said.getvalue())
    return folder


#: The supplier the one-supplier report's organisation (the demo's default buyer, cut down)
#: holds credits from: Deepwell Carbon, its largest.
ONE_SUPPLIER = "Deepwell Carbon"


@pytest.fixture(scope="session")
def one_supplier_report(tmp_path_factory) -> Path:
    """A report of an organisation holding credits from exactly one supplier: the demo's
    default buyer served by a loopback registry (tests/loopback.py) that cuts its balance,
    orders and deliveries to its largest supplier's; read with ISOMETRIC_* variables as a
    live user would. A folder with report.html and report.ipynb."""
    from isoanalytics import demo, report

    from .loopback import one_supplier, serve_demo, serving

    registry = demo.registry()
    organisation = demo.DEFAULT_ORGANISATION_ID
    supplier = next(row["id"] for row in registry.suppliers()
                    if row["organisation"]["name"] == ONE_SUPPLIER)
    folder = tmp_path_factory.mktemp("one-supplier-report")
    with serving() as server, pytest.MonkeyPatch.context() as patch:
        patch.setenv("ISOMETRIC_BASE_URL",
                     serve_demo(server, rewrite=one_supplier(organisation, supplier)))
        patch.setenv("ISOMETRIC_CLIENT_SECRET", demo.CLIENT_SECRET)
        patch.setenv("ISOMETRIC_ACCESS_TOKEN", demo.access_token(organisation))
        for name in ("ISOMETRIC_ACCESS_TOKENS", "ISOMETRIC_ENVIRONMENT"):
            patch.delenv(name, raising=False)
        report.build(None, folder / "report.html", notebook=folder / "report.ipynb",
                     progress=False)
    return folder


@pytest.fixture(scope="session")
def empty_report(tmp_path_factory) -> Path:
    """The report of the demo organisation that holds nothing: a folder with report.html."""
    from isoanalytics import demo, report

    folder = tmp_path_factory.mktemp("empty-report")
    report.build(demo.registry().buyers["empty"], folder / "report.html", demo=True,
                 progress=False)
    return folder
