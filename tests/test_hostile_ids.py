"""Ids that would become request paths, from a caller or from a hostile registry (issue 12, item 1).

Every request the client sends reaches a loopback server that records its raw target; each
test asserts the package's error (naming the argument, or the JSON path) and that nothing was
ever asked outside ``<base>/<resource>[/<id>[/<tail>]]``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import warnings

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import isoanalytics as ia
from isoanalytics import demo, ids
from isoanalytics.records.resources import KINDS, Table, id_columns

from .recording_server import BASE_PATH, page, recording_server

REGISTRY = demo.registry()
ORG = REGISTRY.buyers["typical"]
REGISTRY_BALANCE = ia.parse_balance(REGISTRY.credit_balance(ORG), organisation_id=ORG)
GOOD = {"org_": ORG, "prj_": "prj_1CTWZQGKE1S0VAXA", "spl_": "spl_1CC712KFS1S0YKPS",
        "ctb_": "ctb_1CA2D3S73SBXYN70", "ord_": "ord_1DBVRQDHBSBXWBWP",
        "ret_": "ret_1CGV2XADRSBX1CHB", "iss_": "iss_1CSVDDHH3SBXRP6K",
        "dlv_": "dlv_1C454ZXA61S03Z9T", "rmv_": "rmv_1E3V4J2EWSBX5E82",
        "tfr_": "tfr_1FJGWSY271S0QSMR", "bpr_": "bpr_1E5BH6AG21S0SKTW",
        "pjd_": "pjd_1ESC3V76T1S0S6J3"}

# Written out here, independently of isoanalytics.ids: what a request may look like.
_ID = r"[a-z]{3}_[0-9A-Za-z]{16,33}"
_TAIL = r"[0-9A-Za-z]{16,33}"
ALLOWED = re.compile(
    re.escape(BASE_PATH) + r"/(?:organisation|projects|suppliers|retirements|deliveries"
    r"|transfers|issuances|beneficiaries|transferees"
    rf"|organisations/org_{_TAIL}(?:/(?:credit_balance|credit_batches|orders))?"
    rf"|projects/prj_{_TAIL}(?:/documents)?"
    rf"|suppliers/spl_{_TAIL}(?:/(?:projects|issuances|deliveries|orders))?"
    rf"|retirements/ret_{_TAIL}(?:/credit_batches)?|orders/ord_{_TAIL}(?:/deliveries)?"
    rf"|(?:deliveries/dlv|transfers/tfr|refunds/bpr|issuances/iss)_{_TAIL}(?:/credit_batches)?"
    rf"|credit_batches/ctb_{_TAIL})")


def hostile_ids(prefix: str) -> list[str]:
    """Ids of the right prefix and (mostly) the old rule's length that are not ids."""
    good = GOOD[prefix]
    return [
        f"{prefix}AAAAAAAA/../../../../x",
        f"{prefix}/../{good}",
        f"{good}/../../admin",
        f"{good}?first=1",
        f"{good}#fragment",
        f"{good[:-2]}%2F..",
        f"{good}%00",
        f"{good}\r\nX-Injected: 1",
        f"{good}\x00",
        f"{good}\n",  # a regex "$" would match before it
        f"{good} ",
        f"{good[:-1]}\u0410",  # CYRILLIC CAPITAL LETTER A
        f"{prefix}\uff11{good[5:]}",  # FULLWIDTH DIGIT ONE: str.isalnum() says yes
        f"{good[:-1]}.",
        f"{good};x",
        f"{prefix}..%2F..%2F..%2Fadmin0",
        prefix + "A" * 34,  # 38 characters
    ]


def out_of_bounds(server) -> list[str]:
    return [target for target in server.requests
            if not ALLOWED.fullmatch(target.partition("?")[0])]


@pytest.fixture(scope="module")
def server():
    with recording_server() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(server):
    server.reset()


# -- ids from a caller ---------------------------------------------------------------------------

