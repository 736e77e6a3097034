"""The envelopes of the API's lists, generic in their record kind: a page of a paginated list
(spec: ``PaginatedListResource[...]``; ``Page[CreditBatch]`` decodes a page and its records in
one pass), a list answered whole (``ListResource[...]``) and an issuance's two lists of batches."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

import msgspec
from msgspec import Meta

from .decoding import Reader
from .fields import INT64_MAX, IssuanceId
from .quantities import CreditQuantity

T = TypeVar("T")


class PageInfo(msgspec.Struct, gc=False):
    """Where a page sits in its list (spec: ``PageInfo``); the cursors going back are not read.

    ``end_cursor`` may be absent, as null: a last page needs none.

    Examples
    --------
    >>> msgspec.json.decode(b'{"has_next_page": false, "end_cursor": null}', type=PageInfo)
    PageInfo(has_next_page=False, end_cursor=None)
    """

    has_next_page: Annotated[bool, Meta(extra={"expected": "a boolean"})]
    # An empty cursor cannot be followed: a string of at least one character, or null.
    end_cursor: Annotated[str, Meta(min_length=1,
                                    extra={"expected": "a non-empty string or null"})] | None = None


class Page(msgspec.Struct, Generic[T], gc=False):
    """One page of a Relay-paginated list: its records, the list's size, the way on.

    Examples
    --------
    >>> from isoanalytics.records.kinds import Organisation
    >>> page = msgspec.json.decode(
    ...     b'{"nodes": [{"id": "org_1GB56M1ST1S0GVNA", "name": "Isometric", "domain": null}],'
    ...     b' "total_count": 1, "page_info": {"has_next_page": false, "end_cursor": null}}',
    ...     type=Page[Organisation])
    >>> page.total_count, page.nodes[0].name
    (1, 'Isometric')
    """

    nodes: list[T]
    total_count: Annotated[int, Meta(ge=0, le=INT64_MAX,
                                     extra={"expected": "a non-negative 64-bit integer"})]
    page_info: PageInfo


#: A page's envelope alone (its records taken as any JSON): on the error path, an envelope
#: that is wrong is named before the records inside it, whichever comes first in the body.
ENVELOPE: Reader[Page[Any]] = Reader(
    Page[Any], "a paginated list object (nodes, total_count, page_info)")


class Listing(msgspec.Struct, Generic[T], gc=False):
    """A list answered whole, without pages (spec: ``ListResource[...]``): records and count.

    Examples
    --------
    >>> from isoanalytics.records.kinds import Organisation
    >>> listing = msgspec.json.decode(b'{"nodes": [], "total_count": 0}',
    ...                               type=Listing[Organisation])
    >>> listing.total_count
    0
    """

    nodes: list[T]
    total_count: Annotated[int, Meta(ge=0, le=INT64_MAX,
                                     extra={"expected": "a non-negative 64-bit integer"})]


class IssuanceBatches(msgspec.Struct, Generic[T], gc=False):
    """An issuance's credit batches, the supplier's and the buffer pool's (spec:
    ``IssuanceCreditBatches``); the totals are the sums of each list's sizes."""

    issuance_id: IssuanceId
    supplier_credit_batches: list[T]
    supplier_credit_batch_size_total: CreditQuantity
    buffer_pool_credit_batches: list[T]
    buffer_pool_credit_batch_size_total: CreditQuantity
    credit_batch_size_total: CreditQuantity
