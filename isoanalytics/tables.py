# The public import path of isoanalytics.present.tables, where the code lives (the present layer).
from .present import tables as _home
from .present.tables import *  # noqa: F403
from .present.tables import __all__ as __all__  # re-exported: the same names

__doc__ = _home.__doc__
