"""Exceptions the package raises for input it cannot use.

Every message says where the problem is (JSON path, organisation, endpoint) and what
to do about it, so a notebook user never has to read a traceback from inside pandas.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "InvalidCredentialsError",
    "InvalidIdError",
    "MissingCredentialsError",
    "NotFoundError",
    "PaginationError",
    "PermissionDeniedError",
    "RateLimitError",
    "ReadOnlyError",
    "RegistryError",
    "ResponseTooLargeError",
    "SchemaDriftWarning",
    "SchemaError",
    "ServerError",
    "UnexpectedStatusError",
    "UnprocessableEntityError",
    "UnreadableResponseError",
]

_NOTHING = object()
_MAX_SHOWN = 60
# How much of a string value a client scrubs of credentials before showing its start.
_SCANNED = 1 << 16


def _located(message: str, endpoint: str | None, organisation_id: str | None) -> str:
    """Prefix a message with where it happened: ``[GET /path, organisation org_...]``."""
    where = [part for part in (endpoint, organisation_id and f"organisation {organisation_id}")
             if part]
    return f"[{', '.join(where)}] {message}" if where else message


def _describe(value: object, scrub: Callable[..., str] | None = None) -> str:
    """Show a bad value briefly: its repr (cut short) and its JSON type.

    With ``scrub`` (a client's, see ``SchemaError.redact``), the repr is scrubbed of
    credentials before it is cut, so no cut can leave the first part of one.
    """
    if isinstance(value, (list, dict)):
        # never repr a whole body: it can be megabytes
        noun = "array of" if isinstance(value, list) else "object with"
        unit = "item" if isinstance(value, list) else "key"
        return f"an {noun} {len(value)} {unit}{'' if len(value) == 1 else 's'}"
    if scrub is not None and isinstance(value, str):
        text = scrub(repr(value[:_SCANNED]), cut=len(value) > _SCANNED)
    else:
        text = repr(value)
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 3] + "..."
    kind = {
        bool: "boolean", int: "integer", float: "number", str: "string",
        list: "array", dict: "object", type(None): "null",
    }.get(type(value), type(value).__name__)
    return f"{text} ({kind})"


class SchemaError(ValueError):
    """A response body that does not have the shape of the Registry API's schema.

    Attributes
    ----------
    path : str
        Where in the body, as a JSON path such as
        ``supplier_balances[3].total.retired_credits_total.credit_kgs``; ``$`` is the body itself.
    problem : str
        What is wrong there, e.g. ``expected a non-negative integer``.
    organisation_id, endpoint : str or None
        The organisation and API endpoint the body belongs to, when known.

    Examples
    --------
    >>> import isoanalytics
    >>> try:
    ...     isoanalytics.parse_balance('{"total": 1}')
    ... except isoanalytics.SchemaError as error:
    ...     print(error.path)
    total
    """

    def __init__(
        self,
        path: str,
        problem: str,
        *,
        value: object = _NOTHING,
        hint: str | None = None,
        organisation_id: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        self.path = path
        self.problem = problem
        self.value_shown = None if value is _NOTHING else _describe(value)
        # Kept (a string only: nothing else can hold a credential) so a client can show it
        # again scrubbed of credentials before cutting; dropped by redact().
        self._value = value if isinstance(value, str) else None
        self.hint = hint
        self.organisation_id = organisation_id
        self.endpoint = endpoint
        super().__init__(self._message())

    def _message(self) -> str:
        got = f", got {self.value_shown}" if self.value_shown is not None else ""
        hint = f". {self.hint}" if self.hint else ""
        return _located(f"{self.path}: {self.problem}{got}{hint}", self.endpoint,
                        self.organisation_id)

    def with_context(
        self, *, organisation_id: str | None = None, endpoint: str | None = None
    ) -> SchemaError:
        """The same error, also naming the organisation and/or endpoint it came from."""
        error = SchemaError(
            self.path,
            self.problem,
            hint=self.hint,
            organisation_id=organisation_id or self.organisation_id,
            endpoint=endpoint or self.endpoint,
        )
        error.value_shown = self.value_shown
        error._value = self._value
        error.args = (error._message(),)
        return error

    def __reduce__(self):
        # Its constructor takes keywords the default pickling would not pass (a process pool
        # sends errors back pickled); the raw value stays behind: it is for redact() only.
        state = {name: value for name, value in self.__dict__.items() if name != "_value"}
        return _rebuild_value_error, (type(self), {**state, "_value": None}, self.args)

    def redact(self, scrub: Callable[..., str]) -> None:
        """Scrub every text attribute with ``scrub`` (a client's scrubber), in place.

        The clients do this to every error they raise or return, so a value the server
        sent (perhaps an echoed credential) is scrubbed before it is cut for display.
        """
        if self._value is not None:
            self.value_shown = _describe(self._value, scrub)
            self._value = None
        for name in ("path", "problem", "value_shown", "hint", "organisation_id", "endpoint"):
            text = getattr(self, name)
            if isinstance(text, str):
                setattr(self, name, scrub(text))
        self.args = (self._message(),)


class SchemaDriftWarning(UserWarning):
    """A response that differs from the package's copy of the API schema in a tolerated way.

    Fields the figures rest on (ids, quantities, statuses, ``issued_at``, ``retired_at``)
    are strict: a body without them is a :class:`SchemaError`. A descriptive field that is
    missing is read as null, and a field under a known earlier name (``sequestered_at`` for
    ``sequestered_on``) is mapped; each call that met either warns once, naming the
    endpoint and the fields, and the result says the same in ``frame.attrs["schema_drift"]``
    (the fields as ``{"missing": [...], "renamed": {old: new}}``).

    Attributes
    ----------
    endpoint : str or None
        Such as ``GET /organisations/org_1J7BT1V2GFMC75MZ/credit_batches``.
    missing : tuple of str
        The JSON paths (within a record) of the fields that were absent, read as null.
    renamed : dict
        Earlier name -> current name, for the fields read under an earlier name.

    Examples
    --------
    >>> import warnings
    >>> from isoanalytics import SchemaDriftWarning
    >>> warning = SchemaDriftWarning("GET /projects", missing=("validator_name",))
    >>> print(warning)  # doctest: +NORMALIZE_WHITESPACE
    [GET /projects] the response lacks validator_name (read as null): it follows another
    version of the API schema than this isoanalytics
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warnings.warn(warning)
    >>> caught[0].category.__name__, caught[0].message.missing
    ('SchemaDriftWarning', ('validator_name',))
    """

    def __init__(self, endpoint: str | None, *, missing: tuple[str, ...] = (),
                 renamed: dict[str, str] | None = None) -> None:
        self.endpoint = endpoint
        self.missing = tuple(missing)
        self.renamed = dict(renamed or {})
        parts = []
        if self.missing:
            parts.append(f"lacks {', '.join(self.missing)} (read as null)")
        if self.renamed:
            parts.append("calls " + ", ".join(f"{new} by its earlier name {old}"
                                              for old, new in self.renamed.items()) + " (mapped)")
        super().__init__(_located(f"the response {' and '.join(parts)}: it follows another "
                                  "version of the API schema than this isoanalytics",
                                  endpoint, None))


class InvalidIdError(ValueError):
    """An id given to the package (an argument, a filter, a command-line option) that is not one.

    Raised before any request is sent. The rule (``isoanalytics.ids``): the kind's prefix
    (``org_``, ``prj_``, ``spl_``...) followed by ASCII letters and digits only, 20 to 37
    characters in all. The message names the argument and states the rule, so it can be shown
    to a user as it is (the command line prints it after its option).

    Attributes
    ----------
    argument : str
        The argument, filter or option the id came in as, e.g. ``organisation_id``.
    kind : str or None
        The kind of id expected (``"organisation"``, ``"project"``...).
    rule : str
        What an id of that kind looks like.
    value_shown : str or None
        The value given, briefly (cut short).

    Examples
    --------
    >>> import isoanalytics
    >>> try:
    ...     isoanalytics.parse_balance("{}", organisation_id="org_1GB56M1ST1S0GVNA/../x")
    ... except isoanalytics.InvalidIdError as error:
    ...     print(error.argument)
    organisation_id
    """

    def __init__(self, argument: str, rule: str, *, value: object = _NOTHING,
                 kind: str | None = None) -> None:
        self.argument = argument
        self.rule = rule
        self.kind = kind
        self.value_shown = None if value is _NOTHING else _describe(value)
        got = f", got {self.value_shown}" if self.value_shown is not None else ""
        super().__init__(f"{argument}: {rule}{got}")

    def __reduce__(self):
        # Keyword-only attributes would be lost by the default pickling.
        return _rebuild_value_error, (type(self), self.__dict__, self.args)


def _rebuild_value_error(cls: type[ValueError], state: dict, args: tuple) -> ValueError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    error.args = args
    return error


# -- talking to the registry --------------------------------------------------------------------

class RegistryError(Exception):
    """Something went wrong talking to the Isometric Registry API.

    Every subclass names the endpoint and, where there is one, the organisation. No message
    ever contains the client secret or an access token: text that comes back from the server
    is scrubbed of both before it is quoted.

    Attributes
    ----------
    message : str
        What happened and what to do, without the ``[endpoint, organisation]`` prefix.
    endpoint : str or None
        Such as ``GET /organisations/org_1J7BT1V2GFMC75MZ/credit_balance``.
    organisation_id : str or None
        The organisation the request was for.

    Examples
    --------
    >>> from isoanalytics.errors import NotFoundError
    >>> str(NotFoundError("no such project", endpoint="GET /projects/prj_X", status_code=404))
    '[GET /projects/prj_X] no such project'
    """

    def __init__(
        self, message: str, *, endpoint: str | None = None, organisation_id: str | None = None
    ) -> None:
        self.message = message
        self.endpoint = endpoint
        self.organisation_id = organisation_id
        super().__init__(_located(message, endpoint, organisation_id))

    def redact(self, scrub: Callable[..., str]) -> None:
        """Scrub every text attribute with ``scrub`` (a client's scrubber), in place.

        Messages are built from server text already scrubbed; this pass also covers
        attributes such as ``request_id`` and errors raised where no client was at hand.
        """
        for name, value in list(self.__dict__.items()):
            if isinstance(value, str):
                setattr(self, name, scrub(value))
        self.args = (_located(self.message, self.endpoint, self.organisation_id),)

    def __reduce__(self):
        # Keyword-only context would be lost by the default pickling (multiprocessing, joblib).
        return _rebuild, (type(self), self.__dict__)


def _rebuild(cls: type[RegistryError], state: dict) -> RegistryError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, _located(error.message, error.endpoint, error.organisation_id))
    return error


class MissingCredentialsError(RegistryError):
    """No client secret, or no access token for an organisation's private data.

    Raised before any request is sent. ``variable`` names the environment variable to set.

    Examples
    --------
    >>> from isoanalytics import MissingCredentialsError, RegistryClient, demo
    >>> client = RegistryClient.demo(access_tokens={})  # a secret, but no token
    >>> try:
    ...     client.credit_balance(demo.DEFAULT_ORGANISATION_ID)
    ... except MissingCredentialsError as error:
    ...     print(error.variable)
    ISOMETRIC_ACCESS_TOKEN
    """

    def __init__(self, message: str, *, variable: str, **context) -> None:
        self.variable = variable
        super().__init__(message, **context)


class InvalidCredentialsError(MissingCredentialsError):
    """A credential that cannot be real: too short, or with characters a header cannot carry.

    Raised before any request, without quoting the value. Surrounding whitespace (a
    trailing newline from a file) is removed as credentials are read, never refused.

    Examples
    --------
    >>> from isoanalytics import InvalidCredentialsError, RegistryClient
    >>> try:
    ...     RegistryClient.demo(client_secret="abc")
    ... except InvalidCredentialsError as error:
    ...     print(error.variable)
    ISOMETRIC_CLIENT_SECRET
    """


class ReadOnlyError(RegistryError):
    """Something tried to send a request other than GET: this package never changes the registry.

    Examples
    --------
    Nothing public sends anything but GET; this guards code that reaches for the httpx
    client underneath:

    >>> from isoanalytics import ReadOnlyError, RegistryError
    >>> issubclass(ReadOnlyError, RegistryError)
    True
    """


class PaginationError(RegistryError):
    """Pages of a list that do not fit together: a repeated cursor or id, or a wrong count.

    Examples
    --------
    >>> from isoanalytics import PaginationError
    >>> str(PaginationError("the cursor repeated", endpoint="GET /projects (page 3)"))
    '[GET /projects (page 3)] the cursor repeated'
    """


class APIConnectionError(RegistryError):
    """The registry could not be reached (DNS, refused or dropped connection), retries included.

    Examples
    --------
    >>> from isoanalytics import APIConnectionError, RegistryClient, demo
    >>> unreachable = RegistryClient(base_url="http://127.0.0.1:9", max_retries=0,
    ...                              client_secret="a-made-up-secret")  # nothing listens on 9
    >>> try:
    ...     unreachable.organisation(demo.DEFAULT_ORGANISATION_ID)
    ... except APIConnectionError as error:
    ...     print(type(error).__name__, error.endpoint)
    APIConnectionError GET /organisations/org_1J7BT1V2GFMC75MZ
    """


class APITimeoutError(APIConnectionError):
    """The registry did not answer within the timeout, retries included.

    Examples
    --------
    Catch :class:`APIConnectionError` for both: no connection, or no answer in time.

    >>> from isoanalytics import APIConnectionError, APITimeoutError
    >>> issubclass(APITimeoutError, APIConnectionError)
    True
    """


class UnreadableResponseError(RegistryError):
    """An answer the package refused to read: compressed in a way it did not ask for, or corrupt.

    Examples
    --------
    >>> from isoanalytics import ResponseTooLargeError, SchemaError, UnreadableResponseError
    >>> issubclass(ResponseTooLargeError, UnreadableResponseError)
    True
    >>> issubclass(UnreadableResponseError, SchemaError)  # never read, so never validated
    False
    """


class ResponseTooLargeError(UnreadableResponseError):
    """A successful answer larger than the client's ``max_body_bytes``, counted decompressed.

    Attributes
    ----------
    limit : int
        The ``max_body_bytes`` in force; raise it on the client if the answer is genuine.

    Examples
    --------
    >>> from isoanalytics import RegistryClient, ResponseTooLargeError, demo
    >>> small = RegistryClient.demo(max_body_bytes=1024)
    >>> try:
    ...     small.credit_balance(demo.registry().buyers["large"])
    ... except ResponseTooLargeError as error:
    ...     print(error.limit)
    1024
    """

    def __init__(self, message: str, *, limit: int, **context) -> None:
        self.limit = limit
        super().__init__(message, **context)


class APIStatusError(RegistryError):
    """The registry answered with an error status.

    Attributes
    ----------
    status_code : int
    detail : str or None
        The API's own explanation (its ``detail`` field), scrubbed of credentials.
    request_id : str or None
        The response's ``x-request-id``, to quote to Isometric support.
    attempts : int
        How many times the request was sent (retries included).
    retry_after : float or None
        The server's last ``Retry-After``, in seconds (a 429 or a 503 may send one).

    Examples
    --------
    >>> from isoanalytics import APIStatusError, RegistryClient, demo
    >>> elsewhere = demo.access_token(demo.registry().buyers["diversified"])
    >>> client = RegistryClient.demo(access_token=elsewhere, access_tokens={})
    >>> try:
    ...     client.credit_balance(demo.DEFAULT_ORGANISATION_ID)  # not that token's organisation
    ... except APIStatusError as error:
    ...     print(type(error).__name__, error.status_code, error.attempts)
    PermissionDeniedError 403 1
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        detail: str | None = None,
        request_id: str | None = None,
        attempts: int = 1,
        retry_after: float | None = None,
        **context,
    ) -> None:
        self.status_code = status_code
        self.detail = detail
        self.request_id = request_id
        self.attempts = attempts
        self.retry_after = retry_after
        super().__init__(message, **context)


class AuthenticationError(APIStatusError):
    """401: the client secret or the access token was refused (wrong, revoked or expired).

    Examples
    --------
    >>> from isoanalytics import AuthenticationError, RegistryClient, demo
    >>> try:
    ...     RegistryClient.demo(client_secret="wrong-7f3a9c21d0e4").credit_balance(
    ...         demo.DEFAULT_ORGANISATION_ID)
    ... except AuthenticationError as error:
    ...     print(error.status_code, error.detail)
    401 Invalid client secret in the x-client-secret header
    """


class PermissionDeniedError(APIStatusError):
    """403: the access token does not open this organisation's data.

    Examples
    --------
    >>> from isoanalytics import PermissionDeniedError, RegistryClient, demo
    >>> elsewhere = demo.access_token(demo.registry().buyers["diversified"])
    >>> try:
    ...     RegistryClient.demo(access_token=elsewhere, access_tokens={}).credit_balance(
    ...         demo.DEFAULT_ORGANISATION_ID)
    ... except PermissionDeniedError as error:
    ...     print(error.status_code, error.organisation_id)
    403 org_1J7BT1V2GFMC75MZ
    """


class NotFoundError(APIStatusError, LookupError):
    """404, or ``null`` where an object was asked for by id: no such thing in the registry.

    Examples
    --------
    >>> from isoanalytics import NotFoundError, RegistryClient
    >>> try:
    ...     RegistryClient.demo().organisation("org_1ZZZZZZZZZZZZZZZ")
    ... except NotFoundError as error:
    ...     print(error.organisation_id)
    org_1ZZZZZZZZZZZZZZZ
    """


class UnprocessableEntityError(APIStatusError):
    """422: the API refused the request's parameters (its ``detail`` says which).

    Examples
    --------
    >>> from isoanalytics import UnprocessableEntityError
    >>> error = UnprocessableEntityError("the API refused the request's parameters",
    ...                                  status_code=422, detail="first: must be at most 50")
    >>> error.detail
    'first: must be at most 50'
    """


class RateLimitError(APIStatusError):
    """429 after every retry. ``retry_after`` is the server's last ``Retry-After``, in seconds.

    Examples
    --------
    >>> from isoanalytics import RateLimitError
    >>> error = RateLimitError("rate limited", status_code=429, retry_after=30.0, attempts=4)
    >>> error.retry_after, error.attempts  # wait that long before asking again
    (30.0, 4)
    """


class ServerError(APIStatusError):
    """5xx after every retry: the registry failed; try again later.

    Examples
    --------
    >>> from isoanalytics import RegistryError, ServerError
    >>> error = ServerError("the registry failed (503)", status_code=503, attempts=4)
    >>> isinstance(error, RegistryError), error.status_code
    (True, 503)
    """


class UnexpectedStatusError(APIStatusError):
    """Any other status the API does not document (e.g. 400, 409).

    Examples
    --------
    >>> from isoanalytics import UnexpectedStatusError
    >>> UnexpectedStatusError("unexpected status 400", status_code=400).status_code
    400
    """
