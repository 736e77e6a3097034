"""parse_balance refuses bad bodies with a SchemaError naming the JSON path, and tolerates
what the API's compatibility policy allows."""

from __future__ import annotations

import copy
import json

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

import isoanalytics
from isoanalytics import SchemaError, parse_balance

from .conftest import ORG, bodies, make_body, quantity

PROJECT = "prj_1CTWZQGKE1S0VAXA"
SUPPLIERS = [f"spl_1CC712KFS1S0YKP{c}" for c in "ABCDE"]
ORDER = "ord_1FAN3S3WV1S0B842"


@pytest.fixture
def body() -> dict:
    return make_body(
        projects=[(PROJECT, 125632, 125632)],
        suppliers=[(s, 25000 + i, 1000 * i) for i, s in enumerate(SUPPLIERS)],
        orders=[(ORDER, 125632, 125632)],
    )


def _error(body, **kwargs) -> SchemaError:
    with pytest.raises(SchemaError) as caught:
        parse_balance(body, **kwargs)
    return caught.value


def test_schema_error_is_a_value_error():
    assert issubclass(SchemaError, ValueError)


def test_example_from_the_issue(body):
    body["supplier_balances"][3]["total"]["retired_credits_total"]["credit_kgs"] = "12.5"
    error = _error(body)
    assert str(error).startswith(
        "supplier_balances[3].total.retired_credits_total.credit_kgs: "
        "expected a non-negative integer, got '12.5'"
    )
    assert error.path == "supplier_balances[3].total.retired_credits_total.credit_kgs"


@pytest.mark.parametrize(
    "bad, problem",
    [
        (12.5, "expected a non-negative integer, got 12.5 (number)"),
        (12.0, "expected a non-negative integer, got 12.0 (number)"),
        (True, "expected a non-negative integer, got True (boolean)"),
        (-1, "expected a non-negative integer, got -1 (integer)"),
        (None, "expected a non-negative integer, got None (null)"),
        (2**63, "beyond the API's bigint range"),
    ],
)
def test_credit_kgs_must_be_a_non_negative_integer(body, bad, problem):
    body["project_balances"][0]["total"]["active_credits_total"]["credit_kgs"] = bad
    error = _error(body)
    assert error.path == "project_balances[0].total.active_credits_total.credit_kgs"
    assert problem in str(error)


@pytest.mark.parametrize("credits", [125.6, 125.633, "125.632", None, True])
def test_credits_must_agree_with_credit_kgs(body, credits):
    body["total"]["retired_credits_total"]["credits"] = credits
    error = _error(body)
    assert error.path == "total.retired_credits_total.credits"


@pytest.mark.parametrize("credits", [125.632, 125.6324, 125.6316, 125.632000001])
def test_credits_rounding_is_tolerated(body, credits):
    body["total"]["retired_credits_total"]["credits"] = credits
    assert parse_balance(body).retired_kgs == 125632


def test_non_finite_credits_are_refused(body):
    text = json.dumps(body).replace('"credits": 125.632', '"credits": NaN', 1)
    assert "NaN" in text
    assert "credits" in _error(text).path


@pytest.mark.parametrize(
    "mutate, path",
    [
        (lambda b: b.pop("total"), "total"),
        (lambda b: b.pop("project_balances"), "project_balances"),
        (lambda b: b.pop("supplier_balances"), "supplier_balances"),
        (lambda b: b["total"].pop("active_credits_total"), "total.active_credits_total"),
        (lambda b: b["project_balances"][0].pop("total"), "project_balances[0].total"),
        (lambda b: b["project_balances"][0].pop("project_id"), "project_balances[0].project_id"),
        (lambda b: b["supplier_balances"][2]["total"]["active_credits_total"].pop("credits"),
         "supplier_balances[2].total.active_credits_total.credits"),
        (lambda b: b["order_balances"][0]["total"]["retired_credits_total"].pop("credit_kgs"),
         "order_balances[0].total.retired_credits_total.credit_kgs"),
    ],
)
def test_missing_required_keys(body, mutate, path):
    mutate(body)
    error = _error(body)
    assert error.path == path
    assert "required" in error.problem


@pytest.mark.parametrize(
    "mutate, path, problem",
    [
        (lambda b: b.update(project_balances={}), "project_balances", "expected an array"),
        (lambda b: b.update(supplier_balances=None), "supplier_balances", "expected an array"),
        (lambda b: b.update(total=[]), "total", "expected an object"),
        (lambda b: b["supplier_balances"].__setitem__(1, "spl"), "supplier_balances[1]",
         "expected an object"),
        (lambda b: b["supplier_balances"][4].update(total=7), "supplier_balances[4].total",
         "expected an object"),
    ],
)
def test_wrong_container_types(body, mutate, path, problem):
    mutate(body)
    error = _error(body)
    assert (error.path, error.problem) == (path, problem)


