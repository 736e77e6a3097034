"""How long a project's removals are stored: durability classes from pathways and protocols.

The Registry API names each project's ``pathway`` (its closed ``Pathway`` enum) and the
``protocol_slug`` of the Isometric protocol it follows, but no durability. :data:`DURABILITY`
is this package's default reading of the durability each protocol requires, into four
classes (:data:`DURABILITY_CLASSES`): ``"1000+ years"``, ``"100-1000 years"``, ``"<100 years"``
and ``"not a removal"`` (superpollutant destruction is a reduction: nothing is stored).

A project is looked up by its ``protocol_slug`` first, then by its ``pathway``: the protocol is
the finer fact (the ``biomass_carbon_removal_and_storage`` pathway holds biochar, credited
for 200 or 1,000 years, beside bio-oil and biomass injected into geological formations). Where
one pathway spans classes, its pathway entry is the most conservative of them. Every entry
cites the public page it rests on (:func:`durability_sources`); where the page states a
figure the entry says so, and where the class is this package's reading of the page (no
figure stated) it says that too. Replace the mapping with your own (``durability=`` of
:func:`project_durability` and :func:`~isoanalytics.breakdown`): keys are protocol slugs or
pathways, values any labels you like. A project that neither key matches is counted under
``"(unknown)"`` with a warning naming it; nothing is dropped.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

import pandas as pd

__all__ = ["DURABILITY", "DURABILITY_CLASSES", "durability_sources", "project_durability"]

DURABILITY_CLASSES = ("1000+ years", "100-1000 years", "<100 years", "not a removal")
UNKNOWN = "(unknown)"  # the row of what a mapping or table does not list
_LONG, _CENTURIES, _SHORT, _REDUCTION = DURABILITY_CLASSES


class _Source(NamedTuple):
    key: str
    kind: str  # "pathway" or "protocol": what the key is
    durability: str
    evidence: str  # "stated": the page gives the figure; "reading": the class is ours
    basis: str
    url: str


# Each entry, the page it rests on, and what that page says (in our words). Protocol entries
# first: they are looked up first.
_SOURCES = (
    _Source("biochar", "protocol", _CENTURIES, "stated",
            "Biochar Production and Storage: projects choose a 200-year or a combined 200 and "
            "1,000-year durability option (distributed and small-scale production: 200 years "
            "only); the API does not say which, so the shorter is assumed",
            "https://registry.isometric.com/requirements/biochar"),
    _Source("bio-oil-geological-storage", "protocol", _LONG, "reading",
            "Bio-oil Geological Storage: bio-oil injected into geological formations, which "
            "Isometric calls permanent carbon removal (no year figure on the page)",
            "https://isometric.com/writing-articles/new-protocol-for-bio-oil-geological-storage"),
    _Source("biomass-geological-storage", "protocol", _LONG, "reading",
            "Biomass Geological Storage: biomass injected into reservoirs, saline aquifers, "
            "caverns or mines for long-term sequestration (no year figure on the page)",
            "https://registry.isometric.com/protocol/biomass-geological-storage"),
    _Source("subsurface-biomass", "protocol", _LONG, "stated",
            "Subsurface Biomass Carbon Removal and Storage: durable subsurface storage of "
            "biomass for 1,000 years",
            "https://isometric.com/writing-articles/"
            "new-protocol-for-subsurface-biomass-carbon-removal-and-storage"),
    _Source("biogenic-capture-and-storage", "protocol", _LONG, "stated",
            "Biogenic Carbon Capture and Storage: CO2 stored by physical or chemical trapping "
            "for more than 1,000 years",
            "https://registry.isometric.com/protocol/biogenic-capture-and-storage/1.1/changelog"),
    _Source("biomass_carbon_removal_and_storage", "pathway", _CENTURIES, "stated",
            "The pathway includes biochar, whose 200-year option is the shortest durability "
            "any of its protocols credits; the pathway's most conservative class",
            "https://registry.isometric.com/module/biochar-production-distributed-small-scale/1.0"),
    _Source("direct_air_capture", "pathway", _LONG, "stated",
            "Direct Air Capture: captured CO2 stored by physical or chemical trapping for more "
            "than 1,000 years",
            "https://registry.isometric.com/Protocol/direct-air-capture"),
    _Source("enhanced_weathering", "pathway", _LONG, "stated",
            "Enhanced Weathering in Agriculture: the carbon, carried to the oceans, is stored "
            "for more than 10,000 years",
            "https://isometric.com/writing-articles/new-protocol-for-enhanced-weathering"),
    _Source("carbon_mineralization", "pathway", _LONG, "reading",
            "Carbonated Material Storage: CO2 bound as carbonate minerals in closed or open "
            "systems, the module detailing durability and monitoring (no year figure in the "
            "part read)",
            "https://registry.isometric.com/module/carbonated-material-storage/1.0/"
            "ctn_1J2BZ23Q21S08PMA/changelog"),
    _Source("reforestation", "pathway", _SHORT, "reading",
            "Reforestation: carbon stored in tree biomass, released by harvest, fire and "
            "disturbance; the commitment period is set per project, not 100 years or more",
            "https://registry.isometric.com/protocol/reforestation/1.0"),
    _Source("marine", "pathway", _LONG, "stated",
            "River Alkalinity Enhancement (and Direct Ocean Capture and Storage): CO2 durably "
            "stored for over 1,000 years",
            "https://registry.isometric.com/protocol/river-alkalinity-enhancement/1.0/"
            "ctn_1JQ8ZCFJY1S0ZWXH/changelog"),
    _Source("superpollutants", "pathway", _REDUCTION, "stated",
            "HFC and ODS Destruction: greenhouse gas emission reductions from destroying "
            "refrigerants; no carbon is removed or stored",
            "https://registry.isometric.com/protocol/hfc-ods-destruction/1.0"),
)

#: The default durability class of each protocol slug and each pathway (read-only; copy it
#: with ``dict(DURABILITY)`` to change an entry). Sources: :func:`durability_sources`.
DURABILITY: Mapping[str, str] = MappingProxyType({s.key: s.durability for s in _SOURCES})


def durability_sources() -> pd.DataFrame:
    """The default :data:`DURABILITY` mapping with the public source of each entry.

    Returns
    -------
    DataFrame
        One row per key: ``key`` (a protocol slug or a pathway), ``kind`` (``"protocol"`` or
        ``"pathway"``), ``durability``, ``evidence`` (``"stated"`` when the page gives the
        figure, ``"reading"`` when the class is this package's reading of it), ``basis``
        and ``url``.

    Examples
    --------
    >>> from isoanalytics.analysis.durability import durability_sources
    >>> sources = durability_sources().set_index("key")
    >>> sources.loc["direct_air_capture", ["durability", "evidence"]].tolist()
    ['1000+ years', 'stated']
    """
    return pd.DataFrame(list(_SOURCES), columns=list(_Source._fields))


def _check_mapping(durability: Mapping[str, str] | None) -> Mapping[str, str]:
    if durability is None:
        return DURABILITY
    if not isinstance(durability, Mapping):
        raise TypeError("durability must be a mapping of protocol slug or pathway to a "
                        f"durability class, such as dict(DURABILITY); got "
                        f"{type(durability).__name__}")
    bad = [key for key, value in durability.items()
           if not isinstance(key, str) or not isinstance(value, str) or not value]
    if bad:
        raise TypeError(f"durability maps protocol slugs or pathways (text) to class names "
                        f"(non-empty text); these entries are not: {bad[:5]!r}")
    return durability


def project_durability(projects: pd.DataFrame,
                       durability: Mapping[str, str] | None = None) -> pd.Series:
    """Each project's durability class: by its ``protocol_slug``, else by its ``pathway``.

    Parameters
    ----------
    projects : DataFrame
        ``client.projects()``: ``id`` and ``pathway``, and ``protocol_slug`` when it has it.
    durability : mapping, optional
        Protocol slug or pathway to class; :data:`DURABILITY` by default. Yours replaces it
        whole (``{**DURABILITY, "biochar": "1000+ years"}`` to change one entry).

    Returns
    -------
    Series
        Indexed by project id, named ``durability``. A project neither of whose keys is in
        the mapping is ``"(unknown)"``, and a warning names its pathway and protocol.

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics.analysis.durability import project_durability
    >>> projects = pd.DataFrame({"id": ["prj_1", "prj_2", "prj_3"],
    ...                          "pathway": ["biomass_carbon_removal_and_storage"] * 2
    ...                                     + ["direct_air_capture"],
    ...                          "protocol_slug": ["biochar", "bio-oil-geological-storage",
    ...                                            "direct-air-capture"]})
    >>> project_durability(projects).tolist()
    ['100-1000 years', '1000+ years', '1000+ years']
    >>> mine = {"biochar": "200 years", "biomass_carbon_removal_and_storage": "BiCRS",
    ...         "direct_air_capture": "DAC"}
    >>> project_durability(projects, mine).tolist()
    ['200 years', 'BiCRS', 'DAC']
    """
    mapping = _check_mapping(durability)
    if not isinstance(projects, pd.DataFrame):
        raise TypeError("projects must be the DataFrame from client.projects(), got "
                        f"{type(projects).__name__}")
    missing = [column for column in ("id", "pathway") if column not in projects.columns]
    if missing:
        raise ValueError(f"projects lacks the column(s) {', '.join(missing)}: pass the frame "
                         "from client.projects()")
    table = projects.drop_duplicates("id")
    lookup = pd.Series(dict(mapping), dtype=object)
    by_pathway = table["pathway"].astype(object).map(lookup)
    if "protocol_slug" in table.columns:
        by_protocol = table["protocol_slug"].astype(object).map(lookup)
        classes = by_protocol.where(by_protocol.notna(), by_pathway)
    else:
        classes = by_pathway
    unmapped = classes.isna()
    if unmapped.any():
        keys = table.loc[unmapped, [c for c in ("pathway", "protocol_slug")
                                    if c in table.columns]].astype(object)
        named = sorted({" / ".join(str(v) for v in row) for row in keys.itertuples(index=False)})
        warnings.warn(f"{int(unmapped.sum())} project(s) have a pathway and protocol the "
                      f"durability mapping does not list, counted as {UNKNOWN!r}: "
                      f"{', '.join(named[:5])}" + (" ..." if len(named) > 5 else ""),
                      stacklevel=2)
    return pd.Series(classes.fillna(UNKNOWN).astype(object).to_numpy(),
                     index=pd.Index(table["id"].astype(object).to_numpy(), name="project_id"),
                     name="durability")
