"""Clients for the Isometric Registry API v0: :class:`RegistryClient` and :class:`AsyncRegistryClient`.

Both read the same endpoints and return the same things (a :class:`CreditBalance`, tidy
DataFrames for lists, dicts for single objects). Each method is a plan in ``_plans``; a
client only drives it: it sends GETs through httpx with retries (stamina: exponential
backoff with jitter, ``Retry-After``, an attempt limit and an overall deadline), and runs
parallel steps on threads (sync) or tasks (async), never more than ``concurrency`` at once.

``RegistryClient.demo()`` reads the embedded demo registry through an httpx transport that
answers like the API, so the offline demo runs exactly this code.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, Self

import httpx
import pandas as pd
import stamina

from . import _plans
from ._http import (
    Call,
    RegistryAuth,
    Settings,
    answer,
    configured_environment,
    httpx_options,
    log_response,
    resolve_settings,
    retry_wait,
    transport_error,
)
from ._plans import Parallel, Plan
from .balance import CreditBalance
from .errors import RegistryError, SchemaError
from .ids import check_id, resource_path

__all__ = ["AsyncRegistryClient", "RegistryClient"]


class _BaseClient:
    """Settings, the plans behind each method, and what both clients show of themselves."""

    def __init__(
        self,
        environment: str | None = None,
        *,
        client_secret: str | None = None,
        access_token: str | None = None,
        access_tokens: Mapping[str, str] | None = None,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        retry_deadline: float = 60.0,
        concurrency: int = 10,
        backoff_initial: float = 0.5,
        backoff_max: float = 10.0,
    ) -> None:
        from . import __version__  # at call time: the package defines it after its imports

        self._settings: Settings = resolve_settings(
            environment, client_secret=client_secret, access_token=access_token,
            access_tokens=access_tokens, base_url=base_url, timeout=timeout,
            max_retries=max_retries, retry_deadline=retry_deadline, concurrency=concurrency,
            backoff_initial=backoff_initial, backoff_max=backoff_max,
            user_agent=f"isoanalytics/{__version__} (+httpx)",
        )
        # Projects and suppliers by id, filled by enrich(): each fetched once per client.
        self._cache: dict[tuple[str, str], dict | None] = {}

    @classmethod
    def demo(cls, **options: Any) -> Self:
        """A client on the embedded demo registry: offline, no credentials, the same code path.

        It holds the demo access token of every demo buyer (``demo.accounts()``).

        Examples
        --------
        >>> from isoanalytics import RegistryClient, demo
        >>> with RegistryClient.demo() as client:
        ...     client.credit_balance(demo.DEFAULT_ORGANISATION_ID).organisation_id
        'org_1J7BT1V2GFMC75MZ'
        """
        return cls("demo", **options)

    @classmethod
    def from_environment(cls, **options: Any) -> Self:
        """The live registry when ``ISOMETRIC_*`` variables are set, else the demo registry.

        With ``ISOMETRIC_CLIENT_SECRET``, ``ISOMETRIC_ENVIRONMENT`` or ``ISOMETRIC_BASE_URL``
        in the environment this is ``cls(**options)`` (and a missing secret or token is
        reported as for any client); with none of them it is :meth:`demo`. Notebooks start
        here, so the same cells run offline on Binder and on a machine with credentials.

        Examples
        --------
        >>> from isoanalytics import RegistryClient
        >>> with RegistryClient.from_environment() as client:  # no ISOMETRIC_* variables here
        ...     client.environment
        'demo'
        """
        return cls(**options) if configured_environment() else cls.demo(**options)

    @property
    def environment(self) -> str:
        """``"sandbox"``, ``"production"`` or ``"demo"``."""
        return self._settings.environment

    @property
    def base_url(self) -> str:
        return self._settings.base_url

    def __repr__(self) -> str:
        settings = self._settings
        tokens = len(settings.tokens)
        return (
            f"{type(self).__name__}(environment={settings.environment!r}, "
            f"base_url={settings.base_url!r}, client_secret=<set>, "
            f"access_token={'<set>' if settings.token else None}, "
            f"access_tokens=<{tokens} organisation{'s' if tokens != 1 else ''}>)"
        )

    # -- plans: one per public method; the clients drive them -----------------------------------

    def _current_organisation(self) -> Plan[dict]:
        return _plans.one("organisation", Call(resource_path("organisation"), private=True))

    def _organisation(self, organisation_id: str) -> Plan[dict]:
        return _plans.one("organisation", Call(resource_path("organisations", organisation_id),
                                               organisation_id=organisation_id),
                          nullable=True, record_id=organisation_id)

    def _credit_balance(self, organisation_id: str) -> Plan[CreditBalance]:
        path = resource_path("organisations", organisation_id, "credit_balance")
        return _plans.balance(Call(path, organisation_id=organisation_id, private=True))

    def _credit_batches(self, organisation_id: str, filters: dict[str, Any],
                        by_project: bool | None) -> Plan[pd.DataFrame]:
        return _plans.credit_batches(organisation_id, filters, by_project=by_project,
                                     concurrency=self._settings.concurrency)

    def _orders(self, organisation_id: str) -> Plan[pd.DataFrame]:
        path = resource_path("organisations", organisation_id, "orders")
        return _plans.frame("order", Call(path, organisation_id=organisation_id, private=True))

    def _projects(self) -> Plan[pd.DataFrame]:
        return _plans.frame("project", Call(resource_path("projects")))

    def _project(self, project_id: str) -> Plan[dict]:
        return _plans.one("project", Call(resource_path("projects", project_id)),
                          nullable=True, record_id=project_id)

    def _suppliers(self) -> Plan[pd.DataFrame]:
        return _plans.frame("supplier", Call(resource_path("suppliers")))

    def _supplier(self, supplier_id: str) -> Plan[dict]:
        return _plans.one("supplier", Call(resource_path("suppliers", supplier_id)),
                          nullable=True, record_id=supplier_id)

    def _retirements(self, owner_organisation_id: str | None,
                     beneficiary_organisation_id: str | None) -> Plan[pd.DataFrame]:
        params = tuple(
            (name, check_id(value, "organisation", argument=argument))
            for name, argument, value in (
                ("owner_org_id", "owner_organisation_id", owner_organisation_id),
                ("beneficiary_org_id", "beneficiary_organisation_id", beneficiary_organisation_id),
            ) if value is not None)
        return _plans.frame("retirement", Call(resource_path("retirements"), params))

    def _lookup(self, kind: str, ids: list[str]) -> Plan[dict[str, dict | None]]:
        return _plans.lookup(kind, ids, self._cache)

    def _retrying(self, deadline: float):
        settings = self._settings
        return stamina.retry_context(
            on=functools.partial(retry_wait, deadline=deadline),
            attempts=settings.max_retries + 1,
            timeout=settings.retry_deadline,
            wait_initial=settings.backoff_initial,
            wait_max=settings.backoff_max,
            wait_jitter=settings.backoff_initial,
        )

    def _attempt_timeout(self, deadline: float) -> float:
        # No attempt may run past the overall deadline, however long the per-request timeout.
        return max(min(self._settings.timeout, deadline - time.monotonic()), 0.001)


class RegistryClient(_BaseClient):
    """Read the Isometric Registry API v0: balances, credit batches, projects, suppliers, orders.

    Parameters
    ----------
    environment : {"sandbox", "production", "demo"}, optional
        Default: ``ISOMETRIC_ENVIRONMENT``, else ``"sandbox"``. ``"demo"`` is the embedded
        demo registry (offline, fictional; same as :meth:`demo`).
    client_secret : str, optional
        Default: ``ISOMETRIC_CLIENT_SECRET``. Required (MissingCredentialsError otherwise,
        raised here, before any request).
    access_token : str, optional
        An organisation's access token (a JWT, valid for a year). Default:
        ``ISOMETRIC_ACCESS_TOKEN``. Needed for an organisation's own data (balance,
        batches, orders) and for :meth:`current_organisation`.
    access_tokens : mapping of organisation id to token, optional
        For someone who works for several organisations: the token is picked by the
        organisation a request is for, ``access_token`` for the rest.
    base_url : str, optional
        Overrides the environment's URL (e.g. a test server on loopback).
    timeout : float
        Seconds per attempt. ``max_retries`` (default 3) retries follow a 429, a 5xx or a
        lost connection, with exponential backoff and jitter from ``backoff_initial`` up to
        ``backoff_max`` seconds, honouring ``Retry-After``, and never past ``retry_deadline``
        seconds after the first attempt.
    concurrency : int
        Most requests in flight at once (per-project batch listing, lookups).

    Secrets never appear in the client's repr, in log lines or in exception messages.

    Examples
    --------
    >>> from isoanalytics import RegistryClient
    >>> client = RegistryClient.demo()
    >>> client
    RegistryClient(environment='demo', base_url='https://demo.isoanalytics.invalid/registry/v0', client_secret=<set>, access_token=<set>, access_tokens=<7 organisations>)
    >>> client.current_organisation()["name"]
    'Harbourline Freight'
    >>> client.close()
    """

    def __init__(self, environment: str | None = None, *,
                 transport: httpx.BaseTransport | None = None, **options: Any) -> None:
        super().__init__(environment, **options)
        self._http = httpx.Client(**httpx_options(self._settings, transport, asynchronous=False))

    def close(self) -> None:
        """Close the connection pool (also done by ``with RegistryClient() as client:``)."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- public methods ----------------------------------------------------------------------

    def current_organisation(self) -> dict[str, Any]:
        """``GET /organisation``: the organisation the access token belongs to (id, name, domain)."""
        return self._run(self._current_organisation())

    def organisation(self, organisation_id: str) -> dict[str, Any]:
        """``GET /organisations/{id}``; NotFoundError for an unknown id."""
        return self._run(self._organisation(organisation_id))

    def credit_balance(self, organisation_id: str) -> CreditBalance:
        """``GET /organisations/{id}/credit_balance`` as a validated :class:`CreditBalance`.

        Examples
        --------
        >>> from isoanalytics import RegistryClient, demo, retired_share
        >>> with RegistryClient.demo() as client:
        ...     balance = client.credit_balance(demo.DEFAULT_ORGANISATION_ID)
        >>> balance.total_kgs > 0
        True
        """
        return self._run(self._credit_balance(organisation_id))

    def credit_batches(self, organisation_id: str, *, by_project: bool | None = None,
                       **filters: Any) -> pd.DataFrame:
        """Every credit batch of an organisation, as one tidy frame (one row per batch).

        Filters are the API's: ``project_id``, ``supplier_id``, ``issuance_id``,
        ``delivery_id``, ``order_id``, ``retirement_id``, ``status`` (one or several of
        active, split, retired; split parents are left out unless asked for),
        ``issued_after`` and ``issued_before`` (timezone-aware). Many batches are listed per
        project concurrently rather than along one cursor chain when the organisation's
        balance suggests that is faster (``by_project=None``); ``True`` or ``False`` force
        either way. Rows are ordered newest issue first, then by id; datetimes are UTC.

        Examples
        --------
        >>> from isoanalytics import RegistryClient, demo
        >>> with RegistryClient.demo() as client:
        ...     batches = client.credit_batches(demo.DEFAULT_ORGANISATION_ID, status="retired")
        >>> set(batches["status"])
        {'retired'}
        """
        return self._run(self._credit_batches(organisation_id, filters, by_project))

    def orders(self, organisation_id: str) -> pd.DataFrame:
        """An organisation's orders: ordered and delivered kilograms, status, supplier."""
        return self._run(self._orders(organisation_id))

    def projects(self) -> pd.DataFrame:
        """Every project on the registry (name, supplier, pathway, country, totals)."""
        return self._run(self._projects())

    def project(self, project_id: str) -> dict[str, Any]:
        """``GET /projects/{id}``; NotFoundError for an unknown id."""
        return self._run(self._project(project_id))

    def suppliers(self) -> pd.DataFrame:
        """Every supplier on the registry (name, organisation, location)."""
        return self._run(self._suppliers())

    def supplier(self, supplier_id: str) -> dict[str, Any]:
        """``GET /suppliers/{id}``; NotFoundError for an unknown id."""
        return self._run(self._supplier(supplier_id))

    def retirements(self, *, owner_organisation_id: str | None = None,
                    beneficiary_organisation_id: str | None = None) -> pd.DataFrame:
        """Retirements, optionally only those owned by, or made for, an organisation."""
        return self._run(self._retirements(owner_organisation_id, beneficiary_organisation_id))

    # -- driving plans -------------------------------------------------------------------------

    def _run(self, plan: Plan[Any]) -> Any:
        try:
            step = next(plan)
            while True:
                try:
                    if isinstance(step, Parallel):
                        result = self._run_parallel(step.plans)
                    else:
                        result = self._send(step)
                except (RegistryError, SchemaError) as error:  # the plan may handle it
                    step = plan.throw(error)
                else:
                    step = plan.send(result)
        except StopIteration as done:
            return done.value
        finally:
            plan.close()

    def _run_parallel(self, plans: tuple[Plan[Any], ...]) -> list[Any]:
        if len(plans) <= 1:
            return [self._run(plan) for plan in plans]
        # httpx.Client is thread-safe; threads keep the sync API usable inside Jupyter's loop.
        with ThreadPoolExecutor(self._settings.concurrency, "isoanalytics") as pool:
            futures = [pool.submit(self._run, plan) for plan in plans]
            finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [future for future in futures if future in finished and future.exception()]
            if failed:
                for future in futures:
                    future.cancel()
                raise failed[0].exception()
            return [future.result() for future in futures]

    def _send(self, call: Call) -> bytes:
        settings = self._settings
        auth = RegistryAuth(settings.secret, settings.token_for(call))
        deadline = time.monotonic() + settings.retry_deadline
        for attempt in self._retrying(deadline):
            with attempt:
                started = time.perf_counter()
                try:
                    response = self._http.get(call.path, params=call.params, auth=auth,
                                              timeout=self._attempt_timeout(deadline))
                except httpx.TransportError as error:
                    raise transport_error(error, call, settings, attempt.num) from None
                log_response(call, response, started, attempt.num)
                body = answer(response, call, settings, attempt.num)
        return body


