"""Exceptions the package raises for input it cannot use.

Every message says where the problem is (JSON path, organisation, endpoint) and what
to do about it, so a notebook user never has to read a traceback from inside pandas.
"""

from __future__ import annotations

__all__ = ["SchemaError"]

_NOTHING = object()
_MAX_SHOWN = 60


def _describe(value: object) -> str:
    """Show a bad value briefly: its repr (cut short) and its JSON type."""
    if isinstance(value, (list, dict)):
        # never repr a whole body: it can be megabytes
        noun = "array of" if isinstance(value, list) else "object with"
        unit = "item" if isinstance(value, list) else "key"
        return f"an {noun} {len(value)} {unit}{'' if len(value) == 1 else 's'}"
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
        self.hint = hint
        self.organisation_id = organisation_id
        self.endpoint = endpoint
        super().__init__(self._message())

    def _message(self) -> str:
        where = []
        if self.endpoint:
            where.append(self.endpoint)
        if self.organisation_id:
            where.append(f"organisation {self.organisation_id}")
        prefix = f"[{', '.join(where)}] " if where else ""
        got = f", got {self.value_shown}" if self.value_shown is not None else ""
        hint = f". {self.hint}" if self.hint else ""
        return f"{prefix}{self.path}: {self.problem}{got}{hint}"

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
        error.args = (error._message(),)
        return error
