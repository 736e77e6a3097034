"""The client against a hostile registry (tests/hostile.py): time, memory and secrets stay bounded.

No test here reads a clock: a deadline is shown by the error it ends with and by what the
server saw (one attempt, a body never sent in full); memory by tracemalloc's peak.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import subprocess
import sys
import threading
import tracemalloc
from contextlib import contextmanager
from urllib.parse import quote

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import isoanalytics as ia
from isoanalytics.widgets import Connect

from .hostile import ECHO_FORMS, ECHO_PLACES, Hostile, gzip_bomb

# Quotes, a backslash, URL- and HTML-special characters: every escaping rule gets work.
SECRET = "s3cr'et\"/+%= \\x-7f3a9c1e"
TOKEN = "tok&en<>/+ 9a4f2e68-eyJhbGci"
MiB = 1 << 20


@pytest.fixture(scope="module")
def hostile():
    with Hostile() as server:
        yield server


def client(hostile: Hostile, **options) -> ia.RegistryClient:
    options = {"client_secret": SECRET, "access_token": TOKEN, "base_url": hostile.url,
               "max_retries": 0, "backoff_initial": 0.01, "backoff_max": 0.02, **options}
    return ia.RegistryClient(**options)


@contextmanager
def peak_memory():
    """tracemalloc's peak (bytes) over the block, in ``peak[0]``."""
    peak = [0]
    tracemalloc.start()
    try:
        yield peak
    finally:
        peak[0] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def every_log_record():
    """Every record of every logger (DEBUG included) while the block runs."""
    handler = _Records()
    root = logging.getLogger()
    names = ("isoanalytics", "httpx", "httpcore", "stamina")
    levels = {name: logging.getLogger(name).level for name in names}
    root_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)
        root.setLevel(root_level)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def exposed(error: BaseException) -> list[str]:
    """Everything a user can reach from an error: its text, attributes and whole chain,
    including the request and response (and their headers) of any httpx error in it."""
    texts, seen, link = [], set(), error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        texts += [str(link), repr(link), repr(getattr(link, "__dict__", {}))]
        for name in ("request", "response"):
            try:
                held = getattr(link, name)
            except (AttributeError, RuntimeError):  # httpx raises RuntimeError when it has none
                held = None
            if held is not None:
                texts += [repr(held), repr(dict(getattr(held, "headers", {})))]
        link = link.__cause__ or link.__context__
    return texts


def log_texts(records: list[logging.LogRecord]) -> list[str]:
    return [record.getMessage() + repr(record.__dict__) for record in records]


def encoded(credential: str) -> list[str]:
    """The credential itself, and its base64 (at each alignment in a larger blob, less the
    characters its neighbours share) and URL-encoded forms."""
    data = credential.encode()
    forms = [credential, quote(credential, safe="")]
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        for offset in range(3):
            forms.append(encode(b"\0" * offset + data).decode()[4 if offset else 0:-4])
    return forms


def leaks(texts: list[str], *credentials: str) -> list[tuple[str, str]]:
    """Each 8-character piece of a credential (or of an encoding of it) in the texts."""
    found = []
    for form in {form for credential in credentials for form in encoded(credential)}:
        for start in range(len(form) - 7):
            piece = form[start:start + 8]
            found += [(piece, text[:300]) for text in texts if piece in text]
    return found


def chain(error: BaseException) -> list[BaseException]:
    links, link = [], error
    while link is not None and link not in links:
        links.append(link)
        link = link.__cause__ or link.__context__
    return links


# -- bounded time ------------------------------------------------------------------------------

@pytest.mark.parametrize("behaviour", ["trickle", "slow_headers"])
def test_a_trickling_server_cannot_stretch_the_deadline(hostile, behaviour):
    organisation = hostile.org(behaviour)
    with client(hostile, timeout=1, retry_deadline=0.5, max_retries=3) as registry, \
            pytest.raises(ia.APITimeoutError, match="retry_deadline=0.5 s") as caught:
        registry.credit_balance(organisation)
    path = hostile.path(organisation)
    assert hostile.count[path] == 1  # the deadline left no time for a retry
    assert hostile.completed[path] == 0  # the client hung up long before the answer ended
    assert "raise retry_deadline=" in str(caught.value)


def test_the_async_client_keeps_the_same_deadline(hostile):
    organisation = hostile.org("trickle", tag="async")

    async def read() -> None:
        async with ia.AsyncRegistryClient(client_secret=SECRET, base_url=hostile.url,
                                          access_token=TOKEN, timeout=1, retry_deadline=0.5,
                                          max_retries=3) as registry:
            await registry.credit_balance(organisation)

    with pytest.raises(ia.APITimeoutError, match="retry_deadline"):
        asyncio.run(read())
    assert hostile.count[hostile.path(organisation)] == 1