# (method, how to call it with the id, the argument the error must name, the id's prefix)
CALLS = [
    ("organisation", lambda c, v: c.organisation(v), "organisation_id", "org_"),
    ("credit_balance", lambda c, v: c.credit_balance(v), "organisation_id", "org_"),
    ("credit_batches", lambda c, v: c.credit_batches(v), "organisation_id", "org_"),
    ("orders", lambda c, v: c.orders(v), "organisation_id", "org_"),
    ("project", lambda c, v: c.project(v), "project_id", "prj_"),
    ("supplier", lambda c, v: c.supplier(v), "supplier_id", "spl_"),
    ("retirements(owner)", lambda c, v: c.retirements(owner_organisation_id=v),
     "owner_organisation_id", "org_"),
    ("retirements(beneficiary)", lambda c, v: c.retirements(beneficiary_organisation_id=v),
     "beneficiary_organisation_id", "org_"),
    *[(f"credit_batches({name})", lambda c, v, name=name: c.credit_batches(ORG, **{name: v}),
       name, prefix)
      for name, prefix in (("project_id", "prj_"), ("supplier_id", "spl_"),
                           ("issuance_id", "iss_"), ("delivery_id", "dlv_"),
                           ("order_id", "ord_"), ("retirement_id", "ret_"))],
]


@pytest.mark.parametrize(("method", "call", "argument", "prefix"), CALLS,
                         ids=[call[0] for call in CALLS])
def test_a_callers_hostile_id_is_refused_naming_the_argument_before_any_request(
        server, method, call, argument, prefix):
    with ia.RegistryClient(**server.client_options()) as client:
        for bad in hostile_ids(prefix):
            with pytest.raises(ia.InvalidIdError) as caught:
                call(client, bad)
            error = caught.value
            assert isinstance(error, ValueError)
            assert error.argument == argument
            assert str(error).startswith(f"{argument}: expected ")
            assert f"'{prefix}' followed by ASCII letters and digits only" in str(error)
    assert server.requests == []


@pytest.mark.parametrize("bad", hostile_ids("org_"))
def test_portfolio_and_compatibility_entry_points_refuse_hostile_ids(server, bad):

    with pytest.raises(ia.InvalidIdError, match="accounts: expected an organisation id"):
        ia.fetch_balances({bad: "recorded-token"}, progress=False, **server.client_options())
    with (ia.RegistryClient(**server.client_options()) as client,
          pytest.raises(ia.InvalidIdError, match="accounts")):
        ia.fetch_balances([bad], client=client, progress=False)
    with pytest.raises(ia.InvalidIdError, match="^organisation_id: "):
        ids.resource_path("organisations", bad, "credit_balance")
    with pytest.raises(ia.InvalidIdError, match="^--org: expected an organisation id"):
        ids.check_id(bad, "organisation", argument="--org")
    assert server.requests == []


def test_enrich_refuses_a_frames_hostile_ids_naming_the_column(server):
    frame = pd.DataFrame({"project_id": [GOOD["prj_"], "prj_AAAAAAAA/../../../../../admin"]})
    with (ia.RegistryClient(**server.client_options()) as client,
          pytest.raises(ia.InvalidIdError, match="^the frame's project_id: ")):
        ia.enrich(frame, client)
    assert server.requests == []


# -- ids from a hostile registry -----------------------------------------------------------------

def _sample(kind: str, records: list[dict]) -> dict:
    """A record of ``kind`` whose optional objects are all present, so every id has a place."""
    def complete(record: dict) -> bool:
        for where, _ in id_columns(kind).values():
            value = record
            for key in where.split(".")[:-1]:
                value = value.get(key) if isinstance(value, dict) else None
            if not isinstance(value, dict):
                return False
        return True

    return copy.deepcopy(next(record for record in records if complete(record)))


SAMPLES = {
    "credit_batch": _sample("credit_batch", REGISTRY.credit_batches(REGISTRY.buyers["large"])),
    "project": _sample("project", REGISTRY.projects()),
    "supplier": _sample("supplier", REGISTRY.suppliers()),
    "order": _sample("order", REGISTRY.orders(REGISTRY.buyers["large"])),
    "retirement": _sample("retirement", REGISTRY.retirements()),
    "organisation": _sample("organisation", REGISTRY.organisations()),
    "delivery": _sample("delivery", REGISTRY.deliveries()),
    "transfer": _sample("transfer", REGISTRY.transfers()),
    "refund": _sample("refund", REGISTRY.refunds()),
    "issuance": _sample("issuance", REGISTRY.issuances()),
    "project_document": _sample("project_document",
                                REGISTRY.project_documents(REGISTRY.projects()[0]["id"])),
}
# Every id a record kind reads: (kind, its JSON path within the record, its prefix)
ID_FIELDS = [(kind, where, id_kind)
             for kind in KINDS for where, id_kind in id_columns(kind).values()]
