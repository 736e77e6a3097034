"""The pager's rules, for any list and any server behaviour (hypothesis, no HTTP)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isoanalytics import PaginationError
from isoanalytics.registry.http import Call
from isoanalytics.registry.plans import pages


def organisation(index: int) -> dict:
    return {"id": f"org_1PROP{index:013d}", "name": f"Org {index}", "domain": None}


def drive(plan, respond):
    """What a client does with a plan, minus the network: answer each Call in turn."""
    calls = 0
    try:
        step = next(plan)
        while True:
            calls += 1
            assert calls < 10_000, "the pager did not stop"
            step = plan.send(respond(step))
    except StopIteration as done:
        return done.value, calls


def server(records: list[dict], page_size: int, fault: str | None = None, fault_page: int = 2):
    """A server that pages ``records`` (at most ``page_size`` a page), optionally misbehaving."""
    def respond(call: Call) -> bytes:
        params = dict(call.params)
        start = int(params.get("after", "-1")) + 1
        size = min(int(params["first"]), page_size)
        page = call.page
        if fault == "repeat_page" and page == fault_page:
            start = max(start - size, 0)
        nodes = records[start:start + size]
        has_next = start + size < len(records)
        end = str(start + len(nodes) - 1) if nodes else None
        total = len(records)
        if fault == "stuck_cursor" and page >= fault_page:
            end = str(size - 1)
        if fault == "growing_total" and page == fault_page:
            total += 1
        if fault == "endless" and page >= fault_page:
            has_next, nodes = True, []
        return json.dumps({"nodes": nodes, "total_count": total, "page_info": {
            "has_previous_page": start > 0, "start_cursor": None,
            "has_next_page": has_next, "end_cursor": end}}).encode()
    return respond


@given(count=st.integers(0, 260), page_size=st.integers(1, 50))
def test_every_record_arrives_once_in_order(count, page_size):
    records = [organisation(index) for index in range(count)]
    table, calls = drive(pages("organisation", Call("/beneficiaries")), server(records, page_size))
    assert table.ids == [record["id"] for record in records]
    assert calls == max(1, -(-count // page_size))


@given(count=st.integers(3, 200), page_size=st.integers(1, 50),
       fault=st.sampled_from(["repeat_page", "stuck_cursor", "growing_total", "endless"]))
def test_a_misbehaving_server_is_an_error_never_a_loop(count, page_size, fault):
    records = [organisation(index) for index in range(count)]
    page_size = min(page_size, max(1, count // 3))  # the faults need pages 2 and 3 to exist
    with pytest.raises(PaginationError):
        drive(pages("organisation", Call("/beneficiaries")), server(records, page_size, fault))



@given(total_count=st.integers(0, 30), sizes=st.lists(st.integers(0, 60), min_size=1, max_size=80),
       more=st.lists(st.booleans(), min_size=1, max_size=80))
def test_no_server_makes_the_pager_ask_more_than_total_count_plus_one_pages(
        total_count, sizes, more):
    """Fresh ids and cursors in any page sizes, with any has_next_page: bounded by the count."""
    served = {"ids": 0, "pages": 0}

    def respond(call: Call) -> bytes:
        index = served["pages"]
        served["pages"] += 1
        size = sizes[index % len(sizes)]
        nodes = [organisation(served["ids"] + n) for n in range(size)]
        served["ids"] += size
        return json.dumps({"nodes": nodes, "total_count": total_count, "page_info": {
            "has_next_page": more[index % len(more)], "end_cursor": f"c{index}"}}).encode()

    try:
        table, _ = drive(pages("organisation", Call("/beneficiaries")), respond)
    except PaginationError:
        pass
    else:
        assert len(table) == total_count
    assert served["pages"] <= total_count + 1