def test_a_backoff_that_would_end_past_the_deadline_is_not_slept(hostile):
    organisation = hostile.org("status", "503", tag="backoff")
    with client(hostile, backoff_initial=4, backoff_max=10, retry_deadline=3,
                max_retries=3) as registry, pytest.raises(ia.ServerError) as caught:
        registry.credit_balance(organisation)
    assert caught.value.attempts == 1
    assert hostile.count[hostile.path(organisation)] == 1


def test_retries_within_the_deadline_still_happen(hostile):
    organisation = hostile.org("status", "503", tag="retried")
    with client(hostile, max_retries=2) as registry, pytest.raises(ia.ServerError) as caught:
        registry.credit_balance(organisation)
    assert caught.value.attempts == 3 == hostile.count[hostile.path(organisation)]


def test_a_retry_after_past_the_deadline_is_not_waited_for(hostile):
    organisation = hostile.org("status", "503", "1000000000")
    with client(hostile, max_retries=3) as registry, pytest.raises(ia.ServerError) as caught:
        registry.credit_balance(organisation)
    assert caught.value.attempts == 1 and caught.value.retry_after == 1e9


def test_a_redirect_is_not_followed(hostile):
    with Hostile() as elsewhere:
        host, port = elsewhere.url.split("//")[1].split("/")[0].split(":")
        with client(hostile) as registry, pytest.raises(ia.UnexpectedStatusError, match="302"):
            registry.credit_balance(hostile.org("redirect", host, port))
        assert not elsewhere.count  # the credentials went nowhere else


def test_a_failed_parallel_step_cancels_the_rest(hostile):
    refused = hostile.project("status", "401")
    # Each sibling is asked to come back in 5 s: without cancellation the call would
    # wait for every one of their retries.
    slow = [hostile.project("status", "503", str(5 + index)) for index in range(3)]
    with client(hostile, max_retries=2, retry_deadline=30) as registry:
        with pytest.raises(ia.AuthenticationError):
            ia.enrich(pd.DataFrame({"project_id": [refused, *slow]}), registry)
        attempts = [hostile.count[f"/registry/v0/projects/{project}"] for project in slow]
    assert all(count <= 1 for count in attempts), attempts  # none was retried


def test_connect_closes_the_client_of_a_failed_lookup(monkeypatch):
    with Hostile() as server:  # its own server: count only this test's connections
        monkeypatch.setenv("ISOMETRIC_BASE_URL", server.url)
        panel = Connect("sandbox")
        panel.client_secret.value = SECRET
        panel.access_token.value = TOKEN
        assert panel.connect() is None
        assert isinstance(panel.error, ia.NotFoundError)  # GET /organisation: 404 here
        for _ in range(500):  # until the server sees the connection end (at most ~5 s)
            if server.ended:
                break
            threading.Event().wait(0.01)
        assert server.ended == 1 and server.count["/registry/v0/organisation"] == 1


# -- bounded memory ----------------------------------------------------------------------------

def test_a_gzip_bomb_in_a_retried_error_costs_kilobytes(hostile):
    organisation = hostile.org("bomb", "503", 256 * MiB)
    gzip_bomb(256 * MiB)  # made before measuring
    with client(hostile, max_retries=1) as registry, peak_memory() as peak, \
            pytest.raises(ia.ServerError) as caught:
        registry.credit_balance(organisation)
    assert caught.value.attempts == 2
    assert peak[0] < 16 * MiB, f"{peak[0] / MiB:.0f} MiB"
    assert len(caught.value.detail or "") <= 203


@pytest.mark.parametrize("limit", [MiB, None])
def test_a_gzip_bomb_in_a_success_stops_at_max_body_bytes(hostile, limit):
    organisation = hostile.org("bomb", "200", 256 * MiB)
    gzip_bomb(256 * MiB)
    options = {"max_body_bytes": limit} if limit else {}
    with client(hostile, **options) as registry, peak_memory() as peak, \
            pytest.raises(ia.ResponseTooLargeError, match="max_body_bytes=") as caught:
        registry.credit_balance(organisation)
    expected = limit or 64 * MiB
    assert caught.value.limit == expected and "counted after decompression" in str(caught.value)
    assert caught.value.endpoint.endswith("/credit_balance")
    assert peak[0] < expected + 16 * MiB, f"{peak[0] / MiB:.0f} MiB"


