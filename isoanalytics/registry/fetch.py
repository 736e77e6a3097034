"""Balances of a portfolio of organisations, fetched concurrently: :func:`fetch_balances`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .._progress import progress_bar
from ..errors import APIStatusError
from ..ids import check_id
from ..records.balance import CreditBalance, stack_balances
from .client import AsyncRegistryClient, RegistryClient

__all__ = ["PortfolioFetch", "afetch_balances", "fetch_balances"]

FAILURE_COLUMNS = ("organisation_id", "error", "status_code", "message")


@dataclass(frozen=True)
class PortfolioFetch:
    """What a portfolio fetch brought back: every balance that came, every failure and why.

    Attributes
    ----------
    balances : dict of organisation id to CreditBalance
        In the order the accounts were given.
    frame : DataFrame
        The tidy frame of every organisation that answered (``stack_balances``), with
        ``organisation_id`` on each row.
    failures : DataFrame
        One row per organisation that did not answer: ``organisation_id``, ``error`` (the
        exception type), ``status_code`` (when the API answered) and ``message``. Any
        failure the package names is a row, whatever one organisation's server sends
        (an error status, a body past ``max_body_bytes``, a deadline, a malformed body).
    errors : dict of organisation id to exception
        The exceptions themselves, to re-raise or inspect.

    Examples
    --------
    >>> from isoanalytics import demo, fetch_balances
    >>> accounts = {demo.DEFAULT_ORGANISATION_ID: demo.access_token(demo.DEFAULT_ORGANISATION_ID),
    ...             "org_00000000000000000000": "a-token-the-demo-refuses"}
    >>> result = fetch_balances(accounts, environment="demo", progress=False)
    >>> result.ok, list(result.balances) == [demo.DEFAULT_ORGANISATION_ID]
    (False, True)
    >>> result.failures[["organisation_id", "error", "status_code"]].to_dict("records")
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'organisation_id': 'org_00000000000000000000', 'error': 'AuthenticationError',
      'status_code': 401}]
    """

    balances: dict[str, CreditBalance]
    frame: pd.DataFrame
    failures: pd.DataFrame
    errors: dict[str, Exception] = field(repr=False)

    @property
    def ok(self) -> bool:
        """True when every organisation answered."""
        return not self.errors

    def raise_for_failures(self) -> None:
        """Raise the first failure (in account order), if there was one."""
        if self.errors:
            raise next(iter(self.errors.values()))

    def __repr__(self) -> str:
        return (f"PortfolioFetch({len(self.balances)} organisations answered, "
                f"{len(self.errors)} failed)")


def fetch_balances(
    accounts: Mapping[str, str] | Iterable[str],
    *,
    client: RegistryClient | None = None,
    client_secret: str | None = None,
    environment: str | None = None,
    base_url: str | None = None,
    concurrency: int = 10,
    progress: bool = True,
    **options: Any,
) -> PortfolioFetch:
    """Fetch the credit balance of every organisation in ``accounts``, concurrently.

    Parameters
    ----------
    accounts : mapping of organisation id to access token, or organisation ids with ``client``
        Each organisation's own token (a token opens one organisation's data). In the demo
        environment, ``demo.accounts()``.
    client : RegistryClient, optional
        Fetch through this client, with the tokens it holds; ``accounts`` is then a list of
        organisation ids, and ``client_secret``, ``environment``, ``base_url`` and
        ``options`` are not used.
    client_secret, environment, base_url
        As for :class:`RegistryClient` (``ISOMETRIC_*`` variables when not given).
    concurrency : int
        At most this many requests in flight.
    progress : bool
        A progress bar (tqdm: a widget in Jupyter, text in a terminal); never shown when
        not interactive (CI, a pipe).
    **options
        ``timeout``, ``max_retries``, ``retry_deadline``... for :class:`RegistryClient`.

    Returns
    -------
    PortfolioFetch
        Nothing is lost on partial failure: ``.frame`` holds every organisation that
        answered, ``.failures`` every one that did not and why. Missing credentials or a
        malformed organisation id are raised at once, before any request.

    Examples
    --------
    >>> from isoanalytics import demo, fetch_balances
    >>> result = fetch_balances(demo.accounts(), environment="demo", progress=False)
    >>> result
    PortfolioFetch(7 organisations answered, 0 failed)
    >>> result.frame["organisation_id"].nunique()
    7
    >>> from isoanalytics import RegistryClient
    >>> with RegistryClient.demo() as client:
    ...     fetch_balances(["org_1J7BT1V2GFMC75MZ"], client=client, progress=False)
    PortfolioFetch(1 organisations answered, 0 failed)
    """
    owned: AbstractContextManager[Any]
    if client is None:
        tokens = _check_accounts(accounts)
        # Ours to make, so ours to close.
        owned = client = RegistryClient(environment, client_secret=client_secret,
                                        access_tokens=tokens, base_url=base_url,
                                        concurrency=concurrency, **options)
    else:
        if not isinstance(client, RegistryClient):
            raise TypeError(f"client must be a RegistryClient, got {type(client).__name__}; "
                            "with an AsyncRegistryClient, use afetch_balances")
        if isinstance(accounts, (Mapping, str)):
            raise TypeError("with client=..., pass the organisation ids (a list): the client "
                            "sends its own tokens, and tokens given here would go unused")
        accounts = list(accounts)  # once: an iterator would be spent by the check
        _check_ids(accounts)
        owned = nullcontext()  # the caller's client stays open
    organisations = list(dict.fromkeys(accounts))  # one named twice is fetched once
    # Threads, not an event loop: httpx's sync path costs less CPU per request (measured
    # in tests/benchmarks/bench_client.py), and no loop clashes with Jupyter's own.
    with owned, _progress_bar(len(organisations), progress) as bar:
        outcomes = client.credit_balances(organisations, on_each=lambda _: bar.update(1))
    return _result(outcomes)


async def afetch_balances(
    accounts: Mapping[str, str],
    *,
    client_secret: str | None = None,
    environment: str | None = None,
    base_url: str | None = None,
    concurrency: int = 10,
    progress: bool = True,
    **options: Any,
) -> PortfolioFetch:
    """The asyncio twin of :func:`fetch_balances`.

    Examples
    --------
    >>> import asyncio
    >>> from isoanalytics import afetch_balances, demo
    >>> asyncio.run(afetch_balances(demo.accounts(), environment="demo", progress=False))
    PortfolioFetch(7 organisations answered, 0 failed)
    """
    _check_accounts(accounts)
    client = AsyncRegistryClient(environment, client_secret=client_secret, access_tokens=accounts,
                                 base_url=base_url, concurrency=concurrency, **options)
    with _progress_bar(len(accounts), progress) as bar:
        async with client:
            outcomes = await client.credit_balances(accounts, on_each=lambda _: bar.update(1))
    return _result(outcomes)


def _check_accounts(accounts: object) -> Mapping[str, str]:
    if not isinstance(accounts, Mapping):
        raise TypeError("accounts must map organisation ids to access tokens, "
                        f"got {type(accounts).__name__}")
    _check_ids(accounts)
    return accounts


def _check_ids(organisation_ids: Iterable[str]) -> None:
    for organisation_id in organisation_ids:
        # a malformed id fails here, before any request
        check_id(organisation_id, "organisation", argument="accounts")


def _result(outcomes: Mapping[str, CreditBalance | Exception]) -> PortfolioFetch:
    balances = {org: outcome for org, outcome in outcomes.items()
                if isinstance(outcome, CreditBalance)}
    errors = {org: outcome for org, outcome in outcomes.items()
              if not isinstance(outcome, CreditBalance)}
    return PortfolioFetch(balances, stack_balances(balances), _failure_table(errors), errors)


def _failure_table(errors: dict[str, Exception]) -> pd.DataFrame:
    return pd.DataFrame({
        "organisation_id": pd.array(list(errors), dtype="string"),
        "error": pd.array([type(error).__name__ for error in errors.values()], dtype="string"),
        "status_code": pd.array([error.status_code if isinstance(error, APIStatusError) else None
                                 for error in errors.values()], dtype="Int64"),
        "message": pd.array([str(error) for error in errors.values()], dtype="string"),
    }, columns=list(FAILURE_COLUMNS))


def _progress_bar(total: int, wanted: bool):
    return progress_bar(total, "credit balances", "org", shown=None if wanted else False)
