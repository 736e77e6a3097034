"""Delivery exposure: the kilograms still to be delivered, by supplier, and how concentrated.

Outstanding (undelivered) kilograms are a holding of a kind: a claim on suppliers'
future deliveries. :func:`delivery_exposure` shares them out by supplier and gives them the
same concentration figures as a balance (:func:`~isoanalytics.concentration`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..records.deliveries import DeliverySchedule
from ..records.frames import KGS_PER_CREDIT, check_columns, check_sum_fits, strings
from .metrics import Concentration, concentration

__all__ = ["EXPOSURE_COLUMNS", "DeliveryExposure", "delivery_exposure"]

EXPOSURE_COLUMNS = ("supplier_name", "orders", "open_orders", "behind_orders", "ordered_kgs",
                    "delivered_kgs", "remaining_kgs", "behind_kgs", "share", "remaining_credits")
_NEEDED = ("order_id", "supplier_id", "supplier_name", "status", "ordered_kgs",
           "delivered_kgs", "remaining_kgs", "behind")


@dataclass(frozen=True)
class DeliveryExposure:
    """Outstanding kilograms by supplier, and their concentration.

    Attributes
    ----------
    suppliers : DataFrame
        Indexed by ``supplier_id``, one row per supplier of the orders
        (:data:`EXPOSURE_COLUMNS`): ``supplier_name``, ``orders``, ``open_orders`` (not
        completed), ``behind_orders``, ``ordered_kgs``, ``delivered_kgs``,
        ``remaining_kgs`` (int64: what is still to come; an over-delivered order counts
        0), ``behind_kgs`` (the part of it in orders that are behind), ``share`` (of all
        remaining kilograms) and ``remaining_credits`` (tCO2e, for display). Largest
        remaining first, ties by id.
    concentration : Concentration
        :func:`~isoanalytics.concentration` of ``remaining_kgs`` across suppliers
        (``by="supplier"``, ``status="remaining"``): HHI, CR1/3/5, effective n, Gini.

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics.analysis.deliveries import delivery_exposure
    >>> orders = pd.DataFrame({
    ...     "order_id": ["ord_A", "ord_B", "ord_C"], "supplier_id": ["spl_S", "spl_S", "spl_T"],
    ...     "supplier_name": ["S", "S", "T"], "status": ["in_progress", "placed", "in_progress"],
    ...     "ordered_kgs": [10_000, 5_000, 4_000], "delivered_kgs": [4_000, 0, 3_000],
    ...     "remaining_kgs": [6_000, 5_000, 1_000], "behind": [True, False, False]})
    >>> exposure = delivery_exposure(orders)
    >>> exposure.suppliers["remaining_kgs"].to_dict(), exposure.suppliers["behind_kgs"].tolist()
    ({'spl_S': 11000, 'spl_T': 1000}, [6000, 0])
    >>> round(exposure.concentration.hhi), exposure.concentration.level
    (8472, 'high')
    """

    suppliers: pd.DataFrame
    concentration: Concentration


def delivery_exposure(schedule: DeliverySchedule | pd.DataFrame) -> DeliveryExposure:
    """What is still to be delivered, by supplier, with the concentration figures of a holding.

    Parameters
    ----------
    schedule : DeliverySchedule or DataFrame
        :func:`isoanalytics.delivery_schedule`'s result, or its ``orders`` frame (any frame
        with ``order_id, supplier_id, supplier_name, status, ordered_kgs, delivered_kgs,
        remaining_kgs, behind``).

    Returns
    -------
    DeliveryExposure
        ``suppliers`` (one row per supplier) and ``concentration`` (see its attributes).

    Examples
    --------
    >>> from isoanalytics import RegistryClient, demo
    >>> from isoanalytics.analysis.deliveries import delivery_exposure
    >>> from isoanalytics.registry.deliveries import delivery_schedule
    >>> with RegistryClient.demo() as client:
    ...     planned = delivery_schedule(client, demo.registry().buyers["typical"],
    ...                                 as_of=demo.AS_OF)
    >>> exposure = delivery_exposure(planned)
    >>> int(exposure.suppliers["remaining_kgs"].sum()) == int(
    ...     planned.orders["remaining_kgs"].clip(lower=0).sum())
    True
    >>> exposure.concentration.n
    2
    """
    orders = schedule.orders if isinstance(schedule, DeliverySchedule) else schedule
    check_columns(orders, _NEEDED, "delivery_exposure",
                  "a DeliverySchedule or its orders frame")
    for column in ("ordered_kgs", "delivered_kgs", "remaining_kgs"):
        dtype = orders[column].dtype
        if not pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            raise ValueError(f"delivery_exposure() takes {column} as integer kilograms, got "
                             f"dtype {dtype}")
    remaining = np.maximum(orders["remaining_kgs"].to_numpy(dtype=np.int64), 0)
    ordered = orders["ordered_kgs"].to_numpy(dtype=np.int64)
    delivered = orders["delivered_kgs"].to_numpy(dtype=np.int64)
    check_sum_fits(np.concatenate([remaining, ordered, delivered]))
    behind = orders["behind"].to_numpy(dtype=bool)
    open_order = (orders["status"].astype(object) != "completed").to_numpy(dtype=bool)
    codes, ids = pd.factorize(orders["supplier_id"].astype(object), use_na_sentinel=False)
    count = len(ids)

    def summed(values: np.ndarray) -> np.ndarray:
        sums = np.zeros(count, dtype=np.int64)
        np.add.at(sums, codes, values)  # exact int64, never through float
        return sums

    names: dict[object, object] = dict(zip(orders["supplier_id"].astype(object),
                                           orders["supplier_name"].astype(object), strict=True))
    left = summed(remaining)
    whole = int(left.sum())
    suppliers = pd.DataFrame({
        "supplier_name": strings(names[supplier] for supplier in ids).array,
        "orders": summed(np.ones(len(orders), dtype=np.int64)),
        "open_orders": summed(open_order.astype(np.int64)),
        "behind_orders": summed(behind.astype(np.int64)),
        "ordered_kgs": summed(ordered),
        "delivered_kgs": summed(delivered),
        "remaining_kgs": left,
        "behind_kgs": summed(np.where(behind, remaining, 0)),
        "share": left / whole if whole else np.full(count, np.nan),
        "remaining_credits": left / KGS_PER_CREDIT,
    }, index=pd.Index(strings(list(ids)), name="supplier_id"))
    suppliers = suppliers.sort_index(kind="stable").sort_values(
        "remaining_kgs", ascending=False, kind="stable")
    figures = dataclasses.replace(concentration(suppliers["remaining_kgs"]), by="supplier",
                                  status="remaining")
    return DeliveryExposure(suppliers[list(EXPOSURE_COLUMNS)], figures)
