# The public import path of isoanalytics.present.report, where the code lives (the present layer).
from .present import report as _home
from .present.report import *  # noqa: F403
from .present.report import __all__ as __all__  # re-exported: the same names

__doc__ = _home.__doc__