def test_a_huge_error_body_is_read_only_to_its_first_kilobytes(hostile):
    organisation = hostile.org("huge", "500", 200 * MiB)
    with client(hostile) as registry, peak_memory() as peak, \
            pytest.raises(ia.ServerError):
        registry.credit_balance(organisation)
    assert peak[0] < 16 * MiB, f"{peak[0] / MiB:.0f} MiB"
    assert hostile.sent[hostile.path(organisation)] < 100 * MiB  # the client hung up


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_huge_success_body_is_refused(hostile, framing):
    organisation = hostile.org("huge", "200", 128 * MiB, framing)
    with client(hostile, max_body_bytes=MiB) as registry, peak_memory() as peak, \
            pytest.raises(ia.ResponseTooLargeError, match="raise max_body_bytes="):
        registry.credit_balance(organisation)
    assert peak[0] < 16 * MiB
    assert hostile.sent[hostile.path(organisation)] < 64 * MiB


def test_an_encoding_not_asked_for_is_refused_and_gzip_is_read(hostile):
    with client(hostile) as registry:
        with pytest.raises(ia.UnreadableResponseError, match="content-encoding 'br'"):
            registry.credit_balance(hostile.org("brotli"))
        assert registry.credit_balance(hostile.org("gzipped_ok")).total_kgs == 5000
    assert hostile.headers[-1]["accept-encoding"] == "gzip, deflate"


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_corrupt_compressed_data_is_the_packages_error(hostile, coding):
    # The decoder fails while the body streams in: a success is UnreadableResponseError,
    # and an error status keeps its own error (its detail is simply not shown).
    with client(hostile) as registry:
        with pytest.raises(ia.UnreadableResponseError, match=f"the {coding} data is corrupt"):
            registry.credit_balance(hostile.org("corrupt", coding))
        with pytest.raises(ia.NotFoundError):
            registry.credit_balance(hostile.org("corrupt", coding, "404"))


@pytest.mark.parametrize("asynchronous", [False, True])
def test_one_organisation_cannot_take_a_portfolio_down(hostile, asynchronous):
    good = hostile.org("ok")
    tag = f"portfolio-{asynchronous}"
    bad = {hostile.org("trickle", tag=tag): "APITimeoutError",
           hostile.org("bomb", "200", 256 * MiB): "ResponseTooLargeError",
           hostile.org("echo", "value", "raw", tag=tag): "SchemaError",
           hostile.org("hang_up"): "APIConnectionError",
           hostile.org("brotli", tag=tag): "UnreadableResponseError"}
    accounts = {good: TOKEN, **dict.fromkeys(bad, TOKEN)}
    gzip_bomb(256 * MiB)  # made before the clock starts
    options = {"client_secret": SECRET, "base_url": hostile.url, "progress": False,
               "retry_deadline": 1, "max_retries": 0, "max_body_bytes": MiB}
    result = (asyncio.run(ia.afetch_balances(accounts, **options)) if asynchronous
              else ia.fetch_balances(accounts, **options))
    assert list(result.balances) == [good]
    failures = result.failures
    assert dict(zip(failures["organisation_id"], failures["error"], strict=True)) == bad
    assert not leaks(list(result.failures["message"]), SECRET, TOKEN)


# -- secrets -----------------------------------------------------------------------------------

def _echoed(hostile: Hostile, secret: str, token: str, place: str, form: str) -> list[str]:
    organisation = hostile.org("echo", place, form)
    with every_log_record() as records, ia.RegistryClient(
            client_secret=secret, access_token=token, base_url=hostile.url,
            max_retries=0) as registry, pytest.raises((ia.RegistryError, ia.SchemaError)) as caught:
        registry.credit_balance(organisation)
    return exposed(caught.value) + log_texts(records)


@pytest.mark.parametrize("form", list(ECHO_FORMS))
@pytest.mark.parametrize("place", ECHO_PLACES)
def test_an_echoed_credential_never_shows(hostile, place, form):
    assert not leaks(_echoed(hostile, SECRET, TOKEN, place, form), SECRET, TOKEN)


# Realistic credentials: printable ASCII, no surrounding whitespace (it is stripped as read).
credentials = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E),
                      min_size=16, max_size=64).filter(
    lambda value: value == value.strip() and len(set(value)) >= 8)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret=credentials, token=credentials, place=st.sampled_from(ECHO_PLACES),
       form=st.sampled_from(list(ECHO_FORMS)))
def test_no_random_credential_shows_in_any_echo(hostile, secret, token, place, form):
    # A piece the package writes anyway (say "nalytics" of the logger's name) is no leak.
    assume(not leaks(_baseline(hostile, place, form), secret, token))
    assert not leaks(_echoed(hostile, secret, token, place, form), secret, token)


_baselines: dict[tuple[str, str], list[str]] = {}


def _baseline(hostile: Hostile, place: str, form: str) -> list[str]:
    """What the same exchange shows with the fixed credentials: the package's own words."""
    if (place, form) not in _baselines:
        _baselines[place, form] = _echoed(hostile, SECRET, TOKEN, place, form)
    return _baselines[place, form]


