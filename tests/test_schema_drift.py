"""Each documented variant of the credit-batch shape, replayed through a real loopback server.

The API's documentation shows v0's credit batch at several moments: ``sequestered_at`` (a
date-time) where the current description has ``sequestered_on`` (a date); ``delivered_at``,
``delivery_id``, ``supplier_id``, ``ccp_approved`` and ``carbon_removal_data`` absent from older
pages; a ``removal_location`` object in one of them. Each is read, warned about once per call
(naming the endpoint and the fields) and reported in ``frame.attrs["schema_drift"]``; the
fields the figures rest on stay strict.
"""

from __future__ import annotations

import json
import warnings

import httpx
import pandas as pd
import pytest

import isoanalytics as ia
from isoanalytics import demo

from .loopback import serve_demo

ORG = demo.DEFAULT_ORGANISATION_ID
OLDER = ("delivered_at", "delivery_id", "supplier_id", "ccp_approved", "carbon_removal_data")


def _sequestered_at(batch: dict) -> None:
    # the earlier name, a date-time: late evening west of UTC is the next day in UTC
    day = batch.pop("sequestered_on")
    batch["sequestered_at"] = f"{day}T22:30:00-05:00"


def _older(batch: dict) -> None:
    for key in OLDER:
        batch.pop(key)


def _removal_location(batch: dict) -> None:
    batch["removal_location"] = {"country_code": "ISL", "country_name": "Iceland",
                                 "latitude": 64.1, "longitude": -21.9, "description": None}


VARIANTS = {  # name -> (change to each batch, fields missing, fields renamed)
    "sequestered_at": (_sequestered_at, [], {"sequestered_at": "sequestered_on"}),
    "older": (_older, list(OLDER), {}),
    "removal_location": (_removal_location, [], {}),
}


def _rewriting(change):
    def rewrite(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if not request.url.path.endswith("/credit_batches") or response.status_code != 200:
            return response
        body = json.loads(response.content)
        for batch in body["nodes"]:
            change(batch)
        return httpx.Response(200, json=body, headers={"content-type": "application/json"})
    return rewrite


def _read(server, change, by_project: bool) -> tuple[pd.DataFrame, list]:
    url = serve_demo(server, rewrite=_rewriting(change))
    with (ia.RegistryClient(base_url=url, client_secret=demo.CLIENT_SECRET,
                            access_token=demo.access_token(ORG)) as client,
          warnings.catch_warnings(record=True) as caught):
        warnings.simplefilter("always")
        frame = client.credit_batches(ORG, by_project=by_project)
    return frame, [w for w in caught if issubclass(w.category, ia.SchemaDriftWarning)]


@pytest.fixture(scope="module")
def current() -> pd.DataFrame:
    return ia.RegistryClient.demo().credit_batches(ORG, by_project=False)


@pytest.mark.parametrize("by_project", [False, True])
@pytest.mark.parametrize("variant", VARIANTS)
def test_each_documented_variant_is_read_warned_and_reported(server, current, variant,
                                                              by_project):
    change, missing, renamed = VARIANTS[variant]
    frame, caught = _read(server, change, by_project)
    assert tuple(frame.columns) == tuple(current.columns)
    assert frame["id"].tolist() == current["id"].tolist()
    assert frame["credit_kgs"].tolist() == current["credit_kgs"].tolist()
    assert frame["issued_at"].equals(current["issued_at"])
    if not (missing or renamed):  # an extra object: ignored, like any unknown field
        pd.testing.assert_frame_equal(frame, current)
        assert "schema_drift" not in frame.attrs and caught == []
        return
    assert frame.attrs["schema_drift"] == {"missing": missing, "renamed": renamed}
    assert len(caught) == 1, [str(w.message) for w in caught]  # once per call, however read
    warning = caught[0].message
    assert warning.endpoint == f"GET /organisations/{ORG}/credit_batches"
    assert list(warning.missing) == missing and warning.renamed == renamed
    for field in [*missing, *renamed]:
        assert field in str(warning)
    for key in missing:
        columns = [key] if key in frame else [c for c in frame if c.endswith("_kg")]
        assert frame[columns].isna().all().all(), key
    if renamed:
        expected = current["sequestered_on"] + pd.Timedelta(days=1)  # 22:30 -05:00 is tomorrow
        assert frame["sequestered_on"].tolist() == expected.tolist()
        assert frame["sequestered_on"].dtype == current["sequestered_on"].dtype
    else:
        unchanged = [c for c in frame if c not in missing and not c.endswith("_kg")
                     and c != "ccp_approved"]
        pd.testing.assert_frame_equal(frame[unchanged], current[unchanged])


@pytest.mark.parametrize("strict", ["id", "size", "status", "issued_at", "retired_at",
                                    "project_id", "issuance_id", "owner"])
def test_the_fields_the_figures_rest_on_stay_strict(server, strict):
    url = serve_demo(server, rewrite=_rewriting(lambda batch: batch.pop(strict)))
    with (ia.RegistryClient(base_url=url, client_secret=demo.CLIENT_SECRET,
                            access_token=demo.access_token(ORG)) as client,
          pytest.raises(ia.SchemaError) as caught):
        client.credit_batches(ORG, by_project=False)
    assert caught.value.path == f"nodes[0].{strict}"
    assert "required key is missing" in str(caught.value)
    assert caught.value.endpoint.startswith(f"GET /organisations/{ORG}/credit_batches")


def test_a_current_page_reports_no_drift(current):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ia.SchemaDriftWarning)
        frame = ia.RegistryClient.demo().credit_batches(ORG, by_project=False)
    assert "schema_drift" not in frame.attrs
    pd.testing.assert_frame_equal(frame, current)