_PREFIX = {kind.name: kind.prefix for kind in ids.ID_KINDS.values()}


def _placed(kind: str, where: str, value: object) -> dict:
    record = copy.deepcopy(SAMPLES[kind])
    *parents, last = where.split(".")
    target = record
    for key in parents:
        target = target[key]
    target[last] = value
    return record


# How each kind is read: (endpoint path under the base, client call, whether it is a list)
READS = {
    "credit_batch": [(f"/organisations/{ORG}/credit_batches",
                      lambda c: c.credit_batches(ORG, by_project=False), True)],
    "project": [("/projects", lambda c: c.projects(), True),
                (f"/projects/{GOOD['prj_']}", lambda c: c.project(GOOD["prj_"]), False)],
    "supplier": [("/suppliers", lambda c: c.suppliers(), True),
                 (f"/suppliers/{GOOD['spl_']}", lambda c: c.supplier(GOOD["spl_"]), False)],
    "order": [(f"/organisations/{ORG}/orders", lambda c: c.orders(ORG), True)],
    "retirement": [("/retirements", lambda c: c.retirements(), True)],
    "organisation": [(f"/organisations/{ORG}", lambda c: c.organisation(ORG), False),
                     ("/organisation", lambda c: c.current_organisation(), False)],
    "delivery": [("/deliveries", lambda c: c.deliveries(), True),
                 (f"/deliveries/{GOOD['dlv_']}", lambda c: c.delivery(GOOD["dlv_"]), False)],
    "transfer": [("/transfers", lambda c: c.transfers(), True),
                 (f"/transfers/{GOOD['tfr_']}", lambda c: c.transfer(GOOD["tfr_"]), False)],
    "refund": [(f"/refunds/{GOOD['bpr_']}", lambda c: c.refund(GOOD["bpr_"]), False)],
    "issuance": [("/issuances", lambda c: c.issuances(), True),
                 (f"/issuances/{GOOD['iss_']}", lambda c: c.issuance(GOOD["iss_"]), False)],
    "project_document": [(f"/projects/{GOOD['prj_']}/documents",
                          lambda c: c.project_documents(GOOD["prj_"]), True)],
}


@pytest.mark.parametrize(("kind", "where", "id_kind"), ID_FIELDS,
                         ids=[f"{kind}:{where}" for kind, where, _ in ID_FIELDS])
def test_a_hostile_id_in_any_record_is_a_schema_error_naming_its_json_path(
        server, kind, where, id_kind):
    with ia.RegistryClient(**server.client_options()) as client:
        for path, read, is_list in READS[kind]:
            for bad in hostile_ids(_PREFIX[id_kind]):
                record = _placed(kind, where, bad)
                server.routes[path] = page([record]) if is_list else json.dumps(record).encode()
                with pytest.raises(ia.SchemaError) as caught:
                    read(client)
                assert caught.value.path == (f"nodes[0].{where}" if is_list else where)
                assert caught.value.endpoint.startswith(f"GET {path}")
    assert out_of_bounds(server) == []


@pytest.mark.parametrize("level", ["project", "supplier", "order"])
def test_a_hostile_id_in_a_balance_is_refused_before_enrich_can_follow_it(server, level):
    body = REGISTRY.credit_balance(ORG)
    key, id_key = f"{level}_balances", f"{level}_id"
    prefix = {"project": "prj_", "supplier": "spl_", "order": "ord_"}[level]
    with ia.RegistryClient(**server.client_options()) as client:
        for bad in hostile_ids(prefix):
            hostile = copy.deepcopy(body)
            hostile[key][0][id_key] = bad
            server.routes[f"/organisations/{ORG}/credit_balance"] = json.dumps(hostile).encode()
            with pytest.raises(ia.SchemaError) as caught, warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the old code warned of unknown projects
                balance = client.credit_balance(ORG)
                if level != "order":
                    ia.enrich(ia.summarize(balance, by=level), client)
            assert caught.value.path == f"{key}[0].{id_key}"
            assert caught.value.organisation_id == ORG
    assert out_of_bounds(server) == []


