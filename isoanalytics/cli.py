"""The ``isoanalytics`` command line.

``isoanalytics report --demo -o report.html`` writes the HTML report of the embedded demo
registry's default buyer; ``--org ID`` (repeated for a portfolio) chooses organisations, and
without ``--demo`` it reads the live registry, with credentials from ``ISOMETRIC_CLIENT_SECRET``
and ``ISOMETRIC_ACCESS_TOKEN`` (and ``ISOMETRIC_ENVIRONMENT``, default sandbox). ``-o -`` writes
the HTML to standard output (its status lines then go to standard error); ``--history DIR``
adds a snapshot store's "Holdings over time" section; ``--period 2025`` (or ``--from DATE --to
DATE``, ``--year-start MONTH``) sets the period of its "Claims in the period" section.
``-o report.pdf`` writes the PDF instead (the same page printed in Debian's headless chromium),
``--pdf`` the PDF too, beside the HTML with the same stem, ``--paper A4|Letter`` its paper
(default A4); a PDF needs the ``pdf`` extra (``pip install 'isoanalytics[pdf]'``) and
``apt-get install chromium``.
``isoanalytics claims [--demo] [--org ID ...] [--period 2025] [--format table|csv]`` prints the
period's retirements, one row each, with exact kilograms and tCO2e and the certificate link.
``isoanalytics summary [--demo] [--org ID ...]`` prints an organisation's (or a portfolio's)
headline figures and its largest suppliers. ``isoanalytics export [--demo] [--org ID ...] -o DIR
[--format parquet|csv]`` writes every tidy frame as a Parquet dataset (or CSV) with a manifest;
``isoanalytics snapshot [--demo] [--org ID ...] --store DIR`` appends the balances as read now
to a snapshot store. All read through the same :class:`~isoanalytics.RegistryClient`.

Exit codes: 0 success, 2 usage error (a bad option or id, an output path that cannot take the
report), 3 unknown organisation, 4 data that fails validation, 5 missing or refused
credentials, 6 registry unreachable, rate-limited or failing, 7 report template missing or
unusable, 8 report failed while it ran (a cell raised, showed an error or printed a traceback),
9 the finished report (or export, or snapshot) could not be written (a full disk), 10 an
optional dependency is missing (the message names the extra to install, e.g.
``pip install 'isoanalytics[export]'`` for Parquet, ``'isoanalytics[pdf]'`` for a PDF; or,
for a PDF, the Debian package: ``apt-get install chromium``), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from . import demo
from ._environment import (
    BASE_URL_VARIABLE,
    ENVIRONMENT_VARIABLE,
    SECRET_VARIABLE,
    TOKEN_VARIABLE,
    TOKENS_VARIABLE,
)
from ._format import display_width, name_or_id, percent, terminal_text, tonnes
from ._options import check_integer, check_seconds
from ._version import version
from .errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    InvalidIdError,
    MissingCredentialsError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    RegistryError,
    SchemaError,
    UnreadableResponseError,
)
from .ids import check_id

if TYPE_CHECKING:
    import pandas as pd

    from .records.balance import CreditBalance
    from .records.periods import Period

# pandas, httpx and nbclient load in main(), as each command needs them, so that Ctrl-C from
# the first instant meets main()'s handler rather than an import (a traceback).

__all__ = ["main"]

EXIT_USAGE = 2
EXIT_UNKNOWN_ORGANISATION = 3
EXIT_BAD_DATA = 4
EXIT_CREDENTIALS = 5
EXIT_UNAVAILABLE = 6
EXIT_TEMPLATE = 7
EXIT_REPORT_FAILED = 8
EXIT_WRITE_FAILED = 9
EXIT_MISSING_EXTRA = 10
EXIT_INTERRUPTED = 130

STANDARD_OUTPUT = "-"
_SUMMARY_INTERRUPTED = ("isoanalytics summary: interrupted while reading the registry; "
                        "nothing was written")


def _say(text: str = "", file: TextIO | None = None) -> None:
    """Print one message; registry text in it cannot drive the terminal (escapes, controls)."""
    print(terminal_text(text), file=file or sys.stderr)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    try:
        return check_seconds(None, value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    try:
        return check_integer(None, value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


# The period options in messages: reporting_period() names them so.
_PERIOD_NAMES = {"period": "--period", "start": "--from", "last_day": "--to",
                 "year_start": "--year-start"}


def _period_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--period", metavar="PERIOD",
                         help="the reporting period: a year (2025), a quarter (2025-Q3) or a "
                              "month (2025-06), in UTC (default: all time)")
    command.add_argument("--from", dest="from_date", metavar="DATE",
                         help="instead of --period: the first day of the period (2025-01-01)")
    command.add_argument("--to", dest="to_date", metavar="DATE",
                         help="instead of --period: the last day of the period, included "
                              "(2025-12-31)")
    command.add_argument("--year-start", type=_whole, default=1, metavar="MONTH",
                         help="with --period: the month (1-12) a fiscal year starts in; a "
                              "fiscal year is named by the year it ends in (--period 2026 "
                              "--year-start 4 is 2025-04-01 to 2026-03-31)")


def _chosen_period(args: argparse.Namespace) -> Period:
    """The period the options name (ValueError or TypeError naming the option)."""
    from .records.periods import reporting_period

    return reporting_period(args.period, start=args.from_date, last_day=args.to_date,
                            year_start=args.year_start, names=_PERIOD_NAMES)


# The PDF's paper sizes (isoanalytics.present.pdf.PAPERS), by the spelling asked for.
_PAPERS = {"a4": "A4", "letter": "Letter"}


def _paper(text: str) -> str:
    try:
        return _PAPERS[text.strip().lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(f"expected A4 or Letter, got {text!r}") from None


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="isoanalytics",
        description="Carbon-removal credit holdings on the Isometric Registry: "
                    "active and retired credits, suppliers, concentration.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    summary = commands.add_parser(
        "summary", help="headline figures and top suppliers of an organisation or a portfolio",
        description="Print an organisation's active and retired credits, retired share, "
                    "supplier concentration and largest suppliers; with several --org, those "
                    "of the portfolio they make together.",
        epilog=f"Live mode reads {SECRET_VARIABLE}, {TOKEN_VARIABLE} (or, for a portfolio, "
               f"{TOKENS_VARIABLE}=org_A=token_A,org_B=token_B) and {ENVIRONMENT_VARIABLE} "
               "(sandbox or production; default sandbox; demo reads the demo registry).",
    )
    summary.add_argument("--demo", action="store_true",
                         help="use the embedded demo registry (fictional data, works offline)")
    summary.add_argument("--org", metavar="ID", action="append", dest="orgs",
                         help="an organisation; repeat it for a portfolio (default: the access "
                              "token's organisation; with --demo, "
                              f"{demo.DEFAULT_ORGANISATION_ID})")
    summary.add_argument("--environment", choices=("sandbox", "production"),
                         help=f"live registry to read (default: {ENVIRONMENT_VARIABLE}, "
                              "else sandbox)")
    summary.add_argument("--top", type=_positive, default=5, metavar="N",
                         help="how many suppliers to list (default 5)")
    report = commands.add_parser(
        "report", help="an HTML (or PDF) report of an organisation or a portfolio",
        description="Run the report notebook for one organisation or several and write one "
                    "self-contained HTML file (figures embedded, opens offline in any browser), "
                    "or a PDF of it.",
        epilog=f"Live mode reads {SECRET_VARIABLE}, {TOKEN_VARIABLE} (or, for a portfolio, "
               f"{TOKENS_VARIABLE}=org_A=token_A,org_B=token_B) and {ENVIRONMENT_VARIABLE} "
               "(sandbox or production; default sandbox; demo reads the demo registry). "
               "A PDF (-o FILE.pdf, --pdf) needs pip install 'isoanalytics[pdf]' and "
               "Debian's chromium (apt-get install chromium), else exit 10. "
               "Example: isoanalytics report --demo -o report.html",
    )
    report.add_argument("--demo", action="store_true",
                        help="use the embedded demo registry (fictional data, works offline)")
    report.add_argument("--org", metavar="ID", action="append", dest="orgs",
                        help="an organisation to report on; repeat it for a portfolio "
                             "(default: the access token's organisation; with --demo, "
                             f"{demo.DEFAULT_ORGANISATION_ID})")
    report.add_argument("-o", "--output", default="report.html", metavar="FILE",
                        help="the HTML file to write (default report.html; replaced if it "
                             "exists, only once the report is complete); FILE.pdf writes the "
                             "PDF instead; - for standard output")
    report.add_argument("--pdf", action="store_true",
                        help="also write the PDF, beside the HTML with the same stem "
                             "(report.html and report.pdf)")
    report.add_argument("--paper", type=_paper, default="A4", metavar="A4|Letter",
                        help="the PDF's paper size (default A4)")
    report.add_argument("--title", help="the report's heading")
    report.add_argument("--top", type=_positive, default=10, metavar="N",
                        help="suppliers and projects shown by name (default 10)")
    report.add_argument("--with-code", action="store_true",
                        help="show the code that made each figure")
    report.add_argument("--environment", choices=("sandbox", "production"),
                        help=f"live registry to read (default: {ENVIRONMENT_VARIABLE}, "
                             "else sandbox)")
    report.add_argument("--template", metavar="NOTEBOOK",
                        help="run another report notebook, e.g. your own (parameters go "
                             "after a cell tagged 'parameters', else before the first code "
                             "cell)")
    report.add_argument("--notebook", metavar="FILE", help="also save the executed notebook")
    report.add_argument("--history", metavar="DIR",
                        help="a snapshot store (isoanalytics snapshot --store DIR): adds the "
                             "section 'Holdings over time', its chart and what moved between "
                             "the first and the last snapshot")
    report.add_argument("--timeout", type=_seconds, default=600.0, metavar="SECONDS",
                        help="how long any one report cell may run (default 600; a fraction "
                             "is rounded up to whole seconds)")
    _period_options(report)
    claims = commands.add_parser(
        "claims", help="the retirements of a reporting period, one row each",
        description="Print the retirements (claims) an organisation made in a period, one row "
                    "per retirement: its id, when (UTC), beneficiary, purposes, pathways, "
                    "exact kg and tCO2e, and the certificate link; with several --org, each "
                    "organisation's. As an aligned table with a total, or as CSV.",
        epilog=f"Live mode reads {SECRET_VARIABLE}, {TOKEN_VARIABLE} (or, for a portfolio, "
               f"{TOKENS_VARIABLE}=org_A=token_A,org_B=token_B) and {ENVIRONMENT_VARIABLE}. "
               "Example: isoanalytics claims --demo --period 2025 --format csv > claims.csv",
    )
    claims.add_argument("--demo", action="store_true",
                        help="use the embedded demo registry (fictional data, works offline)")
    claims.add_argument("--org", metavar="ID", action="append", dest="orgs",
                        help="an organisation; repeat it for several (default: the access "
                             f"token's organisation; with --demo, {demo.DEFAULT_ORGANISATION_ID})")
    claims.add_argument("--environment", choices=("sandbox", "production"),
                        help=f"live registry to read (default: {ENVIRONMENT_VARIABLE}, "
                             "else sandbox)")
    claims.add_argument("--format", choices=("table", "csv"), default="table",
                        help="table (default: aligned columns and a total line) or csv (a "
                             "header row, for a spreadsheet)")
    _period_options(claims)
    export = commands.add_parser(
        "export", help="every frame as a Parquet dataset (or CSV) with a manifest",
        description="Write the organisations' balances, per-supplier and per-project "
                    "summaries, credit batches, orders, deliveries, transfers, retirements, "
                    "ledger, claims and delivery schedule, "
                    "and the registry's projects, suppliers and issuances, as a Parquet dataset "
                    "partitioned by organisation_id (DuckDB, Polars and Spark read it as it "
                    "is), or as CSV files, with manifest.json (row counts, kilogram totals).",
        epilog=f"Live mode reads {SECRET_VARIABLE}, {TOKEN_VARIABLE} (or, for a portfolio, "
               f"{TOKENS_VARIABLE}=org_A=token_A,org_B=token_B) and {ENVIRONMENT_VARIABLE}. "
               "Parquet needs pyarrow: pip install 'isoanalytics[export]'. "
               "Example: isoanalytics export --demo -o holdings",
    )
    snapshot = commands.add_parser(
        "snapshot", help="append the balances, as read now, to a snapshot store",
        description="Read each organisation's credit balance and append it to a snapshot "
                    "store (a Parquet dataset partitioned by snapshot_date, one file per "
                    "snapshot). The registry keeps no history of a balance: run this daily "
                    "(cron, a CI job) and isoanalytics.history(store) gives it back.",
        epilog=f"Live mode reads {SECRET_VARIABLE}, {TOKEN_VARIABLE} (or {TOKENS_VARIABLE}) "
               f"and {ENVIRONMENT_VARIABLE}. Needs pyarrow: pip install "
               "'isoanalytics[export]'. Example: isoanalytics snapshot --demo --store snapshots",
    )
    for writer in (export, snapshot):
        writer.add_argument("--demo", action="store_true",
                            help="use the embedded demo registry (fictional data, works "
                                 "offline)")
        writer.add_argument("--org", metavar="ID", action="append", dest="orgs",
                            help="an organisation; repeat it for a portfolio (default: the "
                                 "access token's organisation; with --demo, "
                                 f"{demo.DEFAULT_ORGANISATION_ID})")
        writer.add_argument("--environment", choices=("sandbox", "production"),
                            help=f"live registry to read (default: {ENVIRONMENT_VARIABLE}, "
                                 "else sandbox)")
    export.add_argument("-o", "--output", required=True, metavar="DIR",
                        help="the folder to write (created; a previous export there is "
                             "replaced, only once the new one is complete)")
    export.add_argument("--format", choices=("parquet", "csv"), default="parquet",
                        help="parquet (default; a dataset DuckDB, Polars and Spark read) or "
                             "csv (one file per table)")
    snapshot.add_argument("--store", required=True, metavar="DIR",
                          help="the snapshot store (created if missing)")
    return parser, {"summary": summary, "report": report, "export": export,
                    "snapshot": snapshot, "claims": claims}


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
    try:
        return _main(argv, out or sys.stdout)
    except KeyboardInterrupt:  # before the command's own handler was in place: nothing begun
        _say("isoanalytics: interrupted before it started; nothing was written")
        return EXIT_INTERRUPTED


def _main(argv: Sequence[str] | None, out: TextIO) -> int:
    parser, commands = _parser()
    args = parser.parse_args(argv)
    command = commands[args.command]
    if args.demo and args.environment:
        return _usage_error(command, "--environment chooses a live registry; leave it out "
                                     "with --demo")
    # ISOMETRIC_ENVIRONMENT=demo is the demo registry, and says so like --demo does.
    args.demo_mode = args.demo or (not args.environment
                                   and os.environ.get(ENVIRONMENT_VARIABLE) == "demo")
    # Libraries' log records (nbclient's, jupyter_client's) have no handler in a
    # command line, so Python's last-resort handler would print them raw on stderr, even from
    # threads that end after main() returns; what matters reaches the user as this command's
    # own message. A handler on the root logger keeps the last resort out (idempotent).
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())
    # Run as the command itself (not called from Python), with Ctrl-C not ignored by the shell:
    as_command = (argv is None and threading.current_thread() is threading.main_thread()
                  and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    if args.command == "summary" and as_command:
        # As the command itself, summary stops at once on Ctrl-C: it writes no file, and
        # unwinding would first wait for the registry requests in flight on other threads.
        signal.signal(signal.SIGINT, _stop_summary_now)
    elif as_command:
        # report cleans up as the interrupt unwinds (kernel, temporary folder, partial file):
        # a second Ctrl-C must not cut that short.
        signal.signal(signal.SIGINT, _interrupt_once)
    try:
        run = {"report": _report, "summary": _summary, "export": _export,
               "snapshot": _snapshot, "claims": _claims}[args.command]
        return run(args, command, out)
    except KeyboardInterrupt as interrupt:
        _say(_interrupted(args, getattr(interrupt, "stage", None)))
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``isoanalytics summary --demo | head``): stop quietly,
        # and keep Python from complaining again when it flushes stdout at exit.
        if out is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _stop_summary_now(signum: int, frame: object) -> None:
    message = _SUMMARY_INTERRUPTED
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
    with contextlib.suppress(OSError):
        os.write(sys.stderr.fileno(), f"{message}\n".encode())
    os._exit(EXIT_INTERRUPTED)


def _interrupt_once(signum: int, frame: object) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _interrupted(args: argparse.Namespace, stage: str | None) -> str:
    if args.command == "summary":
        return _SUMMARY_INTERRUPTED
    if args.command == "export":
        kept = ("the previous export in it was left as it was"
                if Path(args.output).is_dir() else "nothing was written")
        return f"isoanalytics export: interrupted; {kept}"
    if args.command == "snapshot":
        return "isoanalytics snapshot: interrupted; no snapshot was written"
    if args.command == "claims":
        return "isoanalytics claims: interrupted while reading the registry; nothing was written"
    doing = {"checking": "while checking the organisations",
             "running": "while the report's cells ran (its kernel was stopped)",
             "exporting": "while exporting the HTML", "printing": "while printing the PDF",
             "writing": "while writing the report",
             }.get(stage or "", "before the report started")
    if args.output == STANDARD_OUTPUT:
        return f"isoanalytics report: interrupted {doing}; no report was written"
    targets = [args.output]
    if args.pdf and Path(args.output).suffix.lower() != ".pdf":
        targets.append(str(Path(args.output).with_suffix(".pdf")))
    return f"isoanalytics report: interrupted {doing}; " + " and ".join(
        f"{target} {'was left as it was' if Path(target).exists() else 'was not written'}"
        for target in targets)


def _usage_error(command: argparse.ArgumentParser, message: str) -> int:
    """As argparse says it (the subcommand's usage, then the error); returns, never exits."""
    command.print_usage(sys.stderr)
    _say(f"{command.prog}: error: {message}")
    return EXIT_USAGE


def _exit_code(error_class: type[BaseException]) -> int:
    """The exit code for an error the package raised (here, or inside the report's kernel)."""
    if issubclass(error_class, (SchemaError, PaginationError, UnreadableResponseError)):
        return EXIT_BAD_DATA
    if issubclass(error_class, NotFoundError):
        return EXIT_UNKNOWN_ORGANISATION
    if issubclass(error_class,
                  (MissingCredentialsError, AuthenticationError, PermissionDeniedError)):
        return EXIT_CREDENTIALS
    if issubclass(error_class, RegistryError):
        return EXIT_UNAVAILABLE
    return EXIT_REPORT_FAILED


def _where(error: RegistryError) -> str:
    parts = [part for part in (error.endpoint, error.organisation_id
                               and f"organisation {error.organisation_id}") if part]
    return f" [{', '.join(parts)}]" if parts else ""


def _registry_url(args: argparse.Namespace) -> str:
    from .registry.http import ENVIRONMENTS

    environment = args.environment or os.environ.get(ENVIRONMENT_VARIABLE) or "sandbox"
    return os.environ.get(BASE_URL_VARIABLE) or ENVIRONMENTS.get(environment, environment)


def _command_line_message(error: Exception, args: argparse.Namespace) -> str:
    """The error in the command line's words: options and variables, not Python arguments."""
    offline = f"or try it on the offline demo registry: isoanalytics {args.command} --demo"
    if isinstance(error, MissingCredentialsError):
        if error.variable == SECRET_VARIABLE:
            return ("no client secret: every request to the registry carries one. Set "
                    f"{SECRET_VARIABLE}, {offline}")
        whose = f" for {error.organisation_id}" if error.organisation_id else ""
        return (f"no usable access token{whose}: reading an organisation's own data needs its "
                f"token. Set {TOKEN_VARIABLE} (one organisation) or {TOKENS_VARIABLE}="
                f"org_A=token_A,org_B=token_B (one token per organisation), {offline}")
    if isinstance(error, PermissionDeniedError):
        said = f": {error.detail}" if error.detail else ""
        return (f"the access token does not open this data (403{said}){_where(error)}. Each "
                "access token is scoped to one organisation: set "
                f"{TOKENS_VARIABLE}=org_A=token_A,org_B=token_B with each organisation's own "
                "token")
    if isinstance(error, APITimeoutError):
        return (f"the registry at {_registry_url(args)} did not answer in time, retries "
                f"included{_where(error)}. Try again later, {offline}")
    if isinstance(error, APIConnectionError):
        return (f"could not reach the registry at {_registry_url(args)}, retries included"
                f"{_where(error)}. Check the network connection (and {BASE_URL_VARIABLE}, if "
                f"set), {offline}")
    return str(error)  # the others already speak of the registry, not of Python


def _fail(command: str, message: str, code: int, *, demo_mode: bool,
          error_class: type[BaseException] | None = None) -> int:
    """Say what went wrong and what to do next, on stderr; return the exit code."""
    if code == EXIT_BAD_DATA:
        # An answer too large or not decodable was never read, so it cannot have "failed".
        unread = error_class is not None and issubclass(error_class, UnreadableResponseError)
        message = (f"the registry's answer {'could not be read' if unread else 'failed validation'}"
                   f": {message}")
    _say(f"isoanalytics {command}: {message}")
    if code == EXIT_UNKNOWN_ORGANISATION and demo_mode:
        _say(f"Demo organisations: {_demo_buyers()}")
    return code


def _checked_ids(command: argparse.ArgumentParser, ids: list[str], demo_mode: bool) -> int:
    """0 if every id is well formed, else the usage error (the id rule; on the demo, its ids)."""
    for organisation_id in ids:
        try:
            check_id(organisation_id, "organisation", argument="--org")  # before any request
        except InvalidIdError as error:
            demo_ids = f". Demo organisations: {_demo_buyers()}" if demo_mode else ""
            return _usage_error(command, f"{error}{demo_ids}")
    return 0


def _summary(args: argparse.Namespace, command: argparse.ArgumentParser, out: TextIO) -> int:
    ids = list(dict.fromkeys(args.orgs or []))  # an organisation named twice counts once
    if code := _checked_ids(command, ids, args.demo_mode):
        return code
    from .analysis.metrics import summarize
    from .records.balance import stack_balances
    from .registry.client import RegistryClient
    from .registry.enrich import enrich

    try:
        client = RegistryClient.demo() if args.demo else RegistryClient(args.environment)
    except MissingCredentialsError as error:
        return _fail("summary", _command_line_message(error, args), EXIT_CREDENTIALS,
                     demo_mode=args.demo_mode)
    except ValueError as error:  # ISOMETRIC_ENVIRONMENT or ISOMETRIC_BASE_URL unusable
        return _usage_error(command, str(error))
    try:
        with client:
            ids = ids or [demo.DEFAULT_ORGANISATION_ID if args.demo
                          else client.current_organisation()["id"]]
            # A name is one line of the heading, whatever line breaks the registry put in it.
            names = {organisation_id: terminal_text(client.organisation(organisation_id)["name"],
                                                    one_line=True)
                     for organisation_id in ids}
            balances = [(organisation_id, client.credit_balance(organisation_id))
                        for organisation_id in ids]
            source = (balances[0][1] if len(balances) == 1 else stack_balances(balances))
            suppliers = enrich(summarize(source, by="supplier"), client)
    except (SchemaError, RegistryError) as error:
        return _fail("summary", _command_line_message(error, args), _exit_code(type(error)),
                     demo_mode=args.demo_mode, error_class=type(error))
    if args.demo_mode:
        source_line = f"DEMO DATA (fictional, generated), as of {demo.registry().as_of:%Y-%m-%d}"
    else:
        now = datetime.now(UTC)
        source_line = f"Isometric Registry ({client.environment}), read {now:%Y-%m-%d %H:%M} UTC"
    if len(ids) == 1:
        heading = f"{names[ids[0]]} ({ids[0]})"
    else:
        heading = (f"Portfolio of {len(ids)} organisations: "
                   + ", ".join(f"{names[organisation_id]} ({organisation_id})"
                               for organisation_id in ids))
    _print_summary(source, [balance for _, balance in balances], heading, source_line,
                   suppliers, args.top, out)
    if args.demo_mode:
        others = _demo_buyers(exclude=set(ids))
        if others:
            _say(f"\nOther demo organisations (--org ID): {others}", out)
    return 0


def _report(args: argparse.Namespace, command: argparse.ArgumentParser, out: TextIO) -> int:
    # nbclient and nbconvert load in about half a second: only this command pays for them.
    from .present.datasets import MissingExtraError
    from .present.report import (
        MissingBrowserError,
        OutputPathError,
        PrintError,
        ReportError,
        ReportWriteError,
        TemplateError,
        build,
        render,
    )

    ids = args.orgs or []
    if code := _checked_ids(command, ids, args.demo_mode):
        return code
    to_stdout = args.output == STANDARD_OUTPUT
    if to_stdout and out.isatty():
        return _usage_error(command, "-o - writes the HTML to standard output, which is a "
                                     "terminal here: redirect it (-o - > report.html) or name "
                                     "a file (-o report.html)")
    if to_stdout and args.pdf:
        return _usage_error(command, "--pdf writes the PDF beside the HTML file, and -o - names "
                                     "none: write the PDF alone with -o FILE.pdf")
    status = sys.stderr if to_stdout else out  # stdout carries the page itself
    try:  # here, to name the options as they were typed (build() names period=, start=)
        period = _chosen_period(args)
    except (TypeError, ValueError) as error:
        return _usage_error(command, str(error))
    if args.history is not None:
        from .present.snapshots import check_store

        try:  # here, to name the option as it was typed (build() names history=)
            check_store(args.history, "--history")
        except ValueError as error:
            return _usage_error(command, str(error))
    options = {"demo": args.demo, "environment": args.environment, "title": args.title,
               "top": args.top, "with_code": args.with_code, "template": args.template,
               "notebook": args.notebook, "timeout": args.timeout, "history": args.history,
               "period": period}
    started = time.perf_counter()
    try:
        if to_stdout:
            page = render(ids or None, **options).encode("utf-8")
        else:
            path = build(ids or None, args.output, **options, pdf=args.pdf, paper=args.paper)
    except TemplateError as error:
        _say(f"isoanalytics report: {error}")
        return EXIT_TEMPLATE
    except (MissingExtraError, MissingBrowserError) as error:
        # --history reads Parquet (pyarrow); a PDF needs Playwright and Debian's chromium
        return _fail("report", f"{error}. Nothing was written.", EXIT_MISSING_EXTRA,
                     demo_mode=args.demo_mode)
    except PrintError as error:
        return _fail("report", f"{error}. No report was written.", EXIT_REPORT_FAILED,
                     demo_mode=args.demo_mode)
    except (SchemaError, RegistryError) as error:  # before ValueError: SchemaError is one
        return _fail("report", _command_line_message(error, args), _exit_code(type(error)),
                     demo_mode=args.demo_mode, error_class=type(error))
    except (OutputPathError, FileNotFoundError, IsADirectoryError, ValueError) as error:
        # the output or notebook path, the title, ISOMETRIC_ENVIRONMENT or ISOMETRIC_BASE_URL
        return _usage_error(command, str(error))
    except ReportWriteError as error:
        _say(f"isoanalytics report: {error}")
        return EXIT_WRITE_FAILED
    except ReportError as error:
        code = _exit_code(error.registry_error or ReportError)
        # The library's hints name the option and the Python argument; here, only the option.
        message = re.sub(r" \((?:notebook|timeout)= in Python\)", "", str(error))
        if error.registry_error in (MissingCredentialsError, PermissionDeniedError):
            # Raised in the kernel, so only its class and text came back: say it in the
            # command line's words, naming the organisation its text names.
            named = re.search(r"organisation (org_\w+)", str(error))
            organisation_id = named.group(1) if named else None
            stand_in = (MissingCredentialsError("", variable=TOKEN_VARIABLE,
                                                organisation_id=organisation_id)
                        if error.registry_error is MissingCredentialsError else
                        PermissionDeniedError("", status_code=403,
                                              organisation_id=organisation_id))
            where = f" in section {error.section!r}" if error.section else ""
            message = f"the report failed{where}: {_command_line_message(stand_in, args)}"
        return _fail("report", f"{message}. No report was written.", code,
                     demo_mode=args.demo_mode, error_class=error.registry_error)
    elapsed = time.perf_counter() - started
    if to_stdout:
        out.flush()
        target = getattr(out, "buffer", None)
        if target is not None:
            target.write(page)
            target.flush()
        else:
            out.write(page.decode("utf-8"))
        _say(f"Wrote the report to standard output ({len(page) / 1e6:.1f} MB) in "
             f"{elapsed:.1f} s", status)
    else:
        _say(_wrote(path, args, elapsed), status)
    if args.demo_mode:
        _say("It shows DEMO DATA: fictional organisations from the embedded demo registry.",
             status)
    return 0


def _wrote(path: Path, args: argparse.Namespace, elapsed: float) -> str:
    """What the report command wrote: the HTML, the PDF (its paper said), or both."""
    def size(written: Path) -> str:
        return f"{written.stat().st_size / 1e6:.1f} MB"

    if path.suffix.lower() == ".pdf":
        return (f"Wrote {path} ({size(path)}, {args.paper}) in {elapsed:.1f} s: "
                f"{path.resolve().as_uri()}")
    also = ""
    if args.pdf:
        printed = path.with_suffix(".pdf")
        also = f" and {printed} ({size(printed)}, {args.paper})"
    return (f"Wrote {path} ({size(path)}){also} in {elapsed:.1f} s; open it in any browser: "
            f"{path.resolve().as_uri()}")


def _writer_failure(args: argparse.Namespace, command: argparse.ArgumentParser,
                    error: Exception) -> int:
    """The exit code (and message) of a failed export or snapshot."""
    from .present.datasets import DatasetPathError, DatasetWriteError, MissingExtraError

    name = args.command
    if isinstance(error, MissingExtraError):
        return _fail(name, str(error), EXIT_MISSING_EXTRA, demo_mode=args.demo_mode)
    if isinstance(error, (SchemaError, RegistryError)):  # before ValueError: SchemaError is one
        return _fail(name, f"{_command_line_message(error, args)}. Nothing was written.",
                     _exit_code(type(error)), demo_mode=args.demo_mode, error_class=type(error))
    if isinstance(error, DatasetWriteError):
        return _fail(name, str(error), EXIT_WRITE_FAILED, demo_mode=args.demo_mode)
    if isinstance(error, (DatasetPathError, ValueError)):
        # the folder, or ISOMETRIC_ENVIRONMENT / ISOMETRIC_BASE_URL unusable
        return _usage_error(command, str(error))
    raise error


def _export(args: argparse.Namespace, command: argparse.ArgumentParser, out: TextIO) -> int:
    if args.output == STANDARD_OUTPUT:
        return _usage_error(command, "an export is a folder of files, which standard output "
                                     "cannot take: name a folder (-o DIR)")
    ids = list(dict.fromkeys(args.orgs or []))
    if code := _checked_ids(command, ids, args.demo_mode):
        return code
    from .present.export import export, read_manifest

    started = time.perf_counter()
    try:
        # On the demo registry, delivery schedules are judged as of the demo's own now.
        path = export(ids or None, args.output, format=args.format, demo=args.demo,
                      environment=args.environment, as_of=demo.AS_OF if args.demo_mode else None)
    except (MissingCredentialsError, RegistryError, SchemaError, OSError, ValueError,
            ImportError) as error:
        return _writer_failure(args, command, error)
    manifest = read_manifest(path) or {}
    tables = manifest.get("tables", {})
    rows = sum(table["rows"] for table in tables.values())
    organisations = len(manifest.get("organisation_ids", []))
    _say(f"Wrote {path}: {len(tables)} tables, {rows:,} rows, {organisations} "
         f"organisation{'s' if organisations != 1 else ''} ({args.format}) in "
         f"{time.perf_counter() - started:.1f} s; manifest.json lists them", out)
    if args.format == "parquet":
        _say(f"Read it with DuckDB: SELECT * FROM read_parquet('{path}/balances/*/*.parquet', "
             "hive_partitioning = true)", out)
    if args.demo_mode:
        _say("It holds DEMO DATA: fictional organisations from the embedded demo registry.", out)
    return 0


def _snapshot(args: argparse.Namespace, command: argparse.ArgumentParser, out: TextIO) -> int:
    ids = list(dict.fromkeys(args.orgs or []))
    if code := _checked_ids(command, ids, args.demo_mode):
        return code
    from .present.snapshots import snapshot

    try:
        path = snapshot(ids or None, args.store, demo=args.demo, environment=args.environment)
    except (MissingCredentialsError, RegistryError, SchemaError, OSError, ValueError,
            ImportError) as error:
        return _writer_failure(args, command, error)
    _say(f"Appended a snapshot to {args.store}: {path.relative_to(path.parents[1])}", out)
    if args.demo_mode:
        _say("It holds DEMO DATA: fictional organisations from the embedded demo registry.", out)
    return 0


def _claims(args: argparse.Namespace, command: argparse.ArgumentParser, out: TextIO) -> int:
    ids = list(dict.fromkeys(args.orgs or []))  # an organisation named twice counts once
    if code := _checked_ids(command, ids, args.demo_mode):
        return code
    try:
        period = _chosen_period(args)
    except (TypeError, ValueError) as error:
        return _usage_error(command, str(error))
    import warnings

    import pandas as pd

    from .analysis.claims import retirements_of
    from .registry.claims import claims
    from .registry.client import RegistryClient

    try:
        client = RegistryClient.demo() if args.demo else RegistryClient(args.environment)
    except MissingCredentialsError as error:
        return _fail("claims", _command_line_message(error, args), EXIT_CREDENTIALS,
                     demo_mode=args.demo_mode)
    except ValueError as error:  # ISOMETRIC_ENVIRONMENT or ISOMETRIC_BASE_URL unusable
        return _usage_error(command, str(error))
    try:
        with client, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ids = ids or [demo.DEFAULT_ORGANISATION_ID if args.demo
                          else client.current_organisation()["id"]]
            names = {organisation_id: client.organisation(organisation_id)["name"]
                     for organisation_id in ids}  # an unknown organisation fails here: exit 3
            frames = [claims(client, organisation_id, start=period.start, end=period.end)
                      for organisation_id in ids]
    except (SchemaError, RegistryError) as error:
        return _fail("claims", _command_line_message(error, args), _exit_code(type(error)),
                     demo_mode=args.demo_mode, error_class=type(error))
    for warning in caught:  # a claim that needs a look is said, never dropped
        _say(f"isoanalytics claims: {warning.message}")
    kept = [frame for frame in frames if len(frame)]
    rows = retirements_of(pd.concat(kept, ignore_index=True) if len(kept) > 1
                          else kept[0] if kept else frames[0])
    if period.all_time:
        _say("isoanalytics claims: all time (choose a period with --period 2025, or --from "
             "DATE --to DATE)")
    if args.format == "csv":
        _write_claims_csv(rows, names, out)
    else:
        _print_claims_table(rows, names, period, out, several=len(ids) > 1,
                            demo_mode=args.demo_mode)
    return 0


def _claim_fields(rows: pd.DataFrame, names: dict[str, Any]) -> list[dict[str, str]]:
    """Each retirement as one line of text per field (registry text made plain)."""
    import pandas as pd

    def text(value: object) -> str:
        return "" if value is None or value is pd.NA or (isinstance(value, float)
                                                           and value != value) else \
            terminal_text(str(value), one_line=True)

    fields = []
    row: Any  # pandas-stubs type each field as any scalar; these are the frame's columns
    for row in rows.itertuples():
        owner = name_or_id(names.get(row.owner_id, row.owner_name), row.owner_id)
        retired_at: Any = row.retired_at
        fields.append({
            "retirement_id": text(row.retirement_id),
            "retired_at": "" if pd.isna(retired_at) else f"{retired_at:%Y-%m-%dT%H:%M:%SZ}",
            "organisation_id": text(row.owner_id), "organisation": text(owner),
            "beneficiary_id": text(row.beneficiary_id),
            "beneficiary": text(name_or_id(row.beneficiary_name, row.beneficiary_id)),
            "purposes": text(row.purposes), "pathways": text(row.pathways),
            "credit_kgs": str(int(row.credit_kgs)), "tco2e": tonnes(int(row.credit_kgs)),
            "url": text(row.url), "problem": text(row.problem)})
    return fields


def _write_claims_csv(rows: pd.DataFrame, names: dict[str, Any], out: TextIO) -> None:
    import csv

    header = ("retirement_id", "retired_at_utc", "organisation_id", "organisation_name",
              "beneficiary_id", "beneficiary_name", "purposes", "pathways", "credit_kgs",
              "tco2e", "certificate_url", "problem")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for field in _claim_fields(rows, names):
        # tCO2e without thousands separators: a spreadsheet reads 1234.567 as a number.
        writer.writerow([field["retirement_id"], field["retired_at"], field["organisation_id"],
                         field["organisation"], field["beneficiary_id"], field["beneficiary"],
                         field["purposes"], field["pathways"], field["credit_kgs"],
                         field["tco2e"].replace(",", ""), field["url"], field["problem"]])


def _print_claims_table(rows: pd.DataFrame, names: dict[str, Any], period: Period,
                        out: TextIO, *, several: bool, demo_mode: bool) -> None:
    fields = _claim_fields(rows, names)
    whose = ", ".join(f"{terminal_text(name_or_id(name, org), one_line=True)} ({org})"
                      for org, name in names.items())
    _say(f"Claims of {whose}: {period.label}"
         + ("" if period.all_time else " (UTC; start included, end excluded)"), out)
    if demo_mode:
        _say(f"DEMO DATA (fictional, generated), as of {demo.registry().as_of:%Y-%m-%d}", out)
    if not fields:
        _say("\n  Nothing was retired in the period.", out)
        return
    columns = [("Retirement", "retirement_id", "<"), ("Retired at (UTC)", "when", "<"),
               *([("Organisation", "organisation", "<")] if several else []),
               ("Beneficiary", "beneficiary", "<"), ("Purposes", "purposes", "<"),
               ("Pathways", "pathways", "<"), ("kg", "credit_kgs_text", ">"),
               ("tCO2e", "tco2e", ">"), ("Certificate", "url", "<")]
    for field in fields:
        field["when"] = field["retired_at"].replace("T", " ").removesuffix("Z")[:16]
        field["credit_kgs_text"] = f"{int(field['credit_kgs']):,}"
    total_kgs = int(rows["credit_kgs"].sum())  # int64: exact
    count = len(fields)
    total = {"retirement_id": f"Total ({count:,} retirement{'s' if count != 1 else ''})",
             "credit_kgs_text": f"{total_kgs:,}", "tco2e": tonnes(total_kgs)}
    widths = [max(display_width(heading), *(display_width(field.get(key, ""))
                                            for field in [*fields, total]))
              for heading, key, _ in columns]

    def line(values: list[str]) -> str:
        cells = []
        for (_, _, align), width, value in zip(columns, widths, values, strict=True):
            pad = " " * (width - display_width(value))
            cells.append(value + pad if align == "<" else pad + value)
        return "  ".join(cells).rstrip()

    _say("", out)
    _say(line([heading for heading, _, _ in columns]), out)
    _say(line(["-" * width for width in widths]), out)
    for field in fields:
        _say(line([field[key] for _, key, _ in columns]), out)
    _say(line(["-" * width for width in widths]), out)
    _say(line([total.get(key, "") for _, key, _ in columns]), out)


def _demo_buyers(exclude: set[str] | None = None) -> str:
    return ", ".join(f"{org_id} ({role})" for role, org_id in demo.registry().buyers.items()
                     if org_id not in (exclude or set()))


def _print_summary(
    source: CreditBalance | pd.DataFrame,
    balances: list[CreditBalance],
    heading: str,
    source_line: str,
    suppliers: pd.DataFrame,
    top: int,
    out: TextIO,
) -> None:
    """Headline figures of one balance or of a stacked portfolio (``source``)."""
    def line(text: str = "") -> None:
        _say(text, out)

    import pandas as pd

    from .analysis.metrics import concentration, reconcile, summarize, totals
    from .present.sentences import concentration_terms

    line(heading)
    line(source_line)
    line()
    held = totals(summarize(source, by="organisation"))
    width = len(tonnes(held.total_kgs))
    for label, kgs in (("Active", held.active_kgs), ("Retired", held.retired_kgs),
                       ("Total", held.total_kgs)):
        line(f"  {label:<14}{tonnes(kgs):>{width}} tCO2e  ({kgs:,} kg)")
    line(f"  {'Retired share':<14}{percent(held.retired_share)}")

    figures = concentration(source, by="supplier")
    terms = concentration_terms(figures)
    if terms:
        line(f"  {'Suppliers':<14}{figures.n} holding credits; "
             + ", ".join(terms[name] for name in ("hhi", "cr1", "effective_n", "gini")))
    unbalanced = pd.concat([reconcile(balance) for balance in balances]) \
        .query("balanced != True")
    if unbalanced.empty:
        line(f"  {'Reconciled':<14}project, supplier and order balances add up to the total")
    for row in unbalanced.itertuples():
        gap = "absent" if row.note else f"{row.difference_kgs:+,} kg against the total"
        whose = f"{row.organisation_id} " if len(balances) > 1 else ""
        line(f"  {'Difference':<14}{whose}{row.level} balances ({row.status}): {gap}")

    summary = suppliers[suppliers["total_kgs"] > 0].head(top)
    if summary.empty:
        line("\n  Holds no credits.")
        return
    line()
    # One line per supplier whatever its name holds (a line break would split the row);
    # padded by terminal columns, so wide (CJK) names keep the figures aligned.
    names = [terminal_text(name_or_id(name, supplier_id), one_line=True)
             for supplier_id, name in zip(summary.index, summary["supplier_name"], strict=True)]
    name_width = max(len("Supplier"), *map(display_width, names))
    tonnes_width = max(len("tCO2e"), *(len(tonnes(kgs)) for kgs in summary["total_kgs"]))
    line(f"  {'Supplier':<{name_width}}  {'tCO2e':>{tonnes_width}}  {'share':>7}  {'retired':>7}")
    for supplier_name, kgs, share, retired in zip(
            names, summary["total_kgs"], summary["share"], summary["retired_share"], strict=True):
        line(
            f"  {supplier_name}{' ' * (name_width - display_width(supplier_name))}  "
            f"{tonnes(kgs):>{tonnes_width}}  {percent(share):>7}  {percent(retired):>7}"
        )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
