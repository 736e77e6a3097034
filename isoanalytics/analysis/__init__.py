"""The analysis layer: metrics and breakdowns over tidy frames.

It builds on ``records`` only; it never imports ``registry`` or ``present``: analysis works on
frames, wherever they came from.
"""
