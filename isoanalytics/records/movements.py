"""The ledger frame: one row per movement of credits into, within or out of an account.

Its events are named here, once, for the ledger that builds the frame and the timelines and
holdings that read it. A movement's ``credit_kgs`` is never negative: the event says which
way the credits go.
"""

from __future__ import annotations

__all__ = ["EVENTS", "INBOUND", "OUTBOUND"]

EVENTS = ("delivered", "transferred_in", "transferred_out", "retired", "refunded")
# Events that add active credits to the account, and those that take them out of it
# (a retirement takes them out of the active balance into the retired one).
INBOUND = ("delivered", "transferred_in", "refunded")
OUTBOUND = ("transferred_out", "retired")
