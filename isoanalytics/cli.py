"""The ``isoanalytics`` command line.

``isoanalytics report --demo -o report.html`` writes the HTML report of the embedded demo
registry's default buyer; ``--org ID`` (repeated for a portfolio) chooses organisations, and
without ``--demo`` it reads the live registry, with credentials from ``ISOMETRIC_CLIENT_SECRET``
and ``ISOMETRIC_ACCESS_TOKEN`` (and ``ISOMETRIC_ENVIRONMENT``, default sandbox).
``isoanalytics summary [--demo] [--org ID]`` prints an organisation's headline figures and its
largest suppliers. All read through the same :class:`~isoanalytics.RegistryClient`.

Exit codes: 0 success, 2 usage error, 3 unknown organisation, 4 data that fails validation,
5 missing or refused credentials, 6 registry unreachable, rate-limited or failing, 7 report
template missing or unusable, 8 report failed while it ran, 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TextIO

import pandas as pd

from . import __version__, demo
from ._format import percent, tonnes
from ._http import ENVIRONMENT_VARIABLE, SECRET_VARIABLE, TOKEN_VARIABLE, TOKENS_VARIABLE
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
EXIT_TEMPLATE = 7
EXIT_REPORT_FAILED = 8
EXIT_INTERRUPTED = 130


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
    report = commands.add_parser(
        "report", help="an HTML report of an organisation or a portfolio",
        description="Run the report notebook for one organisation or several and write one "
                    "self-contained HTML file (figures embedded, opens offline in any browser).",
        epilog=f"Live mode reads {SECRET_VARIABLE}, {TOKEN_VARIABLE} (or, for a portfolio, "
               f"{TOKENS_VARIABLE}=org_A=token_A,org_B=token_B) and {ENVIRONMENT_VARIABLE} "
               "(sandbox or production; default sandbox). "
               "Example: isoanalytics report --demo -o report.html",
    )
    report.add_argument("--demo", action="store_true",
                        help="use the embedded demo registry (fictional data, works offline)")
    report.add_argument("--org", metavar="ID", action="append", dest="orgs",
                        help="an organisation to report on; repeat it for a portfolio "
                             "(default: the access token's organisation; with --demo, "
                             f"{demo.DEFAULT_ORGANISATION_ID})")
    report.add_argument("-o", "--output", default="report.html", metavar="FILE",
                        help="the HTML file to write (default report.html; replaced if it exists)")
    report.add_argument("--title", help="the report's heading")
    report.add_argument("--top", type=int, default=10, metavar="N",
                        help="suppliers and projects shown by name (default 10)")
    report.add_argument("--with-code", action="store_true",
                        help="show the code that made each figure")
    report.add_argument("--environment", choices=("sandbox", "production"),
                        help=f"live registry to read (default: {ENVIRONMENT_VARIABLE}, "
                             "else sandbox)")
    report.add_argument("--template", metavar="NOTEBOOK",
                        help="run another report notebook (it needs a cell tagged 'parameters')")
    report.add_argument("--notebook", metavar="FILE", help="also save the executed notebook")
    report.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS",
                        help="how long any one report cell may run (default 600)")
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
    parser = _parser()
    args = parser.parse_args(argv)
    if args.top < 1:
        parser.error("--top must be at least 1")
    if args.demo and args.environment:
        parser.error("--environment chooses a live registry; leave it out with --demo")
    try:
        return (_report if args.command == "report" else _summary)(args, out)
    except KeyboardInterrupt:
        print(f"isoanalytics {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``isoanalytics summary --demo | head``): stop quietly,
        # and keep Python from complaining again when it flushes stdout at exit.
        if out is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _exit_code(error_class: type[BaseException]) -> int:
    """The exit code for an error the package raised (here, or inside the report's kernel)."""
    if issubclass(error_class, (SchemaError, PaginationError)):
        return EXIT_BAD_DATA
    if issubclass(error_class, NotFoundError):
        return EXIT_UNKNOWN_ORGANISATION
    if issubclass(error_class,
                  (MissingCredentialsError, AuthenticationError, PermissionDeniedError)):
        return EXIT_CREDENTIALS
    if issubclass(error_class, RegistryError):
        return EXIT_UNAVAILABLE
    return EXIT_REPORT_FAILED


def _fail(command: str, message: str, code: int, *, demo_mode: bool) -> int:
    """Say what went wrong and what to do next, on stderr; return the exit code."""
    if code == EXIT_BAD_DATA:
        message = f"the registry's answer failed validation: {message}"
    print(f"isoanalytics {command}: {message}", file=sys.stderr)
    if code == EXIT_UNKNOWN_ORGANISATION and demo_mode:
        print(f"Demo organisations: {_demo_buyers()}", file=sys.stderr)
    if code == EXIT_CREDENTIALS and not demo_mode:
        print(f"To try the package without credentials: isoanalytics {command} --demo",
              file=sys.stderr)
    return code


def _checked_ids(command: str, ids: list[str]) -> bool:
    try:
        for organisation_id in ids:
            organisation_path(organisation_id)  # a malformed id is refused before any request
    except ValueError as error:
        print(f"isoanalytics {command}: --org: {error}", file=sys.stderr)
        return False
    return True


def _summary(args: argparse.Namespace, out: TextIO) -> int:
    if not _checked_ids("summary", [args.org] if args.org else []):
        return EXIT_UNKNOWN_ORGANISATION
    try:
        client = RegistryClient.demo() if args.demo else RegistryClient(args.environment)
    except ValueError as error:  # ISOMETRIC_ENVIRONMENT or ISOMETRIC_BASE_URL unusable
        print(f"isoanalytics summary: {error}", file=sys.stderr)
        return EXIT_USAGE
    except MissingCredentialsError as error:
        return _fail("summary", str(error), EXIT_CREDENTIALS, demo_mode=args.demo)
    try:
        with client:
            organisation_id = args.org or (demo.DEFAULT_ORGANISATION_ID if args.demo
                                           else client.current_organisation()["id"])
            organisation = client.organisation(organisation_id)
            balance = client.credit_balance(organisation_id)
            suppliers = enrich(summarize(balance, by="supplier"), client)
    except (SchemaError, RegistryError) as error:
        return _fail("summary", str(error), _exit_code(type(error)), demo_mode=args.demo)
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


def _report(args: argparse.Namespace, out: TextIO) -> int:
    # nbclient and nbconvert load in about half a second: only this command pays for them.
    from .report import ReportError, TemplateError, build

    ids = args.orgs or []
    if not _checked_ids("report", ids):
        return EXIT_UNKNOWN_ORGANISATION
    started = time.perf_counter()
    try:
        path = build(ids or None, args.output, demo=args.demo, environment=args.environment,
                     title=args.title, top=args.top, with_code=args.with_code,
                     template=args.template, notebook=args.notebook, timeout=args.timeout)
    except TemplateError as error:
        print(f"isoanalytics report: {error}", file=sys.stderr)
        return EXIT_TEMPLATE
    except (SchemaError, RegistryError) as error:  # before ValueError: SchemaError is one
        return _fail("report", str(error), _exit_code(type(error)), demo_mode=args.demo)
    except (FileNotFoundError, IsADirectoryError, ValueError) as error:
        # the output or notebook path, the title, ISOMETRIC_ENVIRONMENT or ISOMETRIC_BASE_URL
        print(f"isoanalytics report: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ReportError as error:
        code = _exit_code(error.registry_error or ReportError)
        return _fail("report", f"{error}. No report was written.", code, demo_mode=args.demo)
    size = path.stat().st_size
    print(f"Wrote {path} ({size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s; "
          f"open it in any browser: {path.resolve().as_uri()}", file=out)
    if args.demo:
        print("It shows DEMO DATA: fictional organisations from the embedded demo registry.",
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
