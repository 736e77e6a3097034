"""The HTTP layer both clients share: where requests go, how they are signed, what answers mean.

Nothing here sends anything. ``client`` owns the httpx clients and the retry loop; this module
holds the decisions, so the sync and async clients make them identically:

- :func:`resolve_settings` turns arguments and ``ISOMETRIC_*`` variables into :class:`Settings`,
  and refuses, before any request, to run without a client secret; which registries there are
  is the caller's to say (``environments``): the client adds the embedded demo registry, whose
  transport and credentials it hands over like any other's, so nothing here knows of it;
- :class:`RegistryAuth` adds the secret and token to each request at the last moment, so no
  httpx object that a user might print (client, request defaults) ever holds them;
- :class:`GetOnlyTransport` wraps every transport and refuses any method but GET;
- :func:`body_reader` bounds what is read of a body (``max_body_bytes`` of a success,
  :data:`ERROR_BODY_BYTES` of an error, decompressed), :func:`answer` turns a response into
  its body or into the typed error for its status, and :func:`retry_wait` decides whether that
  error is worth another attempt, and after how long (never past the request's deadline);
- every text taken from a server is scrubbed of the credentials (``Settings.scrubber``)
  before it is cut, quoted or logged.
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from .._environment import (
    BASE_URL_VARIABLE,
    ENVIRONMENT_VARIABLE,
    SECRET_VARIABLE,
    TOKEN_VARIABLE,
    TOKENS_VARIABLE,
)
from .._format import terminal_text
from .._options import check_integer, check_seconds
from ..errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    InvalidCredentialsError,
    MissingCredentialsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ReadOnlyError,
    ResponseTooLargeError,
    ServerError,
    UnexpectedStatusError,
    UnprocessableEntityError,
    UnreadableResponseError,
)
from .bounds import ACCEPTED_ENCODINGS, BodyReader, Deadline, UndecodableBody
from .scrub import Scrubber

#: The live registries and their URLs.
ENVIRONMENTS: Mapping[str, str] = {
    "sandbox": "https://api.sandbox.isometric.com/registry/v0",
    "production": "https://api.isometric.com/registry/v0",
}


def environment_name(environment: str | None,
                     environments: Collection[str] = tuple(ENVIRONMENTS)) -> str:
    """The environment asked for: the argument, else ``ISOMETRIC_ENVIRONMENT``, else sandbox.

    ``environments`` are the names there are (by default the live registries').

    Examples
    --------
    >>> environment_name("production")
    'production'
    >>> environment_name("staging")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: environment='staging' is not one of 'sandbox', 'production' (from the argument ...
    """
    name = environment or os.environ.get(ENVIRONMENT_VARIABLE) or "sandbox"
    if name not in environments:
        raise ValueError(
            f"environment={name!r} is not one of {', '.join(map(repr, environments))}"
            f" (from the argument or {ENVIRONMENT_VARIABLE})"
        )
    return name


def configured_environment() -> str | None:
    """The environment the ``ISOMETRIC_*`` variables ask for; None when none is set.

    None is the cue for the demo registry (notebooks, the connect panel): any of the secret,
    the environment or the base URL means the user meant a live registry.
    """
    if not any(os.environ.get(name)
               for name in (SECRET_VARIABLE, ENVIRONMENT_VARIABLE, BASE_URL_VARIABLE)):
        return None
    return os.environ.get(ENVIRONMENT_VARIABLE) or "sandbox"


PAGE_SIZE = 50  # the API's maximum for ``first``
# The default cap on a successful answer, decompressed. The largest realistic one is the credit
# balance of an organisation holding credits of 100,000 projects: about 20 MB. 64 MiB is three
# times that, and ``concurrency`` (10) answers at this cap still fit in well under 1 GB.
MAX_BODY_BYTES = 64 * 2**20
# Of an error's body only this much is read (decompressed): its ``detail`` is quoted to 300
# characters, and no more is needed to find it; the connection is then closed.
ERROR_BODY_BYTES = 8 * 1024
# Shorter than any real credential, and long enough that scrubbing one cannot blank
# letters out of ordinary words in a message.
MIN_CREDENTIAL_LENGTH = 8
TOKEN_LIFETIME_NOTE = "access tokens expire a year after they are issued"

logger = logging.getLogger("isoanalytics")


class Secret:
    """A credential that does not show itself: repr, str and pickling never reveal the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("credentials are not pickled: pass them again where they are needed")


@dataclass(frozen=True)
class Call:
    """One GET: the path under the base URL, query parameters and whose data it reads."""

    path: str
    params: tuple[tuple[str, str], ...] = ()
    organisation_id: str | None = None
    private: bool = False  # the organisation's own data: needs its access token
    page: int | None = None

    @property
    def endpoint(self) -> str:
        page = f" (page {self.page})" if self.page else ""
        return f"GET {self.path}{page}"

    def context(self) -> dict[str, str | None]:
        return {"endpoint": self.endpoint, "organisation_id": self.organisation_id}


@dataclass(frozen=True, repr=False)
class Settings:
    """Everything a client needs to know, resolved once when it is made."""

    environment: str
    base_url: str
    secret: Secret
    token: Secret | None
    tokens: Mapping[str, Secret]
    timeout: float
    max_retries: int
    retry_deadline: float
    concurrency: int
    backoff_initial: float
    backoff_max: float
    user_agent: str
    max_body_bytes: int = MAX_BODY_BYTES
    scrubber: Scrubber = field(default_factory=lambda: Scrubber(()))

    def token_for(self, call: Call) -> Secret | None:
        """The token to send with ``call``; a clear error when private data has none."""
        token = self.tokens.get(call.organisation_id or "", self.token)
        if token is None and call.private:
            raise MissingCredentialsError(
                f"no access token: reading an organisation's own data needs its access token. "
                f"Set {TOKEN_VARIABLE} (one organisation) or {TOKENS_VARIABLE} "
                "(org_A=token_A,org_B=token_B), or pass access_token=... or "
                "access_tokens={organisation_id: token}",
                variable=TOKEN_VARIABLE, **call.context(),
            )
        return token


def resolve_settings(
    environment: str | None,
    *,
    client_secret: str | None,
    access_token: str | None,
    access_tokens: Mapping[str, str] | None,
    base_url: str | None,
    timeout: float,
    max_retries: int,
    retry_deadline: float,
    concurrency: int,
    backoff_initial: float,
    backoff_max: float,
    user_agent: str,
    max_body_bytes: int = MAX_BODY_BYTES,
    environments: Mapping[str, str] = ENVIRONMENTS,
    from_variables: bool = True,
) -> Settings:
    """Arguments first, then ``ISOMETRIC_*`` variables; raise before any request if unusable.

    ``environments`` names the registries there are and their URLs; with
    ``from_variables=False`` the credentials and the URL come from the arguments alone (a
    registry whose credentials the caller holds, such as the embedded demo's).
    """
    environment = environment_name(environment, environments)
    for name, seconds in (("timeout", timeout), ("retry_deadline", retry_deadline),
                          ("backoff_initial", backoff_initial), ("backoff_max", backoff_max)):
        check_seconds(name, seconds)
    for name, count, low in (("max_retries", max_retries, 0), ("concurrency", concurrency, 1),
                             ("max_body_bytes", max_body_bytes, 1024)):
        check_integer(name, count, low)
    if from_variables:
        client_secret = (_credential(client_secret, "client_secret", SECRET_VARIABLE)
                         or _credential(os.environ.get(SECRET_VARIABLE), SECRET_VARIABLE,
                                        SECRET_VARIABLE))
        access_token = (_credential(access_token, "access_token", TOKEN_VARIABLE)
                        or _credential(os.environ.get(TOKEN_VARIABLE), TOKEN_VARIABLE,
                                       TOKEN_VARIABLE))
        if access_tokens is None:
            access_tokens = _tokens_from_environment()
    client_secret = _credential(client_secret, "client_secret", SECRET_VARIABLE)
    access_token = _credential(access_token, "access_token", TOKEN_VARIABLE)
    if not client_secret:
        raise MissingCredentialsError(
            f"no client secret: every request to the registry's {environment} API carries one. "
            f"Set {SECRET_VARIABLE} (or pass client_secret=...), or use RegistryClient.demo() "
            "for the offline demo registry",
            variable=SECRET_VARIABLE,
        )
    tokens = {}
    for organisation_id, token in (access_tokens or {}).items():
        what = f"access_tokens[{organisation_id!r}]"
        if not isinstance(token, str) or not token.strip():
            raise MissingCredentialsError(f"{what} is not a non-empty string",
                                          variable=TOKEN_VARIABLE, organisation_id=organisation_id)
        checked = _credential(token, what, TOKENS_VARIABLE)
        assert checked is not None  # a non-empty string, checked above, is never None
        tokens[organisation_id] = Secret(checked)
    credentials = [client_secret, access_token, *(token.reveal() for token in tokens.values())]
    return Settings(
        environment=environment,
        base_url=_checked_base_url(
            base_url
            or (from_variables and os.environ.get(BASE_URL_VARIABLE))
            or environments[environment]),
        secret=Secret(client_secret),
        token=Secret(access_token) if access_token else None,
        tokens=tokens,
        timeout=float(timeout),
        max_retries=max_retries,
        retry_deadline=float(retry_deadline),
        concurrency=concurrency,
        backoff_initial=float(backoff_initial),
        backoff_max=float(backoff_max),
        user_agent=user_agent,
        max_body_bytes=max_body_bytes,
        scrubber=Scrubber(value for value in credentials if value),
    )


def _credential(value: object, what: str, variable: str) -> str | None:
    """A credential as read: surrounding whitespace removed, refused if it cannot be real.

    The value is never quoted in an error: it may be a real secret, pasted in the wrong place.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, got {type(value).__name__}")
    value = value.strip()  # a secret read from a file keeps its trailing newline
    if not value:
        return None
    if not all(" " <= character <= "~" for character in value):
        raise InvalidCredentialsError(
            f"{what} contains a character an HTTP header cannot carry (a control character or "
            "one outside ASCII): check it was copied whole and on its own", variable=variable)
    if len(value) < MIN_CREDENTIAL_LENGTH:
        raise InvalidCredentialsError(
            f"{what} is {len(value)} characters long: too short to be a real credential (they "
            f"are at least {MIN_CREDENTIAL_LENGTH}). Check it was copied whole",
            variable=variable)
    return value


def _tokens_from_environment() -> dict[str, str] | None:
    """``ISOMETRIC_ACCESS_TOKENS`` as {organisation_id: token}; None when it is unset."""
    text = os.environ.get(TOKENS_VARIABLE, "").strip()
    if not text:
        return None
    tokens = {}
    for number, entry in enumerate(text.replace(",", " ").split(), start=1):
        organisation_id, _, token = entry.partition("=")
        if not organisation_id or not token:
            # Never quote the entry: it may be a token.
            raise MissingCredentialsError(
                f"{TOKENS_VARIABLE}: entry {number} is not organisation_id=token; write "
                "'org_A=token_A,org_B=token_B'", variable=TOKENS_VARIABLE)
        tokens[organisation_id] = token
    return tokens


def _checked_base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must be an http(s) URL, got {url!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        # The client secret would cross the network in clear text.
        raise ValueError(
            f"base_url {url!r} is plain http to a host that is not this machine; the client "
            "secret would travel unencrypted. Use https (plain http is allowed on loopback only)"
        )
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    import ipaddress  # only for a plain-http URL: most clients never load it

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RegistryAuth(httpx.Auth):
    """Adds ``x-client-secret`` and ``Authorization: Bearer`` to one request as it is sent."""

    def __init__(self, secret: Secret, token: Secret | None) -> None:
        self._secret = secret
        self._token = token

    def auth_flow(self, request: httpx.Request):
        request.headers["x-client-secret"] = self._secret.reveal()
        if self._token is not None:
            request.headers["Authorization"] = f"Bearer {self._token.reveal()}"
        yield request

    def __repr__(self) -> str:
        return "RegistryAuth(secret=********, token=********)"


class GetOnlyTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Wraps the real transport; any method but GET is refused before it leaves the process.

    This package reads the registry and never changes it (no retirements, transfers or
    purchases), whatever code, ours or a user's, gets hold of the underlying httpx client.
    """

    def __init__(self, inner: httpx.BaseTransport | httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    def _check(self, request: httpx.Request) -> None:
        if request.method != "GET":
            raise ReadOnlyError(
                f"refused to send {request.method} {request.url.path}: isoanalytics only reads "
                "the registry (GET). Retire, transfer or buy credits in the Isometric app or "
                "with Isometric's own API tools"
            )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._check(request)
        return self._inner.handle_request(request)  # type: ignore[union-attr]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._check(request)
        return await self._inner.handle_async_request(request)  # type: ignore[union-attr]

    def close(self) -> None:
        self._inner.close()  # type: ignore[union-attr]

    async def aclose(self) -> None:
        await self._inner.aclose()  # type: ignore[union-attr]


def httpx_options(
    settings: Settings,
    transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None,
    *,
    asynchronous: bool,
) -> dict[str, Any]:
    """Keyword arguments for ``httpx.Client`` / ``httpx.AsyncClient``."""
    if transport is None:
        limits = httpx.Limits(max_connections=settings.concurrency,
                              max_keepalive_connections=settings.concurrency)
        kind = httpx.AsyncHTTPTransport if asynchronous else httpx.HTTPTransport
        # Loading the CA bundle takes ~20 ms per client; plain http (loopback only) needs none.
        secure = settings.base_url.startswith("https:")
        transport = kind(limits=limits, verify=secure)
        if not asynchronous:
            # The async client bounds each attempt with asyncio.timeout instead.
            from .network import bounded

            transport = bounded(transport)
    return {
        "base_url": settings.base_url,
        "transport": GetOnlyTransport(transport),
        "timeout": settings.timeout,
        # A redirect would carry x-client-secret to wherever it points: httpx strips only
        # Authorization on cross-origin redirects. The API does not redirect; treat one as an error.
        "follow_redirects": False,
        # Only what BodyReader decodes (httpx would also offer br/zstd when installed).
        "headers": {"user-agent": settings.user_agent, "accept": "application/json",
                    "accept-encoding": ACCEPTED_ENCODINGS},
    }


# -- what an answer means ----------------------------------------------------------------------

def body_reader(response: httpx.Response, call: Call, settings: Settings) -> BodyReader:
    """How much of ``response``'s body to read: all of a success, up to ``max_body_bytes``;
    :data:`ERROR_BODY_BYTES` of anything else. Feed it the raw (still encoded) chunks."""
    success = response.status_code == 200
    limit = settings.max_body_bytes if success else ERROR_BODY_BYTES
    # An in-memory answer (the demo transport's) is read, and decoded, already.
    encoding = "" if response.is_stream_consumed else response.headers.get("content-encoding", "")
    try:
        reader = BodyReader(encoding, limit)
    except UndecodableBody as error:
        if success:
            raise UnreadableResponseError(f"{error}; the answer was not read",
                                          **call.context()) from None
        return BodyReader("", 0)  # an error's detail is not worth guessing at
    declared = response.headers.get("content-length", "")
    if success and not encoding and declared.isdigit() and int(declared) > limit:
        # Said up front: refused without reading a byte of it.
        raise too_large(call, settings)
    return reader


def too_large(call: Call, settings: Settings) -> ResponseTooLargeError:
    limit = settings.max_body_bytes
    return ResponseTooLargeError(
        f"the answer is larger than max_body_bytes={limit} ({limit / 2**20:g} MiB, counted "
        "after decompression), so it was not read. A registry answer this large is not "
        "expected; if it is genuine, raise max_body_bytes= on the client", limit=limit,
        **call.context())


def read_body(reader: BodyReader, response: httpx.Response, call: Call,
              settings: Settings) -> tuple[bytes, bool]:
    """The body read so far and whether it was cut short; a success too large or corrupt
    is an error (of an error's body, whatever could be read serves)."""
    success = response.status_code == 200
    if success and reader.over:
        raise too_large(call, settings)  # before joining what was kept: no second copy
    try:
        body = reader.finish()
    except UndecodableBody as error:
        if success:
            raise UnreadableResponseError(f"{error}; the answer was not read",
                                          **call.context()) from None
        return b"", False
    if success and reader.over:
        raise too_large(call, settings)
    return body, reader.over


def answer(response: httpx.Response, body: bytes, cut: bool, call: Call, settings: Settings,
           attempts: int) -> bytes:
    """``body`` of a 200 response; otherwise raise the typed error for its status.

    ``body`` is what :func:`read_body` kept (of an error, its first kilobytes; ``cut`` says
    whether there was more).
    """
    status = response.status_code
    if status == 200:
        return body
    detail = _detail(body, cut, settings.scrubber)
    request_id = response.headers.get("x-request-id")
    common: dict[str, Any] = {
        "status_code": status, "detail": detail, "attempts": attempts,
        "request_id": None if request_id is None else _server_text(
            request_id, settings.scrubber, 200),
        **call.context(),
    }
    said = f": {detail}" if detail else ""
    if status == 401:
        whose = f" for {call.organisation_id}" if call.organisation_id else ""
        about_token = (f", and the access token{whose}: {TOKEN_LIFETIME_NOTE}, so an old one "
                       "must be replaced" if settings.token_for(call) else "")
        raise AuthenticationError(
            f"the registry refused the credentials (401{said}). Check {SECRET_VARIABLE} for the "
            f"{settings.environment} environment{about_token}", **common)
    if status == 403:
        raise PermissionDeniedError(
            f"the access token does not open this data (403{said}). Each access token is scoped "
            "to one organisation: pass that organisation's own token "
            f"(access_tokens={{organisation_id: token}}, or {TOKENS_VARIABLE}="
            "org_A=token_A,org_B=token_B)", **common)
    if status == 404:
        raise NotFoundError(f"not found (404{said}): check the id and the environment "
                            f"({settings.environment})", **common)
    if status == 422:
        raise UnprocessableEntityError(f"the API refused the request's parameters (422{said})",
                                       **common)
    attempted = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
    common["retry_after"] = _retry_after(response)  # a 429 or a 503 may say when to come back
    if status == 429:
        wait = (f"; the server asked to wait {common['retry_after']:g} s"
                if common["retry_after"] is not None else "")
        raise RateLimitError(
            f"rate limited (429{said}) {attempted}{wait}. Lower concurrency or try again later",
            **common)
    if status >= 500:
        raise ServerError(f"the registry failed ({status}{said}) {attempted}; try again later",
                          **common)
    raise UnexpectedStatusError(f"unexpected status {status}{said} (the API documents 200 and 422)",
                                **common)


def transport_error(error: httpx.TransportError | None, call: Call, settings: Settings,
                    attempts: int, deadline: Deadline) -> APIConnectionError:
    """The package's error for a request that got no (complete) response.

    ``error`` None: the request's deadline passed between two chunks of the body.
    """
    host = urlsplit(settings.base_url).netloc
    attempted = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
    if error is None or (isinstance(error, httpx.TimeoutException) and deadline.passed()):
        return APITimeoutError(
            f"no complete answer from {host} within retry_deadline={settings.retry_deadline:g} s "
            f"({attempted}; the deadline covers connecting, every read, retry and wait). "
            "Try again later or raise retry_deadline=", **call.context())
    reason = settings.scrubber.scrub(f"{type(error).__name__}: {error}")
    if isinstance(error, httpx.TimeoutException):
        return APITimeoutError(
            f"no answer from {host} within {settings.timeout:g} s {attempted} ({reason}). Try "
            "again later or raise timeout=", **call.context())
    return APIConnectionError(
        f"could not reach {host} {attempted} ({reason}). Check the network connection, or "
        "use RegistryClient.demo() to work offline on the demo registry", **call.context())


def retry_wait(error: Exception, attempt: int, settings: Settings,
               deadline: Deadline) -> float | None:
    """Seconds to wait before retrying after ``attempt`` failed with ``error``; None: give up.

    429, 5xx (but 501 and 505) and lost connections are retried, ``max_retries`` times at
    most: after the server's ``Retry-After`` when it sends one, else after an exponential
    backoff with jitter (``backoff_initial * 2**(attempt - 1)`` plus up to
    ``backoff_initial``, at most ``backoff_max``). A wait that would not end before the
    deadline is not taken: the error is raised now instead of after a pointless sleep.

    Examples
    --------
    >>> settings = resolve_settings("sandbox", client_secret="a-secret-key", access_token=None,
    ...     access_tokens=None, base_url=None, timeout=1, max_retries=3, retry_deadline=5,
    ...     concurrency=1, backoff_initial=4, backoff_max=10, user_agent="doc")
    >>> error = ServerError("failed", status_code=503)
    >>> retry_wait(error, 1, settings, Deadline(5)) is None or True  # 4 to 8 s of 5 left
    True
    >>> retry_wait(error, 1, settings, Deadline(3)) is None  # no wait ends within 3 s
    True
    """
    if attempt > settings.max_retries:
        return None
    if isinstance(error, (RateLimitError, ServerError)):
        if isinstance(error, ServerError) and error.status_code in (501, 505):
            return None  # "not implemented" does not get better by asking again
        wait = error.retry_after
    elif isinstance(error, APIConnectionError):
        wait = None
    else:
        return None
    if wait is None:
        wait = min(settings.backoff_initial * 2 ** (attempt - 1)
                   + random.uniform(0, settings.backoff_initial), settings.backoff_max)
    return wait if wait < deadline.left() else None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime  # a date is rare; email's parser is not

        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - time.time()
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _detail(body: bytes, cut: bool, scrubber: Scrubber) -> str | None:
    """The API's ``detail``: a sentence, or FastAPI's list of {loc, msg}; else a text excerpt.

    Scrubbed of credentials before it is cut: a cut first could split an echoed one.
    """
    try:
        if cut:
            raise orjson.JSONDecodeError("cut short", "", 0)
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = _server_text(body.decode("utf-8", "replace").strip(), scrubber, 200, cut=cut)
        return text or None
    detail = parsed.get("detail") if isinstance(parsed, dict) else parsed
    if isinstance(detail, list):
        text = "; ".join(_validation_item(item) for item in detail[:5]) + (
            f"; and {len(detail) - 5} more" if len(detail) > 5 else "")
    elif detail is None:
        return None
    else:
        text = str(detail)
    return _server_text(text, scrubber, 300)


def _server_text(text: str, scrubber: Scrubber, length: int, *, cut: bool = False) -> str:
    """Server text fit to quote: inert in a terminal or a notebook's traceback (no escape or
    control characters, one line), then scrubbed of credentials, then cut to ``length``.

    Controls go before the scrub: removed after it, they could join two halves of an echoed
    credential that the scrubber saw apart.
    """
    text = scrubber.scrub(terminal_text(text, one_line=True), cut=cut)
    return text[:length] + ("..." if len(text) > length else "")


def _validation_item(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    location = ".".join(str(part) for part in item.get("loc", ()))
    return f"{location}: {item.get('msg', '')}" if location else str(item.get("msg", ""))


def log_response(call: Call, response: httpx.Response, started: float, attempt: int) -> None:
    logger.debug("%s -> %d in %.1f ms (attempt %d)", call.endpoint, response.status_code,
                 (time.perf_counter() - started) * 1000, attempt)



def log_retry(call: Call, error: Exception, attempt: int, wait: float) -> None:
    """One record per retry on the package's logger: what failed, and when the next try is."""
    status = getattr(error, "status_code", None)
    reason = f"{type(error).__name__}{f' {status}' if status else ''}"
    logger.info("%s: attempt %d failed (%s); retrying in %.2f s", call.endpoint, attempt,
                reason, wait, extra={"retry_wait": wait, "attempt": attempt})