class AsyncRegistryClient(_BaseClient):
    """The asyncio twin of :class:`RegistryClient`: same arguments, same methods, awaited.

    Examples
    --------
    >>> import asyncio
    >>> from isoanalytics import AsyncRegistryClient, demo
    >>> async def main():
    ...     async with AsyncRegistryClient.demo() as client:
    ...         return await client.credit_balance(demo.DEFAULT_ORGANISATION_ID)
    >>> asyncio.run(main()).organisation_id
    'org_1J7BT1V2GFMC75MZ'
    """

    def __init__(self, environment: str | None = None, *,
                 transport: httpx.AsyncBaseTransport | None = None, **options: Any) -> None:
        super().__init__(environment, **options)
        self._http = httpx.AsyncClient(**httpx_options(self._settings, transport,
                                                       asynchronous=True))
        self._slots: asyncio.Semaphore | None = None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def current_organisation(self) -> dict[str, Any]:
        """See :meth:`RegistryClient.current_organisation`."""
        return await self._run(self._current_organisation())

    async def organisation(self, organisation_id: str) -> dict[str, Any]:
        """See :meth:`RegistryClient.organisation`."""
        return await self._run(self._organisation(organisation_id))

    async def credit_balance(self, organisation_id: str) -> CreditBalance:
        """See :meth:`RegistryClient.credit_balance`."""
        return await self._run(self._credit_balance(organisation_id))

    async def credit_batches(self, organisation_id: str, *, by_project: bool | None = None,
                             **filters: Any) -> pd.DataFrame:
        """See :meth:`RegistryClient.credit_batches`."""
        return await self._run(self._credit_batches(organisation_id, filters, by_project))

    async def orders(self, organisation_id: str) -> pd.DataFrame:
        """See :meth:`RegistryClient.orders`."""
        return await self._run(self._orders(organisation_id))

    async def projects(self) -> pd.DataFrame:
        """See :meth:`RegistryClient.projects`."""
        return await self._run(self._projects())

    async def project(self, project_id: str) -> dict[str, Any]:
        """See :meth:`RegistryClient.project`."""
        return await self._run(self._project(project_id))

    async def suppliers(self) -> pd.DataFrame:
        """See :meth:`RegistryClient.suppliers`."""
        return await self._run(self._suppliers())

    async def supplier(self, supplier_id: str) -> dict[str, Any]:
        """See :meth:`RegistryClient.supplier`."""
        return await self._run(self._supplier(supplier_id))

    async def retirements(self, *, owner_organisation_id: str | None = None,
                          beneficiary_organisation_id: str | None = None) -> pd.DataFrame:
        """See :meth:`RegistryClient.retirements`."""
        return await self._run(self._retirements(owner_organisation_id,
                                                 beneficiary_organisation_id))

    async def _run(self, plan: Plan[Any]) -> Any:
        try:
            step = next(plan)
            while True:
                try:
                    if isinstance(step, Parallel):
                        result = await self._run_parallel(step.plans)
                    else:
                        result = await self._send(step)
                except (RegistryError, SchemaError) as error:  # the plan may handle it
                    step = plan.throw(error)
                else:
                    step = plan.send(result)
        except StopIteration as done:
            return done.value
        finally:
            plan.close()

    async def _run_parallel(self, plans: tuple[Plan[Any], ...]) -> list[Any]:
        tasks = [asyncio.ensure_future(self._run(plan)) for plan in plans]
        try:
            return await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            raise

    async def _send(self, call: Call) -> bytes:
        settings = self._settings
        auth = RegistryAuth(settings.secret, settings.token_for(call))
        if self._slots is None:
            self._slots = asyncio.Semaphore(settings.concurrency)
        deadline = time.monotonic() + settings.retry_deadline
        async for attempt in self._retrying(deadline):
            with attempt:
                started = time.perf_counter()
                try:
                    async with self._slots:
                        response = await self._http.get(
                            call.path, params=call.params, auth=auth,
                            timeout=self._attempt_timeout(deadline))
                except httpx.TransportError as error:
                    raise transport_error(error, call, settings, attempt.num) from None
                log_response(call, response, started, attempt.num)
                body = answer(response, call, settings, attempt.num)
        return body

