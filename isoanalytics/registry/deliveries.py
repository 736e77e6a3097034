"""Deliveries against orders, fetched: :func:`delivery_schedule` and :func:`adelivery_schedule`.

A thin fetch of an organisation's orders and the deliveries it received (two lists);
``records.deliveries.schedule`` sets one against the other (see its rules).
"""

from __future__ import annotations

from typing import Any

from .._options import check_integer
from ..ids import check_id
from ..records.deliveries import STALL_DAYS, DeliverySchedule, schedule
from ..records.instants import utc_bound
from .client import AsyncRegistryClient, RegistryClient

__all__ = ["adelivery_schedule", "delivery_schedule"]


def _checked(organisation_id: str, as_of: Any, stall_days: int) -> str:
    utc_bound(as_of, "as_of")
    check_integer("stall_days", stall_days, minimum=0)
    return check_id(organisation_id, "organisation", argument="organisation_id")


def delivery_schedule(client: RegistryClient, organisation_id: str, *, as_of: Any = None,
                      stall_days: int = STALL_DAYS) -> DeliverySchedule:
    """Each order of an organisation against its deliveries, and each supplier's progress.

    Parameters
    ----------
    client : RegistryClient
    organisation_id : str
    as_of : date or time-zone-aware datetime, optional
        When to judge which orders are behind; default: now (on the demo registry, pass
        ``demo.AS_OF``, the demo's own now).
    stall_days : int
        An order not ``completed``, with kilograms still to come and no delivery for more
        than this many days (from its last delivery, or its contract date) is ``behind``
        (default 730: two yearly delivery cycles).

    Returns
    -------
    DeliverySchedule
        ``.orders`` (one row per order: ``order_id, supplier_id, supplier_name, status,
        effective_contract_date, ordered_kgs, delivered_kgs`` (from the deliveries),
        ``remaining_kgs``, first and last delivery, days from contract to each,
        ``behind``...), ``.progress`` (monthly cumulative delivered against ordered per
        supplier, for ``plots.delivery_curve``), ``.deliveries`` and ``.problems`` (an
        order whose deliveries do not add up to what it says, a delivery without a listed
        order; also warned about). See :class:`~isoanalytics.records.deliveries.DeliverySchedule`.

    Examples
    --------
    >>> from isoanalytics import RegistryClient, demo
    >>> from isoanalytics.registry.deliveries import delivery_schedule
    >>> with RegistryClient.demo() as client:
    ...     planned = delivery_schedule(client, demo.registry().buyers["typical"],
    ...                                 as_of=demo.AS_OF)
    >>> planned.orders.loc[planned.orders["behind"], ["order_id", "delivered_share"]]
    ... # doctest: +NORMALIZE_WHITESPACE
                   order_id  delivered_share
    1  ord_18YKA4VE6WVXTGK3         0.573615
    >>> planned.problems.empty
    True
    """
    if isinstance(client, AsyncRegistryClient):
        raise TypeError("delivery_schedule() takes a RegistryClient; with an "
                        "AsyncRegistryClient, use `await adelivery_schedule(client, ...)`")
    organisation = _checked(organisation_id, as_of, stall_days)
    return schedule(client.orders(organisation),
                    client.deliveries(to_organisation_id=organisation), as_of=as_of,
                    stall_days=stall_days)


async def adelivery_schedule(client: AsyncRegistryClient, organisation_id: str, *,
                             as_of: Any = None,
                             stall_days: int = STALL_DAYS) -> DeliverySchedule:
    """The asyncio twin of :func:`delivery_schedule`.

    Examples
    --------
    >>> import asyncio
    >>> from isoanalytics import AsyncRegistryClient, demo
    >>> from isoanalytics.registry.deliveries import adelivery_schedule
    >>> async def planned(organisation):
    ...     async with AsyncRegistryClient.demo() as client:
    ...         return await adelivery_schedule(client, organisation, as_of=demo.AS_OF)
    >>> asyncio.run(planned(demo.registry().buyers["typical"]))
    DeliverySchedule(4 orders, 4 deliveries, 1 behind, 0 problems, as_of=2026-10-31T00:00:00+00:00)
    """
    import asyncio  # only here: a sync user never loads it

    if not isinstance(client, AsyncRegistryClient):
        raise TypeError("adelivery_schedule() takes an AsyncRegistryClient; with a "
                        "RegistryClient, use delivery_schedule(client, ...)")
    organisation = _checked(organisation_id, as_of, stall_days)
    orders, deliveries = await asyncio.gather(
        client.orders(organisation), client.deliveries(to_organisation_id=organisation))
    return schedule(orders, deliveries, as_of=as_of, stall_days=stall_days)
