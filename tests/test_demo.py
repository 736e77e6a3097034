"""The embedded demo registry: deterministic, self-consistent, and shaped exactly like the API."""

from __future__ import annotations

import ast
import cProfile
import csv
import json
import pstats
import re
import sys
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path

import pytest

from isoanalytics import demo

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "isometric"
SAMPLE = SHARED / "registry-sample"

PREFIXES = ("org", "spl", "prj", "ord", "ctb", "iss", "dlv", "ret", "rmv")
ID = re.compile(r"^({})_[0-9A-HJKMNP-TV-Z]{{16}}$".format("|".join(PREFIXES)))
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
PATHWAYS = {"biomass_carbon_removal_and_storage", "direct_air_capture", "enhanced_weathering",
            "carbon_mineralization", "reforestation", "marine", "superpollutants"}
FIRST_DAY = date(2023, 1, 1)


# -- helpers ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reg() -> demo.DemoRegistry:
    return demo.registry()


def dump(registry: demo.DemoRegistry) -> dict:
    """Every response the registry can give, as one JSON-able dict."""
    buyers = list(registry.buyers.values())
    return {
        "buyers": dict(registry.buyers),
        "organisations": registry.organisations(),
        "suppliers": registry.suppliers(),
        "projects": registry.projects(),
        "retirements": registry.retirements(),
        "balances": {b: registry.credit_balance(b) for b in buyers},
        "orders": {b: registry.orders(b) for b in buyers},
        "batches": {b: registry.credit_batches(b, include_split=True) for b in buyers},
    }


def kg(row: dict, status: str) -> int:
    return row["total"][f"{status}_credits_total"]["credit_kgs"]


def row_kg(row: dict) -> int:
    return kg(row, "active") + kg(row, "retired")


def hhi(rows: list[dict]) -> float:
    total = sum(row_kg(r) for r in rows)
    return sum((100 * row_kg(r) / total) ** 2 for r in rows)


def rows(body: dict, level: str) -> dict[str, tuple[int, int]]:
    return {r[f"{level}_id"]: (kg(r, "active"), kg(r, "retired"))
            for r in body[f"{level}_balances"]}


def size(batch: dict) -> int:
    return batch["size"]["credit_kgs"]


