"""What a response lacked or named differently from the package's copy of the schema.

A reader collects it (``Table.drift``); the call that read the response warns once
(:class:`~isoanalytics.errors.SchemaDriftWarning`, naming its endpoint and the fields) and
the result carries it: ``frame.attrs["schema_drift"]``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

from ..errors import SchemaDriftWarning

ATTRIBUTE = "schema_drift"


@dataclass
class SchemaDrift:
    """Fields absent (read as null) and fields read under an earlier name, in order first met.

    Examples
    --------
    >>> drift = SchemaDrift()
    >>> drift.missing["delivered_at"] = None
    >>> drift.renamed["sequestered_at"] = "sequestered_on"
    >>> drift.as_attribute()
    {'missing': ['delivered_at'], 'renamed': {'sequestered_at': 'sequestered_on'}}
    """

    missing: dict[str, None] = field(default_factory=dict)  # an ordered set
    renamed: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.missing or self.renamed)

    def update(self, other: SchemaDrift) -> None:
        """Add what ``other`` met."""
        self.missing.update(other.missing)
        self.renamed.update(other.renamed)

    def as_attribute(self) -> dict[str, object]:
        """The value of ``frame.attrs["schema_drift"]``."""
        return {"missing": list(self.missing), "renamed": dict(self.renamed)}

    def warn(self, endpoint: str | None, stacklevel: int = 2) -> None:
        """Warn once (a SchemaDriftWarning naming ``endpoint``), if there is anything to say."""
        if self:
            warnings.warn(SchemaDriftWarning(endpoint, missing=tuple(self.missing),
                                             renamed=self.renamed), stacklevel=stacklevel + 1)
