"""The HTTP layer both clients share: where requests go, how they are signed, what answers mean.

Nothing here sends anything. ``client`` owns the httpx clients and the retry loop; this module
holds the decisions, so the sync and async clients make them identically:

- :func:`resolve_settings` turns arguments and ``ISOMETRIC_*`` variables into :class:`Settings`,
  and refuses, before any request, to run without a client secret;
- :class:`RegistryAuth` adds the secret and token to each request at the last moment, so no
  httpx object that a user might print (client, request defaults) ever holds them;
- :class:`GetOnlyTransport` wraps every transport and refuses any method but GET;
- :func:`answer` turns a response into its body or into the typed error for its status, and
  :func:`retry_wait` decides whether that error is worth another attempt, and after how long.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from . import demo
from ._environment import (
    BASE_URL_VARIABLE,
    ENVIRONMENT_VARIABLE,
    SECRET_VARIABLE,
    TOKEN_VARIABLE,
    TOKENS_VARIABLE,
)
from .errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    MissingCredentialsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ReadOnlyError,
    ServerError,
    UnexpectedStatusError,
    UnprocessableEntityError,
)

ENVIRONMENTS = {
    "sandbox": "https://api.sandbox.isometric.com/registry/v0",
    "production": "https://api.isometric.com/registry/v0",
    "demo": demo.BASE_URL,
}
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

    def credentials(self) -> Iterator[str]:
        """Every credential value, so server text quoted in errors can be scrubbed of them."""
        yield self.secret.reveal()
        if self.token is not None:
            yield self.token.reveal()
        yield from (token.reveal() for token in self.tokens.values())


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
) -> Settings:
    """Arguments first, then ``ISOMETRIC_*`` variables; raise before any request if unusable."""
    environment = environment or os.environ.get(ENVIRONMENT_VARIABLE) or "sandbox"
    if environment not in ENVIRONMENTS:
        raise ValueError(
            f"environment={environment!r} is not one of {', '.join(map(repr, ENVIRONMENTS))}"
            f" (from the argument or {ENVIRONMENT_VARIABLE})"
        )
    for name, value, low in (("timeout", timeout, 0), ("retry_deadline", retry_deadline, 0),
                             ("backoff_initial", backoff_initial, 0), ("backoff_max", backoff_max, 0)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > low):
            raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    for name, value, low in (("max_retries", max_retries, 0), ("concurrency", concurrency, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if environment == "demo":
        # The demo's own credentials, never the live ones: nothing real is sent anywhere.
        client_secret = client_secret or demo.CLIENT_SECRET
        if access_token is None and access_tokens is None:
            access_token = demo.access_token(demo.DEFAULT_ORGANISATION_ID)
            access_tokens = demo.accounts()
    else:
        client_secret = client_secret or os.environ.get(SECRET_VARIABLE) or None
        access_token = access_token or os.environ.get(TOKEN_VARIABLE) or None
        if access_tokens is None:
            access_tokens = _tokens_from_environment()
    for name, value in (("client_secret", client_secret), ("access_token", access_token)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    if not client_secret:
        raise MissingCredentialsError(
            f"no client secret: every request to the registry's {environment} API carries one. "
            f"Set {SECRET_VARIABLE} (or pass client_secret=...), or use RegistryClient.demo() "
            "for the offline demo registry",
            variable=SECRET_VARIABLE,
        )
    tokens = {}
    for organisation_id, token in (access_tokens or {}).items():
        if not isinstance(token, str) or not token:
            raise MissingCredentialsError(
                f"access_tokens[{organisation_id!r}] is not a non-empty string",
                variable=TOKEN_VARIABLE, organisation_id=organisation_id,
            )
        tokens[organisation_id] = Secret(token)
    return Settings(
        environment=environment,
        base_url=_checked_base_url(
            base_url
            or (environment != "demo" and os.environ.get(BASE_URL_VARIABLE))
            or ENVIRONMENTS[environment]),
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
    )


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
        if settings.environment == "demo" and settings.base_url == demo.BASE_URL:
            from ._demo_transport import transport as demo_transport

            transport = demo_transport()
        else:
            limits = httpx.Limits(max_connections=settings.concurrency,
                                  max_keepalive_connections=settings.concurrency)
            kind = httpx.AsyncHTTPTransport if asynchronous else httpx.HTTPTransport
            # Loading the CA bundle takes ~20 ms per client; plain http (loopback only) needs none.
            secure = settings.base_url.startswith("https:")
            transport = kind(limits=limits, verify=secure)
    return {
        "base_url": settings.base_url,
        "transport": GetOnlyTransport(transport),
        "timeout": settings.timeout,
        # A redirect would carry x-client-secret to wherever it points: httpx strips only
        # Authorization on cross-origin redirects. The API does not redirect; treat one as an error.
        "follow_redirects": False,
        "headers": {"user-agent": settings.user_agent, "accept": "application/json"},
    }


# -- what an answer means ----------------------------------------------------------------------

def answer(response: httpx.Response, call: Call, settings: Settings, attempts: int) -> bytes:
    """The body of a 200 response; otherwise raise the typed error for its status."""
    status = response.status_code
    if status == 200:
        return response.content
    detail = _scrubbed(_detail(response), settings)
    common = {
        "status_code": status, "detail": detail, "attempts": attempts,
        "request_id": response.headers.get("x-request-id"), **call.context(),
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


def transport_error(error: httpx.TransportError, call: Call, settings: Settings,
                    attempts: int) -> APIConnectionError:
    """The package's error for a request that got no response at all."""
    host = urlsplit(settings.base_url).netloc
    attempted = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
    reason = _scrubbed(f"{type(error).__name__}: {error}", settings)
    if isinstance(error, httpx.TimeoutException):
        return APITimeoutError(
            f"no answer from {host} within {settings.timeout:g} s {attempted} ({reason}). Try "
            "again later or raise timeout=", **call.context())
    return APIConnectionError(
        f"could not reach {host} {attempted} ({reason}). Check the network connection, or "
        "use RegistryClient.demo() to work offline on the demo registry", **call.context())