def test_fetch_balances_makes_a_hostile_balance_one_failure(server):
    others = list(demo.accounts())[:3]
    hostile = REGISTRY.credit_balance(others[0])
    hostile["project_balances"][0]["project_id"] = "prj_AAAAAAAA/../../../../../admin"
    for org in others:
        body = hostile if org == others[0] else REGISTRY.credit_balance(org)
        server.routes[f"/organisations/{org}/credit_balance"] = json.dumps(body).encode()
    result = ia.fetch_balances({org: "recorded-token" for org in others}, progress=False,
                               **server.client_options())
    assert list(result.failures["organisation_id"]) == [others[0]]
    assert list(result.failures["error"]) == ["SchemaError"]
    assert sorted(result.balances) == sorted(others[1:])
    assert out_of_bounds(server) == []


# -- any text at all -----------------------------------------------------------------------------

def _near_ids(prefix: str) -> st.SearchStrategy[str]:
    """Random text, real-looking ids, and real-looking ids with one character changed."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    looks_right = st.text(alphabet, min_size=16, max_size=16).map(lambda tail: prefix + tail)
    edited = st.tuples(looks_right, st.integers(0, 19), st.characters()).map(
        lambda parts: parts[0][:parts[1]] + parts[2] + parts[0][parts[1] + 1:])
    return st.one_of(st.text(max_size=40), st.text(max_size=40).map(lambda t: prefix + t),
                     looks_right, edited)


def _expected(argument_call: str, value: str) -> str | None:
    """The one path a call with an acceptable id may ask for (None: only a fixed list path)."""
    return {
        "organisation": f"{BASE_PATH}/organisations/{value}",
        "credit_balance": f"{BASE_PATH}/organisations/{value}/credit_balance",
        "credit_batches": f"{BASE_PATH}/organisations/{value}/credit_batches",
        "orders": f"{BASE_PATH}/organisations/{value}/orders",
        "project": f"{BASE_PATH}/projects/{value}",
        "supplier": f"{BASE_PATH}/suppliers/{value}",
    }.get(argument_call, f"{BASE_PATH}/retirements" if argument_call.startswith("retirements")
          else f"{BASE_PATH}/organisations/{ORG}/credit_batches")


_ASYNC = {
    "organisation": lambda c, v: c.organisation(v),
    "credit_balance": lambda c, v: c.credit_balance(v),
    "credit_batches": lambda c, v: c.credit_batches(v),
    "orders": lambda c, v: c.orders(v),
    "project": lambda c, v: c.project(v),
    "supplier": lambda c, v: c.supplier(v),
    "retirements(owner)": lambda c, v: c.retirements(owner_organisation_id=v),
    "retirements(beneficiary)": lambda c, v: c.retirements(beneficiary_organisation_id=v),
}


def _check_one(server, method: str, value: str, error: BaseException | None) -> None:
    if isinstance(error, ia.InvalidIdError):
        assert server.requests == [], f"{method}({value!r}) sent a request and then refused"
        return
    # Accepted: the server (404s) may have answered with an error, but the path is exact.
    assert error is None or isinstance(error, (ia.RegistryError, ia.SchemaError)), repr(error)
    assert not isinstance(error, ia.InvalidIdError)
    assert server.paths() and set(server.paths()) == {_expected(method, value)}, (
        method, value, server.requests)


@pytest.mark.parametrize(("method", "call", "argument", "prefix"), CALLS,
                         ids=[call[0] for call in CALLS])
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_text_as_an_id_is_refused_or_is_exactly_one_path_segment(
        server, method, call, argument, prefix, data):
    value = data.draw(_near_ids(prefix))
    server.reset()
    error = None
    with ia.RegistryClient(**server.client_options()) as client:
        try:
            call(client, value)
        except (ValueError, ia.RegistryError) as caught:  # judged below
            error = caught
    _check_one(server, method, value, error)


@pytest.mark.parametrize("method", list(_ASYNC))
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_text_as_an_id_to_the_async_client_is_refused_or_one_segment(server, method, data):
    prefix = "prj_" if method == "project" else "spl_" if method == "supplier" else "org_"
    value = data.draw(_near_ids(prefix))
    server.reset()

    async def run() -> BaseException | None:
        async with ia.AsyncRegistryClient(**server.client_options()) as client:
            try:
                await _ASYNC[method](client, value)
            except (ValueError, ia.RegistryError) as caught:  # judged below
                return caught
        return None

    _check_one(server, method, value, asyncio.run(run()))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_text_as_a_project_id_in_a_balance_is_refused_or_enriched_by_exactly_its_path(
        server, data):
    value = data.draw(_near_ids("prj_"))
    server.reset()
    body = REGISTRY.credit_balance(ORG)
    body["project_balances"][0]["project_id"] = value
    server.routes[f"/organisations/{ORG}/credit_balance"] = json.dumps(body).encode()
    with ia.RegistryClient(**server.client_options()) as client, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # projects this server does not know
        try:
            balance = client.credit_balance(ORG)
        except ia.SchemaError as error:
            assert error.path == "project_balances[0].project_id"
            assert server.requests == [f"{BASE_PATH}/organisations/{ORG}/credit_balance"]
            return
        ia.enrich(ia.summarize(balance, by="project"), client)
    assert f"{BASE_PATH}/projects/{value}" in server.requests
    assert out_of_bounds(server) == []


@settings(max_examples=150, deadline=None)
@given(field=st.sampled_from(ID_FIELDS), data=st.data())
def test_any_text_in_any_records_id_is_refused_by_its_path_or_kept_verbatim(field, data):
    kind, where, id_kind = field
    value = data.draw(_near_ids(_PREFIX[id_kind]))
    record = _placed(kind, where, value)
    table = Table(kind)
    try:
        table.add([record])
    except ia.SchemaError as error:
        assert error.path == f"nodes[0].{where}"
        assert not re.fullmatch(_ID, value) or not value.startswith(_PREFIX[id_kind])
        return
    # Kept: then it is a prefix and ASCII letters and digits, one path segment as it is.
    assert value.startswith(_PREFIX[id_kind]) and re.fullmatch(_ID, value), value
    column = next(name for name, (path, _) in id_columns(kind).items() if path == where)
    assert table.to_frame()[column].tolist() == [value]


@pytest.mark.parametrize("kind", ["organisation", "project", "supplier"])
def test_a_record_answered_for_another_id_is_a_schema_error(server, kind):
    # /projects/A answered with project B: enrich would put B's name next to A's kilograms.
    asked, other = {"organisation": (ORG, REGISTRY.buyers["large"]),
                    "project": tuple(p["id"] for p in REGISTRY.projects()[:2]),
                    "supplier": tuple(s["id"] for s in REGISTRY.suppliers()[:2])}[kind]
    record = getattr(REGISTRY, kind)(other)
    server.routes[f"/{kind}s/{asked}"] = json.dumps(record).encode()
    with ia.RegistryClient(**server.client_options()) as client:
        with pytest.raises(ia.SchemaError) as caught:
            getattr(client, kind)(asked)
        assert caught.value.path == "id"
        assert f"not the id asked for ({asked})" in str(caught.value)
        with pytest.raises(ia.SchemaError, match="not the id asked for"):
            ia.enrich(pd.DataFrame({f"{kind}_id": [asked]}), client)


def test_the_explorer_refuses_a_frames_hostile_organisation_id(server):
    from isoanalytics.widgets import explorer

    frame = REGISTRY_BALANCE.to_frame()
    frame["organisation_id"] = "org_/../org_1GB56M1ST1S0GVNA"
    server.routes["/projects"] = page([])
    with (ia.RegistryClient(**server.client_options()) as client,
          pytest.raises(ia.InvalidIdError, match="organisation_id")):
        explorer(frame, client=client)
    assert [path for path in server.paths() if "/organisations" in path] == []
