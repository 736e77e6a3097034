"""The ledger frame: one row per movement of credits into, within or out of an account.

Its columns and events are named here, once, for the ledger that builds the frame and for the
timelines, holdings and charts that read it. A movement's ``credit_kgs`` is never negative:
the event says which way the credits go.

Columns (in this order):

``organisation_id``
    The account the movement belongs to.
``at``
    When it happened: a UTC instant (``datetime64[us, UTC]``).
``event``
    One of :data:`EVENTS` (a categorical with exactly these categories).
``credit_kgs``
    int64 kilograms, exact, positive.
``credit_batch_id``, ``project_id``, ``supplier_id``
    The batch that moved and where its credits come from.
``vintage``
    The year of the batch's ``sequestered_on`` (nullable Int64).
``order_id``, ``delivery_id``, ``transfer_id``, ``retirement_id``, ``refund_id``
    The record behind the movement, where there is one (missing otherwise).
``counterparty_id``
    The other organisation of a transfer (sender or recipient), or a retirement's
    beneficiary; missing otherwise.
"""

from __future__ import annotations

__all__ = ["EVENTS", "INBOUND", "LEDGER_COLUMNS", "OUTBOUND"]

EVENTS = ("delivered", "transferred_in", "transferred_out", "retired", "refunded")
# Events that add active credits to the account, and those that take them out of its active
# balance (a retirement moves them from the active balance into the retired one).
INBOUND = ("delivered", "transferred_in", "refunded")
OUTBOUND = ("transferred_out", "retired")

LEDGER_COLUMNS = (
    "organisation_id", "at", "event", "credit_kgs", "credit_batch_id", "project_id",
    "supplier_id", "vintage", "order_id", "delivery_id", "transfer_id", "retirement_id",
    "refund_id", "counterparty_id",
)