def walk(value, key=None):
    """Yield (key, value) for every dict entry, at any depth."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, v
            yield from walk(v, k)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item, key)


def moment(text: str) -> datetime:
    assert STAMP.match(text), text
    return datetime.fromisoformat(text)


# -- determinism, ids, module hygiene -----------------------------------------------------------

def test_generation_is_deterministic_and_seeded(reg):
    first = json.dumps(dump(demo.generate()), sort_keys=True)
    assert json.dumps(dump(demo.generate()), sort_keys=True) == first
    assert json.dumps(dump(reg), sort_keys=True) == first
    assert demo.registry() is reg
    other = demo.generate(demo.DEFAULT_SEED + 1)
    assert json.dumps(dump(other), sort_keys=True) != first
    # Buyer ids do not depend on the seed, so the default organisation works for every seed.
    assert dict(other.buyers) == dict(reg.buyers)


def test_public_constants(reg):
    assert demo.AS_OF == datetime.fromisoformat("2026-10-31T00:00:00+00:00")
    assert demo.AS_OF.utcoffset().total_seconds() == 0 and reg.as_of == demo.AS_OF
    assert reg.seed == demo.DEFAULT_SEED
    assert tuple(reg.buyers) == demo.ROLES
    assert demo.DEFAULT_ORGANISATION_ID == reg.buyers["concentrated"]
    assert demo.DEFAULT_ORGANISATION_ID == demo._stable_id("org", "concentrated")
    assert [o["id"] for o in reg.organisations()] == list(reg.buyers.values())
    with pytest.raises(TypeError):
        reg.buyers["extra"] = "org_X"  # read-only


def test_ids_have_the_registry_shape_and_are_unique(reg):
    everything = dump(reg)
    seen: dict[str, set[str]] = defaultdict(set)  # id -> the kinds of field holding it
    for key, value in walk(everything):
        if isinstance(value, str) and value[:4] in {p + "_" for p in PREFIXES}:
            assert ID.match(value) and 20 <= len(value) <= 37, (key, value)
            seen[value].add(value[:3])
    assert len(seen) > 8000
    for name in ("projects", "suppliers", "retirements"):
        ids = [item["id"] for item in everything[name]]
        assert len(ids) == len(set(ids)), name
    batch_ids = [b["id"] for bs in everything["batches"].values() for b in bs]
    order_ids = [o["id"] for os in everything["orders"].values() for o in os]
    assert len(batch_ids) == len(set(batch_ids)) and len(order_ids) == len(set(order_ids))
    codes = [p["short_code"] for p in everything["projects"]]
    assert len(codes) == len(set(codes))


def test_module_uses_only_the_standard_library_and_reads_no_files():
    tree = ast.parse(Path(demo.__file__).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            if isinstance(node, ast.Name):
                assert node.id != "open"
            continue
        for name in names:
            assert name.split(".")[0] in sys.stdlib_module_names | {"__future__"}, name
    assert "registry-sample" not in Path(demo.__file__).read_text(encoding="utf-8")


def test_responses_are_fresh_copies(reg):
    org = demo.DEFAULT_ORGANISATION_ID
    body = reg.credit_balance(org)
    body["total"]["active_credits_total"]["credit_kgs"] = -1
    body["project_balances"].clear()
    reg.credit_batches(org)[0]["owner"]["name"] = "changed"
    reg.project(reg.projects()[0]["id"])["supplier"]["location"]["latitude"] = 0
    assert reg.credit_balance(org)["total"]["active_credits_total"]["credit_kgs"] > 0
    assert reg.credit_balance(org)["project_balances"]
    assert reg.credit_batches(org)[0]["owner"]["name"] != "changed"
    assert reg.projects()[0]["supplier"]["location"]["latitude"] != 0


def calls(function, *args):
    """``function(*args)`` and the number of function calls it made (Python and built-in).

    A count of work done: the same for every run of the same code, on any machine, unlike a
    time. The timings themselves are printed by tests/benchmarks/bench_demo.py.
    """
    profile = cProfile.Profile()
    result = profile.runcall(function, *args)
    return result, pstats.Stats(profile).total_calls


def test_generation_and_balances_do_bounded_linear_work():
    registry, generating = calls(demo.generate, demo.DEFAULT_SEED + 2)
    # 539,010 calls on CPython 3.11 (a median 0.18 s, goal 0.5 s: bench_demo.py): room for
    # growth, not for a second pass over the registry or a search per batch.
    assert generating < 1_000_000, generating
    for role, organisation in registry.buyers.items():
        body, balancing = calls(registry.credit_balance, organisation)
        batches = len(registry.credit_batches(organisation, include_split=True))
        rows = sum(len(body[f"{level}_balances"]) for level in ("project", "supplier", "order"))
        # One pass over the batches, a few calls per row written; anything that looks at
        # other batches per batch (10,905 calls today for the large buyer's 3,394 batches and
        # 658 rows) is millions.
        assert balancing <= 3 * batches + 10 * rows + 50, (role, balancing, batches, rows)
    # The bound is tried at scale: a quadratic balance would show on this buyer.
    assert len(registry.credit_batches(registry.buyers["large"])) > 3000


# -- the buyers keep their promises -------------------------------------------------------------

def test_concentrated_buyer(reg):
    body = reg.credit_balance(reg.buyers["concentrated"])
    suppliers = body["supplier_balances"]
    assert hhi(suppliers) > 2500
    assert row_kg(suppliers[0]) > 0.5 * sum(row_kg(r) for r in suppliers)
    assert suppliers[0]["supplier_id"] == reg.suppliers()[0]["id"]  # the registry's giant
    assert kg(body, "active") > 0 and kg(body, "retired") > 0


def test_diversified_buyer(reg):
    suppliers = reg.credit_balance(reg.buyers["diversified"])["supplier_balances"]
    assert len(suppliers) >= 15 and hhi(suppliers) < 1000


def test_fully_retired_and_nothing_retired_buyers(reg):
    body = reg.credit_balance(reg.buyers["fully_retired"])
    assert kg(body, "active") == 0 and kg(body, "retired") > 0
    assert all(b["status"] == "retired" for b in reg.credit_batches(reg.buyers["fully_retired"]))
    body = reg.credit_balance(reg.buyers["nothing_retired"])
    assert kg(body, "retired") == 0 and kg(body, "active") > 0


def test_empty_buyer(reg):
    org = reg.buyers["empty"]
    body = reg.credit_balance(org)
    assert body["project_balances"] == body["supplier_balances"] == body["order_balances"] == []
    assert kg(body, "active") == kg(body, "retired") == 0
    assert reg.orders(org) == [] and reg.credit_batches(org, include_split=True) == []
    assert org in [o["id"] for o in reg.organisations()]


def test_large_buyer(reg):
    org = reg.buyers["large"]
    body = reg.credit_balance(org)
    batches = reg.credit_batches(org, include_split=True)
    assert len(body["project_balances"]) >= 500
    assert len(body["supplier_balances"]) > len(reg.suppliers()) / 2
    assert 2000 <= len(batches) <= 9000
    assert {b["status"] for b in batches} == {"active", "retired", "split"}
    assert {o["status"] for o in reg.orders(org)} == {"placed", "in_progress", "completed"}
    assert min(size(b) for b in batches if b["status"] == "retired") <= 10


def test_typical_buyer_has_a_zero_order_row_and_a_transfer(reg):
    org = reg.buyers["typical"]
    body = reg.credit_balance(org)
    placed = [o for o in reg.orders(org) if o["status"] == "placed"]
    assert len(placed) == 1 and placed[0]["credits_delivered"]["credit_kgs"] == 0
    assert rows(body, "order")[placed[0]["id"]] == (0, 0)
    assert rows(body, "supplier")[placed[0]["supplier"]["id"]] == (0, 0)
    transferred = [b for b in reg.credit_batches(org) if b["delivery_id"] is None]
    assert len(transferred) == 1 and transferred[0]["delivered_at"] is None
    for column, status in enumerate(("active", "retired")):
        listed = sum(r[column] for r in rows(body, "order").values())
        extra = sum(size(b) for b in transferred if b["status"] == status)
        assert listed + extra == kg(body, status)
        assert sum(r[column] for r in rows(body, "supplier").values()) == kg(body, status)
    assert sum(map(sum, rows(body, "order").values())) < row_kg(body)


def test_other_buyers_reconcile_exactly(reg):
    for role in ("concentrated", "diversified", "fully_retired", "nothing_retired", "large"):
        body = reg.credit_balance(reg.buyers[role])
        for level in ("project", "supplier", "order"):
            listed = tuple(map(sum, zip(*rows(body, level).values(), strict=True)))
            assert listed == (kg(body, "active"), kg(body, "retired")), (role, level)


# -- consistency --------------------------------------------------------------------------------

@pytest.mark.parametrize("role", demo.ROLES)
def test_balances_are_the_sums_of_the_batches(reg, role):
    org = reg.buyers[role]
    body = reg.credit_balance(org)
    everything = reg.credit_batches(org, include_split=True)
    batches = reg.credit_batches(org)
    assert batches == [b for b in everything if b["status"] != "split"]
    keys = [(b["issued_at"], b["id"]) for b in everything]
    assert keys == sorted(keys)
    sums: dict[str, dict[str, list[int]]] = {"project": {}, "supplier": {}}
    total = [0, 0]
    for b in batches:
        column = b["status"] == "retired"
        total[column] += size(b)
        for level, level_sums in sums.items():
            level_sums.setdefault(b[f"{level}_id"], [0, 0])[column] += size(b)
    assert (kg(body, "active"), kg(body, "retired")) == tuple(total)
    assert rows(body, "project") == {k: tuple(v) for k, v in sums["project"].items()}
    order_suppliers = {o["supplier"]["id"] for o in reg.orders(org)}
    expected = {k: tuple(v) for k, v in sums["supplier"].items()}
    expected.update({s: (0, 0) for s in order_suppliers - expected.keys()})
    assert rows(body, "supplier") == expected
    # Rows are ordered by descending total kg, then id.
    for level in ("project", "supplier", "order"):
        listed = body[f"{level}_balances"]
        assert listed == sorted(listed, key=lambda r: (-row_kg(r), r[f"{level}_id"]))


@pytest.mark.parametrize("role", demo.ROLES)
def test_orders_match_their_deliveries(reg, role):
    org = reg.buyers[role]
    orders = reg.orders(org)
    balances = rows(reg.credit_balance(org), "order")
    assert list(balances) == sorted(balances, key=lambda k: (-sum(balances[k]), k))
    assert {o["id"] for o in orders} == set(balances)
    assert [o["effective_contract_date"] for o in orders] == sorted(
        (o["effective_contract_date"] for o in orders), reverse=True)
    for order in orders:
        ordered = order["credits_ordered"]["credit_kgs"]
        delivered = order["credits_delivered"]["credit_kgs"]
        assert ordered >= delivered >= 0 and sum(balances[order["id"]]) == delivered
        assert order["buyer_organisation"] == reg.organisation(org)
        assert (order["fulfilled_at"] is not None) == (order["status"] == "completed")
        if order["status"] == "completed":
            assert delivered == ordered > 0
        assert (delivered == 0) == (order["status"] == "placed")
    roots = [b for b in reg.credit_batches(org, include_split=True) if b["parent_id"] is None]
    assert sum(o["credits_delivered"]["credit_kgs"] for o in orders) == sum(
        size(b) for b in roots if b["delivery_id"] is not None)


@pytest.mark.parametrize("role", demo.ROLES)
def test_batches_are_coherent(reg, role):
    org = reg.buyers[role]
    batches = {b["id"]: b for b in reg.credit_batches(org, include_split=True)}
    for b in batches.values():
        retired = b["status"] == "retired"
        assert (b["retired_at"] is not None) == retired == (b["retirement_id"] is not None)
        assert (b["beneficiary"] is not None) == retired
        assert b["owner"]["id"] == org and len(b["country_of_issue"]) == 3
        assert (b["delivery_id"] is None) == (b["delivered_at"] is None)
        assert date.fromisoformat(b["sequestered_on"]) < moment(b["issued_at"]).date()
        if b["delivered_at"]:
            assert moment(b["issued_at"]) < moment(b["delivered_at"])
        if retired:
            assert moment(b["retired_at"]) > moment(b["delivered_at"] or b["issued_at"])
        data = b["carbon_removal_data"]
        if data is not None:
            assert min(data.values()) >= 0
            costs = data["emissions_kg"] + data["counterfactuals_kg"] + data["losses_kg"]
            assert data["net_carbon_removed_kg"] == data["gross_carbon_removed_kg"] - costs
        first, last = map(int, b["serial_number"].rsplit("-", 2)[1:])
        assert last - first == size(b) and b["serial_number"].startswith("ISO-1-")
        assert f"-{b['country_of_issue']}-" in b["serial_number"]
        if b["status"] == "split":
            left, right = batches[b["left_child_id"]], batches[b["right_child_id"]]
            assert left["parent_id"] == right["parent_id"] == b["id"]
            assert size(left) + size(right) == size(b)
            assert left["status"] == "retired" and right["status"] in ("active", "retired", "split")
            assert b["retired_at"] is None and b["beneficiary"] is None
            # The children split the parent's serial range where the retired part ends.
            assert left["serial_number"].rsplit("-", 1)[1] == right["serial_number"].split("-")[-2]
        else:
            assert b["left_child_id"] is None and b["right_child_id"] is None
        if b["parent_id"] is not None:
            assert batches[b["parent_id"]]["status"] == "split"


def test_every_quantity_agrees_with_its_kilograms(reg):
    count = 0
    for _key, value in walk(dump(reg)):
        if isinstance(value, dict) and "credit_kgs" in value:
            assert type(value["credit_kgs"]) is int and value["credit_kgs"] >= 0
            assert value["credits"] == round(value["credit_kgs"] / 1000, 3)
            assert set(value) == {"credit_kgs", "credits"}
            count += 1
    assert count > 5_000


def test_activity_lies_between_2023_and_as_of(reg):
    everything = dump(reg)
    for key, value in walk(everything):
        if value is None:
            continue
        if key in ("issued_at", "delivered_at", "retired_at", "fulfilled_at"):
            assert FIRST_DAY <= moment(value).date() and moment(value) <= demo.AS_OF, (key, value)
        elif key in ("sequestered_on", "effective_contract_date", "crediting_period_start"):
            assert FIRST_DAY <= date.fromisoformat(value) <= demo.AS_OF.date(), (key, value)
    for project in everything["projects"]:
        if project["crediting_period_start"]:
            assert project["crediting_period_end"] > project["crediting_period_start"]


def test_retirements_match_their_batches(reg):
    by_retirement: dict[str, int] = defaultdict(int)
    owners = {}
    for org in reg.buyers.values():
        for b in reg.credit_batches(org):
            if b["retirement_id"]:
                by_retirement[b["retirement_id"]] += size(b)
                owners[b["retirement_id"]] = (org, b["beneficiary"], b["retired_at"])
    retirements = reg.retirements()
    totals = {r["id"]: r["credit_batch_size_total"]["credit_kgs"] for r in retirements}
    assert totals == by_retirement
    for r in retirements:
        assert owners[r["id"]] == (r["owner"]["id"], r["beneficiary"], r["retired_at"])
        assert reg.organisation(r["beneficiary"]["id"]) == r["beneficiary"]
    stamps = [r["retired_at"] for r in retirements]
    assert stamps == sorted(stamps, reverse=True)


def test_projects_cover_what_the_buyers_hold(reg):
    held: dict[str, int] = defaultdict(int)
    retired: dict[str, int] = defaultdict(int)
    for org in reg.buyers.values():
        for b in reg.credit_batches(org, include_split=True):
            if b["parent_id"] is None:
                held[b["project_id"]] += size(b)
            if b["status"] == "retired":
                retired[b["project_id"]] += size(b)
    projects = {p["id"]: p for p in reg.projects()}
    assert held.keys() <= projects.keys()
    for project_id, p in projects.items():
        issued = p["issued_credits_total"]["credit_kgs"]
        buffer = p["issued_buffer_pool_credits_total"]["credit_kgs"]
        assert issued - buffer >= held[project_id]
        assert issued >= p["retired_credits_total"]["credit_kgs"]
        assert p["retired_credits_total"]["credit_kgs"] >= retired[project_id]
        assert p["retired_buffer_pool_credits_total"]["credit_kgs"] <= buffer
        if held[project_id]:
            assert p["status"] == "validated"
        assert p["url"] == f"https://registry.example/projects/{project_id}"


def test_registry_has_the_real_shape(reg):
    projects = reg.projects()
    assert {p["pathway"] for p in projects} == PATHWAYS
    assert 35 <= len(reg.suppliers()) <= 45 and len(projects) >= 550
    issued: dict[str, int] = defaultdict(int)
    for p in projects:
        issued[p["supplier"]["id"]] += p["issued_credits_total"]["credit_kgs"]
    shares = sorted((v / sum(issued.values()) for v in issued.values()), reverse=True)
    assert shares[0] > 0.5 and 2500 < sum((100 * s) ** 2 for s in shares) < 5000
    assert reg.suppliers()[0]["id"] == max(issued, key=issued.get)
    for org in [*reg.organisations(), *(s["organisation"] for s in reg.suppliers())]:
        assert org["domain"] is None or org["domain"].endswith(".example")


# -- contract -----------------------------------------------------------------------------------

def test_responses_validate_against_the_openapi_schemas(reg, openapi_validator):
    openapi_validator("Organisation", reg.organisation(demo.DEFAULT_ORGANISATION_ID))
    for org in reg.organisations():
        openapi_validator("Organisation", org)
    for supplier in reg.suppliers():
        openapi_validator("Supplier", supplier)
        openapi_validator("Supplier", reg.supplier(supplier["id"]))
        openapi_validator("Organisation", reg.organisation(supplier["organisation"]["id"]))
    for project in reg.projects():
        openapi_validator("Project", project)
    openapi_validator("Project", reg.project(project["id"]))
    for retirement in reg.retirements():
        openapi_validator("Retirement", retirement)
    for org in reg.buyers.values():
        openapi_validator("OrganisationCreditBalance", reg.credit_balance(org))
        for order in reg.orders(org):
            openapi_validator("Order", order)
        for batch in reg.credit_batches(org, include_split=True):
            openapi_validator("CreditBatch", batch)


def test_validator_rejects_a_wrong_shape(reg, openapi_validator):
    import jsonschema

    body = reg.credit_balance(demo.DEFAULT_ORGANISATION_ID)
    del body["order_balances"]
    with pytest.raises(jsonschema.ValidationError):
        openapi_validator("OrganisationCreditBalance", body)
    batch = reg.credit_batches(demo.DEFAULT_ORGANISATION_ID)[0]
    batch["issued_at"] = "yesterday"
    with pytest.raises(jsonschema.ValidationError):
        openapi_validator("CreditBatch", batch)


def test_demo_has_the_sample_columns_but_none_of_its_names(reg):
    if not SAMPLE.exists():
        pytest.skip(f"the real registry sample at {SAMPLE} is absent")
    with open(SAMPLE / "projects.csv", newline="", encoding="utf-8") as handle:
        sample = list(csv.DictReader(handle))

    def flat(value, prefix=""):
        for k, v in value.items():
            yield from flat(v, f"{prefix}{k}.") if isinstance(v, dict) else [f"{prefix}{k}"]

    columns = set(flat(reg.projects()[0]))
    # "location" / "supplier.location" are the flattener's columns for an object shown null.
    assert set(sample[0]) - {"location", "supplier.location"} <= columns
    assert {row["pathway"] for row in sample} <= PATHWAYS
    fields = ("id", "name", "supplier.id", "supplier.organisation.id", "short_code",
              "supplier.organisation.name", "supplier.organisation.domain")
    real = {row[k] for row in sample for k in fields}
    text = json.dumps(dump(reg))
    assert not [value for value in real if value and len(value) > 4 and f'"{value}"' in text]


# -- lookups ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "unknown"), [
    ("organisation", "org_1ZZZZZZZZZZZZZZZ"), ("supplier", "spl_1ZZZZZZZZZZZZZZZ"),
    ("project", "prj_1ZZZZZZZZZZZZZZZ"), ("orders", "org_1ZZZZZZZZZZZZZZZ"),
    ("credit_batches", "org_1ZZZZZZZZZZZZZZZ"), ("credit_balance", "org_1ZZZZZZZZZZZZZZZ"),
])
def test_unknown_ids_raise_lookup_error_naming_them(reg, method, unknown):
    with pytest.raises(LookupError) as raised:
        getattr(reg, method)(unknown)
    assert type(raised.value) is LookupError
    assert unknown in str(raised.value)
    if unknown.startswith("org_"):
        assert f"{demo.DEFAULT_ORGANISATION_ID} (concentrated)" in str(raised.value)


def test_wrong_prefix_and_non_buyers_raise_lookup_error(reg):
    with pytest.raises(LookupError, match="start with 'prj_'") as raised:
        reg.project(demo.DEFAULT_ORGANISATION_ID)
    assert type(raised.value) is LookupError
    with pytest.raises(LookupError, match="start with 'org_'"):
        reg.credit_balance(reg.suppliers()[0]["id"])
    supplier_org = reg.suppliers()[0]["organisation"]["id"]
    assert reg.organisation(supplier_org)["name"] == reg.suppliers()[0]["organisation"]["name"]
    with pytest.raises(LookupError, match="holds no credits") as raised:
        reg.credit_balance(supplier_org)
    assert supplier_org in str(raised.value) and type(raised.value) is LookupError
