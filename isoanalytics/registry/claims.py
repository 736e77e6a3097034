"""Claims per reporting period, fetched: :func:`claims` and :func:`aclaims`.

A thin fetch: the retirements, the credit batches of each (concurrently, through the client's
``many``, within its ``concurrency``) and the project
list (one page on the live registry, where projects are few: fewer round trips than looking
up each project a large portfolio holds); ``records.claims.claims_frame`` joins them (see
its rules).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any, Literal

import pandas as pd

from .._options import check_choice
from .._progress import progress_bar
from ..ids import check_id
from ..records.claims import claims_frame
from ..records.instants import in_period, utc_bound
from ..records.resources import record_frame
from .client import AsyncRegistryClient, RegistryClient

__all__ = ["ROLES", "aclaims", "claims"]

ROLES = ("owner", "beneficiary")
Role = Literal["owner", "beneficiary"]
# The retirements filter each role reads.
_FILTER = {"owner": "owner_organisation_id", "beneficiary": "beneficiary_organisation_id"}


def _checked(organisation_id: str, role: str, start: Any, end: Any) -> str:
    """Everything the caller gave, checked before any request."""
    check_choice("role", role, ROLES)
    low, high = utc_bound(start, "start"), utc_bound(end, "end")
    if low is not None and high is not None and low > high:
        raise ValueError(f"start ({low}) is after end ({high}): a period runs from its start "
                         "to its end")
    return check_id(organisation_id, "organisation", argument="organisation_id")


def _in_period(retirements: pd.DataFrame, start: Any, end: Any) -> list[str]:
    return retirements.loc[in_period(retirements["retired_at"], start, end), "id"].tolist()


def _stacked(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return record_frame("credit_batch", [])
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _check_projects(projects: pd.DataFrame, batches: pd.DataFrame,
                    retired: pd.DataFrame | None) -> None:
    """Warn about a batch's project the registry's list lacks (its row keeps no pathway)."""
    ids = [*batches["project_id"].dropna()]
    if retired is not None:
        ids += [*retired["project_id"].dropna()]
    known = set(projects["id"])
    unknown = sorted({project for project in ids if project not in known})
    if unknown:
        warnings.warn(f"the registry lists no project {', '.join(unknown[:5])}"
                      f"{' and others' if len(unknown) > 5 else ''}: the pathway and country "
                      "of their claims stay empty", stacklevel=3)


def _bar(total: int, progress: bool) -> Any:
    return progress_bar(total, "retirements", "retirement", shown=None if progress else False)


def claims(
    client: RegistryClient,
    organisation_id: str,
    *,
    start: Any = None,
    end: Any = None,
    role: Role = "owner",
    progress: bool = True,
) -> pd.DataFrame:
    """The retirements of a reporting period, one row per credit batch they retired.

    Parameters
    ----------
    client : RegistryClient
    organisation_id : str
    start, end : date, date-like text or time-zone-aware datetime, optional
        The reporting period ``[start, end)``: ``retired_at`` in UTC, the start included,
        the end excluded; a date is its midnight UTC (``"2025-01-01"``). Without them, all
        time.
    role : {"owner", "beneficiary"}
        ``"owner"`` (the default): the retirements the organisation made, so the rows add
        up to its retired credits (its retired batches whose retirement the list lacks are
        rows too, ``listed`` False). ``"beneficiary"``: those made for it, by anyone.
    progress : bool
        A progress bar over the retirements read (never shown when not interactive).

    Returns
    -------
    DataFrame
        See :func:`isoanalytics.records.claims.claims_frame`: ``retirement_id, retired_at,
        owner_id, owner_name, beneficiary_id, beneficiary_name, purposes, url, notes,
        retirement_kgs, credit_batch_id, serial_number, project_id, project_name,
        supplier_id, pathway, country, vintage, ccp_approved, credit_kgs, credits, listed,
        problem``. One row per credit batch retired (``credit_kgs`` exact); a retirement
        whose batches do not add up to it, or a batch whose retirement is missing, is
        warned about and says so in ``problem``, never dropped.

    Examples
    --------
    >>> from isoanalytics import RegistryClient, demo
    >>> from isoanalytics.registry.claims import claims
    >>> organisation = demo.DEFAULT_ORGANISATION_ID
    >>> with RegistryClient.demo() as client:
    ...     made = claims(client, organisation, progress=False)
    ...     in_2025 = claims(client, organisation, start="2025-01-01", end="2026-01-01",
    ...                      progress=False)
    ...     retired = client.credit_balance(organisation).retired_kgs
    >>> int(made["credit_kgs"].sum()) == retired
    True
    >>> bool(in_2025["retired_at"].dt.year.eq(2025).all())
    True
    """
    if isinstance(client, AsyncRegistryClient):
        raise TypeError("claims() takes a RegistryClient; with an AsyncRegistryClient, use "
                        "`await aclaims(client, organisation_id)`")
    organisation = _checked(organisation_id, role, start, end)
    retirements = client.retirements(**{_FILTER[role]: organisation})
    retired = client.credit_batches(organisation, status="retired") if role == "owner" else None
    projects = client.projects()
    wanted = _in_period(retirements, start, end)
    with _bar(len(wanted), progress) as bar:
        batches = _stacked(client.many("retirement_credit_batches", wanted,
                                       on_each=lambda _: bar.update(1)).values())
    _check_projects(projects, batches, retired)
    return claims_frame(retirements, batches, projects=projects, retired=retired,
                        start=start, end=end)


async def aclaims(
    client: AsyncRegistryClient,
    organisation_id: str,
    *,
    start: Any = None,
    end: Any = None,
    role: Role = "owner",
    progress: bool = True,
) -> pd.DataFrame:
    """The asyncio twin of :func:`claims` (the client's ``concurrency`` bounds the requests).

    Examples
    --------
    >>> import asyncio
    >>> from isoanalytics import AsyncRegistryClient, demo
    >>> from isoanalytics.registry.claims import aclaims
    >>> async def made_for(organisation):
    ...     async with AsyncRegistryClient.demo() as client:
    ...         return await aclaims(client, organisation, role="beneficiary", progress=False)
    >>> kestrel = "org_1BKQ8C3WDDG06WRM"  # Kestrel Outdoor Co., a client of the "large" buyer
    >>> rows = asyncio.run(made_for(kestrel))
    >>> bool((rows["beneficiary_id"] == kestrel).all()), bool((rows["owner_id"] != kestrel).all())
    (True, True)
    """
    if not isinstance(client, AsyncRegistryClient):
        raise TypeError("aclaims() takes an AsyncRegistryClient; with a RegistryClient, use "
                        "claims(client, organisation_id)")
    import asyncio  # only here: a sync user never loads it

    organisation = _checked(organisation_id, role, start, end)
    if role == "owner":
        retirements, retired, projects = await asyncio.gather(
            client.retirements(owner_organisation_id=organisation),
            client.credit_batches(organisation, status="retired"), client.projects())
    else:
        retirements, projects = await asyncio.gather(
            client.retirements(beneficiary_organisation_id=organisation), client.projects())
        retired = None
    wanted = _in_period(retirements, start, end)
    with _bar(len(wanted), progress) as bar:
        batches = _stacked((await client.many("retirement_credit_batches", wanted,
                                              on_each=lambda _: bar.update(1))).values())
    _check_projects(projects, batches, retired)
    return claims_frame(retirements, batches, projects=projects, retired=retired,
                        start=start, end=end)
