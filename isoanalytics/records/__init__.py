"""The records layer: what the registry's bodies hold, checked, and the tidy frames built from them.

Each response shape is declared once, as msgspec Structs: ``fields`` (ids, bounded integers,
instants, enums), ``quantities`` (``CreditQuantity`` and the credits-against-kilograms rule),
``balance_schema`` (the ``credit_balance`` body), ``kinds`` (each record kind and its frame
columns), ``page`` (the generic ``Page[T]`` envelope). ``decoding`` turns bodies into them and
msgspec's errors into SchemaErrors; ``columns`` builds frames from them; ``drift`` reports what a
response lacked or renamed. ``resources`` (``Table``, ``check_record``...), ``balance``
(``CreditBalance``) and ``frames`` (the tidy balance frame) are what the other layers use.

It imports only the bottom layer (``errors``, ``ids``, ``_format``). The registry client and the
analysis functions build on it; it knows neither.
"""
