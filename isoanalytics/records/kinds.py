"""The registry's record kinds: each one Struct (from the OpenAPI description) and its columns.

Adding a kind is one Struct (its fields, required and nullable as the spec says: ``X | None``
for nullable, no default for required) and one :class:`Kind` (its frame columns). Unknown
fields are ignored (the API's compatibility policy); every Struct is ``gc=False``: decoded
records hold no cycles, so the collector never needs to walk them.

**Drift.** A field whose default is ``UNSET`` is one the API's own documentation shows absent
in some version of v0 (the credit batch's ``delivered_at``, ``delivery_id``, ``supplier_id``,
``ccp_approved``, ``carbon_removal_data``): absent, it is read as null and reported
(``drift``). ``Kind.renamed`` maps an earlier name to the current one (``sequestered_at``, a
date-time, for ``sequestered_on``, its UTC date). Ids, quantities, statuses and the instants
the time analysis rests on (``issued_at``, ``retired_at``) have no default: absent, they are
a SchemaError. A ``removal_location`` object, which one documented version adds, is ignored
like any unknown field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from .columns import (
    BOOLEAN,
    DAY,
    INSTANT,
    INTEGER,
    JOINED,
    KGS,
    NUMBER,
    Column,
    derived,
    enum,
    share,
)
from .fields import (
    CreditBatchId,
    CreditBatchStatus,
    Day,
    DeliveryId,
    Instant,
    Int64,
    IssuanceId,
    Latitude,
    Longitude,
    OrderId,
    OrderStatus,
    OrganisationId,
    Pathway,
    ProjectDocumentId,
    ProjectId,
    ProjectStatus,
    RefundId,
    RemovalId,
    RetirementId,
    RetirementPurpose,
    SupplierId,
    TransferId,
)
from .quantities import CreditQuantity


class Organisation(msgspec.Struct, gc=False):
    """An organisation (spec: ``Organisation``).

    Examples
    --------
    >>> msgspec.json.decode(b'{"id": "org_1GB56M1ST1S0GVNA", "name": "Isometric",'
    ...                     b' "domain": null}', type=Organisation).name
    'Isometric'
    """

    id: OrganisationId
    name: str
    domain: str | None


class Location(msgspec.Struct, gc=False):
    """Where a project or supplier is (spec: ``Location``; its optional description unread)."""

    country_code: str
    country_name: str
    latitude: Latitude
    longitude: Longitude


class Supplier(msgspec.Struct, gc=False):
    """A supplier (spec: ``Supplier``)."""

    id: SupplierId
    short_description: str | None
    long_description: str | None
    organisation: Organisation
    location: Location | None


class CarbonRemovalData(msgspec.Struct, gc=False):
    """A credit batch's carbon accounting, in kilograms (spec: ``CarbonRemovalData``)."""

    gross_carbon_removed_kg: Int64
    net_carbon_removed_kg: Int64
    emissions_kg: Int64
    counterfactuals_kg: Int64
    losses_kg: Int64


class CreditBatch(msgspec.Struct, kw_only=True, gc=False):
    """A credit batch (spec: ``CreditBatch``); see the module's note on drift."""

    id: CreditBatchId
    serial_number: str
    status: CreditBatchStatus
    size: CreditQuantity
    issued_at: Instant
    retired_at: Instant | None
    country_of_issue: str
    parent_id: CreditBatchId | None
    left_child_id: CreditBatchId | None
    right_child_id: CreditBatchId | None
    issuance_id: IssuanceId
    beneficiary: Organisation | None
    retirement_id: RetirementId | None
    removal_id: RemovalId
    owner: Organisation
    project_id: ProjectId
    # absent from older v0 pages
    delivered_at: Instant | None | UnsetType = UNSET
    delivery_id: DeliveryId | None | UnsetType = UNSET
    supplier_id: SupplierId | UnsetType = UNSET
    ccp_approved: bool | UnsetType = UNSET
    carbon_removal_data: CarbonRemovalData | None | UnsetType = UNSET
    sequestered_on: Day | UnsetType = UNSET
    sequestered_at: Instant | UnsetType = UNSET  # sequestered_on's earlier name


