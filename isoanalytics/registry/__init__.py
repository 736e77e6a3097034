"""The registry layer: the client, its HTTP layer, I/O plans, portfolio fetches and enrichment.

It builds on ``records`` (and is handed the ``demo`` transport); it never imports ``analysis``
or ``present``.
"""
