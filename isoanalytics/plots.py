# The public import path of isoanalytics.present.plots, where the code lives (the present layer).
from .present import plots as _home
from .present.plots import *  # noqa: F403
from .present.plots import __all__ as __all__  # re-exported: the same names

__doc__ = _home.__doc__