@pytest.mark.parametrize(
    "list_key, key, bad",
    [
        ("project_balances", "project_id", "spl_1CTWZQGKE1S0VAXA"),  # a supplier id
        ("project_balances", "project_id", "prj_1CTW"),  # too short
        ("project_balances", "project_id", "prj_" + "X" * 34),  # too long
        ("project_balances", "project_id", 12345678901234567890),
        ("supplier_balances", "supplier_id", "PRJ_1CC712KFS1S0YKPS"),
        ("order_balances", "order_id", None),
    ],
)
def test_ids_of_the_wrong_type_or_prefix(body, list_key, key, bad):
    body[list_key][0][key] = bad
    error = _error(body)
    assert error.path == f"{list_key}[0].{key}"
    assert "id" in error.problem


def test_the_same_entity_twice(body):
    body["supplier_balances"][3]["supplier_id"] = SUPPLIERS[1]
    error = _error(body)
    assert error.path == "supplier_balances[3].supplier_id"
    assert "listed twice (first at supplier_balances[1])" in error.problem


@pytest.mark.parametrize("text", ["", "{", "{'total': 1}", "[1, 2", b"\xff\xfe{}", "nul"])
def test_invalid_json(text):
    error = _error(text)
    assert error.path == "$"
    assert "JSON" in str(error) or "UTF-8" in str(error)
    assert "credit_balance" in str(error)  # says what to pass instead


@pytest.mark.parametrize("value", [[], "[]", "3", "null", '"text"', 3, None])
def test_a_body_that_is_not_an_object(value):
    error = _error(value)
    assert error.path == "$"
    assert error.problem.startswith("expected a JSON object")


def test_a_huge_bad_body_is_described_briefly():
    error = _error([0] * 1_000_000)
    assert len(str(error)) < 300
    assert "array of 1000000 items" in str(error)


def test_errors_name_the_organisation(body):
    body["project_balances"][0]["total"]["active_credits_total"]["credit_kgs"] = -5
    error = _error(body, organisation_id=ORG)
    assert error.organisation_id == ORG
    assert str(error).startswith(f"[organisation {ORG}] project_balances[0]")


@pytest.mark.parametrize("bad", ["spl_1CC712KFS1S0YKPS", "org_1CC712KFS1S0YKP/..", 42])
def test_organisation_id_argument_is_checked(body, bad):
    # A caller's argument, not a body's value: InvalidIdError (a ValueError) naming it.
    with pytest.raises(isoanalytics.InvalidIdError) as caught:
        parse_balance(body, organisation_id=bad)
    assert caught.value.argument == "organisation_id"
    assert "organisation id" in str(caught.value)


# -- what the compatibility policy allows -------------------------------------------------------

def test_unknown_fields_are_ignored(body):
    extended = copy.deepcopy(body)
    extended["as_of"] = "2026-01-01"
    extended["project_balances"][0]["name"] = "A project"
    extended["project_balances"][0]["total"]["pending_credits_total"] = quantity(5)
    extended["total"]["active_credits_total"]["unit"] = "kg"
    assert parse_balance(extended) == parse_balance(body)


def test_reordered_keys_are_the_same_balance(body):
    def reverse(value):
        if isinstance(value, dict):
            return {key: reverse(value[key]) for key in reversed(list(value))}
        if isinstance(value, list):
            return [reverse(item) for item in value]
        return value

    assert parse_balance(json.dumps(reverse(body))) == parse_balance(body)


@pytest.mark.parametrize("absent", [lambda b: b.pop("order_balances"),
                                    lambda b: b.update(order_balances=None)])
def test_missing_order_balances_is_tolerated(body, absent):
    absent(body)
    parsed = parse_balance(body)
    assert parsed.order_balances_present is False
    assert parsed.entity_ids("order") == ()
    assert "order_balances" not in parsed.to_dict()


def test_str_bytes_and_dict_give_the_same_balance(body):
    text = json.dumps(body)
    assert parse_balance(text) == parse_balance(text.encode()) == parse_balance(body)
    assert parse_balance(bytearray(text.encode())) == parse_balance(body)


def test_quantities_beyond_2_53_stay_exact():
    big = 2**53 + 1  # float64 would round this to 2**53
    biggest = 2**63 - 1
    body = make_body(projects=[(PROJECT, big, biggest)], total=(big, biggest))
    text = orjson.dumps(body)
    parsed = parse_balance(text)
    assert (parsed.active_kgs, parsed.retired_kgs) == (big, biggest)
    frame = parsed.to_frame()
    assert frame["credit_kgs"].dtype == np.int64
    assert frame["credit_kgs"].tolist() == [big, biggest, big, biggest]


