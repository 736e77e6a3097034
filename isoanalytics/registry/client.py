"""Clients for the Isometric Registry API v0: :class:`RegistryClient`, :class:`AsyncRegistryClient`.

Both read the same endpoints and return the same things (a :class:`CreditBalance`, tidy
DataFrames for lists, dicts for single objects). Each method is a plan in ``_plans``; a
client only drives it: it sends GETs through httpx with retries (exponential backoff with
jitter, ``Retry-After``, an attempt limit) inside one deadline per request that covers
connecting, every read, every retry and every wait, streams each body within its size
bound, and runs parallel steps on threads (sync) or tasks (async), never more than
``concurrency`` at once; a failed parallel step cancels its siblings. Every error it raises
or returns is scrubbed of the credentials first (``_scrub``).

The retry loop is the package's own rather than stamina's: it cuts each wait to the time
left, stops a wait when a parallel step is cancelled, and logs one readable record per
retry on the ``isoanalytics`` logger; stamina's instrumentation is process-wide (by default
it prints ``stamina.retry_scheduled`` warnings on the user's terminal) and its waits cannot
be cut or interrupted.

``RegistryClient.demo()`` (and ``environment="demo"``) reads the embedded demo registry: the
client hands the HTTP layer the demo's URL, its public credentials and an httpx transport that
answers like the API, as it would a registry of any other name, so the offline demo runs
exactly this code and the HTTP layer knows nothing of the demo.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, Self, TypeVar

import httpx
import pandas as pd

from .._version import version
from ..errors import RegistryError, SchemaError
from ..ids import check_id, resource_path
from ..records.balance import CreditBalance
from . import bounds as _bounds
from . import plans as _plans
from .bounds import Cancel, Deadline
from .http import (
    ENVIRONMENTS,
    MAX_BODY_BYTES,
    Call,
    RegistryAuth,
    Settings,
    answer,
    body_reader,
    configured_environment,
    environment_name,
    httpx_options,
    log_response,
    log_retry,
    read_body,
    resolve_settings,
    retry_wait,
    transport_error,
)
from .plans import Parallel, Plan
from .scrub import redact_error, unwatch_logs, watch_logs

if TYPE_CHECKING:
    import asyncio  # loaded by the async client's first request: a sync user never pays for it

__all__ = ["MANY", "AsyncRegistryClient", "RegistryClient"]

# The live registries, and the embedded demo: a registry like the others to the HTTP layer.
_ENVIRONMENT_NAMES = (*ENVIRONMENTS, "demo")
Transport = httpx.BaseTransport | httpx.AsyncBaseTransport
T = TypeVar("T")
#: The methods :meth:`RegistryClient.many` runs: each reads one record, or one list, by one id.
MANY = (
    "organisation", "credit_balance", "orders", "project", "supplier", "retirement",
    "retirement_credit_batches", "credit_batch", "order", "order_deliveries", "delivery",
    "delivery_credit_batches", "transfer", "transfer_credit_batches", "refund",
    "refund_credit_batches", "issuance", "issuance_credit_batches", "project_documents",
    "supplier_projects", "supplier_issuances", "supplier_deliveries", "supplier_orders",
)


def _demo_registry(options: dict[str, Any],
                   transport: Transport | None) -> tuple[dict[str, Any], Transport | None]:
    """The options and transport of a client on the demo registry.

    The demo's own credentials, never the live ones (no ``ISOMETRIC_*`` variable is read, so
    nothing real is sent anywhere), and the transport that serves it in-process unless the
    caller pointed the client elsewhere (``base_url=`` a loopback server, ``transport=``).
    """
    from .. import demo  # the generator's module loads with the first demo client only

    options = {**options, "client_secret": options.get("client_secret") or demo.CLIENT_SECRET,
               "base_url": options.get("base_url") or demo.BASE_URL}
    if options.get("access_token") is None and options.get("access_tokens") is None:
        options["access_token"] = demo.access_token(demo.DEFAULT_ORGANISATION_ID)
        options["access_tokens"] = demo.accounts()
    if transport is None and options["base_url"] == demo.BASE_URL:
        from ..demo.transport import transport as demo_transport

        transport = demo_transport()
    return options, transport


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
        max_body_bytes: int = MAX_BODY_BYTES,
        transport: Transport | None = None,
    ) -> None:
        environment = environment_name(environment, _ENVIRONMENT_NAMES)
        credentials: dict[str, Any] = {"client_secret": client_secret,
                                       "access_token": access_token,
                                       "access_tokens": access_tokens, "base_url": base_url}
        live = environment != "demo"
        environments = ENVIRONMENTS
        if not live:
            credentials, transport = _demo_registry(credentials, transport)
            environments = {**ENVIRONMENTS, "demo": credentials["base_url"]}
        self._transport = transport  # for the subclass's httpx client
        self._settings: Settings = resolve_settings(
            environment, **credentials, timeout=timeout,
            max_retries=max_retries, retry_deadline=retry_deadline, concurrency=concurrency,
            backoff_initial=backoff_initial, backoff_max=backoff_max,
            user_agent=f"isoanalytics/{version()} (+httpx)", max_body_bytes=max_body_bytes,
            environments=environments, from_variables=live,
        )
        # httpcore logs response headers at DEBUG, where a server may echo a credential.
        watch_logs(self._settings.scrubber)
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

    def redact(self, text: str) -> str:
        """``text`` without this client's credentials: every form a server might echo them in
        (raw, URL-encoded, base64, escaped) and any 8-character piece of one is ``[redacted]``.

        The client does this to everything it says itself; this is for what is made from the
        data it read (a notebook's outputs, a report) before it is saved or shared.

        Examples
        --------
        >>> from isoanalytics import RegistryClient, demo
        >>> with RegistryClient.demo() as client:
        ...     client.redact(f"echoed: {demo.CLIENT_SECRET}")
        'echoed: [redacted]'
        """
        return self._settings.scrubber.scrub(text)

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
        params = _id_params(("owner_org_id", "owner_organisation_id", owner_organisation_id),
                            ("beneficiary_org_id", "beneficiary_organisation_id",
                             beneficiary_organisation_id))
        return _plans.frame("retirement", Call(resource_path("retirements"), params))

    # The history's routes. ``reader`` is whose access token reads a route that needs one
    # (a client with several tokens picks by it); public routes send the client's token, if any.

    def _by_id(self, kind: str, resource: str, record_id: str, *, token: bool = False,
               reader: str | None = None) -> Plan[dict]:
        path = resource_path(resource, record_id)
        return _plans.one(kind, _call(path, (), token, reader), record_id=record_id)

    def _list_of(self, kind: str, resource: str, record_id: str | None = None,
                 sub: str | None = None, params: tuple[tuple[str, str], ...] = (), *,
                 token: bool = False, reader: str | None = None,
                 paged: bool = True) -> Plan[pd.DataFrame]:
        path = (resource_path(resource) if record_id is None else
                resource_path(resource, record_id, *((sub,) if sub else ())))
        call = _call(path, params, token, reader)
        return _plans.frame(kind, call) if paged else _plans.listing(kind, call)

    def _issuance_credit_batches(self, issuance_id: str) -> Plan[pd.DataFrame]:
        path = resource_path("issuances", issuance_id, "credit_batches")
        return _plans.issuance_batches(issuance_id, Call(path))

    def _retirement(self, retirement_id: str) -> Plan[dict]:
        return self._by_id("retirement", "retirements", retirement_id)

    def _retirement_credit_batches(self, retirement_id: str) -> Plan[pd.DataFrame]:
        return self._list_of("credit_batch", "retirements", retirement_id, "credit_batches",
                             paged=False)

    def _credit_batch(self, credit_batch_id: str, *,
                      organisation_id: str | None = None) -> Plan[dict]:
        return self._by_id("credit_batch", "credit_batches", credit_batch_id, token=True,
                           reader=organisation_id)

    def _order(self, order_id: str, *, organisation_id: str | None = None) -> Plan[dict]:
        return self._by_id("order", "orders", order_id, token=True, reader=organisation_id)

    def _order_deliveries(self, order_id: str, *,
                          organisation_id: str | None = None) -> Plan[pd.DataFrame]:
        return self._list_of("delivery", "orders", order_id, "deliveries", token=True,
                             reader=organisation_id)

    def _deliveries(self, *, from_supplier_id: str | None = None,
                    to_organisation_id: str | None = None,
                    organisation_id: str | None = None) -> Plan[pd.DataFrame]:
        return self._list_of("delivery", "deliveries", params=_id_params(
            ("from_supplier_id", "from_supplier_id", from_supplier_id),
            ("to_organisation_id", "to_organisation_id", to_organisation_id)),
            token=True, reader=organisation_id or to_organisation_id)

    def _delivery(self, delivery_id: str, *, organisation_id: str | None = None) -> Plan[dict]:
        return self._by_id("delivery", "deliveries", delivery_id, token=True,
                           reader=organisation_id)

    def _delivery_credit_batches(self, delivery_id: str, *,
                                 organisation_id: str | None = None) -> Plan[pd.DataFrame]:
        return self._list_of("credit_batch", "deliveries", delivery_id, "credit_batches",
                             token=True,
            reader=organisation_id, paged=False)

    def _transfers(self, *, from_organisation_id: str | None = None,
                   to_organisation_id: str | None = None,
                   organisation_id: str | None = None) -> Plan[pd.DataFrame]:
        return self._list_of("transfer", "transfers", params=_id_params(
            ("from_organisation_id", "from_organisation_id", from_organisation_id),
            ("to_organisation_id", "to_organisation_id", to_organisation_id)),
            token=True, reader=organisation_id or from_organisation_id or to_organisation_id)

    def _transfer(self, transfer_id: str, *, organisation_id: str | None = None) -> Plan[dict]:
        return self._by_id("transfer", "transfers", transfer_id, token=True, reader=organisation_id)

    def _transfer_credit_batches(self, transfer_id: str, *,
                                 organisation_id: str | None = None) -> Plan[pd.DataFrame]:
        return self._list_of("credit_batch", "transfers", transfer_id, "credit_batches", token=True,
            reader=organisation_id, paged=False)

    def _refund(self, refund_id: str, *, organisation_id: str | None = None) -> Plan[dict]:
        return self._by_id("refund", "refunds", refund_id, token=True, reader=organisation_id)

    def _refund_credit_batches(self, refund_id: str, *,
                               organisation_id: str | None = None) -> Plan[pd.DataFrame]:
        return self._list_of("credit_batch", "refunds", refund_id, "credit_batches", token=True,
            reader=organisation_id, paged=False)

    def _issuances(self) -> Plan[pd.DataFrame]:
        return self._list_of("issuance", "issuances")

    def _issuance(self, issuance_id: str) -> Plan[dict]:
        return self._by_id("issuance", "issuances", issuance_id)

    def _project_documents(self, project_id: str) -> Plan[pd.DataFrame]:
        return self._list_of("project_document", "projects", project_id, "documents")

    def _supplier_projects(self, supplier_id: str) -> Plan[pd.DataFrame]:
        return self._list_of("project", "suppliers", supplier_id, "projects")

    def _supplier_issuances(self, supplier_id: str) -> Plan[pd.DataFrame]:
        return self._list_of("issuance", "suppliers", supplier_id, "issuances")

    def _supplier_deliveries(self, supplier_id: str, *,
                             organisation_id: str | None = None) -> Plan[pd.DataFrame]:
        return self._list_of("delivery", "suppliers", supplier_id, "deliveries", token=True,
                             reader=organisation_id)

    def _supplier_orders(self, supplier_id: str, *,
                         organisation_id: str | None = None) -> Plan[pd.DataFrame]:
        return self._list_of("order", "suppliers", supplier_id, "orders", token=True,
                             reader=organisation_id)

    def _beneficiaries(self, *, organisation_id: str | None = None) -> Plan[pd.DataFrame]:
        return self._list_of("organisation", "beneficiaries", token=True, reader=organisation_id)

    def _transferees(self, *, organisation_id: str | None = None) -> Plan[pd.DataFrame]:
        return self._list_of("organisation", "transferees", token=True, reader=organisation_id)

    def _many(self, method: str, ids: Iterable[str], arguments: dict[str, Any],
              on_each: Callable[[str], object] | None) -> Plan[dict[str, Any]]:
        if method not in MANY:
            raise ValueError(f"many() runs a method that reads by one id: one of "
                             f"{', '.join(MANY)}; got {method!r}")
        build = getattr(self, f"_{method}")
        keys = list(dict.fromkeys(ids))
        # Built, and so every id checked, before any request: a malformed id fails at once.
        plans = tuple(_reported(build(key, **arguments), key, on_each) for key in keys)
        results = yield Parallel(plans)
        return dict(zip(keys, results, strict=True))

    def _lookup(self, kind: str, ids: Iterable[str]) -> Plan[dict[str, dict | None]]:
        return _plans.lookup(kind, ids, self._cache)

    def _credit_balances(self, organisation_ids: Iterable[str],
                         on_each: Callable[[str], object] | None) -> Plan[dict[str, Any]]:
        # Checked, all of them, before any request: a malformed id fails the call at once.
        ids = [check_id(organisation_id, "organisation", argument="organisation_ids")
               for organisation_id in dict.fromkeys(organisation_ids)]
        outcomes = yield Parallel(tuple(
            _balance_or_failure(self._credit_balance(organisation_id), organisation_id, on_each)
            for organisation_id in ids))
        return dict(zip(ids, outcomes, strict=True))

    def _retrying(self, call: Call, deadline: Deadline, failure: Exception | None,
                  attempt: int) -> float | None:
        """After ``attempt`` failed with ``failure``: the wait before the next, or None."""
        if failure is None:
            return None
        wait = retry_wait(failure, attempt, self._settings, deadline)
        if wait is not None:
            log_retry(call, failure, attempt, wait)
        return wait

    def _attempt_timeout(self, deadline: Deadline) -> float:
        # No wait may run past the overall deadline, however long the per-request timeout.
        return max(min(self._settings.timeout, deadline.left()), 0.001)

    def _redacted(self, outcome: Any) -> Any:
        """A package error scrubbed of credentials (raised or returned, as fetch's failures)."""
        if isinstance(outcome, (RegistryError, SchemaError)):
            return redact_error(outcome, self._settings.scrubber)
        return outcome


def _call(path: str, params: tuple[tuple[str, str], ...], token: bool,
          reader: str | None) -> Call:
    """A call of a route; one that needs a token sends ``reader``'s (the client's default token
    without one), and fails before any request when the client holds none."""
    if reader is not None:
        reader = check_id(reader, "organisation", argument="organisation_id")
    return Call(path, params, organisation_id=reader, private=token)


def _id_params(*filters: tuple[str, str, str | None]) -> tuple[tuple[str, str], ...]:
    """The query of the id filters given: (API name, argument name, value or None) each, every
    value checked by the id rule, naming its argument. The ids of these filters name
    organisations, except ``from_supplier_id``."""
    return tuple(
        (name, check_id(value, "supplier" if name == "from_supplier_id" else "organisation",
                        argument=argument))
        for name, argument, value in filters if value is not None)


def _reported(plan: Plan[T], key: str, on_each: Callable[[str], object] | None) -> Plan[T]:
    result = yield from plan
    if on_each is not None:
        on_each(key)
    return result


def _balance_or_failure(plan: Plan[CreditBalance], organisation_id: str,
                        on_each: Callable[[str], object] | None,
                        ) -> Plan[CreditBalance | RegistryError | SchemaError]:
    """One organisation's balance, or what stopped it; nothing it sends stops the others."""
    try:
        return (yield from plan)
    except (RegistryError, SchemaError) as error:
        # Every failure the package names (status, deadline, size, schema...) is an outcome.
        return error
    except (RecursionError, OverflowError) as error:
        # A body too deep or a number too large for the decoder that let it through.
        return SchemaError("$", f"could not be read ({type(error).__name__}): nested too "
                           "deeply or holding a number too large", organisation_id=organisation_id)
    finally:
        if on_each is not None:
            on_each(organisation_id)


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
        Seconds per attempt: the longest any one wait of it (connecting, one read) may take.
        ``max_retries`` (default 3) retries follow a 429, a 5xx or a lost connection, with
        exponential backoff and jitter from ``backoff_initial`` up to ``backoff_max``
        seconds, honouring ``Retry-After``.
    retry_deadline : float
        Seconds one request may take in all (default 60): connecting, every read, every
        retry and every wait between them. A server that trickles its answer cannot stretch
        it; a wait that would end past it is not taken. Past it: APITimeoutError.
    max_body_bytes : int
        The largest successful answer read, counted after decompression (default 64 MiB,
        three times the balance of an organisation with 100,000 projects). Larger:
        ResponseTooLargeError. Of an error's answer only the first 8 KiB are read.
    concurrency : int
        Most requests in flight at once (per-project batch listing, lookups). When one of
        them fails the call, the others stop before their next attempt.

    Secrets never appear in the client's repr, in log lines or in exception messages, in
    whatever form a server echoes them back (see the README's reliability section).

    Examples
    --------
    >>> from isoanalytics import RegistryClient
    >>> client = RegistryClient.demo()
    >>> client  # doctest: +NORMALIZE_WHITESPACE
    RegistryClient(environment='demo', base_url='https://demo.isoanalytics.invalid/registry/v0',
                   client_secret=<set>, access_token=<set>, access_tokens=<7 organisations>)
    >>> client.current_organisation()["name"]
    'Harbourline Freight'
    >>> client.close()
    """

    def __init__(self, environment: str | None = None, *,
                 transport: httpx.BaseTransport | None = None, **options: Any) -> None:
        super().__init__(environment, transport=transport, **options)
        self._http = httpx.Client(**httpx_options(self._settings, self._transport,
                                                  asynchronous=False))

    def close(self) -> None:
        """Close the connection pool (also done by ``with RegistryClient() as client:``)."""
        self._http.close()
        unwatch_logs(self._settings.scrubber)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- public methods ----------------------------------------------------------------------

    def current_organisation(self) -> dict[str, Any]:
        """``GET /organisation``: the organisation the access token belongs to (id, name...)."""
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

    def credit_balances(self, organisation_ids: Iterable[str], *,
                        on_each: Callable[[str], object] | None = None,
                        ) -> dict[str, CreditBalance | RegistryError | SchemaError]:
        """The balances of several organisations, fetched concurrently, failures included.

        Each organisation needs its own access token (``access_tokens=``). An organisation
        that fails (an error status, a deadline, a body too large or malformed) is its error
        in the result instead of a balance, and stops none of the others; a malformed id is
        refused before any request. :func:`~isoanalytics.fetch_balances` builds on this.

        Parameters
        ----------
        organisation_ids : iterable of str
            An id named twice is fetched once.
        on_each : callable, optional
            Called with each organisation's id as its answer or failure arrives (a progress
            bar's ``update``), from worker threads.

        Returns
        -------
        dict of organisation id to CreditBalance or the error
            In the order the ids were given.

        Examples
        --------
        >>> from isoanalytics import CreditBalance, RegistryClient, demo
        >>> ids = [demo.DEFAULT_ORGANISATION_ID, "org_00000000000000000000"]
        >>> with RegistryClient.demo() as client:
        ...     outcomes = client.credit_balances(ids)
        >>> isinstance(outcomes[demo.DEFAULT_ORGANISATION_ID], CreditBalance)
        True
        >>> type(outcomes["org_00000000000000000000"]).__name__  # the token does not open it
        'PermissionDeniedError'
        """
        return self._run(self._credit_balances(organisation_ids, on_each))

    def many(self, method: str, ids: Iterable[str], *,
             on_each: Callable[[str], object] | None = None,
             **arguments: Any) -> dict[str, Any]:
        """Run a method that reads by one id for many ids at once, at most ``concurrency``
        requests in flight, with the client's retries, deadlines and cancellation.

        Parameters
        ----------
        method : str
            One of :data:`~isoanalytics.registry.client.MANY`, e.g.
            ``"delivery_credit_batches"`` or ``"retirement"``.
        ids : iterable of str
            Every id is checked before any request; an id named twice is read once.
        on_each : callable, optional
            Called with each id as its answer arrives (a progress bar's ``update``).
        **arguments
            Passed to each call, e.g. ``organisation_id=`` (whose token reads).

        Returns
        -------
        dict
            Each id's result, in the order the ids were given. The first failure fails the
            call and stops the requests still to be sent.

        Examples
        --------
        >>> from isoanalytics import RegistryClient, demo
        >>> with RegistryClient.demo() as client:
        ...     ids = client.retirements(owner_organisation_id=demo.DEFAULT_ORGANISATION_ID)["id"]
        ...     batches = client.many("retirement_credit_batches", ids)
        >>> list(batches) == list(ids), all(len(frame) > 0 for frame in batches.values())
        (True, True)
        """
        return self._run(self._many(method, ids, arguments, on_each))

    def lookup(self, kind: str, ids: Iterable[str]) -> dict[str, dict[str, Any] | None]:
        """Projects, suppliers or organisations by id, concurrently, each fetched once per client.

        ``kind`` is ``"project"``, ``"supplier"`` or ``"organisation"``. Records are cached on
        the client, so looking them up again costs no request. An id the registry does not
        know maps to None; a malformed id is refused (InvalidIdError) before any request.
        :func:`~isoanalytics.enrich` builds on this.

        Examples
        --------
        >>> from isoanalytics import RegistryClient
        >>> with RegistryClient.demo() as client:
        ...     project_id = client.projects()["id"].iloc[0]
        ...     found = client.lookup("project", [project_id, "prj_0000000000000000"])
        >>> found[project_id]["id"] == project_id, found["prj_0000000000000000"]
        (True, None)
        """
        return self._run(self._lookup(kind, ids))

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

    def retirement(self, retirement_id: str) -> dict[str, Any]:
        """``GET /retirements/{id}``: one retirement (public); NotFoundError for an unknown id."""
        return self._run(self._retirement(retirement_id))

    def retirement_credit_batches(self, retirement_id: str) -> pd.DataFrame:
        """The credit batches a retirement retired, one row each (the columns of
        :meth:`credit_batches`); public, like the retirement."""
        return self._run(self._retirement_credit_batches(retirement_id))

    def credit_batch(self, credit_batch_id: str, *,
                     organisation_id: str | None = None) -> dict[str, Any]:
        """``GET /credit_batches/{id}``: one batch its owner (or a retirement's beneficiary) can
        see; ``organisation_id`` picks whose access token reads it."""
        return self._run(self._credit_batch(credit_batch_id, organisation_id=organisation_id))

    def order(self, order_id: str, *, organisation_id: str | None = None) -> dict[str, Any]:
        """``GET /orders/{id}``: one of the buyer's orders (``organisation_id``: whose token)."""
        return self._run(self._order(order_id, organisation_id=organisation_id))

    def order_deliveries(self, order_id: str, *,
                         organisation_id: str | None = None) -> pd.DataFrame:
        """The deliveries made against an order, one row each, newest first."""
        return self._run(self._order_deliveries(order_id, organisation_id=organisation_id))

    def deliveries(self, *, from_supplier_id: str | None = None,
                   to_organisation_id: str | None = None,
                   organisation_id: str | None = None) -> pd.DataFrame:
        """Deliveries the token's organisation received (filtered by supplier, recipient).

        One row per delivery: ``id, delivered_at, order_id, supplier_id, supplier_name,
        to_organisation_id, to_organisation_name, delivered_kgs, url, notes``. The token sent is
        ``organisation_id``'s, else ``to_organisation_id``'s, else the client's own."""
        return self._run(self._deliveries(
            from_supplier_id=from_supplier_id, to_organisation_id=to_organisation_id,
            organisation_id=organisation_id))

    def delivery(self, delivery_id: str, *, organisation_id: str | None = None) -> dict[str, Any]:
        """``GET /deliveries/{id}``: one delivery the token's organisation received."""
        return self._run(self._delivery(delivery_id, organisation_id=organisation_id))

    def delivery_credit_batches(self, delivery_id: str, *,
                                organisation_id: str | None = None) -> pd.DataFrame:
        """The credit batches of a delivery as they were delivered (some may be split since)."""
        return self._run(self._delivery_credit_batches(delivery_id,
                                                       organisation_id=organisation_id))

    def transfers(self, *, from_organisation_id: str | None = None,
                  to_organisation_id: str | None = None,
                  organisation_id: str | None = None) -> pd.DataFrame:
        """Transfers into or out of the token's organisation's account.

        One row per transfer: ``id, transferred_at, from_organisation_id, from_organisation_name,
        to_organisation_id, to_organisation_name, transferred_kgs, notes``. The token sent is
        ``organisation_id``'s, else the sender's, else the recipient's, else the client's own."""
        return self._run(self._transfers(
            from_organisation_id=from_organisation_id, to_organisation_id=to_organisation_id,
            organisation_id=organisation_id))

    def transfer(self, transfer_id: str, *, organisation_id: str | None = None) -> dict[str, Any]:
        """``GET /transfers/{id}``: one transfer into or out of the token's organisation."""
        return self._run(self._transfer(transfer_id, organisation_id=organisation_id))

    def transfer_credit_batches(self, transfer_id: str, *,
                                organisation_id: str | None = None) -> pd.DataFrame:
        """The credit batches a transfer moved, one row each."""
        return self._run(self._transfer_credit_batches(transfer_id,
                                                       organisation_id=organisation_id))

    def refund(self, refund_id: str, *, organisation_id: str | None = None) -> dict[str, Any]:
        """``GET /refunds/{id}``: a buffer-pool refund the token's organisation received.

        The API lists no refunds: a refund is read by an id its recipient knows."""
        return self._run(self._refund(refund_id, organisation_id=organisation_id))

    def refund_credit_batches(self, refund_id: str, *,
                              organisation_id: str | None = None) -> pd.DataFrame:
        """The credit batches a buffer-pool refund gave, one row each."""
        return self._run(self._refund_credit_batches(refund_id, organisation_id=organisation_id))

    def issuances(self) -> pd.DataFrame:
        """Every issuance on the registry (public): one row each, with its project, supplier,
        reporting period (``reporting_period_start``, ``reporting_period_end``, inclusive) and
        ``issued_kgs`` = ``supplier_kgs`` + ``buffer_pool_kgs``."""
        return self._run(self._issuances())

    def issuance(self, issuance_id: str) -> dict[str, Any]:
        """``GET /issuances/{id}``: one issuance (public)."""
        return self._run(self._issuance(issuance_id))

    def issuance_credit_batches(self, issuance_id: str) -> pd.DataFrame:
        """An issuance's credit batches, the supplier's and the buffer pool's, as one frame with a
        ``pool`` column (``"supplier"`` or ``"buffer_pool"``); each part is checked against
        its stated total to the kilogram."""
        return self._run(self._issuance_credit_batches(issuance_id))

    def project_documents(self, project_id: str) -> pd.DataFrame:
        """A project's public documents: ``id, display_name, project_id, url``."""
        return self._run(self._project_documents(project_id))

    def supplier_projects(self, supplier_id: str) -> pd.DataFrame:
        """A supplier's projects (the columns of :meth:`projects`)."""
        return self._run(self._supplier_projects(supplier_id))

    def supplier_issuances(self, supplier_id: str) -> pd.DataFrame:
        """A supplier's issuances (the columns of :meth:`issuances`)."""
        return self._run(self._supplier_issuances(supplier_id))

    def supplier_deliveries(self, supplier_id: str, *,
                            organisation_id: str | None = None) -> pd.DataFrame:
        """The deliveries from a supplier that the token's organisation received."""
        return self._run(self._supplier_deliveries(supplier_id, organisation_id=organisation_id))

    def supplier_orders(self, supplier_id: str, *,
                        organisation_id: str | None = None) -> pd.DataFrame:
        """The token's organisation's orders from a supplier (the columns of :meth:`orders`)."""
        return self._run(self._supplier_orders(supplier_id, organisation_id=organisation_id))

    def beneficiaries(self, *, organisation_id: str | None = None) -> pd.DataFrame:
        """The organisations the token's organisation has retired credits for: ``id, name,
        domain``."""
        return self._run(self._beneficiaries(organisation_id=organisation_id))

    def transferees(self, *, organisation_id: str | None = None) -> pd.DataFrame:
        """The organisations the token's organisation has transferred credits to: ``id, name,
        domain``."""
        return self._run(self._transferees(organisation_id=organisation_id))

    # -- driving plans -------------------------------------------------------------------------

    def _run(self, plan: Plan[Any]) -> Any:
        try:
            return self._redacted(self._drive(plan))
        except (RegistryError, SchemaError) as error:
            failure = self._redacted(error)
        # Raised outside the except clause, so nothing foreign becomes its __context__.
        raise failure

    def _drive(self, plan: Plan[Any]) -> Any:
        try:
            step = next(plan)
            while True:
                try:
                    result: Any
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
        cancel = Cancel(_bounds.current_cancel())
        # httpx.Client is thread-safe; threads keep the sync API usable inside Jupyter's loop.
        pool = ThreadPoolExecutor(self._settings.concurrency, "isoanalytics")
        failure: BaseException | None = None
        try:
            futures = [pool.submit(self._run_cancellable, plan, cancel) for plan in plans]
            finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [future.exception() for future in futures
                      if future in finished and future.exception() is not None]
            if not failed:
                return [future.result() for future in futures]
            # The first real failure; the rest may only be requests it cancelled.
            failure = next((error for error in failed
                            if not isinstance(error, _bounds.Cancelled)), failed[0])
        except BaseException:  # KeyboardInterrupt in the waiting thread included
            failure = _bounds.Cancelled()
            raise
        finally:
            if failure is not None:
                # Running requests stop before their next attempt or during their backoff;
                # the call does not wait for them (a thread cannot be stopped mid-read).
                cancel.set()
                pool.shutdown(wait=False, cancel_futures=True)
            else:
                pool.shutdown(wait=True)
        raise failure  # type: ignore[misc]  # set on every path that reaches here

    def _run_cancellable(self, plan: Plan[Any], cancel: Cancel) -> Any:
        with _bounds.cancelling(cancel):
            return self._run(plan)

    def _send(self, call: Call) -> bytes:
        settings = self._settings
        auth = RegistryAuth(settings.secret, settings.token_for(call))
        deadline = Deadline(settings.retry_deadline)
        attempt = 0
        while True:
            attempt += 1
            _bounds.check_cancelled()
            outcome = self._attempt(call, auth, deadline, attempt)
            if isinstance(outcome, bytes):
                return outcome
            wait_for = self._retrying(call, deadline, outcome, attempt)
            if wait_for is None:
                raise outcome
            _bounds.sleep(wait_for)

    def _attempt(self, call: Call, auth: RegistryAuth, deadline: Deadline,
                 attempt: int) -> bytes | RegistryError:
        """One GET within ``deadline``: the body, or the error (returned, not raised, so no
        httpx exception, with its request and headers, becomes the error's context)."""
        settings = self._settings
        started = time.perf_counter()
        failure: RegistryError
        try:
            with _bounds.applying(deadline), self._http.stream(
                    "GET", call.path, params=call.params, auth=auth,
                    timeout=self._attempt_timeout(deadline)) as response:
                log_response(call, response, started, attempt)
                reader = body_reader(response, call, settings)
                for chunk in ([response.content] if response.is_stream_consumed
                              else response.iter_raw()):
                    if reader.feed(chunk):
                        break  # enough: closing the response closes the connection
                    if deadline.passed():
                        return transport_error(None, call, settings, attempt, deadline)
                body, cut = read_body(reader, response, call, settings)
            return answer(response, body, cut, call, settings, attempt)
        except httpx.TransportError as error:
            failure = transport_error(error, call, settings, attempt, deadline)
        except RegistryError as error:
            failure = error
        return failure


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
        super().__init__(environment, transport=transport, **options)
        self._http = httpx.AsyncClient(**httpx_options(self._settings, self._transport,
                                                       asynchronous=True))
        self._slots: asyncio.Semaphore | None = None  # made on the client's event loop

    async def aclose(self) -> None:
        await self._http.aclose()
        unwatch_logs(self._settings.scrubber)

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

    async def credit_balances(self, organisation_ids: Iterable[str], *,
                              on_each: Callable[[str], object] | None = None,
                              ) -> dict[str, CreditBalance | RegistryError | SchemaError]:
        """See :meth:`RegistryClient.credit_balances` (``on_each`` runs on the event loop).

        Examples
        --------
        >>> import asyncio
        >>> from isoanalytics import AsyncRegistryClient, demo
        >>> async def balances():
        ...     async with AsyncRegistryClient.demo() as client:
        ...         return await client.credit_balances(demo.accounts())
        >>> len(asyncio.run(balances()))
        7
        """
        return await self._run(self._credit_balances(organisation_ids, on_each))

    async def many(self, method: str, ids: Iterable[str], *,
                   on_each: Callable[[str], object] | None = None,
                   **arguments: Any) -> dict[str, Any]:
        """See :meth:`RegistryClient.many`."""
        return await self._run(self._many(method, ids, arguments, on_each))

    async def lookup(self, kind: str, ids: Iterable[str]) -> dict[str, dict[str, Any] | None]:
        """See :meth:`RegistryClient.lookup`.

        Examples
        --------
        >>> import asyncio
        >>> from isoanalytics import AsyncRegistryClient, demo
        >>> async def buyer():
        ...     async with AsyncRegistryClient.demo() as client:
        ...         return await client.lookup("organisation", [demo.DEFAULT_ORGANISATION_ID])
        >>> asyncio.run(buyer())[demo.DEFAULT_ORGANISATION_ID]["name"]
        'Harbourline Freight'
        """
        return await self._run(self._lookup(kind, ids))

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

    async def retirement(self, retirement_id: str) -> dict[str, Any]:
        """See :meth:`RegistryClient.retirement`."""
        return await self._run(self._retirement(retirement_id))

    async def retirement_credit_batches(self, retirement_id: str) -> pd.DataFrame:
        """See :meth:`RegistryClient.retirement_credit_batches`."""
        return await self._run(self._retirement_credit_batches(retirement_id))

    async def credit_batch(self, credit_batch_id: str, *,
                           organisation_id: str | None = None) -> dict[str, Any]:
        """See :meth:`RegistryClient.credit_batch`."""
        return await self._run(self._credit_batch(credit_batch_id, organisation_id=organisation_id))

    async def order(self, order_id: str, *, organisation_id: str | None = None) -> dict[str, Any]:
        """See :meth:`RegistryClient.order`."""
        return await self._run(self._order(order_id, organisation_id=organisation_id))

    async def order_deliveries(self, order_id: str, *,
                               organisation_id: str | None = None) -> pd.DataFrame:
        """See :meth:`RegistryClient.order_deliveries`."""
        return await self._run(self._order_deliveries(order_id, organisation_id=organisation_id))

    async def deliveries(self, *, from_supplier_id: str | None = None,
                         to_organisation_id: str | None = None,
                         organisation_id: str | None = None) -> pd.DataFrame:
        """See :meth:`RegistryClient.deliveries`."""
        return await self._run(self._deliveries(
            from_supplier_id=from_supplier_id, to_organisation_id=to_organisation_id,
            organisation_id=organisation_id))

    async def delivery(self, delivery_id: str, *,
                       organisation_id: str | None = None) -> dict[str, Any]:
        """See :meth:`RegistryClient.delivery`."""
        return await self._run(self._delivery(delivery_id, organisation_id=organisation_id))

    async def delivery_credit_batches(self, delivery_id: str, *,
                                      organisation_id: str | None = None) -> pd.DataFrame:
        """See :meth:`RegistryClient.delivery_credit_batches`."""
        return await self._run(self._delivery_credit_batches(delivery_id,
                                                             organisation_id=organisation_id))

    async def transfers(self, *, from_organisation_id: str | None = None,
                        to_organisation_id: str | None = None,
                        organisation_id: str | None = None) -> pd.DataFrame:
        """See :meth:`RegistryClient.transfers`."""
        return await self._run(self._transfers(
            from_organisation_id=from_organisation_id, to_organisation_id=to_organisation_id,
            organisation_id=organisation_id))

    async def transfer(self, transfer_id: str, *,
                       organisation_id: str | None = None) -> dict[str, Any]:
        """See :meth:`RegistryClient.transfer`."""
        return await self._run(self._transfer(transfer_id, organisation_id=organisation_id))

    async def transfer_credit_batches(self, transfer_id: str, *,
                                      organisation_id: str | None = None) -> pd.DataFrame:
        """See :meth:`RegistryClient.transfer_credit_batches`."""
        return await self._run(self._transfer_credit_batches(transfer_id,
                                                             organisation_id=organisation_id))

    async def refund(self, refund_id: str, *, organisation_id: str | None = None) -> dict[str, Any]:
        """See :meth:`RegistryClient.refund`."""
        return await self._run(self._refund(refund_id, organisation_id=organisation_id))

    async def refund_credit_batches(self, refund_id: str, *,
                                    organisation_id: str | None = None) -> pd.DataFrame:
        """See :meth:`RegistryClient.refund_credit_batches`."""
        return await self._run(self._refund_credit_batches(refund_id,
                                                           organisation_id=organisation_id))

    async def issuances(self) -> pd.DataFrame:
        """See :meth:`RegistryClient.issuances`."""
        return await self._run(self._issuances())

    async def issuance(self, issuance_id: str) -> dict[str, Any]:
        """See :meth:`RegistryClient.issuance`."""
        return await self._run(self._issuance(issuance_id))

    async def issuance_credit_batches(self, issuance_id: str) -> pd.DataFrame:
        """See :meth:`RegistryClient.issuance_credit_batches`."""
        return await self._run(self._issuance_credit_batches(issuance_id))

    async def project_documents(self, project_id: str) -> pd.DataFrame:
        """See :meth:`RegistryClient.project_documents`."""
        return await self._run(self._project_documents(project_id))

    async def supplier_projects(self, supplier_id: str) -> pd.DataFrame:
        """See :meth:`RegistryClient.supplier_projects`."""
        return await self._run(self._supplier_projects(supplier_id))

    async def supplier_issuances(self, supplier_id: str) -> pd.DataFrame:
        """See :meth:`RegistryClient.supplier_issuances`."""
        return await self._run(self._supplier_issuances(supplier_id))

    async def supplier_deliveries(self, supplier_id: str, *,
                                  organisation_id: str | None = None) -> pd.DataFrame:
        """See :meth:`RegistryClient.supplier_deliveries`."""
        return await self._run(self._supplier_deliveries(supplier_id,
                                                         organisation_id=organisation_id))

    async def supplier_orders(self, supplier_id: str, *,
                              organisation_id: str | None = None) -> pd.DataFrame:
        """See :meth:`RegistryClient.supplier_orders`."""
        return await self._run(self._supplier_orders(supplier_id, organisation_id=organisation_id))

    async def beneficiaries(self, *, organisation_id: str | None = None) -> pd.DataFrame:
        """See :meth:`RegistryClient.beneficiaries`."""
        return await self._run(self._beneficiaries(organisation_id=organisation_id))

    async def transferees(self, *, organisation_id: str | None = None) -> pd.DataFrame:
        """See :meth:`RegistryClient.transferees`."""
        return await self._run(self._transferees(organisation_id=organisation_id))

    async def _run(self, plan: Plan[Any]) -> Any:
        try:
            return self._redacted(await self._drive(plan))
        except (RegistryError, SchemaError) as error:
            failure = self._redacted(error)
        # Raised outside the except clause, so nothing foreign becomes its __context__.
        raise failure

    async def _drive(self, plan: Plan[Any]) -> Any:
        try:
            step = next(plan)
            while True:
                try:
                    result: Any
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
        import asyncio

        tasks = [asyncio.ensure_future(self._run(plan)) for plan in plans]
        try:
            return await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            raise

    async def _send(self, call: Call) -> bytes:
        import asyncio

        settings = self._settings
        auth = RegistryAuth(settings.secret, settings.token_for(call))
        if self._slots is None:
            self._slots = asyncio.Semaphore(settings.concurrency)
        deadline = Deadline(settings.retry_deadline)
        attempt = 0
        while True:
            attempt += 1
            outcome = await self._attempt(call, auth, deadline, attempt)
            if isinstance(outcome, bytes):
                return outcome
            wait_for = self._retrying(call, deadline, outcome, attempt)
            if wait_for is None:
                raise outcome
            await asyncio.sleep(0 if _bounds.no_waits() else wait_for)  # cancelled with its task

    async def _attempt(self, call: Call, auth: RegistryAuth, deadline: Deadline,
                       attempt: int) -> bytes | RegistryError:
        """See :meth:`RegistryClient._attempt`; asyncio.timeout bounds all of it at once."""
        import asyncio

        settings = self._settings
        started = time.perf_counter()
        slots = self._slots
        assert slots is not None, "made by _send before any attempt"
        failure: RegistryError
        try:
            async with asyncio.timeout(max(deadline.left(), 0)), slots, self._http.stream(
                    "GET", call.path, params=call.params, auth=auth,
                    timeout=self._attempt_timeout(deadline)) as response:
                log_response(call, response, started, attempt)
                reader = body_reader(response, call, settings)
                if response.is_stream_consumed:  # an in-memory answer (the demo's)
                    reader.feed(response.content)
                else:
                    async for chunk in response.aiter_raw():
                        if reader.feed(chunk):
                            break
                body, cut = read_body(reader, response, call, settings)
            return answer(response, body, cut, call, settings, attempt)
        except TimeoutError:
            failure = transport_error(None, call, settings, attempt, deadline)
        except httpx.TransportError as error:
            failure = transport_error(error, call, settings, attempt, deadline)
        except RegistryError as error:
            failure = error
        return failure

