"""The present layer: charts, HTML tables, widgets and the report.

Its public import paths are ``isoanalytics.plots``, ``.tables``, ``.widgets`` and ``.report``.
"""