def test_integers_beyond_64_bits_are_refused_with_a_path():
    body = make_body(projects=[(PROJECT, 1, 1)], total=(1, 1))
    text = json.dumps(body).replace('"credit_kgs": 1,', f'"credit_kgs": {2**70},', 1)
    error = _error(text)
    assert error.path == "project_balances[0].total.active_credits_total.credit_kgs"
    assert "bigint" in error.problem


def test_empty_balance():
    parsed = parse_balance(make_body())
    assert parsed.total_kgs == 0
    assert len(parsed.to_frame()) == 2


# -- bytes (msgspec's decoder) and decoded objects (msgspec's convert) meet the same rules -------

_CORRUPTIONS = [
    "12.5", 12.5, -1, True, None, [], {}, 2**63, 2**64 + 1, float("nan"), float("inf"), "x",
    "prj_1CTWZQGKE1S0VAXA", "spl_1CC712KFS1S0YKPS", 0, 1,
    # ids of the right prefix and length that are no ids (they would become request paths)
    "prj_AAAAAAAA/../../../../../admin", "spl_/../spl_1CC712KFS1S0YKPS", "prj_1CTWZQGKE1S0VAX\n",
    "spl_1CC712KFS1S0YKP\u0410", "ord_1DBVRQDHBSBXWBW?", 10**400,
]


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


def _outcome(body):
    try:
        return parse_balance(body)
    except SchemaError as error:
        return error.path


@given(body=bodies(), data=st.data())
def test_bytes_and_decoded_bodies_agree(body, data):
    paths = [path for path in _paths(body) if len(path) >= 2]
    if paths:
        path = data.draw(st.sampled_from(paths))
        target = body
        for step in path[:-1]:
            target = target[step]
        if data.draw(st.booleans()) and isinstance(target, dict):
            del target[path[-1]]
        else:
            target[path[-1]] = data.draw(st.sampled_from(_CORRUPTIONS))
        corrupted = ".".join(str(step) for step in path)
    text = json.dumps(body)  # Python's json writes NaN and ints of any size
    from_dict, from_bytes = _outcome(body), _outcome(text.encode())
    assert from_dict == from_bytes
    if paths and isinstance(from_dict, str):  # refused: at the corrupted value or beside it
        named = from_dict.replace("[", ".").replace("]", "")
        assert named.startswith(corrupted.rsplit(".", 1)[0]), (named, corrupted)


@given(body=bodies())
def test_every_valid_body_round_trips(body):
    parsed = parse_balance(body, organisation_id=ORG)
    again = parse_balance(orjson.dumps(parsed.to_dict()), organisation_id=ORG)
    assert again == parsed


def test_public_api_names():
    for name in ["parse_balance", "CreditBalance", "summarize", "retired_share", "concentration",
                 "reconcile", "SchemaError", "stack_balances", "split_portfolio", "demo"]:
        assert name in isoanalytics.__all__
        assert hasattr(isoanalytics, name)


def test_import_stays_light():
    import subprocess
    import sys

    code = ("import sys, isoanalytics; "
            "print(sorted(m for m in ('matplotlib', 'ipywidgets') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_a_schema_error_survives_pickling():
    # A process pool sends exceptions back pickled: the message and every attribute survive.
    import pickle

    from isoanalytics import demo

    error = SchemaError("total.active", "expected a non-negative integer", value="raw text",
                        hint="credit_kgs counts whole kilograms",
                        organisation_id=demo.DEFAULT_ORGANISATION_ID,
                        endpoint="GET /organisations/x/credit_balance")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is SchemaError and str(copy) == str(error)
    assert (copy.path, copy.problem, copy.value_shown, copy.hint, copy.organisation_id,
            copy.endpoint) == (error.path, error.problem, error.value_shown, error.hint,
                               error.organisation_id, error.endpoint)


_LARGE_BODY = isoanalytics.demo.registry().credit_balance(
    isoanalytics.demo.registry().buyers["large"])


@pytest.mark.parametrize(("bad_id_row", "bad_kgs_row"), [(3, 5), (5, 3), (4, 4)])
def test_the_first_problem_is_named_whether_it_is_an_id_or_a_quantity(bad_id_row, bad_kgs_row):
    # Ids are checked a column at a time after a fast decode; the error must still be the
    # first problem in the body, as a strict decode in document order finds it.
    body = copy.deepcopy(_LARGE_BODY)
    body["project_balances"][bad_id_row]["project_id"] = "prj_AAAAAAAA/../../admin"
    body["project_balances"][bad_kgs_row]["total"]["active_credits_total"]["credit_kgs"] = 1.5
    with pytest.raises(SchemaError) as caught:
        parse_balance(json.dumps(body))
    first = min(bad_id_row, bad_kgs_row)
    expected = (f"project_balances[{first}].project_id" if first == bad_id_row
                else f"project_balances[{first}].total.active_credits_total.credit_kgs")
    assert caught.value.path == expected
