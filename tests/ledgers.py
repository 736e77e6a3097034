"""Ledger-shaped frames for tests, built from credit batches until ``isoanalytics.ledger`` lands.

Each batch the organisation holds came in once (``delivered`` at its ``delivered_at``, or its
``issued_at`` when it has none) and a retired batch went out once (``retired`` at its
``retired_at``): the movements of a history with no transfers, whose holdings are the batches'.
"""

from __future__ import annotations

import pandas as pd

from isoanalytics.records.movements import EVENTS, LEDGER_COLUMNS


def ledger_from_batches(batches: pd.DataFrame, organisation_id: str) -> pd.DataFrame:
    """A ledger (columns and dtypes of records/movements.LEDGER_COLUMNS) from credit batches."""
    held = batches[batches["status"].astype(str) != "split"]
    base = pd.DataFrame({
        "organisation_id": organisation_id,
        "credit_kgs": held["credit_kgs"].to_numpy(),
        "credit_batch_id": held["id"].to_numpy(),
        "project_id": held["project_id"].to_numpy(),
        "supplier_id": held["supplier_id"].to_numpy(),
        "vintage": pd.array(held["sequestered_on"].dt.year, dtype="Int64"),
        "delivery_id": held["delivery_id"].to_numpy(),
        "retirement_id": held["retirement_id"].to_numpy(),
    })
    came_in = base.assign(at=held["delivered_at"].fillna(held["issued_at"]).to_numpy(),
                          event="delivered")
    retired = (held["status"].astype(str) == "retired").to_numpy()
    went_out = base[retired].assign(at=held["retired_at"].to_numpy()[retired], event="retired")
    ledger = pd.concat([came_in, went_out], ignore_index=True).reindex(columns=LEDGER_COLUMNS)
    ledger["event"] = ledger["event"].astype(pd.CategoricalDtype(EVENTS))
    ledger["at"] = pd.to_datetime(ledger["at"], utc=True)
    return ledger.sort_values("at", kind="stable", ignore_index=True)
