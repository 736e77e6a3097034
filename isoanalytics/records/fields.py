"""The field types every schema is declared with: ids, bounded integers, instants, days, enums.

Each is a type msgspec checks while it decodes, so a schema (``balance_schema``, ``kinds``,
``page``) names them and states nothing twice. The id types take their pattern from
:func:`isoanalytics.ids.id_pattern`, the one id rule; ``Meta(extra=...)`` tells
``decoding`` which kind of id (or enum) a field holds, so its error can state the rule.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from msgspec import Meta

from ..ids import id_pattern

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def _id(kind: str) -> Meta:
    return Meta(pattern=id_pattern(kind), extra={"id_kind": kind})


CreditBatchId = Annotated[str, _id("credit_batch")]
ProjectId = Annotated[str, _id("project")]
SupplierId = Annotated[str, _id("supplier")]
OrganisationId = Annotated[str, _id("organisation")]
OrderId = Annotated[str, _id("order")]
RetirementId = Annotated[str, _id("retirement")]
IssuanceId = Annotated[str, _id("issuance")]
DeliveryId = Annotated[str, _id("delivery")]
RemovalId = Annotated[str, _id("removal")]
TransferId = Annotated[str, _id("transfer")]
RefundId = Annotated[str, _id("refund")]
ProjectDocumentId = Annotated[str, _id("project_document")]

#: Whole kilograms of CO2e: the API's bigint, never negative. msgspec refuses floats and
#: booleans here and reads integers of any size exactly before it applies the bounds.
Kilograms = Annotated[int, Meta(ge=0, le=INT64_MAX,
                                description="credit_kgs counts whole kilograms of CO2e")]
#: Any other integer of the API: 64-bit, signed.
Int64 = Annotated[int, Meta(ge=INT64_MIN, le=INT64_MAX)]
#: An RFC 3339 date-time with its offset: without one its instant would depend on the time
#: zone of the reader's machine. Frames hold it in UTC.
Instant = Annotated[datetime, Meta(tz=True)]
Day = date
Latitude = Annotated[float, Meta(ge=-90, le=90)]
Longitude = Annotated[float, Meta(ge=-180, le=180)]

# The spec's closed enums (tests/test_records.py checks them against the OpenAPI file).
CREDIT_BATCH_STATUSES = ("active", "split", "retired")
ORDER_STATUSES = ("placed", "in_progress", "completed")
PATHWAYS = (
    "biomass_carbon_removal_and_storage", "direct_air_capture", "enhanced_weathering",
    "carbon_mineralization", "reforestation", "marine", "superpollutants",
)
PROJECT_STATUSES = (
    "draft", "preview", "under_validation", "validated", "validation_unsuccessful", "cancelled"
)
RETIREMENT_PURPOSES = (
    "corporate_targets", "public_environmental_claims", "insetting", "regulatory_requirement",
    "other",
)


def _enum(name: str) -> Meta:
    return Meta(extra={"enum": name})


# Literal[...] of a tuple is the Literal of its values: one list of each enum's values.
CreditBatchStatus = Annotated[Literal[CREDIT_BATCH_STATUSES],  # type: ignore[valid-type]
                              _enum("CreditBatchStatus")]
OrderStatus = Annotated[Literal[ORDER_STATUSES], _enum("OrderStatus")]  # type: ignore[valid-type]
Pathway = Annotated[Literal[PATHWAYS], _enum("Pathway")]  # type: ignore[valid-type]
ProjectStatus = Annotated[Literal[PROJECT_STATUSES],  # type: ignore[valid-type]
                          _enum("ProjectStatus")]
RetirementPurpose = Annotated[Literal[RETIREMENT_PURPOSES],  # type: ignore[valid-type]
                              _enum("RetirementPurpose")]

#: Each enum's values in the spec's order (a frame's categories), by its name.
ENUMS: dict[str, tuple[str, ...]] = {
    "CreditBatchStatus": CREDIT_BATCH_STATUSES, "OrderStatus": ORDER_STATUSES,
    "Pathway": PATHWAYS, "ProjectStatus": PROJECT_STATUSES,
    "RetirementPurpose": RETIREMENT_PURPOSES,
}
