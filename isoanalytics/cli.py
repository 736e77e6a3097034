"""The ``isoanalytics`` command line.

``isoanalytics summary --demo [--org ID]`` prints an organisation's headline figures and its
largest suppliers from the embedded demo registry; ``isoanalytics summary [--org ID]`` does the
same from the live registry, with credentials from ``ISOMETRIC_CLIENT_SECRET`` and
``ISOMETRIC_ACCESS_TOKEN`` (and ``ISOMETRIC_ENVIRONMENT``, default sandbox). Both read through
the same :class:`~isoanalytics.RegistryClient`.

Exit codes: 0 success, 2 usage error, 3 unknown organisation, 4 data that fails validation,
5 missing or refused credentials, 6 registry unreachable, rate-limited or failing.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TextIO

import pandas as pd

from . import __version__, demo
from ._format import percent, tonnes
from ._http import ENVIRONMENT_VARIABLE, SECRET_VARIABLE, TOKEN_VARIABLE
from ._plans import organisation_path
from .balance import CreditBalance
from .client import RegistryClient
from .enrich import enrich
from .errors import (
    AuthenticationError,
    MissingCredentialsError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    RegistryError,
    SchemaError,
)
from .metrics import concentration, reconcile, retired_share, summarize

__all__ = ["main"]

EXIT_USAGE = 2
EXIT_UNKNOWN_ORGANISATION = 3
EXIT_BAD_DATA = 4
EXIT_CREDENTIALS = 5
EXIT_UNAVAILABLE = 6


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="isoanalytics",
        description="Carbon-removal credit holdings on the Isometric Registry: "
                    "active and retired credits, suppliers, concentration.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    summary = commands.add_parser(
        "summary", help="headline figures and top suppliers of one organisation",
        description="Print an organisation's active and retired credits, retired share, "
                    "supplier concentration and largest suppliers.",
        epilog=f"Live mode reads {SECRET_VARIABLE}, {TOKEN_VARIABLE} and "
               f"{ENVIRONMENT_VARIABLE} (sandbox or production; default sandbox).",
    )
    summary.add_argument("--demo", action="store_true",
                         help="use the embedded demo registry (fictional data, works offline)")
    summary.add_argument("--org", metavar="ID",
                         help="organisation id (default: the access token's organisation; "
                              f"with --demo, {demo.DEFAULT_ORGANISATION_ID})")
    summary.add_argument("--environment", choices=("sandbox", "production"),
                         help=f"live registry to read (default: {ENVIRONMENT_VARIABLE}, "
                              "else sandbox)")
    summary.add_argument("--top", type=int, default=5, metavar="N",
                         help="how many suppliers to list (default 5)")
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit code.

    Examples
    --------
    >>> import io
    >>> from isoanalytics.cli import main
    >>> out = io.StringIO()
    >>> main(["summary", "--demo", "--top", "1"], out=out)
    0
    >>> "tCO2e" in out.getvalue()
    True
    """
    out = out or sys.stdout
    try:
        return _summary(_parser(), argv, out)
    except BrokenPipeError:
        # The reader went away (``isoanalytics summary --demo | head``): stop quietly,
        # and keep Python from complaining again when it flushes stdout at exit.
        if out is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _summary(parser: argparse.ArgumentParser, argv: Sequence[str] | None, out: TextIO) -> int:
    args = parser.parse_args(argv)
    if args.top < 1:
        parser.error("--top must be at least 1")
    if args.demo and args.environment:
        parser.error("--environment chooses a live registry; leave it out with --demo")
    try:
        if args.org:
            organisation_path(args.org)  # a malformed id is refused before any request
    except ValueError as error:
        print(f"isoanalytics summary: --org: {error}", file=sys.stderr)
        return EXIT_UNKNOWN_ORGANISATION
    try:
        client = RegistryClient.demo() if args.demo else RegistryClient(args.environment)
    except ValueError as error:  # ISOMETRIC_ENVIRONMENT or ISOMETRIC_BASE_URL unusable
        print(f"isoanalytics summary: {error}", file=sys.stderr)
        return EXIT_USAGE
    except MissingCredentialsError as error:
        print(f"isoanalytics summary: {error}\nTo try the package without credentials: "
              "isoanalytics summary --demo", file=sys.stderr)
        return EXIT_CREDENTIALS
    try:
        with client:
            organisation_id = args.org or (demo.DEFAULT_ORGANISATION_ID if args.demo
                                           else client.current_organisation()["id"])
            organisation = client.organisation(organisation_id)
            balance = client.credit_balance(organisation_id)
            suppliers = enrich(summarize(balance, by="supplier"), client)
    except (SchemaError, PaginationError) as error:
        print(f"isoanalytics summary: the registry's answer failed validation: {error}",
              file=sys.stderr)
        return EXIT_BAD_DATA
    except NotFoundError as error:
        print(f"isoanalytics summary: {error}", file=sys.stderr)
        if args.demo:
            print(f"Demo organisations: {_demo_buyers()}", file=sys.stderr)
        return EXIT_UNKNOWN_ORGANISATION
    except (MissingCredentialsError, AuthenticationError, PermissionDeniedError) as error:
        print(f"isoanalytics summary: {error}", file=sys.stderr)
        if not args.demo:
            print("To try the package without credentials: isoanalytics summary --demo",
                  file=sys.stderr)
        return EXIT_CREDENTIALS
    except RegistryError as error:
        print(f"isoanalytics summary: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    if args.demo:
        source = f"DEMO DATA (fictional, generated), as of {demo.registry().as_of:%Y-%m-%d}"
    else:
        now = datetime.now(UTC)
        source = f"Isometric Registry ({client.environment}), read {now:%Y-%m-%d %H:%M} UTC"
    _print_summary(balance, organisation["name"], source, suppliers, args.top, out)
    if args.demo:
        print(f"\nOther demo organisations (--org ID): {_demo_buyers(exclude=organisation_id)}",
              file=out)
    return 0


def _demo_buyers(exclude: str | None = None) -> str:
    return ", ".join(f"{org_id} ({role})" for role, org_id in demo.registry().buyers.items()
                     if org_id != exclude)


def _print_summary(
    balance: CreditBalance,
    name: str,
    source: str,
    suppliers: pd.DataFrame,
    top: int,
    out: TextIO,
) -> None:
    def line(text: str = "") -> None:
        print(text, file=out)

    line(f"{name} ({balance.organisation_id})")
    line(source)
    line()
    width = len(tonnes(balance.total_kgs))
    for label, kgs in (("Active", balance.active_kgs), ("Retired", balance.retired_kgs),
                       ("Total", balance.total_kgs)):
        line(f"  {label:<14}{tonnes(kgs):>{width}} tCO2e  ({kgs:,} kg)")
    line(f"  {'Retired share':<14}{percent(retired_share(balance))}")

    figures = concentration(balance, by="supplier")
    if figures.n:
        line(
            f"  {'Suppliers':<14}{figures.n} holding credits; HHI {figures.hhi:,.0f} "
            f"({figures.level}), CR1 {percent(figures.cr1)}, "
            f"effective number {figures.effective_n:.1f}, Gini {figures.gini:.2f}"
        )
    unbalanced = reconcile(balance).query("balanced != True")
    if unbalanced.empty:
        line(f"  {'Reconciled':<14}project, supplier and order balances add up to the total")
    for row in unbalanced.itertuples():
        gap = "absent" if row.note else f"{row.difference_kgs:+,} kg against the total"
        line(f"  {'Reconciled':<14}{row.level} balances ({row.status}): {gap}")

    summary = suppliers[suppliers["total_kgs"] > 0].head(top)
    if summary.empty:
        line("\n  Holds no credits.")
        return
    line()
    names = [name if isinstance(name, str) else supplier_id
             for supplier_id, name in zip(summary.index, summary["supplier_name"])]
    name_width = max(len("Supplier"), *map(len, names))
    tonnes_width = max(len("tCO2e"), *(len(tonnes(kgs)) for kgs in summary["total_kgs"]))
    line(f"  {'Supplier':<{name_width}}  {'tCO2e':>{tonnes_width}}  {'share':>7}  {'retired':>7}")
    for supplier_name, row in zip(names, summary.itertuples()):
        line(
            f"  {supplier_name:<{name_width}}  {tonnes(row.total_kgs):>{tonnes_width}}  "
            f"{percent(row.share):>7}  {percent(row.retired_share):>7}"
        )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
