"""An organisation's ledger, read from the registry: :func:`ledger` and :func:`aledger`.

What is read, concurrently: the deliveries the organisation received, the transfers into
and out of its account, the retirements it made, its orders and its current credit batches
(split parents included, for the lineage of split batches); then those records' credit
batches, many at once (``client.many``), while the batch list may still be arriving.
The API lists no refunds: name the ones you hold with ``refund_ids``.
Credits that came by a route nobody listed are not lost: the ledger's findings name them
and :func:`isoanalytics.reconcile_ledger` reports them. How the rows are built is
:func:`isoanalytics.records.ledger.build_ledger`.

Requests in flight stay within the client's ``concurrency``: the per-record lists run
through ``client.many`` (the client's own parallel steps, retries and cancellation); the few
list chains beside them, one request at a time each, share the client's connection pool (of
``concurrency`` connections; the async client's limit covers every request).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pandas as pd

from .._progress import progress_bar
from ..ids import check_id
from ..records.ledger import build_ledger
from ..records.resources import record_frame
from .client import AsyncRegistryClient, RegistryClient

__all__ = ["aledger", "ledger"]

# Current batches of every status: split parents carry the lineage of their children.
_STATUSES = ("active", "retired", "split")
# The lists read before the per-record ones: deliveries, transfers out, transfers in,
# retirements, the organisation's batches, its orders, the refunds named.
_LISTS = 7


def _checked(organisation_id: str, refund_ids: Iterable[str]) -> tuple[str, list[str]]:
    organisation_id = check_id(organisation_id, "organisation", argument="organisation_id")
    if isinstance(refund_ids, str):
        raise TypeError("refund_ids must be several ids (a list or tuple), not one string")
    refunds = [check_id(refund_id, "refund", argument="refund_ids")
               for refund_id in dict.fromkeys(refund_ids)]
    return organisation_id, refunds


def _transfers(outgoing: pd.DataFrame, incoming: pd.DataFrame) -> pd.DataFrame:
    """Both directions in one frame; a transfer to oneself is in both lists, kept once."""
    parts = [frame for frame in (outgoing, incoming) if len(frame)]
    if len(parts) < 2:
        return parts[0] if parts else outgoing
    return pd.concat(parts, ignore_index=True).drop_duplicates("id", ignore_index=True)


def _per_record(organisation_id: str, deliveries: pd.DataFrame, transfers: pd.DataFrame,
                retirements: pd.DataFrame,
                refunds: list[str]) -> list[tuple[str, list[str], dict[str, str]]]:
    """The ``client.many`` calls that read every record's credit batches: (method, ids,
    arguments); a retirement's batches are public, the others need the organisation's token."""
    reader = {"organisation_id": organisation_id}
    calls = [("delivery_credit_batches", list(deliveries["id"]), reader),
             ("retirement_credit_batches", list(retirements["id"]), {}),
             ("transfer_credit_batches", list(transfers["id"]), reader),
             ("refund_credit_batches", refunds, reader)]
    return [(method, ids, arguments) for method, ids, arguments in calls if ids]


def _bar(progress: bool | None) -> Any:
    return progress_bar(_LISTS, "ledger", "list", shown=progress)


def _grow(bar: Any, more: int) -> Callable[[str], object]:
    bar.total += more
    bar.refresh()
    return lambda _: bar.update(1)


def ledger(client: RegistryClient, organisation_id: str, *, refund_ids: Iterable[str] = (),
           progress: bool | None = None) -> pd.DataFrame:
    """Every movement of credits into, within or out of an organisation's account.

    Parameters
    ----------
    client : RegistryClient
        A client holding the organisation's access token.
    organisation_id : str
        The account.
    refund_ids : list of str
        The buffer-pool refunds the organisation received (``bpr_...``): the API has no list
        of them, so a refund not named here is a credit arriving by no listed route (the
        ledger's findings name its batches, and :func:`isoanalytics.reconcile_ledger`
        reports them).
    progress : bool or None
        A progress bar counting the lists read: None (default) draws it only when someone
        watches (a terminal, a notebook), True always, False never.

    Returns
    -------
    DataFrame
        The ledger frame (:data:`isoanalytics.records.movements.LEDGER_COLUMNS`): one row per
        movement, ordered by ``at``; ``delivered``, ``transferred_in`` and ``refunded`` at
        the batch as it arrived, ``transferred_out`` and ``retired`` at the batch as it
        left, so a split batch is never counted twice. ``attrs["ledger"]`` holds the
        organisation's orders and the findings (see :mod:`isoanalytics.records.ledger`).

    Raises
    ------
    InvalidIdError
        A malformed organisation or refund id, before any request.
    RegistryError
        The first request that failed (a refund id the organisation did not receive is a
        NotFoundError): a ledger is whole or not given.

    Examples
    --------
    >>> from isoanalytics import RegistryClient, demo
    >>> from isoanalytics.analysis.holdings import holdings_as_of
    >>> from isoanalytics.registry.ledger import ledger
    >>> registry = demo.registry()
    >>> org = registry.buyers["large"]
    >>> refunds = [r["id"] for r in registry.refunds() if r["to_organisation"]["id"] == org]
    >>> with RegistryClient.demo() as client:
    ...     moves = ledger(client, org, refund_ids=refunds, progress=False)
    ...     balance = client.credit_balance(org)
    >>> sorted(moves["event"].unique())
    ['delivered', 'refunded', 'retired', 'transferred_out']
    >>> holdings_as_of(moves) == balance
    True
    """
    if not isinstance(client, RegistryClient):
        raise TypeError(f"ledger() takes a RegistryClient, got {type(client).__name__}"
                        + ("; with an AsyncRegistryClient, use `await aledger(client, ...)`"
                           if isinstance(client, AsyncRegistryClient) else ""))
    organisation_id, refunds = _checked(organisation_id, refund_ids)
    with _bar(progress) as bar, ThreadPoolExecutor(_LISTS + 1, "isoanalytics-ledger") as pool:
        def read(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
            def counted() -> Any:
                result = function(*args, **kwargs)
                bar.update(1)
                return result
            return pool.submit(counted)

        # Threads, as fetch_balances: each list is a chain of pages, and the chains run side
        # by side; the batch list may take longest, so the per-record lists do not wait on it.
        batches = read(client.credit_batches, organisation_id, status=list(_STATUSES))
        orders = read(client.orders, organisation_id)
        deliveries = read(client.deliveries, to_organisation_id=organisation_id)
        outgoing = read(client.transfers, from_organisation_id=organisation_id)
        incoming = read(client.transfers, to_organisation_id=organisation_id)
        retirements = read(client.retirements, owner_organisation_id=organisation_id)
        refund_records = read(client.many, "refund", refunds, organisation_id=organisation_id)
        transfers = _transfers(outgoing.result(), incoming.result())
        record_batches: dict[str, pd.DataFrame] = {}
        for method, ids, arguments in _per_record(organisation_id, deliveries.result(),
                                                  transfers, retirements.result(), refunds):
            record_batches.update(client.many(method, ids, on_each=_grow(bar, len(set(ids))),
                                              **arguments))
        return build_ledger(
            organisation_id, deliveries=deliveries.result(), transfers=transfers,
            retirements=retirements.result(),
            refunds=record_frame("refund", list(refund_records.result().values())),
            record_batches=record_batches, batches=batches.result(), orders=orders.result())


async def aledger(client: AsyncRegistryClient, organisation_id: str, *,
                  refund_ids: Iterable[str] = (), progress: bool | None = None) -> pd.DataFrame:
    """The asyncio twin of :func:`ledger`: the same frame, read on the event loop.

    Examples
    --------
    >>> import asyncio
    >>> from isoanalytics import AsyncRegistryClient, demo
    >>> from isoanalytics.registry.ledger import aledger
    >>> async def moves():
    ...     async with AsyncRegistryClient.demo() as client:
    ...         return await aledger(client, demo.DEFAULT_ORGANISATION_ID, progress=False)
    >>> sorted(asyncio.run(moves())["event"].unique())
    ['delivered', 'retired']
    """
    import asyncio

    if not isinstance(client, AsyncRegistryClient):
        raise TypeError(f"aledger() takes an AsyncRegistryClient, got {type(client).__name__}"
                        + ("; with a RegistryClient, use ledger(client, ...)"
                           if isinstance(client, RegistryClient) else ""))
    organisation_id, refunds = _checked(organisation_id, refund_ids)
    with _bar(progress) as bar:
        async def counted(awaitable: Any) -> Any:
            result = await awaitable
            bar.update(1)
            return result

        batches = asyncio.ensure_future(counted(
            client.credit_batches(organisation_id, status=list(_STATUSES))))
        try:
            orders, deliveries, outgoing, incoming, retirements, refund_records = (
                await asyncio.gather(
                    counted(client.orders(organisation_id)),
                    counted(client.deliveries(to_organisation_id=organisation_id)),
                    counted(client.transfers(from_organisation_id=organisation_id)),
                    counted(client.transfers(to_organisation_id=organisation_id)),
                    counted(client.retirements(owner_organisation_id=organisation_id)),
                    counted(client.many("refund", refunds, organisation_id=organisation_id))))
            transfers = _transfers(outgoing, incoming)
            # Side by side: the async client's one limit bounds all of their requests.
            parts = await asyncio.gather(*(
                client.many(method, ids, on_each=_grow(bar, len(set(ids))), **arguments)
                for method, ids, arguments in _per_record(organisation_id, deliveries,
                                                          transfers, retirements, refunds)))
            record_batches = {key: frame for part in parts for key, frame in part.items()}
            held = await batches
        finally:
            batches.cancel()  # a no-op once done; stops it when another list failed
        return build_ledger(
            organisation_id, deliveries=deliveries, transfers=transfers, retirements=retirements,
            refunds=record_frame("refund", list(refund_records.values())),
            record_batches=record_batches,
            batches=held, orders=orders)