def test_no_httpx_object_is_chained_to_an_error(hostile):
    with client(hostile) as registry, pytest.raises(ia.APIConnectionError) as caught:
        registry.credit_balance(hostile.org("hang_up", tag="chain"))
    assert [type(link).__module__ for link in chain(caught.value)] == ["isoanalytics.errors"]
    assert not leaks(exposed(caught.value), SECRET, TOKEN)


def test_credentials_are_stripped_as_read(hostile, monkeypatch):
    monkeypatch.setenv("ISOMETRIC_CLIENT_SECRET", SECRET + "\n")  # as read from a file
    monkeypatch.setenv("ISOMETRIC_ACCESS_TOKEN", f"  {TOKEN}\r\n")
    with ia.RegistryClient(base_url=hostile.url, max_retries=0) as registry:
        assert registry.credit_balance(hostile.org("ok")).total_kgs == 5000
    assert hostile.headers[-1]["x-client-secret"] == SECRET
    assert hostile.headers[-1]["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(("options", "said"), [
    ({"client_secret": "abc1234"}, "client_secret is 7 characters long: too short"),
    ({"client_secret": SECRET, "access_token": "tok"}, "access_token is 3 characters"),
    ({"client_secret": SECRET, "access_tokens": {"org_1J7BT1V2GFMC75MZ": " short "}},
     "access_tokens['org_1J7BT1V2GFMC75MZ'] is 5 characters"),
    ({"client_secret": "sécret-with-accent"}, "a character an HTTP header cannot carry"),
    ({"client_secret": "two\nlines-of-secret"}, "a character an HTTP header cannot carry"),
])
def test_credentials_that_cannot_be_real_are_refused(hostile, options, said):
    before = sum(hostile.count.values())
    with pytest.raises(ia.InvalidCredentialsError, match=re.escape(said)) as caught:
        ia.RegistryClient(base_url=hostile.url, **options)
    assert isinstance(caught.value, ia.MissingCredentialsError)
    for value in (options.get("client_secret"), options.get("access_token")):
        assert value is None or value.strip() not in str(caught.value) or len(value) < 8
    assert sum(hostile.count.values()) == before


def test_each_retry_is_one_readable_record_of_the_package(hostile):
    organisation = hostile.org("status", "503", tag="logged")
    with every_log_record() as records, client(hostile, max_retries=2) as registry, \
            pytest.raises(ia.ServerError):
        registry.credit_balance(organisation)
    retries = [record for record in records if hasattr(record, "retry_wait")]
    assert [record.name for record in retries] == ["isoanalytics", "isoanalytics"]
    assert all("retrying in" in record.getMessage() and "ServerError 503" in record.getMessage()
               for record in retries)
    assert not [record for record in records if record.name.startswith("stamina")]
    assert not leaks(log_texts(retries), SECRET, TOKEN)


def test_nothing_reaches_a_terminal_without_logging_configured(hostile):
    script = (
        "import sys, isoanalytics as ia\n"
        "c = ia.RegistryClient(client_secret='s' * 16, access_token='t' * 16,"
        " base_url=sys.argv[1], max_retries=2, backoff_initial=0.01, backoff_max=0.02)\n"
        "try:\n    c.credit_balance(sys.argv[2])\nexcept ia.ServerError:\n    print('raised')\n")
    done = subprocess.run([sys.executable, "-c", script, hostile.url,
                           hostile.org("status", "503", tag="terminal")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.stdout == "raised\n"
    assert done.stderr == ""  # no stamina.retry_scheduled warnings, no httpx lines


def test_importing_changes_no_logging_and_a_client_filters_only_foreign_loggers():
    script = (
        "import logging, isoanalytics as ia\n"
        "names = ('httpx', 'httpcore.http11', 'httpcore.connection')\n"
        "assert not any(logging.getLogger(name).filters for name in names), 'at import'\n"
        "assert not logging.getLogger().filters and not logging.getLogger().handlers\n"
        "with ia.RegistryClient.demo():\n"
        "    assert all(logging.getLogger(name).filters for name in names), 'with a client'\n"
        "assert not logging.getLogger().filters and not logging.getLogger().handlers\n"
        "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.stdout == "ok\n", done.stderr


@pytest.mark.parametrize("place", ["request_id", "value", "text_at_cut", "header"])
def test_the_async_client_scrubs_echoes_too(hostile, place):
    organisation = hostile.org("echo", place, "repr")

    async def read() -> BaseException:
        async with ia.AsyncRegistryClient(client_secret=SECRET, access_token=TOKEN,
                                          base_url=hostile.url, max_retries=0) as registry:
            try:
                await registry.credit_balance(organisation)
            except (ia.RegistryError, ia.SchemaError) as error:
                return error
        raise AssertionError("no error")

    with every_log_record() as records:
        error = asyncio.run(read())
    assert not leaks(exposed(error) + log_texts(records), SECRET, TOKEN)
