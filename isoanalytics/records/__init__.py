"""The records layer: what the registry's bodies hold, checked, and the tidy frames built from them.

It imports only the bottom layer (``errors``, ``ids``, ``_format``). The registry client and the
analysis functions build on it; it knows neither.
"""
