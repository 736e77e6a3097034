# The public import path of isoanalytics.present.widgets, where the code lives (the present layer).
from .present import widgets as _home
from .present.widgets import *  # noqa: F403
from .present.widgets import __all__ as __all__  # re-exported: the same names

__doc__ = _home.__doc__