class Project(msgspec.Struct, gc=False):
    """A project (spec: ``Project``)."""

    id: ProjectId
    name: str
    supplier: Supplier
    status: ProjectStatus
    short_code: str
    url: str
    process_key: str
    pathway: Pathway
    protocol_slug: str
    country_code: str
    validator_name: str | None
    current_verifier_name: str | None
    crediting_period_start: Day | None
    crediting_period_end: Day | None
    issued_credits_total: CreditQuantity
    retired_credits_total: CreditQuantity
    issued_buffer_pool_credits_total: CreditQuantity
    retired_buffer_pool_credits_total: CreditQuantity
    location: Location | None


class Order(msgspec.Struct, gc=False):
    """An order of credits from a supplier (spec: ``Order``)."""

    id: OrderId
    effective_contract_date: Day
    fulfilled_at: Instant | None
    buyer_organisation: Organisation
    supplier: Supplier
    status: OrderStatus
    credits_ordered: CreditQuantity
    credits_delivered: CreditQuantity


class Retirement(msgspec.Struct, gc=False):
    """A retirement of credits (spec: ``Retirement``)."""

    id: RetirementId
    retired_at: Instant
    purposes: list[RetirementPurpose]
    beneficiary: Organisation
    owner: Organisation
    credit_batch_size_total: CreditQuantity
    url: str
    notes: str | None


class Delivery(msgspec.Struct, gc=False):
    """A delivery of credits from a supplier to a buyer against an order (spec: ``Delivery``)."""

    id: DeliveryId
    delivered_at: Instant
    order_id: OrderId
    from_supplier: Supplier
    to_organisation: Organisation
    credit_batch_size_total: CreditQuantity
    url: str
    notes: str | None


class Transfer(msgspec.Struct, gc=False):
    """A transfer of credits between two organisations (spec: ``Transfer``)."""

    id: TransferId
    transferred_at: Instant
    from_organisation: Organisation
    to_organisation: Organisation
    credit_batch_size_total: CreditQuantity
    notes: str | None


class BufferPoolRefund(msgspec.Struct, gc=False):
    """Credits refunded from a buffer pool to an organisation (spec: ``BufferPoolRefund``)."""

    id: RefundId
    refunded_at: Instant
    from_buffer_pool_organisation: Organisation
    to_organisation: Organisation
    credit_batch_size_total: CreditQuantity
    notes: str


class Issuance(msgspec.Struct, gc=False):
    """An issuance of credits for a project's reporting period (spec: ``Issuance``)."""

    id: IssuanceId
    issued_at: Instant
    supplier: Supplier
    project_id: ProjectId
    reporting_period_start_at: Day
    reporting_period_end_at: Day
    supplier_credit_batch_size_total: CreditQuantity
    buffer_pool_credit_batch_size_total: CreditQuantity
    credit_batch_size_total: CreditQuantity


class ProjectDocument(msgspec.Struct, gc=False):
    """A public document of a project (spec: ``ProjectDocument``)."""

    id: ProjectDocumentId
    display_name: str
    project_id: ProjectId
    url: str


@dataclass(frozen=True)
class Kind:
    """A record kind: its schema, its frame's columns, and the earlier names it maps."""

    name: str
    schema: type[msgspec.Struct]
    columns: tuple[Column, ...]
    #: earlier name -> (current name, conversion of an earlier value to a current one)
    renamed: Mapping[str, tuple[str, Callable[[Any], Any]]] = field(default_factory=dict)

    @cached_property
    def tolerated(self) -> tuple[str, ...]:
        """The fields that may be absent (read as null, and reported), in schema order."""
        earlier = set(self.renamed)
        return tuple(name for name, default in zip(self.schema.__struct_fields__,
                                                   _defaults(self.schema), strict=True)
                     if default is UNSET and name not in earlier)