def retry_wait(error: Exception, *, deadline: float) -> bool | float:
    """stamina's backoff hook: retry 429, 5xx and lost connections, honouring Retry-After.

    Returns False (give up), True (exponential backoff with jitter) or the seconds the
    server asked for. A wait that would end past ``deadline`` (a ``time.monotonic()``
    value) is not taken: the error is raised now instead of after a pointless sleep.
    """
    if isinstance(error, (RateLimitError, ServerError)):
        if isinstance(error, ServerError) and error.status_code in (501, 505):
            return False  # "not implemented" does not get better by asking again
        retry_after = error.retry_after
        if retry_after is not None:
            return retry_after if time.monotonic() + retry_after < deadline else False
        return time.monotonic() < deadline
    if isinstance(error, APIConnectionError):
        return time.monotonic() < deadline
    return False


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - time.time()
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _detail(response: httpx.Response) -> str | None:
    """The API's ``detail``: a sentence, or FastAPI's list of {loc, msg}; else a text excerpt."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        text = response.text.strip()
        return text[:200] + ("..." if len(text) > 200 else "") if text else None
    detail = body.get("detail") if isinstance(body, dict) else body
    if isinstance(detail, list):
        return "; ".join(_validation_item(item) for item in detail[:5]) + (
            f"; and {len(detail) - 5} more" if len(detail) > 5 else "")
    return None if detail is None else str(detail)[:300]


def _validation_item(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    location = ".".join(str(part) for part in item.get("loc", ()))
    return f"{location}: {item.get('msg', '')}" if location else str(item.get("msg", ""))


def _scrubbed(text: str | None, settings: Settings) -> str | None:
    # A server (or a proxy in front of it) might echo a header back; never quote it.
    if text is None:
        return None
    for credential in settings.credentials():
        if credential:
            text = text.replace(credential, "[redacted]")
    return text


def log_response(call: Call, response: httpx.Response, started: float, attempt: int) -> None:
    logger.debug("%s -> %d in %.1f ms (attempt %d)", call.endpoint, response.status_code,
                 (time.perf_counter() - started) * 1000, attempt)