def _defaults(schema: type[msgspec.Struct]) -> tuple[Any, ...]:
    fields = schema.__struct_fields__
    defaults = schema.__struct_defaults__
    return (msgspec.NODEFAULT,) * (len(fields) - len(defaults)) + tuple(defaults)


def _utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()

_CREDIT_BATCH_STATUS, _ORDER_STATUS = enum("CreditBatchStatus"), enum("OrderStatus")

KINDS_BY_NAME: Mapping[str, Kind] = {kind.name: kind for kind in (
    Kind("credit_batch", CreditBatch, (
        Column("id", "id"),
        Column("serial_number", "serial_number"),
        Column("status", "status", _CREDIT_BATCH_STATUS),
        Column("project_id", "project_id"),
        Column("supplier_id", "supplier_id"),
        Column("credit_kgs", "size", KGS),
        derived("credits", lambda frame: frame["credit_kgs"] / 1000),
        Column("issued_at", "issued_at", INSTANT),
        Column("delivered_at", "delivered_at?", INSTANT),
        Column("retired_at", "retired_at?", INSTANT),
        Column("sequestered_on", "sequestered_on", DAY),
        Column("country_of_issue", "country_of_issue"),
        Column("issuance_id", "issuance_id"),
        Column("delivery_id", "delivery_id?"),
        Column("retirement_id", "retirement_id?"),
        Column("removal_id", "removal_id"),
        Column("parent_id", "parent_id?"),
        Column("left_child_id", "left_child_id?"),
        Column("right_child_id", "right_child_id?"),
        Column("owner_id", "owner.id"),
        Column("owner_name", "owner.name"),
        Column("beneficiary_id", "beneficiary?.id"),
        Column("beneficiary_name", "beneficiary?.name"),
        Column("ccp_approved", "ccp_approved", BOOLEAN),
        Column("gross_carbon_removed_kg", "carbon_removal_data?.gross_carbon_removed_kg",
               INTEGER),
        Column("net_carbon_removed_kg", "carbon_removal_data?.net_carbon_removed_kg", INTEGER),
        Column("emissions_kg", "carbon_removal_data?.emissions_kg", INTEGER),
        Column("counterfactuals_kg", "carbon_removal_data?.counterfactuals_kg", INTEGER),
        Column("losses_kg", "carbon_removal_data?.losses_kg", INTEGER),
    ), renamed={"sequestered_at": ("sequestered_on", _utc_day)}),
    Kind("project", Project, (
        Column("id", "id"),
        Column("name", "name"),
        Column("supplier_id", "supplier.id"),
        Column("supplier_name", "supplier.organisation.name"),
        Column("status", "status", enum("ProjectStatus")),
        Column("short_code", "short_code"),
        Column("url", "url"),
        Column("process_key", "process_key"),
        Column("pathway", "pathway", enum("Pathway")),
        Column("protocol_slug", "protocol_slug"),
        Column("country_code", "country_code"),
        Column("validator_name", "validator_name?"),
        Column("current_verifier_name", "current_verifier_name?"),
        Column("crediting_period_start", "crediting_period_start?", DAY),
        Column("crediting_period_end", "crediting_period_end?", DAY),
        Column("issued_kgs", "issued_credits_total", KGS),
        Column("retired_kgs", "retired_credits_total", KGS),
        Column("issued_buffer_pool_kgs", "issued_buffer_pool_credits_total", KGS),
        Column("retired_buffer_pool_kgs", "retired_buffer_pool_credits_total", KGS),
        Column("country_name", "location?.country_name"),
        Column("latitude", "location?.latitude", NUMBER),
        Column("longitude", "location?.longitude", NUMBER),
    )),
    Kind("supplier", Supplier, (
        Column("id", "id"),
        Column("name", "organisation.name"),
        Column("organisation_id", "organisation.id"),
        Column("domain", "organisation.domain?"),
        Column("short_description", "short_description?"),
        Column("long_description", "long_description?"),
        Column("country_code", "location?.country_code"),
        Column("country_name", "location?.country_name"),
        Column("latitude", "location?.latitude", NUMBER),
        Column("longitude", "location?.longitude", NUMBER),
    )),
    Kind("order", Order, (
        Column("id", "id"),
        Column("status", "status", _ORDER_STATUS),
        Column("supplier_id", "supplier.id"),
        Column("supplier_name", "supplier.organisation.name"),
        Column("buyer_organisation_id", "buyer_organisation.id"),
        Column("buyer_organisation_name", "buyer_organisation.name"),
        Column("effective_contract_date", "effective_contract_date", DAY),
        Column("fulfilled_at", "fulfilled_at?", INSTANT),
        Column("ordered_kgs", "credits_ordered", KGS),
        Column("delivered_kgs", "credits_delivered", KGS),
        derived("remaining_kgs", lambda frame: frame["ordered_kgs"] - frame["delivered_kgs"]),
        derived("delivered_share", share("delivered_kgs", "ordered_kgs")),
    )),
    Kind("retirement", Retirement, (
        Column("id", "id"),
        Column("retired_at", "retired_at", INSTANT),
        Column("owner_id", "owner.id"),
        Column("owner_name", "owner.name"),
        Column("beneficiary_id", "beneficiary.id"),
        Column("beneficiary_name", "beneficiary.name"),
        Column("retired_kgs", "credit_batch_size_total", KGS),
        Column("purposes", "purposes", JOINED),
        Column("url", "url"),
        Column("notes", "notes?"),
    )),
    Kind("organisation", Organisation, (
        Column("id", "id"),
        Column("name", "name"),
        Column("domain", "domain?"),
    )),
    Kind("delivery", Delivery, (
        Column("id", "id"),
        Column("delivered_at", "delivered_at", INSTANT),
        Column("order_id", "order_id"),
        Column("supplier_id", "from_supplier.id"),
        Column("supplier_name", "from_supplier.organisation.name"),
        Column("to_organisation_id", "to_organisation.id"),
        Column("to_organisation_name", "to_organisation.name"),
        Column("delivered_kgs", "credit_batch_size_total", KGS),
        Column("url", "url"),
        Column("notes", "notes?"),
    )),
    Kind("transfer", Transfer, (
        Column("id", "id"),
        Column("transferred_at", "transferred_at", INSTANT),
        Column("from_organisation_id", "from_organisation.id"),
        Column("from_organisation_name", "from_organisation.name"),
        Column("to_organisation_id", "to_organisation.id"),
        Column("to_organisation_name", "to_organisation.name"),
        Column("transferred_kgs", "credit_batch_size_total", KGS),
        Column("notes", "notes?"),
    )),
    Kind("refund", BufferPoolRefund, (
        Column("id", "id"),
        Column("refunded_at", "refunded_at", INSTANT),
        Column("from_organisation_id", "from_buffer_pool_organisation.id"),
        Column("from_organisation_name", "from_buffer_pool_organisation.name"),
        Column("to_organisation_id", "to_organisation.id"),
        Column("to_organisation_name", "to_organisation.name"),
        Column("refunded_kgs", "credit_batch_size_total", KGS),
        Column("notes", "notes"),
    )),
    Kind("issuance", Issuance, (
        Column("id", "id"),
        Column("issued_at", "issued_at", INSTANT),
        Column("supplier_id", "supplier.id"),
        Column("supplier_name", "supplier.organisation.name"),
        Column("project_id", "project_id"),
        Column("reporting_period_start", "reporting_period_start_at", DAY),
        Column("reporting_period_end", "reporting_period_end_at", DAY),
        Column("issued_kgs", "credit_batch_size_total", KGS),
        Column("supplier_kgs", "supplier_credit_batch_size_total", KGS),
        Column("buffer_pool_kgs", "buffer_pool_credit_batch_size_total", KGS),
    )),
    Kind("project_document", ProjectDocument, (
        Column("id", "id"),
        Column("display_name", "display_name"),
        Column("project_id", "project_id"),
        Column("url", "url"),
    )),
)}
